"""Refusing oversized request bodies before Django reads them, endpoint by endpoint.

Django reads a whole body (to memory, then a temporary file) before any view runs, and
DRF's JSON parsing holds it in memory twice more, so the limit has to be checked first.  This
ASGI middleware finds the view a path resolves to and takes the limit that view declares
from its contract (``body_limit``, ``inference.api.limits``: a batch of ten 10 MB base64
images is about 140 MB, a single one about 14 MB); every other path gets
``MAX_REQUEST_BODY_BYTES``.  It answers 413 at once when ``Content-Length`` is over the limit,
and stops a chunked body as soon as it grows past it, in the error envelope of the product
the path belongs to (DRF's ``{"detail": ...}`` for the platform's own pages).

Django's own ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is one number for every path, so it is off
(``config/settings.py``): this is where bodies are limited.  (daphne itself has received the
body before any ASGI application runs; what this saves is Django's and DRF's copies.)
"""

from __future__ import annotations

import gc
import json
from typing import Any

from django.conf import settings
from django.urls import Resolver404, resolve

from inference.api.errors import ApiError
from inference.api.limits import refusal_message
from inference.runtime.product import product_for_path

Scope = dict[str, Any]

#: After a body this large, a full garbage collection (tens of milliseconds, against the
#: seconds such a request takes) frees it at once.
COLLECT_AFTER_BYTES = 8 * 1024 * 1024


class _BodyTooLarge(Exception):
    pass


def endpoint_limit(path: str) -> tuple[int, str]:
    """(the most bytes a body sent to ``path`` may have, what that admits)."""
    try:
        match = resolve(path)
    except Resolver404:
        return settings.MAX_REQUEST_BODY_BYTES, ""
    view_class = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)
    declared = getattr(view_class, "body_limit", None)
    if declared is None:
        return settings.MAX_REQUEST_BODY_BYTES, ""
    return declared.max_body_bytes(), declared.describe()


def refusal_body(path: str, limit: int, described: str) -> dict[str, Any]:
    """The 413 document, in the envelope of the product ``path`` belongs to."""
    message = refusal_message(limit, described)
    declaration = product_for_path(path)
    if declaration is None:
        return {"detail": message}
    return declaration.error_envelope().body(ApiError(413, "PAYLOAD_TOO_LARGE", message), None)


class BodySizeLimitMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
        max_bytes, described = endpoint_limit(path)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(send, path, max_bytes, described)
            return
        received = 0
        started = False

        async def counting_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(send, path, max_bytes, described)
        finally:
            if received >= COLLECT_AFTER_BYTES:
                # DRF's request, its view, serializer and any exception's traceback refer to
                # one another, so a finished request's body and parsed JSON would otherwise
                # wait for Python's next full collection, often many requests later
                # (measured: daphne kept 300 MB more with every full batch of ten images).
                gc.collect()

    async def _refuse(self, send: Any, path: str, max_bytes: int, described: str) -> None:
        body = json.dumps(refusal_body(path, max_bytes, described)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
