"""Request and response shapes of the VHS API v3, for the OpenAPI schema (/api/docs/)."""

from rest_framework import serializers

from inference.products.vhs.geometry import LANDMARKS


class PredictRequestSerializer(serializers.Serializer):
    image = serializers.CharField(required=False, help_text="Base64 JPEG or PNG, at most 10 MB.")
    images = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        max_length=10,
        help_text="Batch mode: up to 10 base64 images (use instead of image).",
    )
    uuid = serializers.CharField(
        required=False, help_text="Patient identifier: history and the 24 h recheck grace."
    )
    render = serializers.BooleanField(
        required=False, default=False, help_text="Return rendered_image with the annotations."
    )


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
