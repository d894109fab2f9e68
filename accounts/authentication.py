"""Finding the customer behind an ``x-api-key`` header.

Keys are looked up by their SHA-256 hash (an index lookup that reveals nothing about other
keys), then compared in constant time.  Revoked keys and keys of inactive customers are
refused.
"""

from __future__ import annotations

import hmac

from django.http import HttpRequest

from accounts import keys
from accounts.models import ApiKey

API_KEY_HEADER = "x-api-key"
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
        .first()
    )
    if api_key is None or not hmac.compare_digest(api_key.key_hash, digest):
        return None
    return api_key


def api_key_from_request(request: HttpRequest) -> ApiKey | None:
    return find_api_key(request.headers.get(API_KEY_HEADER))
