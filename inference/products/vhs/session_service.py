"""PoP capture sessions, stored: start one, take a frame (tickets: ``session_tickets``).

The HTTP views and the WebSocket consumer both call ``process_frame``, which applies the
rules of ``sessions`` to the stored ``PopSession`` and measures and settles through the
product's own services (``service.measure``, ``service.settle``): a session frame is
measured exactly as a predicted image is, and a completed session is billed and stored in
the patient's history exactly as a batch is.

**One frame at a time.** A session may receive frames from several web processes at once
(an impatient client, a retry, HTTP and WebSocket together).  Each frame:

1. *claims* the session in a short transaction (``SELECT … FOR UPDATE`` on PostgreSQL;
   SQLite's transactions take the write lock): checks the customer, the status, the uuid,
   the TTL and the frame budget, and takes the session's lease (a random token and an
   expiry).  A frame that finds the lease taken waits, without holding a transaction or a
   thread, and tries again;
2. is *measured* with no transaction open (seconds on a CPU: a transaction held that long
   would lock SQLite for every other request);
3. is *applied* in a second short transaction, which checks that it still holds the lease,
   counts the frame, settles a completed or failed session, and gives the lease back.

So concurrent frames are counted exactly once each, in the order they claimed the session.
A lease outlives the request timeout, so a process that dies mid-frame frees the session
within ``LEASE_SECONDS``.  A platform failure while measuring (models not loaded, busy,
timed out) gives the lease back without counting the frame: it was never seen.

Time comes from ``now()`` (tests replace it).  No pixels are logged; the chosen frame's
images are kept on the session only until it ends.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions

from accounts.models import ApiKey, Customer
from inference.api.errors import classify
from inference.api.images import acheck_base64
from inference.imaging.decoding import ImageRejected
from inference.products.vhs import health, service, sessions
from inference.products.vhs.analysis import FrameResult
from inference.products.vhs.errors import ENVELOPE
from inference.products.vhs.models import PopSession
from inference.products.vhs.pop.feedback import feedback_for

ENDPOINT = "/vhs/v3/pop-session"
#: Longest wait for another frame of the same session, and a lease's margin over it.
LEASE_MARGIN_SECONDS = 10
_PIXELS = ("best_rectified", "best_rendered")
_FINISHED = (PopSession.Status.COMPLETE, PopSession.Status.FAILED)


def now() -> datetime:
    """The sessions' clock (a function, so that tests can move time)."""
    return timezone.now()


def lease_seconds() -> int:
    return int(settings.REQUEST_TIMEOUT_SECONDS) + LEASE_MARGIN_SECONDS


class SessionNotFound(exceptions.NotFound):
    """Unknown, or another customer's: the same answer, so ids leak nothing."""

    default_detail = "Session not found"


class SessionFinished(exceptions.APIException):
    status_code = 409
    default_detail = "Session already finished"


class SessionBusy(exceptions.APIException):
    status_code = 409
    default_detail = "Another frame of this session is still being processed; retry shortly"


class UuidChanged(exceptions.ValidationError):
    default_detail = "uuid does not match this session's patient: a session measures one patient"


def finished(session: PopSession) -> SessionFinished:
    return SessionFinished(f"Session already {session.status}")


# --- start ------------------------------------------------------------------------------------


def start(customer: Customer, api_key: ApiKey | None) -> dict[str, Any]:
    """A new session (``session_status: "ready"``) and the seed's start answer.

    Also empties the pixels of any session left to expire, so abandoned captures do not
    keep images (their rows stay, for admin).
    """
    moment = now()
    PopSession.objects.filter(expires_at__lte=moment, best_rectified__isnull=False).update(
        best_rectified=None, best_rendered=None
    )
    limits = sessions.Limits.current()
    session = PopSession.objects.create(
        session_id=secrets.token_hex(8),
        customer=customer,
        api_key=api_key,
        created_at=moment,
        expires_at=moment + timedelta(seconds=limits.session_ttl_seconds),
    )
    return sessions.started(session.session_id, health.health_document(), limits)


def open_session(customer: Customer, session_id: str) -> PopSession:
    """The customer's session that can still take frames, else a 404 or a 409."""
    session = (
        PopSession.objects.defer(*_PIXELS).filter(customer=customer, session_id=session_id).first()
    )
    if session is None:
        raise SessionNotFound()
    if session.status in _FINISHED:
        raise finished(session)
    return session


# --- one frame ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A frame's hold on its session, between claiming and applying."""

    pk: int
    session_id: str
    token: str
    frame_index: int
    uuid: str


_BUSY = object()


def _progress(session: PopSession) -> sessions.Progress:
    return sessions.Progress(
        session.frames_processed, session.good_frames, session.consecutive_failures
    )


def _claim(
    customer: Customer, api_key: ApiKey | None, session_id: str, uuid: str, request_id: str
) -> Claim | dict[str, Any] | object:
    """The frame's ``Claim``; or the session's ``failed`` answer (timed out, out of frames);
    or ``_BUSY`` when another frame holds the lease."""
    with transaction.atomic():
        session = (
            PopSession.objects.select_for_update()
            .defer(*_PIXELS)
            .filter(customer=customer, session_id=session_id)
            .first()
        )
        if session is None:
            raise SessionNotFound()
        if session.status in _FINISHED:
            raise finished(session)
        moment = now()
        if session.lease_until is not None and session.lease_until > moment:
            return _BUSY
        if session.uuid_fixed and uuid and uuid != session.uuid:
            raise UuidChanged()
        patient = session.uuid if session.uuid_fixed else uuid
        progress = _progress(session)
        refusal = sessions.refusal_before_measuring(
            progress, moment >= session.expires_at, sessions.Limits.current()
        )
        if refusal is not None:
            return _fail(session, refusal, progress.frames_processed, patient, api_key, request_id)
        session.lease_token = secrets.token_hex(16)
        session.lease_until = moment + timedelta(seconds=lease_seconds())
        session.save(update_fields=["lease_token", "lease_until"])
        return Claim(
            session.pk, session.session_id, session.lease_token, progress.frames_processed, patient
        )


def _release(claim: Claim) -> None:
    PopSession.objects.filter(pk=claim.pk, lease_token=claim.token).update(
        lease_token="", lease_until=None
    )


def _fail(
    session: PopSession,
    error: str,
    frame_index: int,
    uuid: str,
    api_key: ApiKey | None,
    request_id: str,
) -> dict[str, Any]:
    """End the session as failed: a free usage event (``no_valid_vhs``, as a batch without a
    valid VHS records), no history, the pixels dropped.  Called inside a transaction."""
    settlement = service.settle(
        customer=session.customer,
        api_key=api_key,
        frames=[],
        call_type="session",
        endpoint=ENDPOINT,
        uuid=uuid,
        model_version=session.model_version,
        request_id=request_id,
    )
    _finish(session, PopSession.Status.FAILED, error)
    return sessions.failed(
        session.session_id, frame_index, error, _progress(session), settlement.billing.as_response()
    )


def _finish(session: PopSession, status: str, error: str = "") -> None:
    session.status = status
    session.error = error
    session.finished_at = now()
    session.best_rectified = session.best_rendered = None
    session.lease_token, session.lease_until = "", None
    session.save()


@dataclass(frozen=True)
class Frame:
    """What measuring one frame gave: its result (None: unreadable) and its images."""

    result: FrameResult | None
    model_version: str = ""
    rectified_image: str | None = None
    rendered_image: str | None = None
    unreadable: str | None = None


def feedback(frame: Frame) -> tuple[str, str] | None:
    """``(class, sentence)`` for the person holding the phone, from what the frame showed."""
    if frame.result is None:
        return sessions.UNREADABLE_FEEDBACK
    return feedback_for(frame.result.result_code, frame.result.pop_detected, frame.result.quality)


def _apply(claim: Claim, frame: Frame, api_key: ApiKey | None, request_id: str) -> dict[str, Any]:
    """Count the claimed frame, settle the session if it ended, answer (see the module)."""
    limits = sessions.Limits.current()
    with transaction.atomic():
        session = PopSession.objects.select_for_update().get(pk=claim.pk)
        if session.lease_token != claim.token:
            raise SessionBusy()  # the lease ran out and another frame took the session
        step = sessions.step(_progress(session), frame.result, limits)
        session.frames_processed = step.progress.frames_processed
        session.good_frames = step.progress.good_frames
        session.consecutive_failures = step.progress.consecutive_failures
        session.frame_codes = [*session.frame_codes, _code(frame)]
        if not session.uuid_fixed:
            session.uuid, session.uuid_fixed = claim.uuid, True
        if frame.model_version:
            session.model_version = frame.model_version
        if step.good:
            _keep_good_frame(session, claim.frame_index, frame)
        if step.outcome == "complete":
            return _complete(session, claim, api_key, request_id)
        if step.outcome == "failed":
            return _fail(session, step.error, claim.frame_index, claim.uuid, api_key, request_id)
        session.status = PopSession.Status.CONTINUE
        session.lease_token, session.lease_until = "", None
        session.save()
    return sessions.continuing(
        session.session_id,
        claim.frame_index,
        step.progress,
        limits,
        frame.result,
        frame.model_version or session.model_version,
        feedback(frame),
        frame.unreadable,
    )


def _code(frame: Frame) -> int | None:
    return frame.result.result_code if frame.result is not None else None


def _keep_good_frame(session: PopSession, frame_index: int, frame: Frame) -> None:
    """Add the frame to the good ones; keep its images when it is now the best."""
    assert frame.result is not None
    session.good_results = [
        *session.good_results,
        {**dataclasses.asdict(frame.result), "frame_index": frame_index},
    ]
    best = sessions.best_of(sessions.frames_from_json(session.good_results))
    if best is not None and session.good_results[best]["frame_index"] == frame_index:
        session.best_frame_index = frame_index
        session.best_rectified = _bytes(frame.rectified_image)
        session.best_rendered = _bytes(frame.rendered_image)


def _complete(
    session: PopSession, claim: Claim, api_key: ApiKey | None, request_id: str
) -> dict[str, Any]:
    """Bill the session once at the session rate and store its measurement (``settle``)."""
    good = sessions.frames_from_json(session.good_results)
    best = sessions.best_of(good)
    assert best is not None
    settlement = service.settle(
        customer=session.customer,
        api_key=api_key,
        frames=good,
        call_type="session",
        endpoint=ENDPOINT,
        uuid=claim.uuid,
        model_version=session.model_version,
        request_id=request_id,
    )
    rectified, rendered = _text(session.best_rectified), _text(session.best_rendered)
    _finish(session, PopSession.Status.COMPLETE)
    return sessions.completed(
        session.session_id,
        claim.frame_index,
        good[best],
        session.good_results[best]["frame_index"],
        session.model_version,
        rectified,
        rendered,
        settlement.history,
        settlement.billing.as_response(),
        settlement.measurement_id,
    )


def _bytes(image: str | None) -> bytes | None:
    return base64.b64decode(image) if image else None


def _text(data: bytes | memoryview | None) -> str | None:
    return base64.b64encode(bytes(data)).decode("ascii") if data else None


async def _measure(image: Any) -> Frame:
    """The frame through the workers, as ``/v3/predict`` measures an image; a frame that
    cannot be read is a ``Frame`` without a result (it counts as a failure)."""
    try:
        checked = await acheck_base64(image)
    except ImageRejected as exc:
        return Frame(None, unreadable=ENVELOPE.adapt(classify(exc)).message)
    as_sent = base64.b64encode(checked.data or b"").decode("ascii")
    measured = (await service.measure([checked], render=True, rectified=True))[0]
    rectified = measured.rectified_image
    if rectified is None and not measured.frame.pop_detected:
        # A direct radiograph needs no rectifying: what was measured is the frame as sent.
        rectified = as_sent
    return Frame(measured.frame, measured.model_version, rectified, measured.rendered_image)


async def _claim_waiting(
    customer: Customer, api_key: ApiKey | None, session_id: str, uuid: str, request_id: str
) -> Claim | dict[str, Any]:
    """Claim the session, waiting (asleep, with backoff) while another frame holds it."""
    give_up = time.monotonic() + float(settings.REQUEST_TIMEOUT_SECONDS)
    delay = 0.02
    while True:
        claim = await sync_to_async(_claim)(customer, api_key, session_id, uuid, request_id)
        if claim is not _BUSY:
            return claim  # type: ignore[return-value]
        if time.monotonic() + delay > give_up:
            raise SessionBusy()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)


async def process_frame(
    *,
    customer: Customer,
    api_key: ApiKey | None,
    session_id: str,
    image: Any,
    uuid: str = "",
    request_id: str = "",
) -> dict[str, Any]:
    """One frame of a session: its ``continue``, ``complete`` or ``failed`` answer.

    Raises ``SessionNotFound`` (404), ``SessionFinished`` (409), ``UuidChanged`` (400),
    ``SessionBusy`` (409), or the platform's inference errors (503, 504: not counted).
    """
    claim = await _claim_waiting(customer, api_key, session_id, uuid, request_id)
    if isinstance(claim, dict):
        return service.as_json(claim)
    try:
        frame = await _measure(image)
        body = await sync_to_async(_apply)(claim, frame, api_key, request_id)
    except BaseException:
        await sync_to_async(_release)(claim)
        raise
    return service.as_json(body)
