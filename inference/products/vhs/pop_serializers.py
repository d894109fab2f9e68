"""Request and response shapes of the PoP utility endpoints (seed 002): ``/v3/corners``,
``/v3/rectify`` and ``/v3/preprocess``.  Never billed."""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from inference.api.fields import Base64Field
from inference.products.vhs.serializers import NOT_A_STRING, ErrorSerializer, error_responses

ORDER = "TL,TR,BR,BL"
CORNERS_HELP = "Four [x, y] points in pixels, ordered TL, TR, BR, BL."
CORNERS_MESSAGE = "corners must be four [x, y] pairs of finite numbers, ordered TL, TR, BR, BL"


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        "minItems": 4,
        "maxItems": 4,
    }
)
class CornersField(serializers.Field):
    """Four finite ``[x, y]`` pairs; where they lie is checked against the image later
    (``pop.geometry.check_corners``), once its size is known."""

    default_error_messages = {"invalid": CORNERS_MESSAGE}

    def to_internal_value(self, data: Any) -> list[tuple[float, float]]:
        if not isinstance(data, list) or len(data) != 4:
            self.fail("invalid")
        corners = []
        for point in data:
            if not isinstance(point, list) or len(point) != 2:
                self.fail("invalid")
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point):
                self.fail("invalid")
            x, y = float(point[0]), float(point[1])
            if not (math.isfinite(x) and math.isfinite(y)):
                self.fail("invalid")
            corners.append((x, y))
        return corners

    def to_representation(self, value: Any) -> Any:
        return [[round(x, 2), round(y, 2)] for x, y in value]


def _image_field() -> Base64Field:
    return Base64Field(
        error_messages={
            "required": "Missing required field: image",
            "null": "Missing required field: image",
            "blank": "Missing required field: image",
            "invalid": NOT_A_STRING,
        },
        help_text="Base64 JPEG or PNG photo, at most 10 MB.",
    )


@extend_schema_serializer(component_name="VhsCornersRequest")
class CornersRequestSerializer(serializers.Serializer):
    default_error_messages = {"invalid": "Request body must be a JSON object"}

    image = _image_field()


@extend_schema_serializer(component_name="VhsRectifyRequest")
class RectifyRequestSerializer(CornersRequestSerializer):
    corners = CornersField(
        help_text=CORNERS_HELP,
        error_messages={
            "required": "Missing required field: corners",
            "null": "Missing required field: corners",
        },
    )


class _Corners(serializers.Serializer):
    corners = CornersField(help_text=CORNERS_HELP)
    order = serializers.ChoiceField(choices=[ORDER], help_text="Always TL,TR,BR,BL.")


@extend_schema_serializer(component_name="VhsCornersResponse")
class CornersResponseSerializer(_Corners):
    image_width = serializers.IntegerField()
    image_height = serializers.IntegerField()
    model_version = serializers.CharField(allow_null=True)


class _Rectified(serializers.Serializer):
    rectified_image = serializers.CharField(help_text="Base64 JPEG.")
    width = serializers.IntegerField()
    height = serializers.IntegerField()


@extend_schema_serializer(component_name="VhsRectifyResponse")
class RectifyResponseSerializer(_Rectified):
    model_version = serializers.CharField(allow_null=True)


@extend_schema_serializer(component_name="VhsPreprocessResponse")
class PreprocessResponseSerializer(_Rectified, _Corners):
    model_version = serializers.CharField(allow_null=True)


def pop_error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The VHS errors, with what 422 and 503 mean on the PoP endpoints."""
    documented = error_responses(*(s for s in statuses if s not in (422, 503)))
    if 422 in statuses:
        documented[422] = OpenApiResponse(
            ErrorSerializer, description="`Corner detection failed`: no screen was found."
        )
    if 503 in statuses:
        documented[503] = OpenApiResponse(
            ErrorSerializer,
            description="`PoP pipeline not available` (its models are not loaded), or the "
            "server is busy (see Retry-After).",
        )
    return dict(sorted(documented.items()))
