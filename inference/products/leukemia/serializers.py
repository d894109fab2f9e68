"""Request and response shapes of the leukemia API, for the OpenAPI schema (/api/docs/).

The views build responses in ``envelope``; these serializers document them field by field.
"""

from rest_framework import serializers

from inference.products.leukemia.labels import CLASSES


class Base64RequestSerializer(serializers.Serializer):
    image_base64 = serializers.CharField(
        help_text="Base64 of a JPEG or PNG image; a data:image/...;base64, prefix is accepted."
    )


class UploadRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A JPEG or PNG image, at most 10 MB.")


class PredictionSerializer(serializers.Serializer):
    predicted_class = serializers.ChoiceField(choices=CLASSES)
    confidence = serializers.FloatField()
    confidence_level = serializers.ChoiceField(choices=["high", "medium", "low"])
    description = serializers.CharField()


class ProbabilitiesSerializer(serializers.Serializer):
    Benign = serializers.FloatField()
    Early = serializers.FloatField()
    Pre = serializers.FloatField()
    Pro = serializers.FloatField()


class MetadataSerializer(serializers.Serializer):
    image_size = serializers.CharField(help_text="Width x height of the input, e.g. 224x224.")
    model_version = serializers.CharField()
    device = serializers.CharField()
    model_source = serializers.CharField()


class PredictionDataSerializer(serializers.Serializer):
    prediction = PredictionSerializer()
    probabilities = ProbabilitiesSerializer()
    metadata = MetadataSerializer()


class _EnvelopeFields(serializers.Serializer):
    status_code = serializers.IntegerField()
    status = serializers.CharField()
    success = serializers.BooleanField()
    timestamp = serializers.DateTimeField()
    api_version = serializers.CharField()
    processing_time_ms = serializers.FloatField()


class PredictionEnvelopeSerializer(_EnvelopeFields):
    data = PredictionDataSerializer()


class ErrorSerializer(_EnvelopeFields):
    error = serializers.CharField()
    error_code = serializers.ChoiceField(
        choices=[
            "NO_IMAGE_PROVIDED",
            "INVALID_IMAGE_FORMAT",
            "IMAGE_TOO_SMALL",
            "PAYLOAD_TOO_LARGE",
            "INVALID_REQUEST",
            "UNSUPPORTED_MEDIA_TYPE",
            "METHOD_NOT_ALLOWED",
            "RATE_LIMIT_EXCEEDED",
            "MODELS_NOT_LOADED",
            "INFERENCE_TIMEOUT",
            "INTERNAL_SERVER_ERROR",
        ]
    )


class ModelSourceSerializer(serializers.Serializer):
    source = serializers.CharField()
    repository = serializers.CharField(allow_null=True)
    filename = serializers.CharField()
    local_path = serializers.CharField()
    local_exists = serializers.BooleanField()
    loaded = serializers.BooleanField()


class HealthSerializer(serializers.Serializer):
    status_code = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["healthy", "unhealthy"])
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


class InformationSerializer(serializers.Serializer):
    service = serializers.CharField()
    api_version = serializers.CharField()
    model_version = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    description = serializers.CharField()
    classes = serializers.DictField(child=serializers.CharField())
    endpoints = serializers.DictField(child=serializers.CharField())
    limits = serializers.DictField()
    timestamp = serializers.DateTimeField()
