"""Single-use tickets that open a PoP session's WebSocket from a browser.

A browser cannot send ``x-api-key`` on a WebSocket handshake, and a key in the URL would land
in access logs.  ``POST /v3/pop-session/ticket`` (with the key) or the staff web page (with
the staff user's customer) gets a ticket for one session; the WebSocket URL carries it as
``?ticket=``.  Only its SHA-256 is stored, like an API key's; it lives ``TICKET_SECONDS`` and
the first connection that shows it spends it, so a logged URL holds nothing usable.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from accounts.models import ApiKey, Customer
from inference.products.vhs import session_service
from inference.products.vhs.models import PopSessionTicket

TICKET_SECONDS = 60


def _ticket_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_ticket(customer: Customer, api_key: ApiKey | None, session_id: str) -> dict[str, Any]:
    """A single-use, 60-second ticket for the session's WebSocket; only its hash is kept.

    The staff web page (issue 19) calls this with the staff user's customer and no key.
    """
    session = session_service.open_session(customer, session_id)
    moment = session_service.now()
    PopSessionTicket.objects.filter(expires_at__lte=moment).delete()
    raw = secrets.token_urlsafe(32)
    PopSessionTicket.objects.create(
        session=session,
        api_key=api_key,
        ticket_hash=_ticket_hash(raw),
        created_at=moment,
        expires_at=moment + timedelta(seconds=TICKET_SECONDS),
    )
    return {"ticket": raw, "expires_in": TICKET_SECONDS}


def redeem_ticket(raw: str, session_id: str) -> tuple[Customer, ApiKey | None] | None:
    """Who a ticket speaks for, spending it; None when it is unknown, spent, expired, for
    another session, or its key was revoked since."""
    if not raw or len(raw) > 256:
        return None
    digest = _ticket_hash(raw)
    moment = session_service.now()
    live = PopSessionTicket.objects.filter(
        ticket_hash=digest,
        used_at__isnull=True,
        expires_at__gt=moment,
        session__session_id=session_id,
    )
    if live.update(used_at=moment) != 1:  # one UPDATE: two connections cannot both spend it
        return None
    ticket = PopSessionTicket.objects.select_related("session__customer", "api_key").get(
        ticket_hash=digest
    )
    customer = ticket.session.customer
    if not customer.is_active or (ticket.api_key is not None and not ticket.api_key.is_live):
        return None
    return customer, ticket.api_key
