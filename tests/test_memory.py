"""Freed image-sized blocks go back to the system (``inference.runtime.memory``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.servers import REPO_ROOT

# Thirty 16 MB blocks (Pillow's block size), each followed by a small allocation that stays,
# as a process's other work leaves them; then the blocks are freed.
ALLOCATE_AND_FREE = """
import sys
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 // 2**20
if sys.argv[1] == "fixed":
    from inference.runtime.memory import return_large_blocks_to_the_system
    assert return_large_blocks_to_the_system()
first = bytearray(16 << 20)
del first
blocks, kept = [], []
for _ in range(30):
    blocks.append(bytearray(16 << 20))
    kept.append(bytearray(1000))
held = rss_mb()
del blocks
print(held, rss_mb())
"""


def resident_mb(mode: str) -> tuple[int, int]:
    """(resident MB with the blocks held, resident MB after they were freed)."""
    done = subprocess.run(
        [sys.executable, "-c", ALLOCATE_AND_FREE, mode],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    held, after = done.stdout.split()
    return int(held), int(after)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_image_sized_blocks_go_back_to_the_system():
    held, after = resident_mb("fixed")

    assert held > 400
    assert after < 100  # by default glibc keeps all 480 MB
