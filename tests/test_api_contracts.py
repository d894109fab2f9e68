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
    response = getattr(client, method)("/vhs/v3/corners")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "No endpoint at /vhs/v3/corners"}


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
