"""The chest X-ray API's envelope (seed 001): ``{"Result", "Data", "Message"}``.

Success: ``{"Result": "Success", "Data": {...}, "Message": "Inference completed
successfully."}``.  Every error: ``{"Result": "Failure", "Data": null, "Message": ...}`` with
the seed's wording where it has one (``Token missing``, the validation table's messages,
``Single Inference failed due to an internal error``) and a clear one where it has none.
"""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

from accounts.authentication import TOKEN_MISSING
from inference.api.errors import ApiError, ErrorEnvelope

SUCCESS_MESSAGE = "Inference completed successfully."
INTERNAL_ERROR = "Single Inference failed due to an internal error"


def success(data: dict[str, Any]) -> Response:
    return Response({"Result": "Success", "Data": data, "Message": SUCCESS_MESSAGE})


class CxrEnvelope(ErrorEnvelope):
    messages = {
        "UNAUTHENTICATED": TOKEN_MISSING,
        "INTERNAL_SERVER_ERROR": INTERNAL_ERROR,
        "MODELS_NOT_LOADED": "Chest X-ray models are not loaded on any worker; retry later",
        "INFERENCE_TIMEOUT": "Single Inference timed out: no worker answered in time; retry",
        "NO_WORKER": "Single Inference unavailable: no inference worker is running; retry later",
        "BACKEND_UNAVAILABLE": "Single Inference unavailable: the inference service cannot be "
        "reached; retry later",
        "MALFORMED_BODY": "Request body is not valid JSON",
        "IMAGE_UNUSABLE": "Invalid DICOM image, unable to read its pixels",
    }
    # simplejwt answers 401 with a WWW-Authenticate challenge; so does the envelope.
    statuses = {"UNAUTHENTICATED": 401, "AUTHENTICATION_FAILED": 401}

    def body(self, error: ApiError, request: Any) -> dict[str, Any]:
        return {"Result": "Failure", "Data": None, "Message": error.message}


ENVELOPE = CxrEnvelope()
