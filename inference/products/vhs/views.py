"""The VHS/VLAS API v3 (seed 002), mounted at ``/vhs/v3/``.

Every endpoint needs ``x-api-key``.  ``POST predict`` takes one image (``image``) or a batch
(``images``, at most 10): the serializer validates, ``service.measure`` runs the images on
the workers, ``service.settle`` stores the history and bills the call once, and the body is
built in the seed's shape (``responses``); ``Idempotency-Key`` replays come from
``billing.idempotency.run_once``.  Views never import torch.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import APIException
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import ApiKeyAuthentication
from billing import idempotency
from inference.api.images import acheck_base64
from inference.api.limits import Base64Images
from inference.api.parsers import JSONBodyParser
from inference.api.views import ProductView
from inference.products.vhs import health, responses, serializers, service
from inference.runtime.errors import is_outage


class VhsView(ProductView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONBodyParser]


class HealthView(VhsView):
    @extend_schema(
        summary="Service health check (not billed)",
        description="What the workers report of the VHS models: `models_loaded` counts the "
        "landmark ensemble's loaded members. Needs `x-api-key`; never billed.",
        responses={200: serializers.HealthSerializer, **serializers.error_responses(403, 500)},
        tags=["vhs"],
        operation_id="vhs_health",
    )
    async def get(self, request: Request) -> Response:
        return Response(await sync_to_async(health.health_document, thread_sensitive=False)())

    def handle_exception(self, exc: Exception) -> Response:
        # Redis down: the answer is the seed's document, "degraded" with HTTP 200 as in any
        # other outage, not the 503 a prediction gets (docs/reliability.md).
        if is_outage(exc):
            return Response(health.outage_document())
        return super().handle_exception(exc)


class PredictView(VhsView):
    # Ten base64 images of 10 MB each, and the JSON around them (docs/vhs.md, Limits).
    body_limit = Base64Images(serializers.MAX_BATCH)

    @extend_schema(
        summary="Single or batch image prediction (billed on a valid VHS)",
        description="Send `image` (one base64 JPEG or PNG) or `images` (a batch of up to 10), "
        "with an optional patient `uuid` and `render`. Billed once per call, and only when "
        "it returns a valid VHS (result codes 1 to 4); a recheck of the same patient within "
        "24 h is free.",
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
                serializers.PREDICT_RESPONSE,
                description="One of three documents: `VhsSingleResponse` for `image`, "
                "`VhsRejectionResponse` when that image is not a radiograph (result_code 6, "
                "never billed), `VhsBatchResponse` for `images`.",
            ),
            **serializers.error_responses(400, 403, 409, 413, 415, 422, 500, 503, 504),
        },
        tags=["vhs"],
        operation_id="vhs_predict",
    )
    async def post(self, request: Request) -> Response:
        validated = serializers.PredictRequestSerializer(data=request.data)
        validated.is_valid(raise_exception=True)
        call = validated.validated_data
        answer = await idempotency.run_once(
            request.user.customer, request, lambda: self._predict(request, **call)
        )
        return Response(answer.body, status=answer.status_code)

    async def _predict(
        self, request: Request, images: list[str], is_batch: bool, uuid: str, render: bool
    ) -> dict[str, Any]:
        checked = await asyncio.gather(
            *(acheck_base64(image, i if is_batch else None) for i, image in enumerate(images))
        )
        measured = await service.measure(list(checked), render=render)
        frames = [m.frame for m in measured]
        model_version = measured[0].model_version
        settlement = await sync_to_async(service.settle)(
            customer=request.user.customer,
            api_key=request.auth,
            frames=frames,
            call_type="session" if is_batch else "single",
            endpoint="/vhs/v3/predict",
            uuid=uuid,
            model_version=model_version,
            request_id=getattr(request, "request_id", ""),
        )
        rendered = [m.rendered_image for m in measured]
        if is_batch:
            body = responses.batch(frames, model_version, rendered, settlement.history)
        else:
            body = responses.single(frames[0], model_version, rendered[0], settlement.history)
        if not frames[0].rejected or is_batch:
            body["measurement_id"] = settlement.measurement_id
        body["billing"] = settlement.billing.as_response()
        return service.as_json(body)


class StreamingServedByAsgi(APIException):
    status_code = 501
    default_detail = "Streaming is served by the ASGI server (daphne); this path was not."


class AnyAccept(DefaultContentNegotiation):
    """The stream answers Server-Sent Events, or a refusal in JSON, whatever the client
    accepts: an SSE client's ``Accept: text/event-stream`` must not be refused with a 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


#: One Server-Sent Event of the stream (its ``data`` is a JSON document, described above).
STREAM_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["processing_started", "photo", "error", "summary"]},
        "data": {"type": "string", "description": "The event's JSON document."},
    },
    "required": ["event", "data"],
}


class PredictStreamView(VhsView):
    """``POST predict/stream``: served by ``stream.PredictStreamConsumer`` (ASGI), which runs
    this view's authentication, permissions and throttles; this class also declares the
    body limit (``config.body_limit``) and documents the endpoint."""

    body_limit = Base64Images(serializers.MAX_BATCH)
    content_negotiation_class = AnyAccept

    @extend_schema(
        summary="Streaming batch prediction, Server-Sent Events (billed once on a valid VHS)",
        description="The body of a batch `predict` (`images`, up to 10; or one `image`). "
        "Answers `text/event-stream`: `processing_started` `{n_images, model_version}`; one "
        "`photo` per image as soon as it is measured (a `per_photo` entry with `index`, "
        "`n_total`, `model_version`; a non-radiograph is a `photo` with `rejected: true`, "
        "`result_code` 6); `error` `{index, uuid, error}` per image that failed "
        '(`"Invalid image data"` for one that cannot be decoded); then `summary` (the '
        "batch's statistics, `billing`, `historic_vhs`, `historic_vlas`). Refusals before "
        "the stream (key, JSON, fields, more than 10 images, body size) are ordinary JSON "
        "errors. Billed once at the session rate; see docs/vhs.md, Streaming.",
        request=serializers.PredictRequestSerializer,
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                STREAM_EVENT, description="The event stream: each event as described."
            ),
            **serializers.error_responses(400, 403, 413, 415, 500),
        },
        tags=["vhs"],
        operation_id="vhs_predict_stream",
    )
    async def post(self, request: Request) -> Response:
        raise StreamingServedByAsgi()
