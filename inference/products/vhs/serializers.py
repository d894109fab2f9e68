"""Request and response shapes of the VHS API v3: the request serializer validates (with the
seed's exact messages) and every serializer documents the OpenAPI schema (/api/docs/)."""

from typing import Any

from rest_framework import serializers

from inference.products.vhs.geometry import LANDMARKS

MAX_BATCH = 10
MAX_UUID_LENGTH = 128
NOT_A_STRING = "Images must be base64-encoded strings"
MISSING_IMAGE = "Missing required field: image"


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's CharField would turn ``5`` into ``"5"``."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false``, not DRF's ``"yes"``, ``1`` or ``"on"``."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class PredictRequestSerializer(serializers.Serializer):
    default_error_messages = {"invalid": "Request body must be a JSON object"}

    image = StrictCharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        trim_whitespace=False,
        error_messages={"invalid": NOT_A_STRING},
        help_text="Base64 JPEG or PNG, at most 10 MB.",
    )
    images = serializers.ListField(
        child=StrictCharField(trim_whitespace=False, error_messages={"invalid": NOT_A_STRING}),
        required=False,
        allow_empty=False,
        max_length=MAX_BATCH,
        error_messages={
            "not_a_list": "images must be a non-empty array of base64 strings",
            "empty": "images must be a non-empty array of base64 strings",
            "max_length": f"Batch size exceeds maximum of {MAX_BATCH} images",
            "null": "images must be a non-empty array of base64 strings",
        },
        help_text=f"Batch mode: up to {MAX_BATCH} base64 images (use instead of image).",
    )
    uuid = StrictCharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=MAX_UUID_LENGTH,
        error_messages={
            "invalid": f"uuid must be a string of at most {MAX_UUID_LENGTH} characters",
            "max_length": f"uuid must be a string of at most {MAX_UUID_LENGTH} characters",
        },
        help_text="Patient identifier: history and the 24 h recheck grace.",
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


class LandmarkSerializer(serializers.Serializer):
    x = serializers.FloatField()
    y = serializers.FloatField()
    # "class" is a Python keyword: declared through the field map below.


LandmarkSerializer._declared_fields["class"] = serializers.ChoiceField(choices=LANDMARKS)


class BillingSerializer(serializers.Serializer):
    billable = serializers.BooleanField()
    reason = serializers.ChoiceField(
        choices=["valid_vhs", "no_valid_vhs", "recheck_24h", "billing_error"]
    )
    call_type = serializers.ChoiceField(choices=["single", "session"], required=False)
    monthly_usage = serializers.IntegerField()
    tier = serializers.CharField()
    rate = serializers.FloatField(required=False)


class SingleResponseSerializer(serializers.Serializer):
    vhs = serializers.FloatField(allow_null=True)
    vlas = serializers.FloatField(allow_null=True)
    prediction = LandmarkSerializer(many=True, required=False)
    result_code = serializers.IntegerField()
    result_description = serializers.CharField()
    model_confidence = serializers.ChoiceField(
        choices=["optimal", "good", "review"], required=False
    )
    spread = serializers.FloatField(required=False)
    pop_detected = serializers.BooleanField(required=False)
    model_version = serializers.CharField()
    rendered_image = serializers.CharField(required=False)
    historic_vhs = serializers.ListField(allow_null=True, required=False)
    historic_vlas = serializers.ListField(allow_null=True, required=False)
    classifier_confidence = serializers.FloatField(required=False)
    rejected = serializers.BooleanField(required=False)
    rejection_reason = serializers.CharField(required=False)
    billing = BillingSerializer()


class PerPhotoSerializer(serializers.Serializer):
    vhs = serializers.FloatField(allow_null=True)
    vlas = serializers.FloatField(allow_null=True)
    spread = serializers.FloatField(allow_null=True)
    model_confidence = serializers.CharField()
    landmarks_detected = serializers.BooleanField()
    axes_perpendicular = serializers.BooleanField()
    pop_detected = serializers.BooleanField(required=False)
    rejected = serializers.BooleanField(required=False)
    rejection_reason = serializers.CharField(required=False)
    classifier_confidence = serializers.FloatField(required=False)


class BatchResponseSerializer(serializers.Serializer):
    vhs = serializers.FloatField(allow_null=True)
    vlas = serializers.FloatField(allow_null=True)
    best_photo_index = serializers.IntegerField(allow_null=True)
    best_vhs = serializers.FloatField(allow_null=True)
    best_vlas = serializers.FloatField(allow_null=True)
    median_vhs = serializers.FloatField(allow_null=True)
    median_vlas = serializers.FloatField(allow_null=True)
    vhs_std = serializers.FloatField(allow_null=True)
    vlas_std = serializers.FloatField(allow_null=True)
    vhs_confidence = serializers.CharField()
    vlas_confidence = serializers.CharField()
    n_photos_processed = serializers.IntegerField()
    n_photos_with_landmarks = serializers.IntegerField()
    processing_started = serializers.BooleanField()
    per_photo = PerPhotoSerializer(many=True)
    historic_vhs = serializers.ListField(allow_null=True)
    historic_vlas = serializers.ListField(allow_null=True)
    model_version = serializers.CharField()
    billing = BillingSerializer()


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["healthy", "degraded"])
    models_loaded = serializers.IntegerField()
    pop_models_loaded = serializers.IntegerField()
    pop_pipeline_enabled = serializers.BooleanField()
    model_version = serializers.CharField(allow_null=True)
