"""Celery remote-control commands the web tier uses to ask workers about their models.

Control commands travel on the broker's broadcast channel, not the task queue, so a worker
answers health checks even while its queue is full of inference work.
"""

from typing import Any

from celery.worker.control import inspect_command

from inference.runtime import registry


@inspect_command()
def model_status(state: Any) -> dict[str, Any]:
    """This worker's per-product model status (what ``/health/`` shows per worker)."""
    return registry.statuses()
