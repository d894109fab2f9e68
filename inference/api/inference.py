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
from inference.runtime.dispatch import in_thread, run_task
from inference.runtime.errors import InferenceError

#: How long a request's end waits to drop its unread payloads (they expire on their own).
DISCARD_WAIT_S = 2.0


async def run_items(product: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item as its own task (so a batch's images share the workers' forward passes),
    all with one deadline: the request's time limit.

    An item's ``image_bytes`` are moved into the payload store (``inference.runtime.payloads``),
    all in one round trip, and the task carries ``image_ref``, their key, which expires
    with the deadline.  When the request ends, whatever no worker took is discarded.
    """
    timeout = float(settings.REQUEST_TIMEOUT_SECONDS)
    deadline = time.time() + timeout
    give_up = time.monotonic() + timeout
    sent, keys = await in_thread(_stored, items, timeout, deadline=give_up)
    running = [asyncio.ensure_future(_run(product, item, deadline)) for item in sent]
    try:
        outcomes = await asyncio.gather(*running)
        return list(await in_thread(_restored, outcomes, deadline=give_up))
    except BaseException:
        # The request failed on one item; the others' results, when they come, go unread.
        for future in running:
            future.add_done_callback(_discard_unread)
        raise
    finally:
        if keys:
            await _discard(keys)


def _run(product: str, item: dict[str, Any], deadline: float) -> Any:
    """One item's task; the worker drops it past ``deadline``, the web tier stops waiting."""
    return run_task(tasks.predict, product, item, deadline, timeout=deadline - time.time())


async def _discard(keys: list[str]) -> None:
    """Drop a request's payloads, waiting briefly: with Redis down they expire on their own."""
    try:
        await in_thread(payloads.discard, keys, deadline=time.monotonic() + DISCARD_WAIT_S)
    except InferenceError:
        pass


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
    sent, keys = await in_thread(_stored, items, timeout, deadline=time.monotonic() + timeout)
    running = {
        asyncio.ensure_future(_run(product, item, deadline)): index
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
            await asyncio.shield(_discard(keys))


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
