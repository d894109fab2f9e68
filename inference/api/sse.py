"""Server-Sent Events, as the WHATWG HTML standard frames them (``text/event-stream``).

Each event is ``event: <name>`` and one ``data:`` line of compact JSON, ended by a blank
line; a line starting with ``:`` is a comment, which clients ignore and which keeps proxies
and load balancers from closing a connection that is idle while a long image computes.
"""

from __future__ import annotations

import json
from typing import Any

CONTENT_TYPE = "text/event-stream; charset=utf-8"
#: Response headers of a stream: never cached, never buffered by a proxy (nginx honours
#: ``X-Accel-Buffering``), so each event reaches the client when it is sent.
HEADERS = (
    (b"content-type", CONTENT_TYPE.encode()),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)
KEEP_ALIVE = b": keep-alive\n\n"


def event(name: str, data: Any) -> bytes:
    """One event; the JSON is compact, so it is one ``data:`` line however it nests."""
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return f"event: {name}\ndata: {payload}\n\n".encode()


def parse(text: str) -> list[tuple[str, Any]]:
    """The ``(name, data)`` of each event in ``text`` (comments skipped): what a client
    reads, used by tests and the example clients."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events
