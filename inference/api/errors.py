"""One mapping from exceptions to API errors; each product renders them in its own envelope.

``classify`` knows every platform exception (a rejected image, an oversized body, models not
loaded, a timeout, a throttled or unauthenticated caller, a reused idempotency key, invalid
input, anything unexpected) and returns an ``ApiError`` with a stable platform ``code``, the
HTTP status and a default message.  A product's ``ErrorEnvelope`` says only what its seed
says differently: its own messages and codes, and the shape of the body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from rest_framework import exceptions as drf
from rest_framework.response import Response

from billing.idempotency import IdempotencyError, StillProcessing
from inference.api.parsers import MalformedUpload
from inference.imaging.decoding import ImageRejected
from inference.runtime.errors import (
    BackendUnavailable,
    InferenceError,
    InferenceTimeout,
    InvalidInput,
    ModelsNotLoaded,
    NoWorker,
    Overloaded,
    is_outage,
)

logger = logging.getLogger(__name__)

#: Seconds a client is told to wait when the workers' pixel budget is full (``Overloaded``).
BUSY_RETRY_S = 5
#: Seconds a client is told to wait when no worker consumes the inference queue.
NO_WORKER_RETRY_S = 10
#: Seconds a client is told to wait when Redis (broker, result store, cache) or the database
#: is unreachable.
OUTAGE_RETRY_S = 10

_IMAGE_CODES = {
    "missing": (400, "NO_IMAGE_PROVIDED"),
    "invalid": (400, "INVALID_IMAGE_FORMAT"),
    "too_small": (400, "IMAGE_TOO_SMALL"),
    "too_large": (413, "PAYLOAD_TOO_LARGE"),
    # Not the bytes but the pixels: the seed's "exceeds 10MB" would mislead.
    "too_many_pixels": (413, "IMAGE_TOO_MANY_PIXELS"),
}


@dataclass(frozen=True)
class ApiError:
    status: int
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Seconds to wait, for a throttled call.
    wait: int | None = None

    @classmethod
    def retry_later(cls, status: int, code: str, message: str, seconds: int) -> ApiError:
        """A refusal that tells the client when to come back (``Retry-After``)."""
        return cls(status, code, message, {"Retry-After": str(seconds)}, seconds)


def first_message(detail: Any) -> str:
    """The first message in a DRF error detail (a string, a list or a dict of them)."""
    if isinstance(detail, Mapping):
        return first_message(next(iter(detail.values()), ""))
    if isinstance(detail, list | tuple):
        return first_message(detail[0]) if detail else ""
    return str(detail)


def classify(exc: BaseException) -> ApiError:
    """The platform's error for any exception; unexpected ones are logged here, once."""
    if isinstance(exc, ImageRejected):
        status, code = _IMAGE_CODES[exc.kind]
        return ApiError(status, code, exc.message)
    if isinstance(exc, RequestDataTooBig):
        return ApiError(413, "PAYLOAD_TOO_LARGE", "Request body is too large")
    if isinstance(exc, IdempotencyError):
        code = "IDEMPOTENCY_IN_PROGRESS" if isinstance(exc, StillProcessing) else "IDEMPOTENCY_KEY"
        return ApiError(exc.status_code, code, exc.message)
    if isinstance(exc, NoWorker):
        return ApiError.retry_later(
            503,
            "NO_WORKER",
            f"No inference worker is available; retry in {NO_WORKER_RETRY_S} s",
            NO_WORKER_RETRY_S,
        )
    if is_outage(exc):
        # Not a defect: a dependency is down.  Logged (one line, no traceback) for operators.
        cause = exc.__cause__ or exc
        logger.warning("backend unavailable: %s: %s", type(cause).__name__, str(cause)[:200])
        return ApiError.retry_later(
            503,
            BackendUnavailable.code,
            f"The service is unavailable; retry in {OUTAGE_RETRY_S} s",
            OUTAGE_RETRY_S,
        )
    if isinstance(exc, ModelsNotLoaded):
        return ApiError(503, "MODELS_NOT_LOADED", "Models not loaded")
    if isinstance(exc, Overloaded):
        return ApiError.retry_later(
            503,
            "SERVER_BUSY",
            f"Server busy: too many images are being processed; retry in {BUSY_RETRY_S} s",
            BUSY_RETRY_S,
        )
    if isinstance(exc, InvalidInput):
        return ApiError(400, "IMAGE_UNUSABLE", "Image format not supported or corrupted")
    if isinstance(exc, InferenceTimeout):
        return ApiError(504, "INFERENCE_TIMEOUT", "The prediction did not finish in time; retry")
    if isinstance(exc, InferenceError) and exc.status is not None:
        return ApiError(exc.status, exc.code, exc.message)
    if isinstance(exc, InferenceError):
        logger.error("inference failed", extra={"code": exc.code})
        return ApiError(500, "INTERNAL_SERVER_ERROR", "Unexpected server error")
    if isinstance(exc, drf.Throttled):
        wait = int(exc.wait or 1)
        return ApiError.retry_later(
            429,
            "RATE_LIMIT_EXCEEDED",
            f"Rate limit exceeded; retry in {wait} s",
            wait,
        )
    if isinstance(exc, drf.NotAuthenticated):
        return ApiError(exc.status_code, "UNAUTHENTICATED", first_message(exc.detail))
    if isinstance(exc, drf.AuthenticationFailed):
        return ApiError(exc.status_code, "AUTHENTICATION_FAILED", first_message(exc.detail))
    if isinstance(exc, drf.PermissionDenied):
        return ApiError(403, "FORBIDDEN", first_message(exc.detail))
    if isinstance(exc, drf.UnsupportedMediaType):
        return ApiError(415, "UNSUPPORTED_MEDIA_TYPE", first_message(exc.detail))
    if isinstance(exc, drf.NotFound):
        return ApiError(404, "NOT_FOUND", first_message(exc.detail))
    if isinstance(exc, drf.MethodNotAllowed):
        return ApiError(405, "METHOD_NOT_ALLOWED", first_message(exc.detail))
    if isinstance(exc, MalformedUpload):
        return ApiError(400, "MALFORMED_UPLOAD", "Malformed multipart/form-data body")
    if isinstance(exc, drf.ParseError | SuspiciousOperation):
        return ApiError(400, "MALFORMED_BODY", "Malformed request body")
    if isinstance(exc, drf.APIException):
        return ApiError(exc.status_code, "INVALID_REQUEST", first_message(exc.detail))
    logger.exception("unexpected error in an API view", exc_info=exc)
    return ApiError(500, "INTERNAL_SERVER_ERROR", "Unexpected server error")


Message = str | Callable[[ApiError], str]


class ErrorEnvelope:
    """How one product's seed words and shapes its errors.

    ``messages`` replaces the platform's message for a code, ``statuses`` its HTTP status,
    ``codes`` renames a platform code to the seed's; ``body`` builds the document.
    """

    messages: Mapping[str, Message] = {}
    statuses: Mapping[str, int] = {}
    codes: Mapping[str, str] = {}

    def adapt(self, error: ApiError) -> ApiError:
        message = self.messages.get(error.code, error.message)
        return ApiError(
            self.statuses.get(error.code, error.status),
            self.codes.get(error.code, error.code),
            message(error) if callable(message) else message,
            error.headers,
            error.wait,
        )

    def body(self, error: ApiError, request: Any) -> dict[str, Any]:
        raise NotImplementedError

    def render(self, exc: BaseException, request: Any) -> tuple[ApiError, dict[str, Any]]:
        """The adapted error for ``exc`` and its document (for responses built outside DRF,
        a streaming consumer's, say)."""
        error = self.adapt(classify(exc))
        return error, self.body(error, request)

    def response(self, exc: BaseException, request: Any) -> Response:
        error, body = self.render(exc, request)
        response = Response(body, status=error.status)
        for name, value in error.headers.items():
            response[name] = value
        return response
