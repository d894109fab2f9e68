"""One structured log line per request, and the request id that ties log lines together.

The id comes from the client's ``X-Request-ID`` header when it is a sane token (so a caller's
own tracing carries through), otherwise a fresh one is made; either way it is echoed back in
the response header and attached to every log line written while the request runs.

Only the method, the path (never the query string), the status and the duration are logged:
bodies can hold images, base64 and patient identifiers, and none of that belongs in logs.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from config.metrics import observe_request

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_request_id", default=""
)

logger = logging.getLogger("platform.request")


def choose_request_id(header_value: str | None) -> str:
    """Keep a caller's id when it is a plain token; never echo arbitrary header content."""
    if header_value and _VALID_REQUEST_ID.match(header_value):
        return header_value
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Stamps every log record with the id of the request being served (or "")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id.get()
        return True


class RequestLogMiddleware:
    """Assigns the request id, times the request and logs one line when it ends.

    Works in both sync and async stacks so that async views are not pushed through a thread.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if iscoroutinefunction(self):
            return self._acall(request)
        token, started = self._begin(request)
        try:
            response = self.get_response(request)
            return self._end(request, response, started)
        finally:
            current_request_id.reset(token)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        token, started = self._begin(request)
        try:
            response = await self.get_response(request)
            return self._end(request, response, started)
        finally:
            current_request_id.reset(token)

    def _begin(self, request: HttpRequest) -> tuple[contextvars.Token, float]:
        request_id = choose_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        # Products report processing_time_ms from the same instant the log line measures.
        request.started_at = time.perf_counter()
        return current_request_id.set(request_id), request.started_at

    def _end(self, request: HttpRequest, response: HttpResponse, started: float) -> HttpResponse:
        seconds = time.perf_counter() - started
        duration_ms = round(seconds * 1000, 2)
        observe_request(request, response.status_code, seconds)
        response[REQUEST_ID_HEADER] = request.request_id
        logger.info(
            "request",
            extra={
                "request_id": request.request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        return response
