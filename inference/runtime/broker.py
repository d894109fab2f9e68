"""Whether the Celery broker can be reached: Redis, or RabbitMQ when ``CELERY_BROKER_URL``
names one.

The broker need not be the Redis of results, cache and channel layer (``REDIS_URL``), so
"Redis answers" says nothing about it; health and fail-fast checks ask here instead.
"""

from __future__ import annotations

from django.conf import settings
from kombu import Connection


def broker_reachable(timeout: float) -> tuple[bool, str | None]:
    """``(True, None)`` when a connection to the broker opens within ``timeout`` seconds,
    else ``(False, "<error class>: <message>")`` (the URL, which may hold a password, is not
    in it).  Eager mode has no broker to lose: always reachable."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return True, None
    connection = Connection(settings.CELERY_BROKER_URL, connect_timeout=timeout)
    try:
        connection.ensure_connection(max_retries=0, timeout=timeout)
    except Exception as exc:  # kombu wraps transport errors differently per transport
        return False, f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        connection.release()
    return True, None
