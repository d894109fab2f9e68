"""Python-heap snapshots on request, for ``bench/soak.py --trace-python`` only.

The soak puts this folder first on the servers' ``PYTHONPATH``, so Python imports it at
start-up in daphne and in the worker.  With ``SOAK_TRACE_DIR`` set it starts ``tracemalloc``
and a daemon thread that, whenever ``<dir>/<pid>.request`` appears, writes a snapshot to
``<dir>/<pid>-<label>.snap`` (the label is the request file's text).  Comparing the snapshot
after warm-up with the one at the end tells Python objects that pile up from native memory
(the allocator, torch) that grows on its own.
"""

import os
import threading
import time
import tracemalloc
from pathlib import Path

_DIRECTORY = os.environ.get("SOAK_TRACE_DIR")


def _serve_requests(directory: Path) -> None:
    request = directory / f"{os.getpid()}.request"
    while True:
        time.sleep(0.5)
        if request.exists():
            label = request.read_text().strip()
            tracemalloc.take_snapshot().dump(str(directory / f"{os.getpid()}-{label}.snap"))
            request.unlink()


if _DIRECTORY:
    tracemalloc.start(int(os.environ.get("SOAK_TRACE_FRAMES", "8")))
    threading.Thread(target=_serve_requests, args=(Path(_DIRECTORY),), daemon=True).start()
