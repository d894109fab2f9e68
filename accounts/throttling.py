"""Brute-force throttling: failed credentials, counted per client IP (and per username).

DRF's throttles count every request they are asked about; a guesser is told apart from a
customer only by failing, so these count failures alone.  ``FailureThrottle`` is DRF's
``SimpleRateThrottle`` (its rate strings, cache keys, sliding window and ``wait``) with the
counting split in two: ``blocked`` before the credential is checked, ``record_failure`` after
it failed.  The history lives in Django's cache: Redis in distributed mode (``CACHES``), so
every daphne process sees the same count.

* ``x-api-key``: ``guard_api_key`` runs before any product view authenticates (the product
  views' ``initial``).  A wrong key counts against the client's IP; once the IP has used up
  ``API_KEY_FAILURE_RATE`` it gets a 429 with ``Retry-After``, in the product's envelope,
  before any key is looked up, so the rate bounds the guesses.  A valid key never counts, and
  a request with no key is no guess (monitors poll health without one): neither is ever
  counted, so a valid caller alone is never throttled here.
* The PoP session's WebSocket (``x-api-key`` on the handshake) counts the same way and closes
  a throttled address's socket with 4429.
* ``/auth/token/``: a refused username/password counts against the IP
  (``AUTH_TOKEN_FAILURE_RATE_IP``) and the username (``AUTH_TOKEN_FAILURE_RATE_USER``); a
  refused refresh token against the IP (``accounts.token_views``).
"""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.authentication import API_KEY_HEADER, api_key_from_request

API_KEY_FAILURES = "api_key_failures"
# Throttle scopes, not secrets (ruff's S105 reads "TOKEN" as a password).
TOKEN_FAILURES_IP = "auth_token_failures_ip"  # noqa: S105
TOKEN_FAILURES_USER = "auth_token_failures_user"  # noqa: S105


class FailureThrottle(SimpleRateThrottle):
    """The failures of one identity (an IP, a username) within its scope's rate.

    The rate is read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]`` when the
    throttle is made (so ``override_settings`` takes effect); ``None`` turns it off.
    """

    def __init__(self, scope: str, ident: str) -> None:
        self.scope = scope  # before DRF's __init__, which reads the rate of the scope
        super().__init__()
        self.key = self.cache_format % {"scope": scope, "ident": ident}
        self.now = self.timer()
        self.history: list[float] = []
        if self.rate is not None:
            self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]

    def get_rate(self) -> str | None:
        # DRF reads the rates once, at import; read them now so that settings apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def blocked(self) -> bool:
        """Whether this identity has used up its failures for now."""
        return self.rate is not None and len(self.history) >= self.num_requests

    def record_failure(self) -> None:
        if self.rate is None:
            return
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)

    def refuse(self) -> None:
        """Raise DRF's 429 (its handler or the product's envelope adds ``Retry-After``)."""
        wait = self.wait()
        raise Throttled(wait=max(1, round(wait)) if wait is not None else None)


class _Ident(SimpleRateThrottle):
    """Only for ``get_ident``: DRF's one reading of the client address."""

    def __init__(self) -> None:  # no scope, no rate to look up
        pass


_IDENT = _Ident()


def client_ident(request: Any) -> str:
    """The client's address as DRF's throttles see it (``NUM_PROXIES``, X-Forwarded-For)."""
    return _IDENT.get_ident(request)


def scope_ident(scope: dict[str, Any]) -> str:
    """``client_ident`` for an ASGI scope (a WebSocket handshake): the same DRF reading."""
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers") or []
    }
    client = scope.get("client") or ("", 0)
    request = SimpleNamespace(
        headers={"x-forwarded-for": headers["x-forwarded-for"]}
        if "x-forwarded-for" in headers
        else {},
        META={"REMOTE_ADDR": client[0]},
    )
    return _IDENT.get_ident(request)


def username_ident(username: str) -> str:
    """A cache-safe identity for a username (case-folded, hashed: any text is a valid key)."""
    return hashlib.sha256(username.strip().casefold().encode("utf-8", "replace")).hexdigest()


def guard_api_key(request: Any) -> None:
    """Refuse (429) an IP that spent its failed-key allowance; count this request's key if
    it is wrong.  Runs before authentication; the key's lookup is shared with it."""
    raw = request.headers.get(API_KEY_HEADER)
    if not raw:
        return
    throttle = FailureThrottle(API_KEY_FAILURES, client_ident(request))
    if throttle.blocked():
        throttle.refuse()
    if api_key_from_request(request) is None:
        throttle.record_failure()
