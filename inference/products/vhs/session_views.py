"""PoP capture sessions over HTTP (seed 002): start, send a frame, get a WebSocket ticket.

The views authenticate (``x-api-key``, as every VHS view), validate, and call
``session_service``; a frame goes through ``billing.idempotency.run_once``, so a retry
with the same ``Idempotency-Key`` gets the first answer and is not counted again.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing import idempotency
from inference.api.limits import Base64Images
from inference.products.vhs import session_serializers as shapes
from inference.products.vhs import session_service, session_tickets
from inference.products.vhs.serializers import ErrorSerializer, error_responses
from inference.products.vhs.views import VhsView


def _session_errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The VHS error document for each status, with what it means for a session."""
    documented = error_responses(*[s for s in statuses if s not in (404, 409)])
    meanings = {
        404: "`Session not found`: no such session, or another customer's.",
        409: "`Session already complete` / `Session already failed`; or another frame of "
        "the session is still being processed, or an `Idempotency-Key` is in use: retry.",
    }
    for status, meaning in meanings.items():
        if status in statuses:
            documented[status] = OpenApiResponse(ErrorSerializer, description=meaning)
    return dict(sorted(documented.items()))


IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Retry a frame safely: the same key and body return the first answer, and "
    "the frame is counted once.",
)


class StartView(VhsView):
    @extend_schema(
        summary="Start a PoP capture session (not billed)",
        description="Send `{}`. The session takes frames for `session_ttl_seconds` from now. "
        "`pop_pipeline_enabled: false` means photos of a screen cannot be rectified: frames "
        "are then measured as direct radiographs.",
        request=shapes.StartRequestSerializer,
        responses={200: shapes.StartResponseSerializer, **error_responses(400, 403, 500)},
        tags=["vhs"],
        operation_id="vhs_pop_session_start",
    )
    async def post(self, request: Request) -> Response:
        shapes.StartRequestSerializer(data=request.data).is_valid(raise_exception=True)
        body = await sync_to_async(session_service.start)(request.user.customer, request.auth)
        return Response(body)


class FrameView(VhsView):
    # One base64 image of 10 MB and the JSON around it (docs/vhs.md, Limits).
    body_limit = Base64Images(1)

    @extend_schema(
        summary="Send a frame to a PoP session (billed once, on complete)",
        description="Each frame answers `continue` (with feedback), `complete` (the chosen "
        "frame's measurement, billed once at the session rate) or `failed` (never billed). "
        "See docs/vhs.md, PoP capture sessions, for the rules.",
        request=shapes.FrameRequestSerializer,
        parameters=[IDEMPOTENCY],
        responses={
            200: OpenApiResponse(
                shapes.FRAME_RESPONSE,
                description="`VhsPopSessionContinue`, `VhsPopSessionComplete` or "
                "`VhsPopSessionFailed`, by `session_status`.",
            ),
            **_session_errors(400, 403, 404, 409, 413, 415, 422, 500, 503, 504),
        },
        tags=["vhs"],
        operation_id="vhs_pop_session_frame",
    )
    async def post(self, request: Request) -> Response:
        validated = shapes.FrameRequestSerializer(data=request.data)
        validated.is_valid(raise_exception=True)
        frame = validated.validated_data
        answer = await idempotency.run_once(
            request.user.customer,
            request,
            lambda: session_service.process_frame(
                customer=request.user.customer,
                api_key=request.auth,
                session_id=frame["session_id"],
                image=frame["image"],
                uuid=frame["uuid"],
                request_id=getattr(request, "request_id", ""),
            ),
        )
        return Response(answer.body, status=answer.status_code)


class TicketView(VhsView):
    @extend_schema(
        summary="A WebSocket ticket for a PoP session (not billed)",
        description="For a browser, which cannot send `x-api-key` on a WebSocket handshake: "
        "open `ws/vhs/v3/pop-session/<session_id>?ticket=<ticket>` within 60 s. A ticket "
        "opens one connection, once; only its hash is stored.",
        request=shapes.TicketRequestSerializer,
        responses={
            200: shapes.TicketResponseSerializer,
            **_session_errors(400, 403, 404, 409, 415, 500),
        },
        tags=["vhs"],
        operation_id="vhs_pop_session_ticket",
    )
    async def post(self, request: Request) -> Response:
        validated = shapes.TicketRequestSerializer(data=request.data)
        validated.is_valid(raise_exception=True)
        body = await sync_to_async(session_tickets.issue_ticket)(
            request.user.customer, request.auth, validated.validated_data["session_id"]
        )
        return Response(body)
