"""Refusing oversized request bodies before Django reads them.

Django reads a whole body (to memory, then a temporary file) before any view runs; its own
``DATA_UPLOAD_MAX_MEMORY_SIZE`` check comes after that and skips multipart files.  This ASGI
middleware answers 413 at once when ``Content-Length`` is over ``MAX_REQUEST_BODY_BYTES``, and
stops a chunked body as soon as it grows past it.  Products check their own smaller limits.
"""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]


class _BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
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
                await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps(
            {
                "status_code": 413,
                "status": "error",
                "success": False,
                "error": f"Request body exceeds the maximum of {self.max_bytes} bytes",
                "error_code": "PAYLOAD_TOO_LARGE",
            }
        ).encode()
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
