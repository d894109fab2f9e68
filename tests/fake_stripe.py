"""A local HTTP server that plays Stripe's meter-event API for the outbox tests.

The Stripe SDK is pointed at it (``STRIPE_API_BASE``); no request leaves the machine.  It
records every request, can fail the next N with a 500, and behaves like Stripe on retries:
a reused ``Idempotency-Key`` gets the first response again, and one identifier is one event.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakeStripe:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.events: dict[str, dict] = {}  # identifier -> meter event
        self.fail_next = 0
        self._responses: dict[str, dict] = {}  # idempotency key -> first response
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
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
            if key:
                self._responses[key] = event
            return 200, event

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                status, payload = fake._handle(self.path, dict(self.headers), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
