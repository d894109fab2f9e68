"""Request and response shapes of landmark corrections and measurement history (beyond the
seed), named ``Vhs…`` like every VHS component."""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer
from rest_framework import serializers

from inference.api.fields import TextField
from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.serializers import (
    MAX_UUID_LENGTH,
    ErrorSerializer,
    LandmarkSerializer,
)

MAX_CORRECTED_BY = 128
#: The largest id a stored row can have (a signed 64-bit integer).
MAX_ID = 2**63 - 1
LANDMARKS_MESSAGE = (
    "landmarks must be the seven points, each {x, y, class} once, x and y between 0 and 1: "
    + ", ".join(LANDMARKS)
)


def measurement_id_field() -> serializers.IntegerField:
    """The stored measurement a request names (corrections, reports), with clear messages."""
    return serializers.IntegerField(
        # Ids are PostgreSQL bigints: a larger number names no measurement and is no id.
        min_value=1,
        max_value=MAX_ID,
        error_messages={
            "required": "Missing required field: measurement_id",
            "invalid": "measurement_id must be an integer",
            "null": "measurement_id must be an integer",
            "min_value": "measurement_id must be an integer",
            "max_value": "measurement_id must be an integer",
        },
        help_text="The `measurement_id` a predict (with a uuid) answered.",
    )


@extend_schema_serializer(component_name="VhsCorrectionRequest")
class CorrectionRequestSerializer(serializers.Serializer):
    default_error_messages = {"invalid": "Request body must be a JSON object"}

    measurement_id = measurement_id_field()
    landmarks = LandmarkSerializer(
        many=True,
        error_messages={"required": "Missing required field: landmarks"},
        help_text="The seven landmarks as corrected, normalised like `prediction`.",
    )
    corrected_by = TextField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_CORRECTED_BY,
        error_messages={
            "invalid": f"corrected_by must be a string of at most {MAX_CORRECTED_BY} characters",
            "max_length": f"corrected_by must be a string of at most {MAX_CORRECTED_BY} characters",
        },
        help_text="Who moved the points (a name or login), stored with the correction.",
    )

    def validate_landmarks(self, value: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
        points: dict[str, tuple[float, float]] = {}
        for item in value:
            x, y, name = item["x"], item["y"], item["class"]
            if name in points or not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in (x, y)):
                raise serializers.ValidationError(LANDMARKS_MESSAGE)
            points[name] = (x, y)
        if set(points) != set(LANDMARKS):
            raise serializers.ValidationError(LANDMARKS_MESSAGE)
        return points


@extend_schema_serializer(component_name="VhsMeasurementsQuery")
class MeasurementsQuerySerializer(serializers.Serializer):
    uuid = TextField(
        max_length=MAX_UUID_LENGTH,
        error_messages={
            "required": "Missing required parameter: uuid",
            "blank": "Missing required parameter: uuid",
            "max_length": f"uuid must be a string of at most {MAX_UUID_LENGTH} characters",
        },
        help_text="The patient, as predict named it.",
    )


@extend_schema_serializer(component_name="VhsCorrection")
class CorrectionSerializer(serializers.Serializer):
    correction_id = serializers.IntegerField()
    corrected_at = serializers.DateTimeField()
    corrected_by = serializers.CharField(allow_blank=True)
    vhs = serializers.FloatField(help_text="Measured again from the corrected landmarks.")
    vlas = serializers.FloatField()
    delta_vhs = serializers.FloatField(help_text="Corrected minus AI.")
    delta_vlas = serializers.FloatField(
        allow_null=True, help_text="Corrected minus AI; null when the AI measured no VLAS."
    )
    axes_perpendicular = serializers.BooleanField()
    prediction = LandmarkSerializer(many=True, help_text="The corrected landmarks.")


@extend_schema_serializer(component_name="VhsMeasurement")
class MeasurementSerializer(serializers.Serializer):
    """A stored measurement: the AI's values, kept as measured, and the standing correction."""

    measurement_id = serializers.IntegerField()
    uuid = serializers.CharField()
    measured_at = serializers.DateTimeField()
    vhs = serializers.FloatField(help_text="The AI's VHS.")
    vlas = serializers.FloatField(allow_null=True, help_text="The AI's VLAS.")
    result_code = serializers.IntegerField()
    model_version = serializers.CharField()
    prediction = LandmarkSerializer(
        many=True, allow_null=True, help_text="The AI's landmarks; null for older rows."
    )
    image_width = serializers.IntegerField(allow_null=True)
    image_height = serializers.IntegerField(allow_null=True)
    correction = CorrectionSerializer(
        required=False, help_text="The newest correction; absent when never corrected."
    )
    corrections_count = serializers.IntegerField()


@extend_schema_serializer(component_name="VhsMeasurementList")
class MeasurementListSerializer(serializers.Serializer):
    uuid = serializers.CharField()
    measurements = MeasurementSerializer(many=True)


MEANINGS = {
    400: "Missing or invalid fields (named in `error`), corrected landmarks that give no "
    "usable geometry, or (report) an image that is not the one measured.",
    403: "Missing or invalid `x-api-key`.",
    404: "No such measurement among yours (another customer's is not found either).",
    409: "The measurement was stored without its landmarks (before corrections existed).",
    413: "An image over 10 MB, or a request body over the limit.",
    415: "The body is not `application/json`.",
    500: "Internal server error.",
}


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {s: OpenApiResponse(ErrorSerializer, description=MEANINGS[s]) for s in statuses}
