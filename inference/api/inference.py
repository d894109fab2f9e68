"""Sending a product's items to the workers and awaiting every result together."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from inference import tasks
from inference.runtime import payloads
from inference.runtime.dispatch import run_task
from inference.runtime.errors import InferenceError


async def run_items(product: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item as its own task (so a batch's images share the workers' forward passes),
    all with one deadline: the request's time limit.

    An item's ``image_bytes`` are moved into the payload store (``inference.runtime.payloads``),
    all in one round trip, and the task carries ``image_ref``, their key, which expires
    with the deadline.  When the request ends, whatever no worker took is discarded.
    """
    timeout = float(settings.REQUEST_TIMEOUT_SECONDS)
    deadline = time.time() + timeout
    sent, keys = await sync_to_async(_stored, thread_sensitive=False)(items, timeout)
    running = [
        asyncio.ensure_future(run_task(tasks.predict, product, item, deadline)) for item in sent
    ]
    try:
        outcomes = await asyncio.gather(*running)
        return list(await sync_to_async(_restored, thread_sensitive=False)(outcomes))
    except BaseException:
        # The request failed on one item; the others' results, when they come, go unread.
        for future in running:
            future.add_done_callback(_discard_unread)
        raise
    finally:
        if keys:
            await sync_to_async(payloads.discard, thread_sensitive=False)(keys)


@dataclass(frozen=True)
class ItemOutcome:
    """One item's result (``error`` None) or its failure, with the item's index."""

    index: int
    result: dict[str, Any] | None = None
    error: InferenceError | None = None


async def each_result(
    product: str, items: list[dict[str, Any]], *, tick_s: float | None = None
) -> AsyncIterator[ItemOutcome | None]:
    """Like ``run_items``, but each item's outcome as soon as it is ready (streaming).

    Yields ``None`` after ``tick_s`` seconds with nothing ready (a caller's cue to send a
    keep-alive).  When the caller stops early (its client left: the iteration is closed or
    cancelled), the items not yet finished are abandoned: their tasks are revoked and their
    bytes discarded, so a worker that has not started one does not run it.
    """
    timeout = float(settings.REQUEST_TIMEOUT_SECONDS)
    deadline = time.time() + timeout
    sent, keys = await sync_to_async(_stored, thread_sensitive=False)(items, timeout)
    running = {
        asyncio.ensure_future(run_task(tasks.predict, product, item, deadline)): index
        for index, item in enumerate(sent)
    }
    pending = set(running)
    try:
        while pending:
            done, pending = await asyncio.wait(
                pending, timeout=tick_s, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                yield None
            for future in sorted(done, key=running.__getitem__):
                index = running[future]
                try:
                    result = future.result()
                except InferenceError as exc:
                    yield ItemOutcome(index, error=exc)
                    continue
                restored = await sync_to_async(payloads.restore, thread_sensitive=False)(result)
                yield ItemOutcome(index, result=restored)
    finally:
        for future in pending:
            future.cancel()
            future.add_done_callback(_discard_unread)
        if keys:
            await asyncio.shield(sync_to_async(payloads.discard, thread_sensitive=False)(keys))


def _stored(items: list[dict[str, Any]], ttl_s: float) -> tuple[list[dict[str, Any]], list[str]]:
    """The items as tasks carry them (``image_ref`` for ``image_bytes``), and the keys.

    The bytes are moved out of the caller's items, so nothing in the request keeps them.
    """
    with_bytes = [i for i, item in enumerate(items) if "image_bytes" in item]
    keys = payloads.put_many([items[i].pop("image_bytes") for i in with_bytes], ttl_s)
    sent = [dict(item) for item in items]
    for i, key in zip(with_bytes, keys, strict=True):
        sent[i]["image_ref"] = key
    return sent, keys


def _restored(results: list[Any]) -> list[Any]:
    """Results with their stowed values (rendered images) taken back from the store."""
    return [payloads.restore(result) for result in results]


def _discard_unread(future: asyncio.Future[Any]) -> None:
    """Forget what a result nobody reads stowed (its rendered image), without waiting."""
    if future.cancelled() or future.exception() is not None:
        return
    keys = payloads.stowed_keys(future.result())
    if keys:
        asyncio.get_running_loop().run_in_executor(None, payloads.discard, keys)
