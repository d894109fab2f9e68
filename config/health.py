"""Platform readiness: ``GET /health/``.

Answers 200 when the platform can serve predictions and 503 naming what cannot: the database,
Redis (when configured), the Celery broker, the workers (when distributed) and every
product's models.  Load balancers and operators poll it; it never raises and answers within
a few seconds.

Anyone gets ``status``, ``failing`` (check names only) and ``timestamp``; the details (each
check's measurements and errors, worker names, each worker's model files, the model store's
path) name hosts and paths, so only staff see them: a staff user's session (the staff home
page reads this endpoint) or a staff user's JWT (``Authorization: Bearer``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user
from django.db import connection
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import BareOrBearerJWTAuthentication
from inference import tasks
from inference.api.fields import NamedChoiceField
from inference.runtime import registry
from inference.runtime.broker import broker_reachable
from inference.runtime.cluster import (
    CONTROL_TIMEOUT_SECONDS,
    EAGER_WORKER_NAME,
    worker_model_statuses,
)
from inference.runtime.dispatch import round_trip

DEEP_PING_TIMEOUT_SECONDS = 5.0
#: How long the broker may take to accept a connection before it counts as down.
BROKER_TIMEOUT_SECONDS = 1.0
#: What the public answer keeps of the document.
PUBLIC_FIELDS = ("status", "failing", "timestamp")


def _error(exc: BaseException) -> str:
    """A one-line reason, short enough for a dashboard, without a traceback."""
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:300]


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def check_database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready", never a 500
        return {"ok": False, "vendor": connection.vendor, "error": _error(exc)}
    return {"ok": True, "vendor": connection.vendor, "latency_ms": _elapsed_ms(started)}


def check_redis() -> dict[str, Any]:
    if not settings.REDIS_URL:
        return {"ok": True, "configured": False}
    started = time.perf_counter()
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=1.0, socket_timeout=1.0
    )
    try:
        client.ping()
    except Exception as exc:
        return {"ok": False, "configured": True, "error": _error(exc)}
    finally:
        client.close()
    return {"ok": True, "configured": True, "latency_ms": _elapsed_ms(started)}


def check_broker() -> dict[str, Any]:
    """The Celery broker (Redis, or RabbitMQ when ``CELERY_BROKER_URL`` names one)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "configured": False}
    started = time.perf_counter()
    reachable, error = broker_reachable(BROKER_TIMEOUT_SECONDS)
    if not reachable:
        return {"ok": False, "configured": True, "error": error}
    return {"ok": True, "configured": True, "latency_ms": _elapsed_ms(started)}


def check_workers(
    redis_check: dict[str, Any], broker_check: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The workers check and what each answering worker says about its models."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "eager", "answering": [EAGER_WORKER_NAME]}, (
            worker_model_statuses()
        )
    if not (redis_check["ok"] and broker_check["ok"]):
        # Without a broker a broadcast only waits for its connection to time out.
        return {"ok": False, "mode": "distributed", "error": "broker unreachable"}, {}
    try:
        statuses = worker_model_statuses()
    except Exception as exc:
        return {"ok": False, "mode": "distributed", "error": _error(exc)}, {}
    check: dict[str, Any] = {"ok": bool(statuses), "mode": "distributed"}
    check["answering"] = sorted(statuses)
    if not statuses:
        check["error"] = f"no Celery worker answered within {CONTROL_TIMEOUT_SECONDS} s"
    return check, statuses


def check_task_round_trip() -> dict[str, Any]:
    """Send a task through the inference queue and wait for its answer (``?deep=1``)."""
    started = time.perf_counter()
    try:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            result = tasks.ping.apply(args=(time.time(),)).get()
        else:
            result = async_to_sync(round_trip)(
                tasks.ping, time.time(), timeout=DEEP_PING_TIMEOUT_SECONDS
            )
    except Exception as exc:
        return {"ok": False, "error": _error(exc)}
    return {"ok": True, "round_trip_ms": _elapsed_ms(started), "worker": result}


def product_readiness(worker_statuses: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per product: loaded on at least one answering worker, and each worker's view."""
    products: dict[str, Any] = {}
    for name in registry.product_names():
        per_worker = {
            worker: statuses.get(name, {"loaded": False, "reason": "not served by worker"})
            for worker, statuses in sorted(worker_statuses.items())
        }
        loaded = any(status.get("loaded") for status in per_worker.values())
        products[name] = {"loaded": loaded, "workers": per_worker}
    return products


def platform_health(deep: bool = False) -> tuple[int, dict[str, Any]]:
    checks: dict[str, Any] = {
        "database": check_database(),
        "redis": check_redis(),
        "broker": check_broker(),
    }
    checks["workers"], worker_statuses = check_workers(checks["redis"], checks["broker"])
    if deep:
        checks["task_round_trip"] = check_task_round_trip()
    products = product_readiness(worker_statuses)

    failing = [name for name, check in checks.items() if not check["ok"]]
    failing += [f"models:{name}" for name, product in products.items() if not product["loaded"]]
    body = {
        "status": "ready" if not failing else "not_ready",
        "failing": failing,
        "checks": checks,
        "products": products,
        "model_store": str(settings.MODEL_STORE),
        "timestamp": datetime.now(UTC).isoformat(),
    }
    return (200 if not failing else 503), body


def public_view(body: dict[str, Any]) -> dict[str, Any]:
    """What anyone may read: ready or not, and which checks fail, by name only."""
    return {field: body[field] for field in PUBLIC_FIELDS}


def is_staff(request: Request) -> bool:
    """Whether the caller is an active staff user, by session or by JWT; never raises.

    Looked up here rather than by the view's authentication classes, so that no credential
    can make this endpoint refuse (a stale or foreign token only means no details), and the
    schema rightly shows it open to all.  With the database down no one can be looked up:
    everyone gets the public answer, which names ``database``.
    """
    try:
        user = get_user(request._request)  # the session's
        if not user.is_authenticated:
            found = BareOrBearerJWTAuthentication().authenticate(request)
            user = found[0] if found else None
        return bool(user and user.is_active and user.is_staff)
    except Exception:
        return False


@extend_schema_serializer(component_name="PlatformCheck")
class CheckSerializer(serializers.Serializer):
    """One check; besides ``ok`` each says what it measured (latency, mode, vendor, …)."""

    ok = serializers.BooleanField()
    error = serializers.CharField(required=False, help_text="Why it failed, in one line.")


@extend_schema_serializer(component_name="PlatformChecks")
class ChecksSerializer(serializers.Serializer):
    database = CheckSerializer()
    redis = CheckSerializer()
    broker = CheckSerializer(help_text="The Celery broker (Redis, or RabbitMQ).")
    workers = CheckSerializer()
    task_round_trip = CheckSerializer(required=False, help_text="Only with ?deep=1.")


@extend_schema_serializer(component_name="PlatformProductReadiness")
class ProductReadinessSerializer(serializers.Serializer):
    loaded = serializers.BooleanField(help_text="Loaded on at least one answering worker.")
    workers = serializers.DictField(help_text="Each answering worker's view of the product.")


@extend_schema_serializer(component_name="PlatformHealth")
class PlatformHealthSerializer(serializers.Serializer):
    """``platform_health``'s document, the same for 200 and 503; ``checks``, ``products``
    and ``model_store`` only for staff."""

    status = NamedChoiceField(component_name="PlatformHealthStatus", choices=["ready", "not_ready"])
    failing = serializers.ListField(
        child=serializers.CharField(),
        help_text="Failing checks by name (database, redis, broker, workers, "
        "task_round_trip) and models:<product>; no host names or paths.",
    )
    checks = ChecksSerializer(required=False, help_text="Staff only.")
    products = serializers.DictField(
        child=ProductReadinessSerializer(), required=False, help_text="Staff only."
    )
    model_store = serializers.CharField(required=False, help_text="Staff only.")
    timestamp = serializers.DateTimeField()


class HealthView(APIView):
    """Readiness of the whole platform; see the module docstring."""

    # Never refuses: credentials only decide whether the details are shown (is_staff).
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        summary="Platform readiness",
        description="Public: `status`, `failing` (check names) and `timestamp`. A staff "
        "user's session or JWT also gets `checks`, `products` and `model_store`, which name "
        "worker hosts and model paths.",
        parameters=[
            OpenApiParameter(
                "deep",
                bool,
                description="Also send a task through the inference queue and time it.",
            )
        ],
        responses={
            200: OpenApiResponse(
                PlatformHealthSerializer, description="Ready: every check passed."
            ),
            503: OpenApiResponse(
                PlatformHealthSerializer, description="Not ready: `failing` names what is not."
            ),
        },
        tags=["platform"],
        operation_id="platform_health",
    )
    def get(self, request: Request) -> Response:
        deep = request.query_params.get("deep", "").lower() in {"1", "true", "yes"}
        status_code, body = platform_health(deep=deep)
        return Response(body if is_staff(request) else public_view(body), status=status_code)
