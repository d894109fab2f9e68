"""The Celery application: configured from Django settings (``CELERY_`` keys).

With ``REDIS_URL`` unset the settings make every task run eagerly in the calling process, so
``make run`` needs no broker; with it set, tasks travel to ``make worker`` through Redis, or
through the broker ``CELERY_BROKER_URL`` names (RabbitMQ in production), results through Redis.
"""

import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _start_worker(**_: object) -> None:
    """Refuse an insecure start, then load every product's models before taking work.

    The worker answers pings only after this returns, so "answering" means "models loaded or
    failed with a reason".  ``worker_process_init`` covers prefork children, which load their
    own copies (the default ``threads`` pool loads once per process, here).
    """
    from config.startup import require_secret_key

    require_secret_key()
    _load_models()
    from config.metrics import start_worker_exporter

    start_worker_exporter()


@worker_process_init.connect
def _load_models(**_: object) -> None:
    from inference.runtime import registry

    registry.load_all()
