"""``/auth/token/`` and ``/auth/token/refresh/``: simplejwt's views with failures throttled.

A refused username/password counts against the client's IP and against the username; once
either has used up its rate (``AUTH_TOKEN_FAILURE_RATE_IP``, ``AUTH_TOKEN_FAILURE_RATE_USER``)
the endpoint answers 429 with ``Retry-After`` before the password is checked, so guessing one
user's password from many addresses, or many users' from one, is bounded.  Successful logins
never count.  Refused logins are counted by ``accounts.login_throttling`` (every login path
shares the counts); a refused refresh token is counted here, against the IP.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.login_throttling import login_throttles
from accounts.throttling import FailureThrottle


def _failure_throttles(request: Request, with_username: bool) -> list[FailureThrottle]:
    """The login's counts (address and username) or, for a refresh, the address's alone."""
    data = request.data if hasattr(request.data, "get") else {}
    return login_throttles(request, data.get("username") if with_username else None)


class _FailureThrottledMixin:
    counts_username = False
    #: Whether this view counts its own refusals; a login's are counted where every login's
    #: are (accounts.login_throttling), so they are not counted twice.
    records_failures = True

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        throttles = _failure_throttles(request, self.counts_username)
        for throttle in throttles:
            if throttle.blocked():
                throttle.refuse()
        try:
            return super().post(request, *args, **kwargs)  # type: ignore[misc]
        except APIException as exc:  # simplejwt raises its refusals (401)
            if exc.status_code == 401 and self.records_failures:
                for throttle in throttles:
                    throttle.record_failure()
            raise


class ThrottledTokenObtainPairView(_FailureThrottledMixin, TokenObtainPairView):
    counts_username = True
    records_failures = False


class ThrottledTokenRefreshView(_FailureThrottledMixin, TokenRefreshView):
    pass
