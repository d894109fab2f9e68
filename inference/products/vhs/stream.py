"""``POST /vhs/v3/predict/stream`` (seed 002): a batch answered as Server-Sent Events.

A Channels HTTP consumer, so each image's ``photo`` event leaves the moment that image's
result is ready, not when the batch ends.  The call is the batch ``predict`` in every other
respect, and uses its steps:

* **Before the stream** (ordinary JSON errors in the VHS envelope, no event sent): the API
  key, throttles and permissions (the DRF view's own ``initial``), a non-JSON or malformed
  body, the request serializer (more than 10 images, bad ``uuid`` or ``render``), and an
  oversized body (``config.body_limit``, before this consumer reads it).
* **The stream**: ``processing_started``; then per image, as it finishes, ``photo`` (the
  batch's ``per_photo`` entry, with ``index``, ``n_total`` and ``model_version``; a
  non-radiograph is a ``photo`` with ``rejected: true`` and ``result_code`` 6, since it is a
  result, not a failure) or ``error`` (``{"index", "uuid", "error"}``: an image that cannot
  be decoded is ``"Invalid image data"``, as the seed shows; a timeout or a busy worker has
  the envelope's message); then ``summary``, with the seed's fields plus ``billing``,
  ``historic_vhs`` and ``historic_vlas``.  ``render: true`` adds ``rendered_image`` to each
  ``photo``.  A ``: keep-alive`` comment goes out every ``VHS_STREAM_KEEPALIVE_SECONDS``
  without an event.  ``REQUEST_TIMEOUT_SECONDS`` caps the whole stream: what has not
  finished by then is an ``error`` event.
* **Billing**: once, at the session rate, through ``service.settle`` (history included),
  exactly as a batch.  **A client that leaves mid-stream**: the images not yet started are
  not run (``each_result`` revokes them and drops their bytes), and the call is settled on
  the frames already sent: billed once if one of them was a valid measurement, else
  recorded free.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request

from config.request_log import REQUEST_ID_HEADER, choose_request_id
from inference.api import sse
from inference.api.consumers import WITHOUT_CHANNEL_LAYER
from inference.api.images import acheck_base64
from inference.api.inference import ItemOutcome, each_result
from inference.imaging.decoding import ImageRejected
from inference.products.vhs import responses, serializers, service
from inference.products.vhs.analysis import FrameResult
from inference.products.vhs.errors import ENVELOPE
from inference.runtime.cluster import product_status

logger = logging.getLogger("platform.request")

ENDPOINT = "/vhs/v3/predict/stream"
INVALID_IMAGE = "Invalid image data"
#: The seed's summary fields, taken from the batch document.
SUMMARY_FIELDS = (
    "best_vhs",
    "best_vlas",
    "median_vhs",
    "median_vlas",
    "vhs_std",
    "vlas_std",
    "vhs_confidence",
    "vlas_confidence",
    "best_photo_index",
    "n_photos_processed",
    "n_photos_with_landmarks",
)


class PredictStreamConsumer(AsyncHttpConsumer):
    """One streamed prediction; the work runs as a task so a disconnect can stop it."""

    channel_layer_alias = WITHOUT_CHANNEL_LAYER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.work: asyncio.Task[None] | None = None

    async def http_request(self, message: dict[str, Any]) -> None:
        if "body" in message:
            self.body.append(message["body"])
        if not message.get("more_body"):
            self.work = asyncio.ensure_future(self.respond(b"".join(self.body)))

    async def http_disconnect(self, message: dict[str, Any]) -> None:
        """The response ended, or the client left: unfinished work is cancelled."""
        if self.work is not None and not self.work.done():
            self.work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.work
        raise StopConsumer()

    async def respond(self, body: bytes) -> None:
        started = time.perf_counter()
        request_id = choose_request_id(_header(self.scope, REQUEST_ID_HEADER))
        status = 200
        try:
            request, call = await self.accepted(body)
        except Exception as exc:  # every refusal before the stream, in the envelope
            error, document = ENVELOPE.render(exc, None)
            status = error.status
            headers = [(b"content-type", b"application/json")]
            headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
            headers.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
            if isinstance(exc, MethodNotAllowed):
                headers.append((b"allow", b"POST"))
            await self.send_response(status, json.dumps(document).encode(), headers=headers)
        else:
            await self.send_headers(
                status=200,
                headers=[*sse.HEADERS, (REQUEST_ID_HEADER.lower().encode(), request_id.encode())],
            )
            try:
                await Stream(self, request, request_id, **call).run()
            finally:
                with contextlib.suppress(Exception):  # a closed connection takes no more
                    await self.send_body(b"")
        finally:
            logger.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": self.scope["method"],
                    "path": ENDPOINT,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )

    async def accepted(self, body: bytes) -> tuple[Request, dict[str, Any]]:
        """The authenticated request and its validated call, exactly as ``predict`` checks
        them (the same view class, serializer and envelope); raises what ``predict`` would."""
        from inference.products.vhs.views import PredictStreamView

        if self.scope["method"] != "POST":  # the route is this consumer's for every method
            raise MethodNotAllowed(self.scope["method"])

        view = PredictStreamView()
        view.args, view.kwargs, view.format_kwarg = (), {}, None
        request = view.initialize_request(ASGIRequest(self.scope, io.BytesIO(body)))
        view.request = request
        await sync_to_async(view.initial)(request)
        validated = serializers.PredictRequestSerializer(data=request.data)
        validated.is_valid(raise_exception=True)
        return request, dict(validated.validated_data)

    async def send_event(self, name: str, data: Any) -> None:
        await self.send_body(sse.event(name, data), more_body=True)


class Stream:
    """The events of one accepted call (see the module docstring)."""

    def __init__(
        self,
        consumer: PredictStreamConsumer,
        request: Request,
        request_id: str,
        *,
        images: list[str],
        is_batch: bool,
        uuid: str,
        render: bool,
    ) -> None:
        self.consumer = consumer
        self.request = request
        self.request_id = request_id
        self.images = images
        self.uuid = uuid
        self.render = render
        self.sent: dict[int, FrameResult] = {}
        self.model_version = ""

    async def run(self) -> None:
        n_total = len(self.images)
        checked = await asyncio.gather(
            *(acheck_base64(image) for image in self.images), return_exceptions=True
        )
        await self.consumer.send_event(
            "processing_started", {"n_images": n_total, "model_version": await _model_version()}
        )
        self.images = []  # the checked images hold the bytes now; the base64 text can go
        good = [i for i, image in enumerate(checked) if not isinstance(image, BaseException)]
        for index, failure in enumerate(checked):
            if isinstance(failure, BaseException):
                await self.error(index, _message(failure))
        items = [checked[i].item(render=self.render) for i in good]  # type: ignore[union-attr]
        outcomes = each_result(
            service.PRODUCT, items, tick_s=float(settings.VHS_STREAM_KEEPALIVE_SECONDS)
        )
        try:
            async for outcome in outcomes:
                await self.deliver(outcome, good, n_total)
        finally:
            await outcomes.aclose()
            # Settled even when the client left mid-stream (shielded from that cancellation):
            # a measurement already sent is a measurement delivered.
            summary = await asyncio.shield(self.settle())
        await self.consumer.send_event("summary", summary)

    async def deliver(self, outcome: ItemOutcome | None, good: list[int], n_total: int) -> None:
        if outcome is None:
            await self.consumer.send_body(sse.KEEP_ALIVE, more_body=True)
            return
        index = good[outcome.index]
        if outcome.error is not None:
            await self.error(index, _message(outcome.error))
            return
        measured = service.measured(outcome.result or {})
        self.model_version = measured.model_version
        self.sent[index] = measured.frame
        photo = {
            "index": index,
            **responses.per_photo(measured.frame, measured.rendered_image),
            "n_total": n_total,
            "model_version": measured.model_version,
        }
        await self.consumer.send_event("photo", photo)

    async def error(self, index: int, message: str) -> None:
        await self.consumer.send_event(
            "error", {"index": index, "uuid": self.uuid, "error": message}
        )

    async def settle(self) -> dict[str, Any]:
        """History and the one session charge, on the frames sent; the summary event."""
        indexes = sorted(self.sent)
        frames = [self.sent[i] for i in indexes]
        settlement = await sync_to_async(service.settle)(
            customer=self.request.user.customer,
            api_key=self.request.auth,
            frames=frames,
            call_type="session",
            endpoint=ENDPOINT,
            uuid=self.uuid,
            model_version=self.model_version,
            request_id=self.request_id,
        )
        batch = responses.batch(frames, self.model_version, [None] * len(frames), None)
        summary = {name: batch[name] for name in SUMMARY_FIELDS}
        if summary["best_photo_index"] is not None:  # an index among the frames -> the image's
            summary["best_photo_index"] = indexes[summary["best_photo_index"]]
        history = settlement.history
        summary["historic_vhs"], summary["historic_vlas"] = history or (None, None)
        summary["measurement_id"] = settlement.measurement_id
        summary["billing"] = settlement.billing.as_response()
        return service.as_json(summary)


def _message(exc: BaseException) -> str:
    """An image's failure as its ``error`` event says it."""
    if isinstance(exc, ImageRejected) and exc.kind in ("invalid", "missing", "too_small"):
        return INVALID_IMAGE
    error, _ = ENVELOPE.render(exc, None)
    return INVALID_IMAGE if error.code == "IMAGE_UNUSABLE" else error.message


async def _model_version() -> str | None:
    """The served model version, from the first worker to answer (not the whole broadcast
    timeout: the stream's first event should not wait a second)."""
    status = await sync_to_async(product_status, thread_sensitive=False)(service.PRODUCT, 1)
    return (status or {}).get("model_version")


def _header(scope: dict[str, Any], name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None
