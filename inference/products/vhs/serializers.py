"""Request and response shapes of the VHS API v3: the request serializer validates (with the
seed's exact messages) and every serializer documents the OpenAPI schema (/api/docs/).

Every component is named ``Vhs…``: another product's ``Error`` or ``Health`` is another shape,
and one schema documents every product.  ``POST /v3/predict`` answers 200 with one of three
documents (``PREDICT_RESPONSE``): a single image, a rejected single image, or a batch.
"""

from typing import Any

from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers

from inference.api.fields import Base64Field, NamedChoiceField, StrictBooleanField, TextField
from inference.products.vhs.geometry import LANDMARKS

MAX_BATCH = 10
MAX_UUID_LENGTH = 128
NOT_A_STRING = "Images must be base64-encoded strings"
MISSING_IMAGE = "Missing required field: image"
CONFIDENCES = ["optimal", "good", "review"]
REJECTION_REASONS = ["not_a_valid_radiograph"]


@extend_schema_serializer(component_name="VhsPredictRequest")
class PredictRequestSerializer(serializers.Serializer):
    default_error_messages = {"invalid": "Request body must be a JSON object"}

    image = Base64Field(
        required=False,
        allow_null=True,
        allow_blank=True,
        error_messages={"invalid": NOT_A_STRING},
        help_text="Base64 JPEG or PNG, at most 10 MB.",
    )
    images = serializers.ListField(
        child=Base64Field(error_messages={"invalid": NOT_A_STRING}),
        required=False,
        allow_empty=False,
        min_length=1,  # the schema's minItems: allow_empty alone does not say it
        max_length=MAX_BATCH,
        error_messages={
            "min_length": "images must be a non-empty array of base64 strings",
            "not_a_list": "images must be a non-empty array of base64 strings",
            "empty": "images must be a non-empty array of base64 strings",
            "max_length": f"Batch size exceeds maximum of {MAX_BATCH} images",
            "null": "images must be a non-empty array of base64 strings",
        },
        help_text=f"Batch mode: up to {MAX_BATCH} base64 images (use instead of image).",
    )
    uuid = TextField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=MAX_UUID_LENGTH,
        error_messages={
            "invalid": f"uuid must be a string of at most {MAX_UUID_LENGTH} characters",
            "max_length": f"uuid must be a string of at most {MAX_UUID_LENGTH} characters",
        },
        help_text="Patient identifier: history and the 24 h recheck grace. No control characters.",
    )
    render = StrictBooleanField(
        required=False,
        default=False,
        error_messages={"invalid": "render must be true or false"},
        help_text="Return rendered_image with the annotations.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """One image or a batch: ``{"images", "is_batch", "uuid", "render"}``."""
        if "images" in data and "image" in data:
            raise serializers.ValidationError("Send either image or images, not both")
        if "images" in data:
            images, is_batch = data["images"], True
        elif data.get("image"):
            images, is_batch = [data["image"]], False
        else:
            raise serializers.ValidationError(MISSING_IMAGE)
        return {
            "images": images,
            "is_batch": is_batch,
            "uuid": (data.get("uuid") or "").strip(),
            "render": data["render"],
        }


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        },
        "example": [["2026-03-27", 11.38]],
    }
)
class HistoryField(serializers.ListField):
    """``[[date, value], ...]``: earlier measurements of the patient, oldest first."""


@extend_schema_serializer(component_name="VhsLandmark")
class LandmarkSerializer(serializers.Serializer):
    x = serializers.FloatField(help_text="0 to 1, from the left edge.")
    y = serializers.FloatField(help_text="0 to 1, from the top edge.")
    # "class" is a Python keyword: declared through the field map below.


LandmarkSerializer._declared_fields["class"] = NamedChoiceField(
    component_name="VhsLandmarkClass", choices=LANDMARKS
)


@extend_schema_serializer(component_name="VhsBilling")
class BillingSerializer(serializers.Serializer):
    billable = serializers.BooleanField()
    reason = NamedChoiceField(
        component_name="VhsBillingReason",
        choices=["valid_vhs", "no_valid_vhs", "recheck_24h", "billing_error"],
    )
    call_type = NamedChoiceField(
        component_name="VhsCallType", choices=["single", "session"], required=False
    )
    monthly_usage = serializers.IntegerField()
    tier = serializers.CharField()
    rate = serializers.FloatField(required=False, help_text="Charged, in dollars.")


@extend_schema_serializer(component_name="VhsSingleResponse")
class SingleResponseSerializer(serializers.Serializer):
    """One image that was accepted as a radiograph (result codes 0 to 5), or a photo of a
    screen whose screen could not be rectified (7, never billed)."""

    vhs = serializers.FloatField(allow_null=True)
    vlas = serializers.FloatField(allow_null=True)
    prediction = LandmarkSerializer(many=True)
    result_code = serializers.IntegerField()
    result_description = serializers.CharField()
    model_confidence = NamedChoiceField(component_name="VhsConfidence", choices=CONFIDENCES)
    spread = serializers.FloatField(allow_null=True)
    pop_detected = serializers.BooleanField()
    model_version = serializers.CharField()
    rendered_image = serializers.CharField(
        required=False, help_text="Only with render: true; in the input's format."
    )
    historic_vhs = HistoryField(allow_null=True, help_text="null without a uuid.")
    historic_vlas = HistoryField(allow_null=True, help_text="null without a uuid.")
    measurement_id = serializers.IntegerField(
        allow_null=True,
        help_text="Beyond the seed: the stored measurement (with a uuid and a valid VHS), "
        "to name in POST /vhs/v3/corrections and /vhs/v3/report; null otherwise.",
    )
    billing = BillingSerializer()


@extend_schema_serializer(component_name="VhsRejectionResponse")
class RejectionResponseSerializer(serializers.Serializer):
    """One image refused as not a radiograph (result code 6): never billed, and without the
    fields that have no meaning for it (prediction, confidence, spread, history, …)."""

    classifier_confidence = serializers.FloatField(
        help_text="How sure the classifier is that this is not a radiograph."
    )
    model_version = serializers.CharField()
    rejected = serializers.BooleanField()
    rejection_reason = NamedChoiceField(
        component_name="VhsRejectionReason", choices=REJECTION_REASONS
    )
    result_code = serializers.IntegerField(min_value=6, max_value=6)
    result_description = serializers.CharField()
    vhs = serializers.FloatField(allow_null=True, help_text="Always null.")
    vlas = serializers.FloatField(allow_null=True, help_text="Always null.")
    billing = BillingSerializer()


@extend_schema_serializer(component_name="VhsPerPhoto")
class PerPhotoSerializer(serializers.Serializer):
    vhs = serializers.FloatField(allow_null=True)
    vlas = serializers.FloatField(allow_null=True)
    spread = serializers.FloatField(allow_null=True)
    model_confidence = NamedChoiceField(component_name="VhsConfidence", choices=CONFIDENCES)
    landmarks_detected = serializers.BooleanField()
    axes_perpendicular = serializers.BooleanField()
    pop_detected = serializers.BooleanField(required=False)
    rendered_image = serializers.CharField(required=False)
    rejected = serializers.BooleanField(required=False)
    rejection_reason = NamedChoiceField(
        component_name="VhsRejectionReason", choices=REJECTION_REASONS, required=False
    )
    classifier_confidence = serializers.FloatField(required=False)
    result_code = serializers.IntegerField(
        help_text="An addition to the seed: this image's result code (1-7), so that a photo "
        "of a screen that could not be rectified (7) and a non-radiograph (6) differ."
    )


@extend_schema_serializer(component_name="VhsBatchResponse")
class BatchResponseSerializer(serializers.Serializer):
    """A batch (``images``): the best frame's measurement, statistics, one entry per image."""

    vhs = serializers.FloatField(allow_null=True)
    vlas = serializers.FloatField(allow_null=True)
    best_photo_index = serializers.IntegerField(allow_null=True)
    best_vhs = serializers.FloatField(allow_null=True)
    best_vlas = serializers.FloatField(allow_null=True)
    median_vhs = serializers.FloatField(allow_null=True)
    median_vlas = serializers.FloatField(allow_null=True)
    vhs_std = serializers.FloatField(allow_null=True)
    vlas_std = serializers.FloatField(allow_null=True)
    vhs_confidence = NamedChoiceField(component_name="VhsConfidence", choices=CONFIDENCES)
    vlas_confidence = NamedChoiceField(component_name="VhsConfidence", choices=CONFIDENCES)
    n_photos_processed = serializers.IntegerField()
    n_photos_with_landmarks = serializers.IntegerField()
    processing_started = serializers.BooleanField()
    per_photo = PerPhotoSerializer(many=True)
    historic_vhs = HistoryField(allow_null=True)
    historic_vlas = HistoryField(allow_null=True)
    model_version = serializers.CharField()
    measurement_id = serializers.IntegerField(
        allow_null=True,
        help_text="Beyond the seed: the stored measurement (with a uuid and a valid VHS), "
        "to name in POST /vhs/v3/corrections and /vhs/v3/report; null otherwise.",
    )
    billing = BillingSerializer()


#: ``POST /v3/predict``'s 200: exactly one of the three documents (each has a field the
#: others lack: ``prediction``, ``rejected``, ``per_photo``).
PREDICT_RESPONSE = PolymorphicProxySerializer(
    component_name="VhsPredictResponse",
    serializers=[SingleResponseSerializer, RejectionResponseSerializer, BatchResponseSerializer],
    resource_type_field_name=None,
)


@extend_schema_serializer(component_name="VhsError")
class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()


@extend_schema_serializer(component_name="VhsHealth")
class HealthSerializer(serializers.Serializer):
    status = NamedChoiceField(component_name="VhsHealthStatus", choices=["healthy", "degraded"])
    models_loaded = serializers.IntegerField()
    pop_models_loaded = serializers.IntegerField()
    pop_pipeline_enabled = serializers.BooleanField()
    model_version = serializers.CharField(allow_null=True)


#: What each error status means on this API (seed 002's table, and what the platform adds).
ERROR_MEANINGS = {
    400: "Missing or invalid fields (named in `error`), an unusable image, or malformed JSON.",
    403: "Missing or invalid `x-api-key`.",
    409: "A request with this `Idempotency-Key` is still being processed; retry shortly.",
    413: "An image over 10 MB, or a request body over the limit.",
    415: "The body is not `application/json`.",
    422: "This `Idempotency-Key` was used with a different body, or is not a valid key.",
    500: "Internal server error.",
    503: "Models not loaded, or the server is busy with other images (see Retry-After).",
    504: "The prediction did not finish in time; retry.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The ``{"error": ...}`` document for each of ``statuses``, with what it means."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[status])
        for status in statuses
    }
