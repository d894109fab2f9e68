"""Running a task from an async view without holding a thread while it waits.

Under ASGI a synchronous view runs in one shared thread, so a view that blocked on
``AsyncResult.get()`` would serialise every prediction behind one thread.  Prediction views
are ``async`` instead and await ``run_task``:

* distributed (``REDIS_URL`` set): the task is published, then the view subscribes to the
  Redis channel on which Celery's Redis result backend announces the result (the result key
  itself) and awaits the message on the event loop.  One pub/sub connection per event loop
  carries every waiter's channel, so thousands of requests can wait at once and none holds a
  thread or a connection.  A ``GET`` after subscribing catches a result stored before.
* eager (``make run``): the task runs in a thread of the process's own inference pool
  (``eager_executor``), ``CELERY_WORKER_CONCURRENCY`` threads as a worker has.  Not the event
  loop's default executor: that one (a few threads) also carries every view's decoding,
  database and cache calls, so requests queued there for a thread and reached the batcher
  one or two at a time (issue 22: 128 concurrent requests took 43 forward passes).

Tasks return an *outcome*, ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {"code",
"message"}}``, which ``run_task`` turns back into the result or an ``InferenceError``.

Two limits hold whatever Redis does (issue 20, item 4):

* unreachable (refused, reset, a client timeout): the request fails at once with
  ``BackendUnavailable`` (a 503 in the product's envelope), never a 500 or a wait;
* slow or frozen (a Redis that accepts connections and never answers): every step, the
  blocking ones in threads included, is awaited only until the request's ``deadline``, so
  no request outlives ``REQUEST_TIMEOUT_SECONDS`` (then ``InferenceTimeout``, a 504).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from celery import states
from celery.app.task import Task
from django.conf import settings

from config.celery import app as celery_app
from inference.runtime.errors import (
    OUTAGE_ERRORS,
    BackendUnavailable,
    InferenceError,
    InferenceFailed,
    InferenceTimeout,
    NoWorker,
    from_outcome,
)

T = TypeVar("T")


#: How long dropping a finished request's subscription may take before it is given up.
UNSUBSCRIBE_TIMEOUT_S = 5.0
#: Unsubscriptions under way (a reference keeps each task alive until it is done).
_cleanups: set[asyncio.Future[None]] = set()


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

    async def wait(self, key: bytes) -> bytes:
        """The raw stored result for ``key``, once it is in a ready state."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiters[key] = future
        try:
            try:
                async with self.lock:
                    await self.pubsub.subscribe(key)
                if self.reader is None or self.reader.done():
                    self.reader = asyncio.create_task(self._read())
                # A result stored before the subscription took effect is already in the key.
                stored = await self.client.get(key)
            except BaseException:
                # A command that failed or was cut short leaves the connection in an unknown
                # state (a frozen Redis, then thawed, answered a stale reply): the next
                # request gets a new listener.
                if _listeners.get(asyncio.get_running_loop()) is self:
                    _listeners.pop(asyncio.get_running_loop(), None)
                raise
            if stored is not None and _is_ready(stored) and not future.done():
                future.set_result(stored)
            return await future
        finally:
            self.waiters.pop(key, None)
            # Not awaited here: on a frozen Redis it would hold a request past its deadline.
            cleanup = asyncio.ensure_future(self._unsubscribe(key))
            _cleanups.add(cleanup)
            cleanup.add_done_callback(_cleanups.discard)

    async def _unsubscribe(self, key: bytes) -> None:
        with contextlib.suppress(Exception):  # a broken connection has no subscriptions
            async with asyncio.timeout(UNSUBSCRIBE_TIMEOUT_S), self.lock:
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

    A broker that cannot be reached says nothing about the workers: that is an outage
    (``BackendUnavailable``), not "no worker"; any other failure to ask lets the request go on.
    """
    now = time.monotonic()
    trusted = ALIVE_FOR_S if _liveness["alive"] else NONE_FOR_S
    if now - float(_liveness["checked_at"]) < trusted:
        return bool(_liveness["alive"])
    try:
        replies = celery_app.control.ping(timeout=PING_TIMEOUT_S, limit=1)
    except OUTAGE_ERRORS as exc:
        raise BackendUnavailable("the broker cannot be reached") from exc
    except Exception:
        return True
    _liveness.update(checked_at=time.monotonic(), alive=bool(replies))
    return bool(replies)


async def in_thread(func: Callable[..., T], *args: Any, deadline: float) -> T:
    """``func(*args)`` in a worker thread, awaited until ``deadline`` (``time.monotonic()``).

    ``sync_to_async`` waits for its thread even when cancelled, so a Redis call stuck on a
    frozen server would hold the request past its limit; here the request stops waiting at
    the deadline and the thread finishes (or times out) on its own.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise InferenceTimeout("the request's time limit passed")
    try:
        return await asyncio.wait_for(asyncio.to_thread(func, *args), remaining)
    except TimeoutError:
        raise InferenceTimeout("the request's time limit passed") from None
    except OUTAGE_ERRORS as exc:
        raise BackendUnavailable(f"Redis cannot be reached ({type(exc).__name__})") from exc


_eager_pool: ThreadPoolExecutor | None = None
_eager_pool_lock = threading.Lock()


def eager_executor() -> ThreadPoolExecutor:
    """The threads eager tasks run in: this process's stand-in for a worker's thread pool."""
    global _eager_pool
    with _eager_pool_lock:
        if _eager_pool is None:
            _eager_pool = ThreadPoolExecutor(
                max_workers=settings.CELERY_WORKER_CONCURRENCY, thread_name_prefix="eager-task"
            )
        return _eager_pool


async def run_task(task: Task, *args: Any, timeout: float | None = None) -> Any:
    """Run ``task(*args)`` on a worker and return its result, awaiting without a thread.

    ``timeout`` (by default ``REQUEST_TIMEOUT_SECONDS``; what is left of the request's when
    the request sends several tasks) bounds everything this call waits for, and none left is
    a timeout at once.  With no worker consuming the queue the task would only wait for the
    whole timeout: the request fails at once instead (``NoWorker``, a 503 with Retry-After);
    with Redis unreachable it fails at once too (``BackendUnavailable``, a 503).
    """
    timeout = float(settings.REQUEST_TIMEOUT_SECONDS if timeout is None else timeout)
    if timeout <= 0:
        raise InferenceTimeout("the request's time limit passed")
    if settings.CELERY_TASK_ALWAYS_EAGER:
        run_eagerly = sync_to_async(task.apply, thread_sensitive=False, executor=eager_executor())
        eager = await run_eagerly(args=args)
        return unwrap(eager.get(propagate=True))
    give_up = time.monotonic() + timeout
    if settings.INFERENCE_FAIL_FAST_WITHOUT_WORKER and not await in_thread(
        _worker_alive, deadline=give_up
    ):
        raise NoWorker("no inference worker answered a ping")
    return unwrap(await round_trip(task, *args, timeout=timeout, give_up=give_up))


async def round_trip(task: Task, *args: Any, timeout: float, give_up: float | None = None) -> Any:
    """Publish ``task(*args)`` and await its raw return value, all within ``timeout`` seconds
    (or until ``give_up``, a ``time.monotonic()`` instant).  ``run_task`` reads outcomes from
    it; ``/health/?deep=1`` times a ``ping`` through it, the path predictions take."""
    give_up = time.monotonic() + timeout if give_up is None else give_up
    # A task still queued when the client has given up is discarded by the worker.
    async_result = await in_thread(
        functools.partial(task.apply_async, args=args, expires=timeout), deadline=give_up
    )
    try:
        meta = await asyncio.wait_for(_await_result(async_result.id), give_up - time.monotonic())
    except asyncio.CancelledError:
        # The caller left (a streaming client disconnected): a task not yet started is not
        # run.  Revoking is a broadcast; it is sent without waiting for it.
        asyncio.get_running_loop().run_in_executor(None, _revoke_quietly, async_result)
        raise
    except TimeoutError:
        asyncio.get_running_loop().run_in_executor(None, _revoke_quietly, async_result)
        raise InferenceTimeout(f"no result within {timeout:.0f} s") from None
    except OUTAGE_ERRORS as exc:
        raise BackendUnavailable(f"Redis cannot be reached ({type(exc).__name__})") from exc
    if meta["status"] != states.SUCCESS:
        raise InferenceFailed(f"task ended in state {meta['status']}")
    return meta["result"]


def _revoke_quietly(async_result: Any) -> None:
    """Revoke a task nobody waits for; with the broker gone there is nothing to tell."""
    with contextlib.suppress(Exception):
        async_result.revoke()


async def _await_result(task_id: str) -> dict[str, Any]:
    """The task's stored result; the caller bounds the wait (subscribing included)."""
    backend = celery_app.backend
    key = backend.get_key_for_task(task_id)
    listener = _listener()
    raw = await listener.wait(key)
    await listener.client.delete(key)
    return backend.decode_result(raw)


def _is_ready(raw: bytes) -> bool:
    return celery_app.backend.decode_result(raw)["status"] in states.READY_STATES


__all__ = ["InferenceError", "run_task", "unwrap"]
