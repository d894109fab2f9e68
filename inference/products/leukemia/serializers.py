"""Request and response shapes of the leukemia API, for the OpenAPI schema (/api/docs/).

The views build responses in ``envelope`` and ``health``; these serializers document them
field by field.  Every component is named ``Leukemia…``: another product's ``Error`` or
``Health`` is another shape, and one schema documents every product.
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer
from rest_framework import serializers

from config.openapi import API_KEY_SCHEME
from inference.api.fields import Base64Field, NamedChoiceField, UploadField
from inference.products.leukemia.labels import CLASSES

#: Every ``error_code`` the envelope can answer (``LeukemiaEnvelope`` renames the rest).
ERROR_CODES = [
    "NO_IMAGE_PROVIDED",
    "INVALID_IMAGE_FORMAT",
    "IMAGE_TOO_SMALL",
    "PAYLOAD_TOO_LARGE",
    "INVALID_REQUEST",
    "UNSUPPORTED_MEDIA_TYPE",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "RATE_LIMIT_EXCEEDED",
    "MODELS_NOT_LOADED",
    "SERVER_BUSY",
    "INFERENCE_TIMEOUT",
    "INTERNAL_SERVER_ERROR",
]


@extend_schema_serializer(component_name="LeukemiaBase64Request")
class Base64RequestSerializer(serializers.Serializer):
    image_base64 = Base64Field(
        help_text="Base64 of a JPEG or PNG image; a data:image/...;base64, prefix is accepted."
    )


@extend_schema_serializer(component_name="LeukemiaUploadRequest")
class UploadRequestSerializer(serializers.Serializer):
    file = UploadField(help_text="A JPEG or PNG image, at most 10 MB.")


@extend_schema_serializer(component_name="LeukemiaPrediction")
class PredictionSerializer(serializers.Serializer):
    predicted_class = NamedChoiceField(component_name="LeukemiaClass", choices=CLASSES)
    confidence = serializers.FloatField(help_text="0 to 1, three decimals.")
    confidence_level = NamedChoiceField(
        component_name="LeukemiaConfidenceLevel", choices=["high", "medium", "low"]
    )
    description = serializers.CharField()


@extend_schema_serializer(component_name="LeukemiaProbabilities")
class ProbabilitiesSerializer(serializers.Serializer):
    Benign = serializers.FloatField()
    Early = serializers.FloatField()
    Pre = serializers.FloatField()
    Pro = serializers.FloatField()


@extend_schema_serializer(component_name="LeukemiaMetadata")
class MetadataSerializer(serializers.Serializer):
    image_size = serializers.CharField(help_text="Width x height of the input, e.g. 224x224.")
    model_version = serializers.CharField()
    device = serializers.CharField()
    model_source = serializers.CharField()


@extend_schema_serializer(component_name="LeukemiaPredictionData")
class PredictionDataSerializer(serializers.Serializer):
    prediction = PredictionSerializer()
    probabilities = ProbabilitiesSerializer()
    metadata = MetadataSerializer()


class _EnvelopeFields(serializers.Serializer):
    status_code = serializers.IntegerField()
    status = serializers.CharField(help_text="success or error")
    success = serializers.BooleanField()
    timestamp = serializers.DateTimeField()
    api_version = serializers.CharField()
    processing_time_ms = serializers.FloatField()


@extend_schema_serializer(component_name="LeukemiaPredictionEnvelope")
class PredictionEnvelopeSerializer(_EnvelopeFields):
    data = PredictionDataSerializer()


@extend_schema_serializer(component_name="LeukemiaError")
class ErrorSerializer(_EnvelopeFields):
    error = serializers.CharField()
    error_code = NamedChoiceField(component_name="LeukemiaErrorCode", choices=ERROR_CODES)


@extend_schema_serializer(component_name="LeukemiaModelSource")
class ModelSourceSerializer(serializers.Serializer):
    source = serializers.CharField()
    repository = serializers.CharField(allow_null=True)
    filename = serializers.CharField()
    local_path = serializers.CharField()
    local_exists = serializers.BooleanField()
    loaded = serializers.BooleanField()


@extend_schema_serializer(component_name="LeukemiaHealth")
class HealthSerializer(serializers.Serializer):
    status_code = serializers.IntegerField()
    status = NamedChoiceField(
        component_name="LeukemiaHealthStatus", choices=["healthy", "unhealthy"]
    )
    service = serializers.CharField()
    api_version = serializers.CharField()
    model_version = serializers.CharField(allow_null=True)
    models_loaded = serializers.BooleanField()
    models_loaded_count = serializers.IntegerField()
    total_models_required = serializers.IntegerField()
    model_sources = serializers.DictField(child=ModelSourceSerializer())
    repository_info = serializers.DictField()
    device = serializers.CharField(allow_null=True)
    timestamp = serializers.DateTimeField()
    reason = serializers.CharField(required=False, help_text="Only when unhealthy: why.")


@extend_schema_serializer(component_name="LeukemiaInformation")
class InformationSerializer(serializers.Serializer):
    service = serializers.CharField()
    api_version = serializers.CharField()
    model_version = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    description = serializers.CharField()
    classes = serializers.DictField(child=serializers.CharField())
    confidence_levels = serializers.DictField(child=serializers.CharField())
    endpoints = serializers.DictField(child=serializers.CharField())
    limits = serializers.DictField()
    documentation = serializers.CharField()
    authentication = serializers.CharField()
    timestamp = serializers.DateTimeField()


#: The API is public; a valid ``x-api-key`` lifts the anonymous rate limit (and records the
#: call for its customer), so the key is documented as optional: either scheme, or none.
OPTIONAL_API_KEY: list[dict[str, Any]] = [{API_KEY_SCHEME: []}, {}]

#: What each error status means on this API.
ERROR_MEANINGS = {
    400: "NO_IMAGE_PROVIDED, INVALID_IMAGE_FORMAT, IMAGE_TOO_SMALL or INVALID_REQUEST.",
    413: "PAYLOAD_TOO_LARGE: an image over 10 MB, or too many pixels.",
    415: "UNSUPPORTED_MEDIA_TYPE: another content type than this endpoint's.",
    429: "RATE_LIMIT_EXCEEDED: see Retry-After, or send a valid x-api-key.",
    500: "INTERNAL_SERVER_ERROR.",
    503: "MODELS_NOT_LOADED (AI models not initialized), or SERVER_BUSY (see Retry-After).",
    504: "INFERENCE_TIMEOUT: the prediction did not finish in time; retry.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error envelope for each of ``statuses``, with what it means."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[status])
        for status in statuses
    }
