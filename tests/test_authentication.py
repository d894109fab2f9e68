"""API-key and JWT authentication (accounts/authentication.py), over real requests."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiKey, Customer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.billing_urls")]


@pytest.fixture
def key():
    customer = Customer.objects.create(name="Keyed")
    api_key, raw = ApiKey.issue(customer)
    return api_key, raw


def post(client, raw_key=None, **body):
    headers = {"x-api-key": raw_key} if raw_key else {}
    return client.post(
        "/metered/predict",
        {"result_code": 1, **body},
        content_type="application/json",
        headers=headers,
    )


def test_a_valid_key_is_accepted_and_bills_its_customer(client, key):
    api_key, raw = key

    response = post(client, raw)

    assert response.status_code == 200
    assert response.json()["billing"]["billable"] is True
    assert api_key.customer.usage_events.get().api_key == api_key


@pytest.mark.parametrize("header", [None, "", "mia_not-a-real-key", "x" * 5000])
def test_a_missing_or_invalid_key_is_a_403_invalid_api_key(client, header):
    headers = {} if header is None else {"x-api-key": header}

    response = client.post("/metered/predict", {}, content_type="application/json", headers=headers)

    assert response.status_code == 403
    assert response.json() == {"error": "Invalid API key"}


def test_a_revoked_key_is_refused(client, key):
    api_key, raw = key
    api_key.revoke()

    assert post(client, raw).status_code == 403


def test_a_key_of_an_inactive_customer_is_refused(client, key):
    api_key, raw = key
    Customer.objects.filter(pk=api_key.customer_id).update(is_active=False)

    assert post(client, raw).status_code == 403


def test_last_used_is_recorded_without_a_write_on_every_request(client, key):
    api_key, raw = key
    post(client, raw)
    api_key.refresh_from_db()
    first_use = api_key.last_used_at
    assert first_use is not None

    with CaptureQueriesContext(connection) as queries:
        post(client, raw, uuid="another")

    key_updates = [q for q in queries if q["sql"].startswith('UPDATE "accounts_apikey"')]
    assert key_updates == []
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now() - timedelta(minutes=5))
    post(client, raw, uuid="third")
    api_key.refresh_from_db()
    assert api_key.last_used_at > first_use


# --- JWT -------------------------------------------------------------------------------------


@pytest.fixture
def tokens(client, django_user_model):
    django_user_model.objects.create_user("radiologist", password="correct horse battery")
    response = client.post(
        "/auth/token/",
        {"username": "radiologist", "password": "correct horse battery"},
        content_type="application/json",
    )
    assert response.status_code == 200
    return response.json()


def test_token_endpoints_issue_and_refresh_jwts(client, tokens):
    assert set(tokens) == {"access", "refresh"}

    refreshed = client.post(
        "/auth/token/refresh/", {"refresh": tokens["refresh"]}, content_type="application/json"
    )

    assert refreshed.status_code == 200
    assert "access" in refreshed.json()


def test_wrong_credentials_get_no_token(client, django_user_model):
    django_user_model.objects.create_user("radiologist", password="right")

    response = client.post(
        "/auth/token/",
        {"username": "radiologist", "password": "wrong"},
        content_type="application/json",
    )

    assert response.status_code == 401


def test_a_bare_token_is_accepted_as_the_chest_xray_seed_sends_it(client, tokens):
    response = client.get("/jwt/whoami", headers={"Authorization": tokens["access"]})

    assert response.status_code == 200
    assert response.json() == {"username": "radiologist"}


def test_a_bearer_token_is_accepted_too(client, tokens):
    response = client.get("/jwt/whoami", headers={"Authorization": f"Bearer {tokens['access']}"})

    assert response.status_code == 200


@pytest.mark.parametrize("header", [None, "not-a-jwt", "Bearer not.a.jwt"])
def test_a_missing_or_bad_token_is_refused(client, header):
    headers = {} if header is None else {"Authorization": header}

    assert client.get("/jwt/whoami", headers=headers).status_code == 401


def test_an_expired_token_is_refused_with_a_message_that_says_so(client, tokens):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken(tokens["access"])
    token.set_exp(lifetime=-timedelta(minutes=1))

    response = client.get("/jwt/whoami", headers={"Authorization": str(token)})

    assert response.status_code == 401
    assert response.json()["detail"].startswith("Token expired")


def test_a_malformed_token_is_refused_as_invalid(client):
    response = client.get("/jwt/whoami", headers={"Authorization": "Bearer not.a.jwt"})

    assert response.status_code == 401
    assert response.json()["detail"].startswith("Token invalid")
