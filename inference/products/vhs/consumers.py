"""The PoP capture session's WebSocket: ``ws/vhs/v3/pop-session/<session_id>``.

A live-capture client sends frames, ``{"image": "<base64>", "uuid": "patient-123"}``, and
receives for each the same ``continue`` / ``complete`` / ``failed`` document that
``POST /v3/pop-session`` answers (``session_service.process_frame`` makes both).  After
``complete`` or ``failed`` the server closes the socket (1000).

**Authentication**, checked once at connection:

* ``x-api-key`` header: server-side clients;
* ``?ticket=``: a browser cannot send headers on a WebSocket handshake, and a key in the
  URL would land in access logs; ``POST /v3/pop-session/ticket`` (with the key, or the staff
  web page through ``session_tickets.issue_ticket``) returns a 60-second, single-use ticket
  for one session, so a URL in a log holds nothing usable.

The handshake is accepted before a refusal so that the client sees the close code (a
refused handshake is only an HTTP 403 to a browser):

====== =================================================================================
code   meaning
====== =================================================================================
1000   the session ended (after its ``complete`` or ``failed`` message)
4400   a message that is not a JSON object (sent as text)
4401   no key or ticket, or an invalid, expired or already used one
4404   no such session, or another customer's
4409   the session is already complete or failed
4429   this address sent too many wrong keys (``API_KEY_FAILURE_RATE``); retry later
====== =================================================================================

A frame the server refuses without ending the session (a missing ``image``, a uuid other
than the session's, models not loaded, busy) is answered ``{"error": ..., "status": <the
HTTP status the same frame would get>}`` and the socket stays open.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework.exceptions import ValidationError

from accounts.authentication import API_KEY_HEADER, find_api_key
from accounts.throttling import API_KEY_FAILURES, FailureThrottle, scope_ident
from inference.api.consumers import WITHOUT_CHANNEL_LAYER
from inference.api.errors import classify
from inference.products.vhs import session_service, session_tickets
from inference.products.vhs.errors import ENVELOPE
from inference.products.vhs.session_serializers import SocketFrameSerializer

ENDED = 1000
BAD_MESSAGE = 4400
UNAUTHENTICATED = 4401
NOT_FOUND = 4404
FINISHED = 4409
TOO_MANY_FAILURES = 4429
#: Session errors after which the socket cannot be used again.
CLOSING_ERRORS = (
    (session_service.SessionNotFound, NOT_FOUND),
    (session_service.SessionFinished, FINISHED),
)


#: ``_authenticate``'s answer for an address that spent its wrong-key allowance.
THROTTLED = "throttled"


def _authenticate(scope: dict[str, Any], session_id: str) -> tuple[Any, Any] | str | None:
    """(customer, api key or None) for the connection, from its key or its ticket; None when
    refused, ``THROTTLED`` when the address is throttled."""
    headers = dict(scope.get("headers") or [])
    raw_key = headers.get(API_KEY_HEADER.encode("latin-1"))
    if raw_key:
        # Wrong keys count against the address as on the HTTP endpoints (accounts.throttling).
        failures = FailureThrottle(API_KEY_FAILURES, scope_ident(scope))
        if failures.blocked():
            return THROTTLED
        api_key = find_api_key(raw_key.decode("latin-1"))
        if api_key is None:
            failures.record_failure()
            return None
        api_key.touch()
        return api_key.customer, api_key
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    ticket = (query.get("ticket") or [""])[0]
    return session_tickets.redeem_ticket(ticket, session_id)


def _session_check(customer: Any, session_id: str) -> int | None:
    """The close code for a session this connection cannot use, or None."""
    try:
        session_service.open_session(customer, session_id)
    except session_service.SessionNotFound:
        return NOT_FOUND
    except session_service.SessionFinished:
        return FINISHED
    return None


class PopSessionConsumer(AsyncJsonWebsocketConsumer):
    channel_layer_alias = WITHOUT_CHANNEL_LAYER

    async def connect(self) -> None:
        self.session_id = self.scope["url_route"]["kwargs"]["session_id"]
        caller = await sync_to_async(_authenticate)(self.scope, self.session_id)
        await self.accept()
        if caller is None or caller == THROTTLED:
            await self.close(code=UNAUTHENTICATED if caller is None else TOO_MANY_FAILURES)
            return
        self.customer, self.api_key = caller
        refusal = await sync_to_async(_session_check)(self.customer, self.session_id)
        if refusal is not None:
            await self.close(code=refusal)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            content = json.loads(text_data) if text_data is not None else None
        except ValueError:
            content = None
        if not isinstance(content, dict):
            await self.send_json({"error": "A frame must be a JSON object", "status": 400})
            await self.close(code=BAD_MESSAGE)
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        try:
            frame = SocketFrameSerializer(data=content)
            if not frame.is_valid():
                raise ValidationError(frame.errors)
            body = await session_service.process_frame(
                customer=self.customer,
                api_key=self.api_key,
                session_id=self.session_id,
                image=frame.validated_data["image"],
                uuid=frame.validated_data["uuid"],
            )
        except Exception as exc:  # answered as the HTTP endpoint would, in the envelope
            error = ENVELOPE.adapt(classify(exc))
            await self.send_json({"error": error.message, "status": error.status})
            for kind, code in CLOSING_ERRORS:
                if isinstance(exc, kind):
                    await self.close(code=code)
            return
        await self.send_json(body)
        if body["session_status"] in ("complete", "failed"):
            await self.close(code=ENDED)
