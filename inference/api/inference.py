"""Sending a product's items to the workers and awaiting every result together."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from django.conf import settings

from inference import tasks
from inference.runtime.dispatch import run_task


async def run_items(product: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item as its own task (so a batch's images share the workers' forward passes),
    all with one deadline: the request's time limit."""
    deadline = time.time() + settings.REQUEST_TIMEOUT_SECONDS
    return list(
        await asyncio.gather(*(run_task(tasks.predict, product, item, deadline) for item in items))
    )
