"""The VHS API's errors: ``{"error": message}`` with the seed's status codes, in one place."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions as drf
from rest_framework.response import Response

from accounts.authentication import INVALID_API_KEY
from billing.idempotency import IdempotencyError
from inference.imaging.decoding import ImageRejected
from inference.runtime.errors import InferenceTimeout, InvalidInput, ModelsNotLoaded

logger = logging.getLogger(__name__)

MAX_IMAGE_MESSAGE = "Image exceeds maximum size of 10MB"


class BadRequest(Exception):
    """A missing or invalid field: 400 with the message as the seed words it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _classify(exc: Exception) -> tuple[int, str, dict[str, str]]:
    if isinstance(exc, BadRequest):
        return 400, exc.message, {}
    if isinstance(exc, ImageRejected):
        if exc.kind == "too_large":
            return 413, MAX_IMAGE_MESSAGE, {}
        if exc.kind == "missing":
            return 400, "Missing required field: image", {}
        return 400, exc.message, {}
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed | drf.PermissionDenied):
        return 403, INVALID_API_KEY, {}
    if isinstance(exc, IdempotencyError):
        return exc.status_code, exc.message, {}
    if isinstance(exc, ModelsNotLoaded):
        return 503, "Models not loaded", {}
    if isinstance(exc, InvalidInput):
        return 400, "Invalid image: not a usable JPEG or PNG", {}
    if isinstance(exc, InferenceTimeout):
        return 504, "Prediction timed out", {}
    if isinstance(exc, RequestDataTooBig):
        return 413, MAX_IMAGE_MESSAGE, {}
    if isinstance(exc, drf.Throttled):
        return 429, "Rate limit exceeded", {"Retry-After": str(int(exc.wait or 1))}
    if isinstance(exc, drf.ParseError):
        return 400, "Invalid JSON body", {}
    if isinstance(exc, drf.APIException):
        return exc.status_code, str(exc.detail), {}
    logger.exception("unexpected error in the VHS API")
    return 500, "Internal server error", {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    status_code, message, headers = _classify(exc)
    response = Response({"error": message}, status=status_code)
    for name, value in headers.items():
        response[name] = value
    return response
