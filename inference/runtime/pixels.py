"""A per-process cap on decoded pixels in flight.

A 10 MB PNG can hold 40 megapixels: 160 MB once Pillow has decoded it (an RGB pixel takes
4 bytes there), and a legal batch may hold ten of them.  A worker's threads (and, in eager mode,
the web process's) decode whatever they are handed, so without a cap a few concurrent
batches need gigabytes.  Every decode therefore reserves its pixels' bytes here first, from
the header's size and mode, and gives them back once the request's image is freed.

A reservation that does not fit waits its turn for at most ``DECODED_PIXELS_WAIT_SECONDS``,
then fails with ``Overloaded``, which each product answers as a 503 in its own envelope.
Turns go by the request's deadline, earliest first (then by arrival): the images of a batch
that arrived first are decoded first, so under load the newest requests are the ones
refused, instead of every concurrent batch losing one image and failing whole.  A large
image is never overtaken by smaller ones behind it.  One image larger than the whole budget
may still run alone: it reserves the whole budget.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from inference.runtime.errors import Overloaded
from inference.runtime.memory import return_large_blocks_to_the_system


def decoded_bytes(width: int, height: int, mode: str) -> int:
    """What Pillow allocates for an image of this size and mode.

    ``1``, ``L`` and ``P`` take one byte a pixel, ``I;16`` two; every other mode (RGB
    included: Pillow pads it to four bytes) takes four.
    """
    if mode in ("1", "L", "P"):
        per_pixel = 1
    elif mode.startswith("I;16"):
        per_pixel = 2
    else:
        per_pixel = 4
    return width * height * per_pixel


class PixelBudget:
    """A counting semaphore of bytes, served earliest deadline first."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.in_use = 0
        self.peak = 0
        self.refused = 0
        self._waiting: list[tuple[float, int]] = []  # a heap of (deadline, arrival)
        self._arrivals = itertools.count()
        self._changed = threading.Condition()

    @contextmanager
    def reserve(self, nbytes: int, timeout: float, deadline: float | None = None) -> Iterator[int]:
        """Hold ``nbytes`` (at most the capacity) for the ``with`` block; yields the amount.

        ``deadline`` (a ``time.monotonic()`` instant, the request's) orders the waiters;
        ``timeout`` is how long this one waits before ``Overloaded``.
        """
        amount = max(0, min(int(nbytes), self.capacity))
        self._acquire(amount, timeout, math.inf if deadline is None else deadline)
        try:
            yield amount
        finally:
            with self._changed:
                self.in_use -= amount
                self._changed.notify_all()

    def _acquire(self, amount: int, timeout: float, deadline: float) -> None:
        turn = (deadline, next(self._arrivals))
        give_up = time.monotonic() + max(0.0, timeout)
        with self._changed:
            heapq.heappush(self._waiting, turn)
            try:
                while self._waiting[0] != turn or self.in_use + amount > self.capacity:
                    remaining = give_up - time.monotonic()
                    if remaining <= 0:
                        self.refused += 1
                        raise Overloaded(
                            f"{self.in_use} of {self.capacity} bytes of decoded pixels in use; "
                            f"{amount} more did not fit within {timeout:.1f} s"
                        )
                    self._changed.wait(remaining)
                self.in_use += amount
                self.peak = max(self.peak, self.in_use)
            finally:
                self._waiting.remove(turn)
                heapq.heapify(self._waiting)
                # The next in line may fit now (or may be first now).
                self._changed.notify_all()

    def status(self) -> dict[str, int]:
        with self._changed:
            return {
                "capacity": self.capacity,
                "in_use": self.in_use,
                "peak": self.peak,
                "waiting": len(self._waiting),
                "refused": self.refused,
            }


_budget: PixelBudget | None = None
_budget_lock = threading.Lock()


def budget() -> PixelBudget:
    """This process's budget, sized by ``DECODED_PIXELS_MAX_BYTES`` when first used."""
    global _budget
    with _budget_lock:
        if _budget is None:
            # Without it, freed pixels stay in glibc's per-thread heaps (runtime.memory).
            return_large_blocks_to_the_system()
        if _budget is None or _budget.capacity != settings.DECODED_PIXELS_MAX_BYTES:
            _budget = PixelBudget(settings.DECODED_PIXELS_MAX_BYTES)
        return _budget
