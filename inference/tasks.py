"""Celery tasks: the only place inference runs.

Every task here is routed to the ``inference`` queue (settings.CELERY_TASK_ROUTES), which GPU
workers consume.  Arguments and results are JSON-safe and small: an image travels as the key
of its bytes in ``inference.runtime.payloads`` (``item["image_ref"]``), and a large result
value (a rendered image) comes back the same way.  A task never raises into the broker:
it returns an outcome, ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {...}}``,
which ``inference.runtime.dispatch`` unwraps in the web tier.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from celery import shared_task
from django.conf import settings

from config.metrics import TASK_SECONDS
from inference import worker_control  # noqa: F401  (registers the control commands)
from inference.runtime import payloads, registry
from inference.runtime.errors import OUTAGE_ERRORS, BackendUnavailable, InferenceError

logger = logging.getLogger(__name__)


@shared_task(name="inference.tasks.ping")
def ping(sent_at: float) -> dict[str, Any]:
    """Round-trip probe for ``/health/?deep=1``: proves a worker takes and answers tasks."""
    return {
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "queue_delay_ms": round(max(0.0, time.time() - sent_at) * 1000, 2),
    }


@shared_task(name="inference.tasks.predict")
def predict(product: str, item: Any, deadline: float | None = None) -> dict[str, Any]:
    """One request item through ``product``'s models, batched with whatever arrives with it.

    ``deadline`` is a wall-clock instant (``time.time()``) after which the client has given up;
    an item still waiting for its batch then is dropped instead of computed, and the payloads
    this task stores for its result expire.
    """
    started = time.perf_counter()
    remaining = settings.REQUEST_TIMEOUT_SECONDS if deadline is None else deadline - time.time()
    local_deadline = None if deadline is None else time.monotonic() + remaining
    try:
        result = registry.runtime(product).run(item, local_deadline)
        # A rendered image goes back beside the result, not through the result backend.
        result = payloads.stow_large(result, max(1.0, remaining))
    except InferenceError as exc:
        return {"ok": False, "error": {"code": exc.code, "message": exc.message}}
    except OUTAGE_ERRORS as exc:
        # Redis went away mid-task (payload or result store): an outage, not a defect.
        logger.warning("backend unavailable on the worker: %s", type(exc).__name__)
        return {
            "ok": False,
            "error": {"code": BackendUnavailable.code, "message": "Redis became unreachable"},
        }
    except Exception:
        # The traceback goes to the worker log only; items are never logged.
        logger.exception("inference failed", extra={"product": product})
        return {
            "ok": False,
            "error": {"code": "INFERENCE_FAILED", "message": "unexpected error on the worker"},
        }
    seconds = time.perf_counter() - started
    TASK_SECONDS.labels(product).observe(seconds)
    return {"ok": True, "result": result, "worker_ms": round(seconds * 1000, 2)}
