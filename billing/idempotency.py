"""``Idempotency-Key`` on prediction calls: a retry returns the first answer, billed once.

Like Stripe's own idempotency keys: a key is per customer and lives 24 hours; the first
request with a key is processed and its response stored; a retry with the same key and the
same body gets that stored response (and is not billed again); the same key with a different
body is refused (422), and a retry while the first is still running is told to wait (409).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Customer
from billing.models import IdempotentRequest
from inference.api.fields import has_control_characters

KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class IdempotencyError(Exception):
    status_code = 422

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeyReused(IdempotencyError):
    status_code = 422


class StillProcessing(IdempotencyError):
    status_code = 409


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def fingerprint(endpoint: str, body: bytes) -> str:
    return hashlib.sha256(endpoint.encode() + b"\n" + body).hexdigest()


def begin(customer: Customer, key: str, endpoint: str, body: bytes) -> StoredResponse | None:
    """None: process the request (and call ``finish``). A response: send it again."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise IdempotencyError(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    if has_control_characters(key):
        # PostgreSQL cannot store NUL (a DataError, a 500); refused like any invalid key.
        raise IdempotencyError("Idempotency-Key must not contain control characters")
    request_hash = fingerprint(endpoint, body)
    IdempotentRequest.objects.filter(
        customer=customer, key=key, created_at__lt=timezone.now() - KEY_LIFETIME
    ).delete()
    try:
        with transaction.atomic():
            IdempotentRequest.objects.create(
                customer=customer, key=key, endpoint=endpoint, request_hash=request_hash
            )
        return None
    except IntegrityError:
        stored = IdempotentRequest.objects.get(customer=customer, key=key)
    if stored.request_hash != request_hash:
        raise KeyReused(
            "This Idempotency-Key was already used with a different request; "
            "use a new key for a new request"
        )
    if stored.status_code is None:
        raise StillProcessing(
            "A request with this Idempotency-Key is still being processed; retry shortly"
        )
    return StoredResponse(stored.status_code, json.loads(stored.response_body))


def finish(customer: Customer, key: str, status_code: int, body: Any) -> None:
    IdempotentRequest.objects.filter(customer=customer, key=key).update(
        status_code=status_code, response_body=json.dumps(body)
    )


def abandon(customer: Customer, key: str) -> None:
    """Forget a key whose request failed unexpectedly, so that a retry is processed anew."""
    IdempotentRequest.objects.filter(customer=customer, key=key, status_code__isnull=True).delete()


HEADER = "Idempotency-Key"


async def run_once(
    customer: Customer,
    request: Any,
    compute: Callable[[], Awaitable[Any]],
) -> StoredResponse:
    """``compute()``'s body, once per ``Idempotency-Key``: what any view answers with.

    Without the header it simply computes.  With it, a retry gets the stored first answer
    (``begin``), a fresh key is computed and stored (``finish``), and a failure forgets the
    key (``abandon``) so that the retry is processed anew.  ``compute`` returns plain JSON.
    """
    key = request.headers.get(HEADER)
    if not key:
        return StoredResponse(200, await compute())
    stored = await sync_to_async(begin)(customer, key, request.path, request.body)
    if stored is not None:
        return stored
    try:
        body = await compute()
    except BaseException:
        await sync_to_async(abandon)(customer, key)
        raise
    await sync_to_async(finish)(customer, key, 200, body)
    return StoredResponse(200, body)
