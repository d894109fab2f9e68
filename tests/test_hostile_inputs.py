"""Hostile request bodies found by probing from outside (issue 20, item 6), on every JSON
endpoint they reach: each is a 4xx in the product's envelope, never a 500."""

from __future__ import annotations

import base64

import pytest

from accounts.models import ApiKey, Customer
from tests.corpus.payloads import png_claiming

pytestmark = pytest.mark.django_db

DEEPLY_NESTED = "[" * 100_000

#: Every JSON endpoint of the products, with the header it authenticates with.
JSON_ENDPOINTS = [
    "/vhs/v3/predict",
    "/vhs/v3/corners",
    "/vhs/v3/rectify",
    "/vhs/v3/preprocess",
    "/vhs/v3/pop-session",
    "/vhs/v3/corrections",
    "/vhs/v3/report",
    "/leukemia/predict",
]


@pytest.fixture
def key() -> str:
    return ApiKey.issue(Customer.objects.create(name="Hostile clinic"))[1]


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_json_nested_too_deeply_is_a_malformed_body_not_a_500(client, key, path):
    response = client.post(
        path, DEEPLY_NESTED, content_type="application/json", headers={"x-api-key": key}
    )

    assert response.status_code == 400, response.content[:200]
    assert response["Content-Type"] == "application/json"


def test_json_nested_too_deeply_on_the_chest_x_ray_api_is_its_envelopes_400(client):
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import Membership

    user = get_user_model().objects.create_user("radiologist", password="x")
    Membership.objects.create(user=user, customer=Customer.objects.create(name="Hospital"))
    response = client.post(
        "/cxr/single_inference",
        DEEPLY_NESTED,
        content_type="application/json",
        headers={"Authorization": str(AccessToken.for_user(user))},
    )

    assert response.status_code == 400
    assert response.json()["Result"] == "Failure"


def test_a_decompression_bomb_is_refused_for_its_pixels_not_its_bytes(client, key):
    bomb = base64.b64encode(png_claiming(30_000, 30_000)).decode()

    vhs = client.post(
        "/vhs/v3/predict",
        {"image": bomb},
        content_type="application/json",
        headers={"x-api-key": key},
    )
    leukemia = client.post(
        "/leukemia/predict", {"image_base64": bomb}, content_type="application/json"
    )

    # Pillow's own bomb check answers first here (its limit is far above the platform's).
    assert vhs.status_code == 413
    assert vhs.json() == {"error": "Image has more than the 40,000,000 pixels allowed"}
    assert leukemia.status_code == 413
    assert leukemia.json()["error"] == "Image has more than the 40,000,000 pixels allowed"


def test_an_image_over_the_pixel_limit_says_how_many_pixels_it_has(client, key):
    large = base64.b64encode(png_claiming(8_000, 6_000)).decode()

    response = client.post(
        "/vhs/v3/predict",
        {"image": large},
        content_type="application/json",
        headers={"x-api-key": key},
    )

    assert response.status_code == 413
    assert response.json() == {
        "error": "Image has 8000x6000 pixels, more than the 40,000,000 allowed"
    }


@pytest.mark.parametrize("uuid", [{}, 0, [], True], ids=["object", "zero", "list", "true"])
def test_a_uuid_that_is_not_text_is_refused_not_ignored(client, key, uuid):
    response = client.post(
        "/vhs/v3/predict",
        {"image": "aGVsbG8=", "uuid": uuid},
        content_type="application/json",
        headers={"x-api-key": key},
    )

    assert response.status_code == 400
    assert response.json() == {"error": "uuid must be a string of at most 128 characters"}


def test_a_uuid_with_a_lone_surrogate_is_refused_before_anything_runs(client, key):
    body = '{"image": "aGVsbG8=", "uuid": "\\ud800"}'

    response = client.post(
        "/vhs/v3/predict", body, content_type="application/json", headers={"x-api-key": key}
    )

    assert response.status_code == 400
    assert response.json() == {"error": "uuid must not contain control characters"}
