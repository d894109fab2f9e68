"""Prometheus metrics: what Triton, TorchServe and BentoML expose, in the same format.

One registry per process (prometheus-client's default).  The web process counts requests and
their latency by product, route and status (``RequestLogMiddleware`` reports each one here),
billing decisions by reason and billing errors, and reads the Stripe outbox's backlog when
scraped.  The inference runtime counts, wherever it runs (a worker, or the web process in
eager mode), the batch sizes formed, how long items waited for their batch, the forward
passes' time, each task's time on the worker, and which products' models are loaded.

Where to scrape (``docs/platform.md``):

* the web process: ``GET /metrics``, for staff (a session) or for a scraper sending
  ``Authorization: Bearer <METRICS_TOKEN>`` (unset: staff only);
* a worker: ``WORKER_METRICS_PORT`` set starts prometheus-client's own HTTP server on
  ``WORKER_METRICS_ADDRESS`` (default 127.0.0.1) when the worker starts.

Labels are bounded: products and model groups are the declared ones, routes are URL
patterns (never paths with ids in them), reasons are billing's enumeration.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

#: Latency buckets from a small model's few milliseconds to a request's 300 s limit.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)

HTTP_REQUESTS = Counter(
    "medimg_http_requests", "HTTP requests answered", ["product", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "medimg_http_request_seconds",
    "Server time per HTTP request, first middleware to response",
    ["product", "route"],
    buckets=LATENCY_BUCKETS,
)
BILLING_DECISIONS = Counter(
    "medimg_billing_decisions", "Billing decisions by reason", ["product", "reason"]
)
BILLING_ERRORS = Counter(
    "medimg_billing_errors", "Calls answered unbilled because billing failed", ["product"]
)
BATCH_SIZE = Histogram(
    "medimg_inference_batch_size",
    "Items per forward pass formed by the micro-batcher",
    ["product", "group"],
    buckets=BATCH_BUCKETS,
)
BATCH_WAIT_SECONDS = Histogram(
    "medimg_inference_batch_wait_seconds",
    "Time an item waited in the batcher's queue before its forward pass",
    ["product", "group"],
    buckets=LATENCY_BUCKETS,
)
FORWARD_SECONDS = Histogram(
    "medimg_inference_forward_seconds",
    "Time of one forward pass (a whole batch)",
    ["product", "group"],
    buckets=LATENCY_BUCKETS,
)
TASK_SECONDS = Histogram(
    "medimg_inference_task_seconds",
    "Time an inference task took on the worker, decoding to result",
    ["product"],
    buckets=LATENCY_BUCKETS,
)
MODELS_LOADED = Gauge(
    "medimg_models_loaded", "1 when the model group is loaded in this process", ["product", "group"]
)


class StripeOutboxCollector(Collector):
    """``medimg_stripe_outbox_backlog``: billable events still to report, read when scraped."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from billing.models import UsageEvent
        from billing.reports import owed_to_stripe

        family = GaugeMetricFamily(
            "medimg_stripe_outbox_backlog",
            "Billable usage events with a price not yet reported to Stripe",
        )
        try:
            backlog = UsageEvent.objects.filter(owed_to_stripe()).count()
        except Exception:  # the database is down: the other metrics still go out
            return
        family.add_metric([], backlog)
        yield family


_outbox_registered = False


def register_web_collectors() -> None:
    """The web process's scrape-time collectors, once (``metrics_view`` calls it)."""
    global _outbox_registered
    if not _outbox_registered:
        REGISTRY.register(StripeOutboxCollector())
        _outbox_registered = True


@cache
def _product_prefixes() -> dict[str, str]:
    from inference.runtime.product import products

    return {config.url_prefix.strip("/"): config.product for config in products()}


def observe_request(request: HttpRequest, status: int, seconds: float) -> None:
    """Count one answered request under its product (by URL prefix) and route (the pattern)."""
    match = getattr(request, "resolver_match", None)
    route = f"/{match.route}" if match is not None and match.route else "unmatched"
    prefix = route.strip("/").split("/", 1)[0]
    product = _product_prefixes().get(prefix, "platform")
    HTTP_REQUESTS.labels(product, route, str(status)).inc()
    HTTP_SECONDS.labels(product, route).observe(seconds)


def _authorised(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: the process's metrics in Prometheus' text format, staff or token."""
    if not _authorised(request):
        return JsonResponse(
            {"error": {"code": "forbidden", "message": "metrics are for staff or the scraper"}},
            status=403,
        )
    register_web_collectors()
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def start_worker_exporter() -> int | None:
    """Serve a worker's metrics on ``WORKER_METRICS_PORT`` (unset: none); the port or None."""
    port = settings.WORKER_METRICS_PORT
    if not port:
        return None
    start_http_server(port, addr=settings.WORKER_METRICS_ADDRESS)
    return port
