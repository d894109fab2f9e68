"""Running a task from an async view without holding a thread while it waits.

Under ASGI a synchronous view runs in one shared thread, so a view that blocked on
``AsyncResult.get()`` would serialise every prediction behind one thread.  Prediction views
are ``async`` instead and await ``run_task``:

* distributed (``REDIS_URL`` set): the task is published, then the view subscribes to the
  Redis channel on which Celery's Redis result backend announces the result (the result key
  itself) and awaits the message on the event loop.  One pub/sub connection per event loop
  carries every waiter's channel, so thousands of requests can wait at once and none holds a
  thread or a connection.  A ``GET`` after subscribing catches a result stored before.
* eager (``make run``): the task runs in a worker thread of the event loop's executor.

Tasks return an *outcome*, ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {"code",
"message"}}``, which ``run_task`` turns back into the result or an ``InferenceError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from typing import Any

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from celery import states
from celery.app.task import Task
from django.conf import settings

from config.celery import app as celery_app
from inference.runtime.errors import (
    InferenceError,
    InferenceFailed,
    InferenceTimeout,
    NoWorker,
    from_outcome,
)


class _ResultListener:
    """One Redis pub/sub connection per event loop, shared by every waiting request.

    A connection per waiter would exhaust Redis connection pools at a few dozen concurrent
    requests; one subscription connection carries any number of result channels, as
    Celery's own result consumer does.  A reader task routes each message to its waiter.
    """

    def __init__(self) -> None:
        self.client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5)
        self.pubsub = self.client.pubsub()
        self.waiters: dict[bytes, asyncio.Future[bytes]] = {}
        self.reader: asyncio.Task[None] | None = None
        # (Un)subscribing writes on the one connection; the lock keeps those writes, and the
        # connection's creation, from interleaving.
        self.lock = asyncio.Lock()

    async def wait(self, key: bytes, timeout: float) -> bytes:
        """The raw stored result for ``key``, once it is in a ready state."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiters[key] = future
        try:
            async with self.lock:
                await self.pubsub.subscribe(key)
            if self.reader is None or self.reader.done():
                self.reader = asyncio.create_task(self._read())
            # A result stored before the subscription took effect is already in the key.
            stored = await self.client.get(key)
            if stored is not None and _is_ready(stored) and not future.done():
                future.set_result(stored)
            return await asyncio.wait_for(future, timeout)
        finally:
            self.waiters.pop(key, None)
            with contextlib.suppress(Exception):  # a broken connection has no subscriptions
                async with self.lock:
                    await self.pubsub.unsubscribe(key)

    async def _read(self) -> None:
        try:
            while self.waiters:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None or message["type"] != "message":
                    continue
                future = self.waiters.get(message["channel"])
                if future is not None and not future.done() and _is_ready(message["data"]):
                    future.set_result(message["data"])
        except Exception as exc:  # the connection broke: every waiter hears it, then retry anew
            _listeners.pop(asyncio.get_running_loop(), None)
            for future in self.waiters.values():
                if not future.done():
                    future.set_exception(exc)


_listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ResultListener] = (
    weakref.WeakKeyDictionary()
)


def _listener() -> _ResultListener:
    loop = asyncio.get_running_loop()
    listener = _listeners.get(loop)
    if listener is None:
        listener = _listeners[loop] = _ResultListener()
    return listener


def unwrap(outcome: Any) -> Any:
    """A task's outcome -> its result, or the ``InferenceError`` the worker reported."""
    if not isinstance(outcome, dict) or "ok" not in outcome:
        raise InferenceFailed("malformed task outcome")
    if outcome["ok"]:
        return outcome["result"]
    error = outcome.get("error") or {}
    raise from_outcome(str(error.get("code")), str(error.get("message", "")))


#: How long a liveness answer is trusted: a worker seen is assumed alive for a while (a ping
#: per request would cost a broadcast each); "none answered" is re-asked sooner.
ALIVE_FOR_S = 5.0
NONE_FOR_S = 1.0
#: How long a liveness ping waits for the first worker to answer.
PING_TIMEOUT_S = 1.0
_liveness: dict[str, float | bool] = {"checked_at": float("-inf"), "alive": True}


def _worker_alive() -> bool:
    """Whether some worker answers a ping (the broadcast ``/health/`` uses), cached.

    A broker that cannot be reached says nothing about the workers: the request goes on and
    meets the broker's own error, as before.
    """
    now = time.monotonic()
    trusted = ALIVE_FOR_S if _liveness["alive"] else NONE_FOR_S
    if now - float(_liveness["checked_at"]) < trusted:
        return bool(_liveness["alive"])
    try:
        replies = celery_app.control.ping(timeout=PING_TIMEOUT_S, limit=1)
    except Exception:
        return True
    _liveness.update(checked_at=time.monotonic(), alive=bool(replies))
    return bool(replies)


async def run_task(task: Task, *args: Any, timeout: float | None = None) -> Any:
    """Run ``task(*args)`` on a worker and return its result, awaiting without a thread.

    With no worker consuming the queue the task would only wait for the whole timeout: the
    request fails at once instead (``NoWorker``, a 503 with Retry-After).
    """
    timeout = float(timeout or settings.REQUEST_TIMEOUT_SECONDS)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        eager = await sync_to_async(task.apply, thread_sensitive=False)(args=args)
        return unwrap(eager.get(propagate=True))
    if (
        settings.INFERENCE_FAIL_FAST_WITHOUT_WORKER
        and not await sync_to_async(_worker_alive, thread_sensitive=False)()
    ):
        raise NoWorker("no inference worker answered a ping")
    # A task still queued when the client has given up is discarded by the worker.
    async_result = await sync_to_async(task.apply_async, thread_sensitive=False)(
        args=args, expires=timeout
    )
    try:
        meta = await _await_result(async_result.id, timeout)
    except asyncio.CancelledError:
        # The caller left (a streaming client disconnected): a task not yet started is not
        # run.  Revoking is a broadcast; it is sent without waiting for it.
        asyncio.get_running_loop().run_in_executor(None, async_result.revoke)
        raise
    except TimeoutError:
        await sync_to_async(async_result.revoke, thread_sensitive=False)()
        raise InferenceTimeout(f"no result within {timeout:.0f} s") from None
    if meta["status"] != states.SUCCESS:
        raise InferenceFailed(f"task ended in state {meta['status']}")
    return unwrap(meta["result"])


async def _await_result(task_id: str, timeout: float) -> dict[str, Any]:
    backend = celery_app.backend
    key = backend.get_key_for_task(task_id)
    listener = _listener()
    raw = await listener.wait(key, timeout)
    await listener.client.delete(key)
    return backend.decode_result(raw)


def _is_ready(raw: bytes) -> bool:
    return celery_app.backend.decode_result(raw)["status"] in states.READY_STATES


__all__ = ["InferenceError", "run_task", "unwrap"]
