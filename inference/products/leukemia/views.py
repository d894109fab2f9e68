"""The leukemia classifier's public API (seed 000), mounted at ``/leukemia/``.

Views only translate HTTP: check the image (``inference.api.images``), call the product's
service, answer in the seed's envelope.  They never import torch.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from inference.api.images import CheckedImage, acheck_base64, acheck_bytes
from inference.api.limits import Base64Images, UploadedImages
from inference.api.parsers import JSONBodyParser, MultiPartBodyParser
from inference.api.views import ProductView
from inference.imaging.decoding import ImageTooLarge, NoImage
from inference.products.leukemia import envelope, serializers, service
from inference.products.leukemia.health import api_information, health_document
from inference.products.leukemia.throttling import LeukemiaRateThrottle
from inference.runtime.errors import is_outage


class LeukemiaView(ProductView):
    """Public, throttled per IP, answering in the product's envelope."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [LeukemiaRateThrottle]

    def refuse_oversized_body(self, request: Request) -> None:
        """A 413 from Content-Length alone, before the body is parsed."""
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        # The view's declared limit, which config.body_limit enforces before Django reads the
        # body when served over ASGI; checked here too for any other way in.
        if self.body_limit is not None and length > self.body_limit.max_body_bytes():
            limit_mb = settings.IMAGE_MAX_BYTES // (1024 * 1024)
            raise ImageTooLarge(f"Image exceeds maximum size of {limit_mb}MB")


async def _classify(request: Request, image: CheckedImage) -> Response:
    """Run the model on a worker, record the call, answer in the success envelope."""
    result = await service.classify(request, image)
    model = result["model"]
    return envelope.success(
        request,
        {
            "prediction": result["prediction"],
            "probabilities": result["probabilities"],
            "metadata": {
                "image_size": image.size_text,
                "model_version": model["model_version"],
                "device": model["device"],
                "model_source": model["model_source"],
            },
        },
    )


_PREDICT_RESPONSES = {
    200: serializers.PredictionEnvelopeSerializer,
    **serializers.error_responses(400, 413, 415, 429, 500, 503, 504),
}


class PredictBase64View(LeukemiaView):
    parser_classes = [JSONBodyParser]
    body_limit = Base64Images(1)

    @extend_schema(
        summary="Predict from a base64-encoded image",
        description=(
            "JPEG or PNG, at least 10x10 pixels, at most 10 MB. A `data:image/...;base64,` "
            "prefix is accepted."
        ),
        request=serializers.Base64RequestSerializer,
        responses=_PREDICT_RESPONSES,
        auth=serializers.OPTIONAL_API_KEY,
        tags=["leukemia"],
        operation_id="leukemia_predict",
    )
    async def post(self, request: Request) -> Response:
        self.refuse_oversized_body(request)
        body: Any = request.data
        image_b64 = body.get("image_base64") if isinstance(body, dict) else None
        if image_b64 is None:
            raise NoImage("No image provided in request: send image_base64")
        return await _classify(request, await acheck_base64(image_b64))


class PredictUploadView(LeukemiaView):
    parser_classes = [MultiPartBodyParser]
    body_limit = UploadedImages(1)

    @extend_schema(
        summary="Predict from an uploaded image file",
        description="Multipart form with the image in `file`; JPEG or PNG, at most 10 MB.",
        request={"multipart/form-data": serializers.UploadRequestSerializer},
        responses=_PREDICT_RESPONSES,
        auth=serializers.OPTIONAL_API_KEY,
        tags=["leukemia"],
        operation_id="leukemia_predict_upload",
    )
    async def post(self, request: Request) -> Response:
        self.refuse_oversized_body(request)
        upload = request.FILES.get("file")
        if upload is None:
            raise NoImage("No image provided in request: upload it as the 'file' field")
        if upload.size > settings.IMAGE_MAX_BYTES:
            limit_mb = settings.IMAGE_MAX_BYTES // (1024 * 1024)
            raise ImageTooLarge(f"Image exceeds maximum size of {limit_mb}MB")
        raw = await sync_to_async(upload.read, thread_sensitive=False)()
        return await _classify(request, await acheck_bytes(raw))


class InformationView(LeukemiaView):
    @extend_schema(
        summary="API information and status",
        description="The service, its classes, confidence levels, endpoints and limits.",
        responses={
            200: serializers.InformationSerializer,
            **serializers.error_responses(429, 500),
        },
        auth=serializers.OPTIONAL_API_KEY,
        tags=["leukemia"],
        operation_id="leukemia_information",
    )
    async def get(self, request: Request) -> Response:
        return Response(await sync_to_async(api_information, thread_sensitive=False)())


class HealthView(LeukemiaView):
    # Health is never throttled: monitors and the seed's clients poll it whatever they sent.
    throttle_classes: list = []

    @extend_schema(
        summary="Detailed health check and model status",
        description="200 when a worker has the three models loaded, 503 otherwise (with "
        "`reason`). Never throttled.",
        responses={
            200: serializers.HealthSerializer,
            503: OpenApiResponse(serializers.HealthSerializer, description="Models not loaded"),
            **serializers.error_responses(500),
        },
        tags=["leukemia"],
        operation_id="leukemia_health",
    )
    async def get(self, request: Request) -> Response:
        document = await sync_to_async(health_document, thread_sensitive=False)()
        return Response(document, status=document["status_code"])

    def handle_exception(self, exc: Exception) -> Response:
        # Redis down before the view ran (the key allowance lives in the cache): still the
        # seed's health document, 503 "unhealthy", rather than an error envelope.
        if is_outage(exc):
            document = health_document()
            return Response(document, status=document["status_code"])
        return super().handle_exception(exc)
