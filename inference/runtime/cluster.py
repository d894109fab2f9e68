"""The web tier's view of the workers: which answer, and what models each has loaded.

Workers are asked with a Celery remote-control command (``model_status``), which travels on
the broker's broadcast channel rather than the task queue, so a worker busy with inference
still answers.  When Celery runs eagerly the web process is the worker and answers itself.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from config.celery import app as celery_app
from inference.runtime import registry
from inference.runtime.broker import broker_reachable
from inference.runtime.errors import OUTAGE_ERRORS

CONTROL_TIMEOUT_SECONDS = 1.0
#: How long the broker may take to accept a connection before it counts as unreachable.
BROKER_CHECK_SECONDS = 1.0
EAGER_WORKER_NAME = "web-process (eager)"


def worker_model_statuses(limit: int | None = None) -> dict[str, dict[str, Any]]:
    """``{worker name: {product: status}}`` from the workers that answer in time.

    ``limit`` returns as soon as that many workers answered (otherwise the broadcast waits the
    whole timeout, since it cannot know how many workers exist).
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        registry.load_all()  # the web process is the worker: load as a worker would at start
        return {EAGER_WORKER_NAME: registry.statuses()}
    replies = celery_app.control.broadcast(
        "model_status", reply=True, timeout=CONTROL_TIMEOUT_SECONDS, limit=limit
    )
    answered: dict[str, dict[str, Any]] = {}
    for reply in replies or []:
        answered.update(reply)
    return answered


def product_status(product: str, limit: int | None = None) -> dict[str, Any] | None:
    """One answering worker's status of ``product``, preferring a worker that has it loaded
    (``limit``: of the first workers to answer, not waiting out the broadcast's timeout)."""
    statuses = [s[product] for s in worker_model_statuses(limit).values() if product in s]
    loaded = [status for status in statuses if status.get("loaded")]
    return (loaded or statuses or [None])[0]


def reachable_product_status(product: str, limit: int | None = None) -> dict[str, Any] | None:
    """``product_status``, or a not-loaded status naming the broker when it cannot be reached.

    A broadcast to a broker that is down waits out kombu's connection retries (seconds to
    minutes); a one-shot connection first answers a product health check within about a
    second, and says why nothing is loaded instead of raising.
    """
    reachable, error = broker_reachable(BROKER_CHECK_SECONDS)
    if reachable:
        try:
            return product_status(product, limit)
        except OUTAGE_ERRORS as exc:
            error = type(exc).__name__
    return {"loaded": False, "reason": f"the broker cannot be reached ({error})"}
