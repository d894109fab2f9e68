"""The VHS/VLAS API v3 (seed 002), mounted at ``/vhs/v3/``.

Every endpoint needs ``x-api-key``.  ``POST predict`` takes one image (``image``) or a batch
(``images``, at most 10), runs every image through the worker's ensemble in one go (they
share forward passes), stores successful measurements in the patient's history, bills the
call once through ``billing.engine`` and answers in the seed's shape.  Views are async and
never import torch.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

from adrf.views import APIView
from asgiref.sync import sync_to_async
from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import ApiKeyAuthentication
from billing import engine, idempotency
from inference import tasks
from inference.imaging.decoding import ImageRejected, decode_base64, open_image
from inference.products.vhs import errors, history, responses, serializers
from inference.products.vhs.analysis import FrameResult, summarise
from inference.runtime.cluster import product_status
from inference.runtime.dispatch import run_task

PRODUCT = "vhs"
MAX_BATCH = 10
MAX_UUID_LENGTH = 128
EXPECTED_MODELS = 5


class VhsView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    def get_exception_handler(self):
        return errors.exception_handler


class HealthView(VhsView):
    @extend_schema(
        summary="Service health check (not billed)",
        responses={200: serializers.HealthSerializer, 403: serializers.ErrorSerializer},
        tags=["vhs"],
    )
    async def get(self, request: Request) -> Response:
        status = await sync_to_async(product_status, thread_sensitive=False)(PRODUCT) or {}
        loaded = bool(status.get("loaded"))
        return Response(
            {
                "status": "healthy" if loaded else "degraded",
                "models_loaded": EXPECTED_MODELS if loaded else 0,
                "pop_models_loaded": 0,
                "pop_pipeline_enabled": False,
                "model_version": status.get("model_version"),
            }
        )


def parse_request(body: Any) -> tuple[list[str], bool, str, bool]:
    """(base64 images, is_batch, uuid, render) from the JSON body, or BadRequest."""
    if not isinstance(body, dict):
        raise errors.BadRequest("Request body must be a JSON object")
    if "images" in body and "image" in body:
        raise errors.BadRequest("Send either image or images, not both")
    if "images" in body:
        images = body["images"]
        if not isinstance(images, list) or not images:
            raise errors.BadRequest("images must be a non-empty array of base64 strings")
        if len(images) > MAX_BATCH:
            raise errors.BadRequest(f"Batch size exceeds maximum of {MAX_BATCH} images")
        is_batch = True
    elif body.get("image") not in (None, ""):
        images, is_batch = [body["image"]], False
    else:
        raise errors.BadRequest("Missing required field: image")
    if not all(isinstance(image, str) for image in images):
        raise errors.BadRequest("Images must be base64-encoded strings")
    uuid = body.get("uuid") or ""
    if not isinstance(uuid, str) or len(uuid) > MAX_UUID_LENGTH:
        raise errors.BadRequest(f"uuid must be a string of at most {MAX_UUID_LENGTH} characters")
    render = body.get("render", False)
    if not isinstance(render, bool):
        raise errors.BadRequest("render must be true or false")
    return images, is_batch, uuid.strip(), render


def _decode(image_b64: str, index: int | None) -> tuple[bytes, str]:
    """Checked image bytes and their format; errors name the batch index."""
    try:
        raw = decode_base64(image_b64, max_bytes=settings.IMAGE_MAX_BYTES)
        image = open_image(
            raw, max_pixels=settings.IMAGE_MAX_PIXELS, max_bytes=settings.IMAGE_MAX_BYTES
        )
    except ImageRejected as exc:
        if index is not None and exc.kind != "too_large":
            exc.message = f"images[{index}]: {exc.message}"
        raise
    return raw, image.format


class PredictView(VhsView):
    @extend_schema(
        summary="Single or batch image prediction (billed on a valid VHS)",
        request=serializers.PredictRequestSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Retry safely: the same key and body return the first answer.",
            )
        ],
        responses={
            200: OpenApiResponse(
                serializers.SingleResponseSerializer,
                description="Single image; a batch answers with the batch shape "
                "(see BatchResponse in the schema).",
            ),
            400: serializers.ErrorSerializer,
            403: serializers.ErrorSerializer,
            409: serializers.ErrorSerializer,
            413: serializers.ErrorSerializer,
            422: serializers.ErrorSerializer,
            500: serializers.ErrorSerializer,
            503: serializers.ErrorSerializer,
        },
        tags=["vhs"],
    )
    async def post(self, request: Request) -> Response:
        customer = request.user.customer
        images, is_batch, uuid, render = parse_request(request.data)
        key = request.headers.get("Idempotency-Key")
        if key:
            stored = await sync_to_async(idempotency.begin)(
                customer, key, request.path, request.body
            )
            if stored is not None:
                return Response(stored.body, status=stored.status_code)
        try:
            body = await self._predict(request, images, is_batch, uuid, render)
        except BaseException:
            if key:
                await sync_to_async(idempotency.abandon)(customer, key)
            raise
        if key:
            await sync_to_async(idempotency.finish)(customer, key, 200, body)
        return Response(body)

    async def _predict(
        self, request: Request, images: list[str], is_batch: bool, uuid: str, render: bool
    ) -> dict[str, Any]:
        decoded = await asyncio.gather(
            *(
                sync_to_async(_decode, thread_sensitive=False)(image, i if is_batch else None)
                for i, image in enumerate(images)
            )
        )
        deadline = time.time() + settings.REQUEST_TIMEOUT_SECONDS
        results = await asyncio.gather(
            *(
                run_task(
                    tasks.predict,
                    PRODUCT,
                    {
                        "image_b64": base64.b64encode(raw).decode("ascii"),
                        "render": render,
                        "format": fmt,
                    },
                    deadline,
                )
                for raw, fmt in decoded
            )
        )
        frames = [FrameResult(**result["frame"]) for result in results]
        rendered = [result.get("rendered_image") for result in results]
        model_version = results[0]["model"]["model_version"]
        return await sync_to_async(self._record_and_answer)(
            request, frames, rendered, is_batch, uuid, model_version
        )

    def _record_and_answer(
        self,
        request: Request,
        frames: list[FrameResult],
        rendered: list[str | None],
        is_batch: bool,
        uuid: str,
        model_version: str,
    ) -> dict[str, Any]:
        """History and billing (database work, in one thread), then the response body."""
        customer = request.user.customer
        past = history.previous_measurements(customer, uuid) if uuid else None
        summary = summarise(frames)
        best = frames[summary.best_index] if summary.best_index is not None else None
        if uuid and best is not None:
            history.record_measurement(
                customer,
                uuid,
                best.vhs,
                best.vlas,
                best.result_code,
                model_version,
                getattr(request, "request_id", ""),
            )
        decision = engine.record(
            customer=customer,
            api_key=request.auth,
            product=PRODUCT,
            endpoint="/vhs/v3/predict",
            call_type="session" if is_batch else "single",
            result_code=summary.result_code if is_batch else frames[0].result_code,
            patient_uuid=uuid,
            request_id=getattr(request, "request_id", ""),
        )
        if is_batch:
            body = responses.batch(frames, model_version, rendered, past)
        else:
            body = responses.single(frames[0], model_version, rendered[0], past)
        body["billing"] = decision.as_response()
        return json.loads(json.dumps(body))  # plain JSON types, as stored for idempotent replays
