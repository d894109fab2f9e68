"""The PoP utility endpoints (seed 002): ``corners``, ``rectify``, ``preprocess``.

Each takes a photo of a screen (base64), checked in the web tier like any VHS image; the
worker finds the screen's corners and/or rectifies it (``pipeline``, operations of the same
name) with the PoP models.  Never billed.  A photo whose screen is not found answers 422
``Corner detection failed``; without the PoP models, 503 ``PoP pipeline not available``.
Corners sent to ``rectify`` are checked first (``pop.geometry.check_corners``): four finite
points, inside or near the image, a convex quadrilateral of some size, else a 400 naming why.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from inference.api.images import CheckedImage, acheck_base64
from inference.api.inference import run_items
from inference.api.limits import Base64Images
from inference.products.vhs import pop_serializers as shapes
from inference.products.vhs.pop.geometry import check_corners
from inference.products.vhs.service import PRODUCT
from inference.products.vhs.views import VhsView

ERRORS = shapes.pop_error_responses(400, 403, 413, 415, 422, 500, 503, 504)


async def _run(checked: CheckedImage, **item: Any) -> dict[str, Any]:
    (result,) = await run_items(PRODUCT, [checked.item(**item)])
    return result


class _PopView(VhsView):
    body_limit = Base64Images(1)


class CornersView(_PopView):
    @extend_schema(
        summary="Detect screen corners (not billed)",
        description="The four corners of the radiograph's area on the screen in a photo, "
        "in pixels, ordered TL, TR, BR, BL, for use with `rectify`.",
        request=shapes.CornersRequestSerializer,
        responses={200: shapes.CornersResponseSerializer, **ERRORS},
        tags=["vhs"],
        operation_id="vhs_corners",
    )
    async def post(self, request: Request) -> Response:
        call = shapes.CornersRequestSerializer(data=request.data)
        call.is_valid(raise_exception=True)
        result = await _run(await acheck_base64(call.validated_data["image"]), operation="corners")
        return Response(
            {
                "corners": result["corners"],
                "order": shapes.ORDER,
                "image_width": result["image_width"],
                "image_height": result["image_height"],
                "model_version": result["model"]["model_version"],
            }
        )


class RectifyView(_PopView):
    @extend_schema(
        summary="Perspective correction with given corners (not billed)",
        description="The photo warped so that the quadrilateral `corners` becomes a "
        "fronto-parallel rectangle; its size follows the corners' side lengths.",
        request=shapes.RectifyRequestSerializer,
        responses={200: shapes.RectifyResponseSerializer, **ERRORS},
        tags=["vhs"],
        operation_id="vhs_rectify",
    )
    async def post(self, request: Request) -> Response:
        call = shapes.RectifyRequestSerializer(data=request.data)
        call.is_valid(raise_exception=True)
        checked = await acheck_base64(call.validated_data["image"])
        corners = call.validated_data["corners"]
        problem = check_corners(corners, checked.width, checked.height)
        if problem is not None:
            raise ValidationError(problem)
        result = await _run(checked, operation="rectify", corners=corners)
        return Response(
            {
                "rectified_image": result["rectified_image"],
                "width": result["width"],
                "height": result["height"],
                "model_version": result["model"]["model_version"],
            }
        )


class PreprocessView(_PopView):
    @extend_schema(
        summary="Corner detection and rectification in one call (not billed)",
        description="`corners` followed by `rectify`, in one call and one worker task.",
        request=shapes.CornersRequestSerializer,
        responses={200: shapes.PreprocessResponseSerializer, **ERRORS},
        tags=["vhs"],
        operation_id="vhs_preprocess",
    )
    async def post(self, request: Request) -> Response:
        call = shapes.CornersRequestSerializer(data=request.data)
        call.is_valid(raise_exception=True)
        checked = await acheck_base64(call.validated_data["image"])
        result = await _run(checked, operation="preprocess")
        return Response(
            {
                "rectified_image": result["rectified_image"],
                "corners": result["corners"],
                "order": shapes.ORDER,
                "width": result["width"],
                "height": result["height"],
                "model_version": result["model"]["model_version"],
            }
        )
