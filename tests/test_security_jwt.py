"""JWTs the chest X-ray API refuses (seed 001 envelope, 401): expired, tampered, unsigned
(``alg: none``), signed with another algorithm or key, a refresh token sent as an access
token, an inactive user's; and a refresh token is single-use (rotation with blacklist)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Customer, Membership

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.fixture
def pair(client):
    user = get_user_model().objects.create_user("radiologist", password=PASSWORD)
    Membership.objects.create(user=user, customer=Customer.objects.create(name="Chest clinic"))
    response = client.post(
        "/auth/token/", {"username": "radiologist", "password": PASSWORD}, "application/json"
    )
    assert response.status_code == 200
    return response.json()


def cxr(client, authorization):
    """An empty body: a caller the token admits gets the seed's 400 for the missing field."""
    return client.post(
        "/cxr/single_inference", {}, content_type="application/json",
        headers={"Authorization": authorization},
    )  # fmt: skip


def refused(response, starts_with="Token invalid"):
    assert response.status_code == 401
    body = response.json()
    assert body["Result"] == "Failure"
    assert body["Data"] is None
    assert body["Message"].startswith(starts_with), body
    return body


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims(token: str) -> dict:
    return json.loads(unb64(token.split(".")[1]))


def hs256(header: dict, payload: dict, key: str) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def test_the_valid_access_token_is_admitted(client, pair):
    response = cxr(client, pair["access"])

    assert response.status_code == 400
    assert response.json()["Message"] == "input_image_path is required in the request"


def test_an_expired_token_is_refused_as_expired(client, pair):
    token = AccessToken(pair["access"])
    token.set_exp(lifetime=-timedelta(seconds=1))

    refused(cxr(client, str(token)), "Token expired")


def test_a_tampered_signature_is_refused(client, pair):
    header, payload, signature = pair["access"].split(".")
    flipped = bytearray(unb64(signature))
    flipped[0] ^= 0x01

    refused(cxr(client, f"{header}.{payload}.{b64(bytes(flipped))}"))


def test_a_tampered_payload_is_refused(client, pair, django_user_model):
    other = django_user_model.objects.create_user("other", password=PASSWORD)
    header, _, signature = pair["access"].split(".")
    payload = {**claims(pair["access"]), "user_id": str(other.pk)}

    refused(cxr(client, f"{header}.{b64(json.dumps(payload).encode())}.{signature}"))


def test_an_unsigned_alg_none_token_is_refused(client, pair):
    for alg in ("none", "None", "NONE"):
        header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        payload = b64(json.dumps(claims(pair["access"])).encode())

        refused(cxr(client, f"{header}.{payload}."))


def test_a_token_signed_with_hs512_and_the_right_key_is_refused(client, pair):
    token = jwt.encode(claims(pair["access"]), settings.SECRET_KEY, algorithm="HS512")

    refused(cxr(client, token))


def test_an_rs256_header_over_an_hs256_signature_is_refused(client, pair):
    """The key-confusion attack: the server's HS key used as if it were an RS public key."""
    token = hs256({"alg": "RS256", "typ": "JWT"}, claims(pair["access"]), settings.SECRET_KEY)

    refused(cxr(client, token))


def test_a_token_signed_with_another_key_is_refused(client, pair):
    token = hs256({"alg": "HS256", "typ": "JWT"}, claims(pair["access"]), "not-our-secret")

    refused(cxr(client, token))


def test_the_right_construction_is_admitted_so_the_refusals_above_are_meaningful(client, pair):
    token = hs256({"alg": "HS256", "typ": "JWT"}, claims(pair["access"]), settings.SECRET_KEY)

    assert cxr(client, token).status_code == 400


def test_a_refresh_token_is_no_access_token(client, pair):
    refused(cxr(client, pair["refresh"]))


def test_an_inactive_users_token_is_refused(client, pair, django_user_model):
    django_user_model.objects.filter(username="radiologist").update(is_active=False)

    response = cxr(client, pair["access"])

    assert response.status_code == 401
    assert response.json()["Result"] == "Failure"


def refresh(client, token):
    return client.post("/auth/token/refresh/", {"refresh": token}, "application/json")


def test_a_refresh_token_is_single_use(client, pair):
    first = refresh(client, pair["refresh"])
    assert first.status_code == 200
    assert set(first.json()) == {"access", "refresh"}
    assert first.json()["refresh"] != pair["refresh"]

    reused = refresh(client, pair["refresh"])

    assert reused.status_code == 401
    assert "blacklisted" in reused.json()["detail"]
    # The rotated token works (once), and its access token is admitted.
    assert refresh(client, first.json()["refresh"]).status_code == 200
    assert cxr(client, first.json()["access"]).status_code == 400
