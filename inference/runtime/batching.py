"""Micro-batching: requests that arrive together share one forward pass.

The idea is Triton's dynamic batcher.  Each worker thread holding a request submits its
preprocessed item and waits on a future; one batching thread per model takes the first item
waiting, then keeps taking more until the batch is full (``max_batch_size``) or the oldest
item has waited ``max_wait_s``, and runs them together.

Unlike a fixed delay, the batcher waits only while another request is on its way: a thread
announces its item with ``expecting()`` before preprocessing it, and once nothing is queued
and nothing is announced the batch runs at once.  A lone request therefore pays no wait at
all, while requests that arrive together still share a forward pass; under sustained load
batches also form on their own, from what queues up while the previous batch runs.

Items whose deadline has passed (their HTTP client has given up) are dropped before the
forward pass, so a backlog cannot make the queue stall behind abandoned work.

Why not celery-batches: it acknowledges and collects at the broker level, needs a prefetch
window large enough to fill a batch (which defeats ``acks_late`` fairness between GPU
workers), and has reports of batches collapsing to size one.  Batching here happens after the
broker, inside the worker, in ~100 lines that the tests exercise directly.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from inference.runtime.errors import DeadlineExceeded

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger(__name__)

# How often a waiting batcher re-checks whether announced items are still on their way.
_POLL_S = 0.0005


@dataclass
class _Pending(Generic[T, R]):
    item: T
    deadline: float | None
    future: Future[R] = field(default_factory=Future)
    queued_at: float = field(default_factory=time.perf_counter)


@dataclass
class Announcement:
    """A request announced to the batcher; retired when it is submitted (or abandoned)."""

    submitted: bool = False


@dataclass
class BatchStats:
    """What the batcher did: the sizes of the batches it ran, for health and tests."""

    batches: int = 0
    items: int = 0
    dropped: int = 0
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)

    def record(self, size: int) -> None:
        self.batches += 1
        self.items += size
        self.largest = max(self.largest, size)
        self.sizes[size] = self.sizes.get(size, 0) + 1


class MicroBatcher(Generic[T, R]):
    """Groups items submitted from many threads into calls of ``run_batch``.

    ``run_batch`` gets a list of items and must return one result per item, in order.  If it
    raises, every item of that batch gets the exception.
    """

    def __init__(
        self,
        run_batch: Callable[[list[T]], Sequence[R]],
        max_batch_size: int = 16,
        max_wait_s: float = 0.005,
        name: str = "batcher",
        labels: tuple[str, str] | None = None,
    ) -> None:
        """``labels`` (product, group) name this batcher's metrics (``config.metrics``)."""
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_wait_s = max(0.0, max_wait_s)
        self.stats = BatchStats()
        self._metrics = None if labels is None else _BatchMetrics(labels)
        self._expected = 0
        self._expected_lock = threading.Lock()
        self._queue: queue.Queue[_Pending[T, R] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._closed = False
        self._thread.start()

    @contextmanager
    def expecting(self) -> Iterator[Announcement]:
        """Announce an item to be submitted in this block (pass the announcement to submit)."""
        announcement = Announcement()
        with self._expected_lock:
            self._expected += 1
        try:
            yield announcement
        finally:
            self._retire(announcement)

    def _retire(self, announcement: Announcement) -> None:
        with self._expected_lock:
            if not announcement.submitted:
                announcement.submitted = True
                self._expected -= 1

    def submit(
        self, item: T, deadline: float | None = None, announcement: Announcement | None = None
    ) -> Future[R]:
        """Queue one item; ``deadline`` is a ``time.monotonic()`` instant or None.

        The announcement is retired before the item is queued, so the batcher never waits
        for an item it already holds.
        """
        if self._closed:
            raise RuntimeError("batcher is closed")
        pending: _Pending[T, R] = _Pending(item, deadline)
        if announcement is not None:
            self._retire(announcement)
        self._queue.put(pending)
        return pending.future

    def close(self, timeout: float = 5.0) -> None:
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    def _collect(self, first: _Pending[T, R]) -> tuple[list[_Pending[T, R]], bool]:
        """The first item plus whatever arrives before the batch is full or the wait is over."""
        batch = [first]
        flush_at = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch_size:
            remaining = flush_at - time.monotonic()
            try:
                if remaining <= 0 or self._expected == 0:
                    pending = self._queue.get_nowait()  # take what is queued, wait for nothing
                else:
                    pending = self._queue.get(timeout=min(remaining, _POLL_S))
            except queue.Empty:
                if remaining <= 0 or self._expected == 0:
                    break
                continue
            if pending is None:
                return batch, True
            batch.append(pending)
        return batch, False

    def _loop(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch, stop = self._collect(first)
            self._run(self._drop_expired(batch))

    def _drop_expired(self, batch: list[_Pending[T, R]]) -> list[_Pending[T, R]]:
        now = time.monotonic()
        live = []
        for pending in batch:
            if pending.deadline is not None and pending.deadline <= now:
                self.stats.dropped += 1
                pending.future.set_exception(DeadlineExceeded())
            elif pending.future.set_running_or_notify_cancel():
                live.append(pending)
        return live

    def _run(self, batch: list[_Pending[T, R]]) -> None:
        if not batch:
            return
        self.stats.record(len(batch))
        started = time.perf_counter()
        if self._metrics is not None:
            self._metrics.formed(batch, started)
        try:
            results = self.run_batch([pending.item for pending in batch])
            if self._metrics is not None:
                self._metrics.ran(time.perf_counter() - started)
            if len(results) != len(batch):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(batch)}")
        except BaseException as exc:  # every waiter must hear about the failure
            logger.exception("batch of %d failed", len(batch))
            for pending in batch:
                pending.future.set_exception(exc)
            return
        for pending, result in zip(batch, results, strict=True):
            pending.future.set_result(result)


class _BatchMetrics:
    """A labelled batcher's Prometheus series: batch sizes, queue waits, forward times."""

    def __init__(self, labels: tuple[str, str]) -> None:
        from config.metrics import BATCH_SIZE, BATCH_WAIT_SECONDS, FORWARD_SECONDS

        self.size = BATCH_SIZE.labels(*labels)
        self.wait = BATCH_WAIT_SECONDS.labels(*labels)
        self.forward = FORWARD_SECONDS.labels(*labels)

    def formed(self, batch: list[_Pending], at: float) -> None:
        self.size.observe(len(batch))
        for pending in batch:
            self.wait.observe(at - pending.queued_at)

    def ran(self, seconds: float) -> None:
        self.forward.observe(seconds)
