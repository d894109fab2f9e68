"""What an outside client meets at the API prefixes: JSON in the product's envelope, always."""

from __future__ import annotations

import pytest

from accounts.models import ApiKey, Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def vhs_key() -> str:
    return ApiKey.issue(Customer.objects.create(name="Contract clinic"))[1]


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_an_unknown_vhs_path_is_a_json_404_in_the_vhs_envelope(client, method):
    response = getattr(client, method)("/vhs/v3/no-such-endpoint")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "No endpoint at /vhs/v3/no-such-endpoint"}


def test_an_unknown_leukemia_path_is_a_json_404_in_the_leukemia_envelope(client):
    response = client.get("/leukemia/foo")

    assert response.status_code == 404
    body = response.json()
    assert body["status_code"] == 404
    assert body["success"] is False
    assert body["error_code"] == "NOT_FOUND"
    assert body["error"] == "No endpoint at /leukemia/foo"


def test_a_wrong_method_is_a_json_405_in_the_products_envelope(client, vhs_key):
    vhs = client.get("/vhs/v3/predict", headers={"x-api-key": vhs_key})
    leukemia = client.get("/leukemia/predict")

    assert vhs.status_code == 405
    assert vhs.json() == {"error": 'Method "GET" not allowed.'}
    assert leukemia.status_code == 405
    assert leukemia.json()["error_code"] == "METHOD_NOT_ALLOWED"


def test_paths_outside_every_prefix_keep_djangos_own_404(client):
    assert client.get("/no-such-product/x").status_code == 404


# --- browsers (CORS) ---------------------------------------------------------------------------

ORIGIN = "https://app.clinic.example"


@pytest.fixture
def allowed_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]


def test_a_preflight_is_answered_before_authentication(client, allowed_origin):
    response = client.options(
        "/vhs/v3/predict",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type, idempotency-key",
        },
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"x-api-key", "authorization", "idempotency-key", "content-type"} <= allowed
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_a_cross_origin_call_carries_the_cors_headers_even_when_refused(
    client, allowed_origin, vhs_key
):
    answered = client.get("/vhs/v3/health", headers={"Origin": ORIGIN, "x-api-key": vhs_key})
    refused = client.get("/vhs/v3/health", headers={"Origin": ORIGIN})

    assert answered.status_code == 200
    assert answered["Access-Control-Allow-Origin"] == ORIGIN
    assert "x-request-id" in answered["Access-Control-Expose-Headers"].lower()
    assert refused.status_code == 403
    assert refused["Access-Control-Allow-Origin"] == ORIGIN  # the browser can read the error


def test_no_origin_is_allowed_by_default(client, vhs_key):
    response = client.get(
        "/vhs/v3/health", headers={"Origin": "https://evil.example", "x-api-key": vhs_key}
    )

    assert "Access-Control-Allow-Origin" not in response
