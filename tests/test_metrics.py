"""``/metrics``: Prometheus' text format, for staff or the scraper's token, never the public."""

from __future__ import annotations

import base64
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import ApiKey, Customer
from inference.phantoms.leukemia import draw_cell

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, **headers) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content.decode())


def value(scraped, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def test_the_public_and_a_wrong_token_are_refused_in_json(client, settings):
    settings.METRICS_TOKEN = "scraper-secret-1"
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": ""}):
        response = client.get("/metrics", **headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"


def test_no_token_configured_means_staff_only(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    staff = get_user_model().objects.create_user("metrics-staff", password="x" * 12, is_staff=True)
    client.force_login(staff)
    assert client.get("/metrics").status_code == 200


def test_a_prediction_moves_requests_batches_models_and_billing(client, settings):
    settings.METRICS_TOKEN = "scraper-secret-1"
    token = {"HTTP_AUTHORIZATION": "Bearer scraper-secret-1"}
    key = ApiKey.issue(Customer.objects.create(name="Metrics clinic"))[1]
    buffer = io.BytesIO()
    draw_cell("Pre", seed=3).image.save(buffer, format="PNG")
    body = {"image_base64": base64.b64encode(buffer.getvalue()).decode("ascii")}
    before = scrape(client, **token)

    response = client.post(
        "/leukemia/predict", body, content_type="application/json", HTTP_X_API_KEY=key
    )
    assert response.status_code == 200

    after = scrape(client, **token)
    route = {"product": "leukemia", "route": "/leukemia/predict"}
    assert value(after, "medimg_http_requests_total", **route, status="200") == (
        value(before, "medimg_http_requests_total", **route, status="200") + 1
    )
    assert value(after, "medimg_http_request_seconds_count", **route) == (
        value(before, "medimg_http_request_seconds_count", **route) + 1
    )
    group = {"product": "leukemia", "group": "classifier"}
    assert value(after, "medimg_inference_batch_size_count", **group) >= (
        value(before, "medimg_inference_batch_size_count", **group) + 1
    )
    assert value(after, "medimg_inference_task_seconds_count", product="leukemia") == (
        value(before, "medimg_inference_task_seconds_count", product="leukemia") + 1
    )
    assert value(after, "medimg_models_loaded", **group) == 1
    decisions = sum(
        v - before.get(k, 0.0)
        for k, v in after.items()
        if k[0] == "medimg_billing_decisions_total" and ("product", "leukemia") in k[1]
    )
    assert decisions == 1
    assert ("medimg_stripe_outbox_backlog", frozenset()) in after
