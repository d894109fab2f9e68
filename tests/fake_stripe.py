"""A local HTTP server that plays Stripe's meter-event API for the outbox tests.

The Stripe SDK is pointed at it (``STRIPE_API_BASE``); no request leaves the machine.  It
records every request, can fail the next N with a 500, and behaves like Stripe on retries:
a reused ``Idempotency-Key`` gets the first response again, and one identifier is one event.

For reconciliation it also answers ``GET /v1/billing/meters`` and a meter's
``event_summaries``: each event name it has received is a meter that sums its events'
values, as the platform's meters are configured (billing docs).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakeStripe:
    def __init__(self, port: int = 0) -> None:
        """``port``: a fixed one, for a test that has Stripe refuse connections there first."""
        self.requests: list[dict] = []
        self.events: dict[str, dict] = {}  # identifier -> meter event
        self.meters: dict[str, str] = {}  # event name -> meter id
        self.fail_next = 0
        self._responses: dict[str, dict] = {}  # idempotency key -> first response
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeStripe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, path: str, headers: dict, body: str) -> tuple[int, dict]:
        form = {key: values[0] for key, values in parse_qs(body).items()}
        with self._lock:
            self.requests.append({"path": path, "headers": headers, "form": form})
            if self.fail_next > 0:
                self.fail_next -= 1
                return 500, {
                    "error": {"type": "api_error", "message": "Stripe is having a bad day"}
                }
            key = headers.get("Idempotency-Key")
            if key in self._responses:
                return 200, self._responses[key]
            if path != "/v1/billing/meter_events":
                return 404, {"error": {"type": "invalid_request_error", "message": "no route"}}
            event = {
                "object": "billing.meter_event",
                "event_name": form["event_name"],
                "identifier": form["identifier"],
                "payload": {
                    "stripe_customer_id": form["payload[stripe_customer_id]"],
                    "value": form["payload[value]"],
                },
                "timestamp": int(form["timestamp"]),
                "created": int(form["timestamp"]),
                "livemode": False,
            }
            self.events.setdefault(form["identifier"], event)
            self.meters.setdefault(form["event_name"], f"mtr_fake_{len(self.meters) + 1}")
            if key:
                self._responses[key] = event
            return 200, event

    def _get(self, url: str) -> tuple[int, dict]:
        parts = urlsplit(url)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append({"path": parts.path, "query": query})
            if parts.path == "/v1/billing/meters":
                meters = [
                    {
                        "id": meter_id,
                        "object": "billing.meter",
                        "event_name": name,
                        "default_aggregation": {"formula": "sum"},
                        "status": "active",
                    }
                    for name, meter_id in self.meters.items()
                ]
                return 200, _page(meters, parts.path)
            for name, meter_id in self.meters.items():
                if parts.path == f"/v1/billing/meters/{meter_id}/event_summaries":
                    return 200, _page([self._summary(name, meter_id, query)], parts.path)
        return 404, {"error": {"type": "invalid_request_error", "message": "no route"}}

    def _summary(self, name: str, meter_id: str, query: dict[str, str]) -> dict:
        """A meter's sum over one customer's events in [start_time, end_time)."""
        start, end = int(query["start_time"]), int(query["end_time"])
        total = sum(
            float(event["payload"]["value"])
            for event in self.events.values()
            if event["event_name"] == name
            and event["payload"]["stripe_customer_id"] == query["customer"]
            and start <= event["timestamp"] < end
        )
        return {
            "id": f"mtrusg_{meter_id}_{start}",
            "object": "billing.meter_event_summary",
            "aggregated_value": total,
            "start_time": start,
            "end_time": end,
            "meter": meter_id,
            "livemode": False,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(*fake._get(self.path))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                self._answer(*fake._handle(self.path, dict(self.headers), body))

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _page(data: list[dict], url: str) -> dict:
    """One page of a Stripe list: everything, with no more to fetch."""
    return {"object": "list", "data": data, "has_more": False, "url": url}
