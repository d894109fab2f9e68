"""Giving freed memory back to the system, in processes that handle 10 MB images.

glibc serves an allocation from its heaps unless it is at least its mapping threshold, which
it raises to the size of any mapped block freed, up to 32 MB.  After the first request every
image-sized block (a 13 MB base64 string, a 10 MB image, Pillow's 16 MB pixel blocks) then
comes from the heaps, and the heaps keep what is freed: measured, daphne grew by a batch's
size with every full batch of images, and a worker to twice its pixel budget.  A fixed threshold
turns that adjustment off, so blocks of ``MMAP_THRESHOLD_BYTES`` and more get pages of their
own and go back to the system when freed.
"""

from __future__ import annotations

import ctypes
import functools

#: glibc's ``mallopt`` parameter for the size from which allocations are mapped.
_M_MMAP_THRESHOLD = -3
#: Allocations from this size up get pages of their own, returned to the system when freed.
MMAP_THRESHOLD_BYTES = 1024 * 1024


@functools.cache
def return_large_blocks_to_the_system() -> bool:
    """Fix glibc's mapping threshold (once per process); False where there is no glibc, where
    only freed memory lingers longer."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False
