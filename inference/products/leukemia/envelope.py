"""The leukemia API's response envelopes (seed 000), built in one place.

Success: ``status_code, status, success, data, timestamp, api_version, processing_time_ms``.
Error: ``status_code, status, success, error, error_code, timestamp, api_version,
processing_time_ms``.  Every exception a leukemia view raises reaches ``exception_handler``
and leaves as an error envelope with the right HTTP status; nothing leaves as a traceback.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from rest_framework import exceptions as drf
from rest_framework.response import Response

from inference.imaging.decoding import ImageRejected
from inference.runtime.errors import InferenceError, InferenceTimeout, InvalidInput, ModelsNotLoaded

API_VERSION = "1.0.0"
SERVICE_NAME = "Leukemia Classification API"

logger = logging.getLogger(__name__)


class LeukemiaError(Exception):
    """An error the API answers with its own code and message."""

    def __init__(self, status_code: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code
        self.message = message


# Rejected images by rule, with the seed's codes.
_IMAGE_ERRORS = {
    "missing": (400, "NO_IMAGE_PROVIDED"),
    "invalid": (400, "INVALID_IMAGE_FORMAT"),
    "too_small": (400, "IMAGE_TOO_SMALL"),
    "too_large": (413, "PAYLOAD_TOO_LARGE"),
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


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


def error(request: Any, status_code: int, error_code: str, message: str) -> Response:
    return Response(
        {
            "status_code": status_code,
            "status": "error",
            "success": False,
            "error": message,
            "error_code": error_code,
            "timestamp": now_iso(),
            "api_version": API_VERSION,
            "processing_time_ms": processing_time_ms(request),
        },
        status=status_code,
    )


def _classify(exc: Exception) -> tuple[int, str, str, dict[str, str]]:
    """(HTTP status, error code, message, extra headers) for any exception."""
    if isinstance(exc, LeukemiaError):
        return exc.status_code, exc.error_code, exc.message, {}
    if isinstance(exc, ImageRejected):
        status_code, code = _IMAGE_ERRORS[exc.kind]
        return status_code, code, exc.message, {}
    if isinstance(exc, ModelsNotLoaded):
        return 503, "MODELS_NOT_LOADED", "AI models not initialized", {}
    if isinstance(exc, InvalidInput):
        return 400, "INVALID_IMAGE_FORMAT", "Image format not supported or corrupted", {}
    if isinstance(exc, InferenceTimeout):
        return 504, "INFERENCE_TIMEOUT", "The prediction did not finish in time; retry", {}
    if isinstance(exc, RequestDataTooBig):
        return 413, "PAYLOAD_TOO_LARGE", "Request body is too large", {}
    if isinstance(exc, drf.Throttled):
        wait = int(exc.wait or 1)
        message = f"Rate limit exceeded; retry in {wait} s or send a valid x-api-key"
        return 429, "RATE_LIMIT_EXCEEDED", message, {"Retry-After": str(wait)}
    if isinstance(exc, drf.UnsupportedMediaType):
        return 415, "UNSUPPORTED_MEDIA_TYPE", str(exc.detail), {}
    if isinstance(exc, drf.MethodNotAllowed):
        return 405, "METHOD_NOT_ALLOWED", str(exc.detail), {}
    if isinstance(exc, drf.ParseError | SuspiciousOperation):
        return 400, "INVALID_REQUEST", "Malformed request body", {}
    if isinstance(exc, drf.APIException):
        return exc.status_code, "INVALID_REQUEST", str(exc.detail), {}
    if isinstance(exc, InferenceError):
        return 500, "INTERNAL_SERVER_ERROR", "Unexpected server error", {}
    logger.exception("unexpected error in the leukemia API")
    return 500, "INTERNAL_SERVER_ERROR", "Unexpected server error", {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    request = context.get("request")
    status_code, code, message, headers = _classify(exc)
    if isinstance(exc, InferenceError) and status_code == 500:
        logger.error("inference failed", extra={"code": exc.code})
    response = error(request, status_code, code, message)
    for name, value in headers.items():
        response[name] = value
    return response
