"""The Celery application: configured from Django settings (``CELERY_`` keys).

With ``REDIS_URL`` unset the settings make every task run eagerly in the calling process, so
``make run`` needs no broker; with it set, tasks travel through Redis to ``make worker``.
"""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _refuse_insecure_worker(**_: object) -> None:
    """A worker started for real must have a secret key, like the web tier."""
    from config.startup import require_secret_key

    require_secret_key()
