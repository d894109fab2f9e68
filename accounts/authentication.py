"""Who is calling: API keys (``x-api-key``) and JWTs (``Authorization``).

Keys are looked up by their SHA-256 hash (an index lookup that reveals nothing about other
keys), then compared in constant time.  Revoked and expired keys, and keys of inactive
customers, are refused.
"""

from __future__ import annotations

import hmac
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts import keys
from accounts.models import ApiKey, Customer

API_KEY_HEADER = "x-api-key"
INVALID_API_KEY = "Invalid API key"
# Longer values are not keys; refusing them early avoids hashing arbitrary megabytes.
MAX_KEY_LENGTH = 256


def find_api_key(raw_key: str | None) -> ApiKey | None:
    """The live ``ApiKey`` for ``raw_key``, or None."""
    if not raw_key or len(raw_key) > MAX_KEY_LENGTH:
        return None
    digest = keys.hash_key(raw_key)
    api_key = (
        ApiKey.objects.select_related("customer")
        .filter(key_hash=digest, revoked_at__isnull=True, customer__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .first()
    )
    if api_key is None or not hmac.compare_digest(api_key.key_hash, digest):
        return None
    return api_key


_LOOKUP = "_api_key_lookup"


def api_key_from_request(request: HttpRequest) -> ApiKey | None:
    """The request's live key, looked up once per request (throttles and services both ask)."""
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    if not hasattr(request, _LOOKUP):
        setattr(request, _LOOKUP, find_api_key(request.headers.get(API_KEY_HEADER)))
    return getattr(request, _LOOKUP)


class ApiKeyClient:
    """``request.user`` for a request authenticated by an API key: the customer acting."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.customer = api_key.customer
        self.pk = None

    def __str__(self) -> str:
        return f"{self.customer} ({self.api_key.prefix}…)"


class ApiKeyAuthentication(BaseAuthentication):
    """``x-api-key`` authentication (seed 002): a missing or bad key is a 403.

    ``authenticate_header`` returns nothing, which is what makes DRF answer 403 rather than
    401; products render the failure as ``{"error": "Invalid API key"}``.
    """

    def authenticate(self, request: Request) -> tuple[ApiKeyClient, ApiKey]:
        api_key = api_key_from_request(request)
        if api_key is None:
            raise AuthenticationFailed(INVALID_API_KEY)
        api_key.touch()
        return ApiKeyClient(api_key), api_key

    def authenticate_header(self, request: Request) -> None:
        return None


# Messages, not secrets (ruff's S105 reads "TOKEN" as a password).
TOKEN_MISSING = "Token missing"  # noqa: S105
TOKEN_EXPIRED = "Token expired: get a new one from /auth/token/ or refresh it"  # noqa: S105
TOKEN_INVALID = "Token invalid: send the access token from /auth/token/"  # noqa: S105


class BareOrBearerJWTAuthentication(JWTAuthentication):
    """simplejwt, accepting a bare ``Authorization: <token>`` (as some seeds' clients send
    it) as well as ``Authorization: Bearer <token>``.

    A bad token is refused with a message a client can act on (expired, or invalid) rather
    than simplejwt's nested detail; a missing one is left to the permission, which answers
    401 ``Token missing`` through the product's envelope.
    """

    def authenticate(self, request: Request) -> Any:
        try:
            return super().authenticate(request)
        except InvalidToken as exc:
            messages = exc.detail.get("messages", []) if isinstance(exc.detail, dict) else []
            expired = any("expired" in str(entry.get("message", "")) for entry in messages)
            raise AuthenticationFailed(TOKEN_EXPIRED if expired else TOKEN_INVALID) from exc

    def get_raw_token(self, header: bytes) -> bytes | None:
        parts = header.split()
        if len(parts) == 1:
            return parts[0]
        return super().get_raw_token(header)


#: A JWT claim naming the customer the token acts for, instead of the user's membership.  Only
#: the platform mints it (the staff web pages' short-lived tokens: ``web.credentials``), and it
#: counts only while its user is active staff; ``/auth/token/`` never sets it.
ACTS_FOR_CLAIM = "acts_for"


def jwt_customer(user: Any, token: Any) -> Customer | None:
    """The customer a JWT-authenticated request acts for, or None.

    A staff user's token that names a customer (``ACTS_FOR_CLAIM``) acts for it, so a page a
    staff member uses is recorded as the internal customer's usage even when the same user is
    linked to a real customer; any other token acts for the user's membership.
    """
    acts_for = token.get(ACTS_FOR_CLAIM) if token is not None else None
    if acts_for is not None:
        if not (user.is_active and user.is_staff):
            return None
        return Customer.objects.filter(pk=acts_for, is_active=True).first()
    membership = getattr(user, "membership", None)
    return membership.customer if membership is not None else None
