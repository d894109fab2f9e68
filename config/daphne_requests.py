"""daphne's HTTP requests, without Twisted parsing form bodies that nobody reads.

Twisted's ``http.Request`` parses every POSTed ``multipart/form-data`` and
``application/x-www-form-urlencoded`` body into ``request.args`` before daphne sees the
request.  daphne never reads ``args`` (Django parses the body itself), so that work is
wasted, a second in-memory copy of every upload, and worse: when Twisted's own parser fails
(a multipart body with no boundary, a boundary that is not ASCII, a truncated part) it
writes a bare ``HTTP/1.1 400 Bad Request`` and drops the connection.  No ASGI application
runs, so the client gets no envelope, no ``X-Request-ID``, and no request is logged; a
JSON-only endpoint cannot even say 415.

Twisted can be told not to (``parsePOSTFormSubmission=False``, Twisted 24.7 and later), but
daphne builds its requests itself (``daphne.http_protocol.HTTPFactory.buildProtocol`` names
``WebRequest``), so the request class it uses is replaced by one that asks for that.  Then
every body reaches Django, and the view's parser answers in the product's envelope.
"""

from __future__ import annotations

from typing import Any

from daphne import http_protocol


class UnparsedFormRequest(http_protocol.WebRequest):
    """daphne's request, leaving form bodies to Django."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parsePOSTFormSubmission", False)
        super().__init__(*args, **kwargs)


def leave_form_bodies_to_django() -> None:
    """Make daphne build ``UnparsedFormRequest``s (idempotent; called by ``config.asgi``)."""
    http_protocol.WebRequest = UnparsedFormRequest
