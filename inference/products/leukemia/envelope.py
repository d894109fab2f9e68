"""The leukemia API's response envelopes (seed 000), built in one place.

Success: ``status_code, status, success, data, timestamp, api_version, processing_time_ms``.
Error: ``status_code, status, success, error, error_code, timestamp, api_version,
processing_time_ms``.  Errors are classified once for every product
(``inference.api.errors``); this module says only how the seed words and shapes them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from rest_framework.response import Response

from inference.api.errors import ApiError, ErrorEnvelope

API_VERSION = "1.0.0"
SERVICE_NAME = "Leukemia Classification API"


def now_iso() -> str:
    """Success and health documents: ``2025-06-11T10:30:45.123456+00:00``, as the seed shows."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def now_iso_z() -> str:
    """Error documents: ``2025-06-11T10:30:45.123Z`` (milliseconds, ``Z``), as the seed shows."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def processing_time_ms(request: Any) -> float:
    started = getattr(request, "started_at", None)
    return round((time.perf_counter() - started) * 1000, 2) if started else 0.0


def success(request: Any, data: dict[str, Any]) -> Response:
    return Response(
        {
            "status_code": 200,
            "status": "success",
            "success": True,
            "data": data,
            "timestamp": now_iso(),
            "api_version": API_VERSION,
            "processing_time_ms": processing_time_ms(request),
        }
    )


def _throttled(error: ApiError) -> str:
    return f"Rate limit exceeded; retry in {error.wait} s or send a valid x-api-key"


class LeukemiaEnvelope(ErrorEnvelope):
    messages = {
        "MODELS_NOT_LOADED": "AI models not initialized",
        "RATE_LIMIT_EXCEEDED": _throttled,
    }
    codes = {
        # The seed's codes have no pixel-count one; the message says it is the pixels.
        "IMAGE_TOO_MANY_PIXELS": "PAYLOAD_TOO_LARGE",
        # The seed's codes have none for it; its nearest is the models not being up.
        "NO_WORKER": "MODELS_NOT_LOADED",
        # The seed's 503 is "models not loaded or system unavailable".
        "BACKEND_UNAVAILABLE": "MODELS_NOT_LOADED",
        "IMAGE_UNUSABLE": "INVALID_IMAGE_FORMAT",
        "MALFORMED_BODY": "INVALID_REQUEST",
        "MALFORMED_UPLOAD": "INVALID_REQUEST",
        "UNAUTHENTICATED": "INVALID_REQUEST",
        "AUTHENTICATION_FAILED": "INVALID_REQUEST",
        "FORBIDDEN": "INVALID_REQUEST",
        "IDEMPOTENCY_KEY": "INVALID_REQUEST",
        "IDEMPOTENCY_IN_PROGRESS": "INVALID_REQUEST",
    }

    def body(self, error: ApiError, request: Any) -> dict[str, Any]:
        return {
            "status_code": error.status,
            "status": "error",
            "success": False,
            "error": error.message,
            "error_code": error.code,
            "timestamp": now_iso_z(),
            "api_version": API_VERSION,
            "processing_time_ms": processing_time_ms(request),
        }


ENVELOPE = LeukemiaEnvelope()
