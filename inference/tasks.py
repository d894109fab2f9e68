"""Celery tasks: the only place inference runs.

Every task here is routed to the ``inference`` queue (settings.CELERY_TASK_ROUTES), which GPU
workers consume.  Arguments and results are JSON-safe.
"""

import os
import socket
import time
from typing import Any

from celery import shared_task

from inference import worker_control  # noqa: F401  (registers the control commands)


@shared_task(name="inference.tasks.ping")
def ping(sent_at: float) -> dict[str, Any]:
    """Round-trip probe for ``/health/?deep=1``: proves a worker takes and answers tasks."""
    return {
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "queue_delay_ms": round(max(0.0, time.time() - sent_at) * 1000, 2),
    }
