"""Password guessing throttled on every login: ``/login/``, ``/admin/login/``, ``/auth/token/``.

All three call Django's ``authenticate()``, so the guard sits there: ``ThrottledModelBackend``
refuses (``PermissionDenied``, which ``authenticate()`` reports as a failed login) an address
or a username that has used up its refused logins, before the password is checked; Django's
``user_login_failed`` signal counts each refused login against both
(``AUTH_TOKEN_FAILURE_RATE_IP``, ``AUTH_TOKEN_FAILURE_RATE_USER``: the same rates for every
login path).  ``/auth/token/`` answers a throttled caller 429 with ``Retry-After`` before it
gets here (``accounts.token_views``); the login pages show their usual "incorrect" error.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver

from accounts.throttling import (
    TOKEN_FAILURES_IP,
    TOKEN_FAILURES_USER,
    FailureThrottle,
    client_ident,
    username_ident,
)


def login_throttles(request: Any, username: Any) -> list[FailureThrottle]:
    """The address's and (when there is one) the username's failure counts."""
    throttles = [FailureThrottle(TOKEN_FAILURES_IP, client_ident(request))]
    if isinstance(username, str) and username:
        throttles.append(FailureThrottle(TOKEN_FAILURES_USER, username_ident(username)))
    return throttles


class ThrottledModelBackend(ModelBackend):
    """Django's ``ModelBackend``, refusing throttled addresses and usernames first."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs
    ) -> Any:
        if request is not None and any(t.blocked() for t in login_throttles(request, username)):
            raise PermissionDenied("Too many failed logins; retry later")
        return super().authenticate(request, username=username, password=password, **kwargs)


@receiver(user_login_failed)
def count_failed_login(sender: Any, credentials: dict, request: Any = None, **_: Any) -> None:
    if request is None:
        return
    throttles = login_throttles(request, credentials.get("username"))
    if any(t.blocked() for t in throttles):
        return  # a refusal of a throttled caller is not another guess
    for throttle in throttles:
        throttle.record_failure()
