"""The VHS API's errors: ``{"error": message}`` with the seed's status codes and wording.

Errors are classified once for every product (``inference.api.errors``); this says only
what seed 002 words differently.
"""

from __future__ import annotations

from typing import Any

from accounts.authentication import INVALID_API_KEY
from inference.api.errors import ApiError, ErrorEnvelope

MAX_IMAGE_MESSAGE = "Image exceeds maximum size of 10MB"


class VhsEnvelope(ErrorEnvelope):
    messages = {
        "NO_IMAGE_PROVIDED": "Missing required field: image",
        "PAYLOAD_TOO_LARGE": MAX_IMAGE_MESSAGE,
        "UNAUTHENTICATED": INVALID_API_KEY,
        "AUTHENTICATION_FAILED": INVALID_API_KEY,
        "FORBIDDEN": INVALID_API_KEY,
        "MODELS_NOT_LOADED": "Models not loaded",
        "NO_WORKER": "No inference worker available; retry shortly",
        "BACKEND_UNAVAILABLE": "Service unavailable; retry shortly",
        "IMAGE_UNUSABLE": "Invalid image: not a usable JPEG or PNG",
        "INFERENCE_TIMEOUT": "Prediction timed out",
        "RATE_LIMIT_EXCEEDED": "Rate limit exceeded",
        "MALFORMED_BODY": "Invalid JSON body",
        "INTERNAL_SERVER_ERROR": "Internal server error",
    }
    # The seed answers every authentication failure with 403 (no WWW-Authenticate).
    statuses = {"UNAUTHENTICATED": 403, "AUTHENTICATION_FAILED": 403}

    def body(self, error: ApiError, request: Any) -> dict[str, Any]:
        return {"error": error.message}


ENVELOPE = VhsEnvelope()
