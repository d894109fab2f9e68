"""The PoP capture session's WebSocket (ws/vhs/v3/pop-session/<session_id>): the same answers
as the HTTP frames, authenticated by x-api-key or a single-use ticket, with documented close
codes; and once through a real daphne."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from datetime import timedelta
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from accounts.models import ApiKey, Customer
from billing.models import UsageEvent
from config.routing import websocket_urlpatterns
from inference.phantoms.vhs import draw_radiograph
from inference.products.vhs import session_service
from inference.products.vhs.models import PopSession
from tests.servers import platform_env, start_daphne
from tests.test_vhs_sessions import FAKE, b64

# Channels closes the thread's old database connections around each consumer event, which
# would end a test's wrapping transaction: these tests commit, and the tables are flushed.
pytestmark = pytest.mark.django_db(transaction=True)

APPLICATION = URLRouter(websocket_urlpatterns)


@pytest.fixture(scope="module")
def good_frame() -> str:
    return b64(draw_radiograph(seed=604, atrial_infiltrate=False).image)


@pytest.fixture
def customer() -> Customer:
    return Customer.objects.create(name="Vet practice")


@pytest.fixture
def key(customer) -> str:
    return ApiKey.issue(customer)[1]


@pytest.fixture
def session_id(client, key) -> str:
    return client.post(
        "/vhs/v3/pop-session/start", {}, content_type="application/json", headers={"x-api-key": key}
    ).json()["session_id"]


def ticket_for(client, key: str, session_id: str) -> str:
    return client.post(
        "/vhs/v3/pop-session/ticket",
        {"session_id": session_id},
        content_type="application/json",
        headers={"x-api-key": key},
    ).json()["ticket"]


def converse(path: str, messages: list, headers: list | None = None) -> tuple[bool, list, int]:
    """Connect, send each message (a dict as JSON, a str as is), and collect the answers until
    the server closes: (accepted, answers, close code; None while still open)."""

    async def run():
        communicator = WebsocketCommunicator(APPLICATION, path, headers=headers or [])
        connected, _ = await communicator.connect()
        answers, code = [], None
        for message in messages:
            if isinstance(message, dict):
                await communicator.send_json_to(message)
            else:
                await communicator.send_to(text_data=message)
            output = await communicator.receive_output(timeout=30)
            if output["type"] == "websocket.close":
                code = output.get("code")
                break
            answers.append(json.loads(output["text"]))
        if code is None:
            # A refused connection closes at once; an open one stays silent.
            if not await communicator.receive_nothing(timeout=0.3 if messages else 5):
                output = await communicator.receive_output()
                code = output.get("code") if output["type"] == "websocket.close" else None
            else:
                await communicator.disconnect()
        return connected, answers, code

    return async_to_sync(run)()


def keyed(key: str) -> list:
    return [(b"x-api-key", key.encode())]


def path_of(session_id: str, query: str = "") -> str:
    return f"/ws/vhs/v3/pop-session/{session_id}" + (f"?{query}" if query else "")


def test_a_server_side_client_with_its_key_runs_a_session_to_complete(session_id, key, good_frame):
    frame = {"image": good_frame, "uuid": "rex"}

    connected, answers, code = converse(path_of(session_id), [frame] * 3, keyed(key))

    assert connected
    assert [a["session_status"] for a in answers] == ["continue", "continue", "complete"]
    assert answers[0]["reason"] == "1/3 good frames so far, need more"
    assert answers[2]["billing"]["call_type"] == "session"
    assert answers[2]["prediction"]["result_code"] == 1
    assert code == 1000  # the session ended
    event = UsageEvent.objects.get()
    assert (event.billable, event.patient_uuid, event.endpoint) == (
        True,
        "rex",
        "/vhs/v3/pop-session",
    )


def test_http_and_socket_frames_count_in_one_session(client, session_id, key):
    client.post(
        "/vhs/v3/pop-session",
        {"image": FAKE, "session_id": session_id},
        content_type="application/json",
        headers={"x-api-key": key},
    )

    _, answers, code = converse(path_of(session_id), [{"image": FAKE}], keyed(key))

    assert answers[0]["frame_index"] == 1
    assert code is None  # still open: the session goes on


def test_a_browser_ticket_opens_one_connection_once(client, session_id, key):
    ticket = ticket_for(client, key, session_id)

    first = converse(path_of(session_id, f"ticket={ticket}"), [{"image": FAKE}])
    again = converse(path_of(session_id, f"ticket={ticket}"), [])

    assert first[1][0]["session_status"] == "continue"
    assert again[2] == 4401


def test_a_ticket_expires_after_60_seconds(client, session_id, key):
    ticket = ticket_for(client, key, session_id)
    issued = PopSession.objects.get(session_id=session_id).tickets.get().created_at

    with mock.patch.object(session_service, "now", return_value=issued + timedelta(seconds=60)):
        _, _, code = converse(path_of(session_id, f"ticket={ticket}"), [])

    assert code == 4401


def test_a_ticket_opens_only_its_own_session(client, session_id, key):
    other_session = client.post(
        "/vhs/v3/pop-session/start", {}, content_type="application/json", headers={"x-api-key": key}
    ).json()["session_id"]
    ticket = ticket_for(client, key, session_id)

    assert converse(path_of(other_session, f"ticket={ticket}"), [])[2] == 4401
    assert converse(path_of(session_id, f"ticket={ticket}"), [{"image": FAKE}])[1]


@pytest.mark.parametrize(
    ("headers", "query"),
    [([], ""), ([(b"x-api-key", b"mia_not-a-key")], ""), ([], "ticket=made-up")],
    ids=["nothing", "bad key", "bad ticket"],
)
def test_unauthenticated_connections_are_closed_4401(session_id, headers, query):
    _, _, code = converse(path_of(session_id, query), [], headers)

    assert code == 4401


def test_unknown_and_other_customers_sessions_are_closed_4404(session_id):
    other_key = ApiKey.issue(Customer.objects.create(name="Other practice"))[1]

    assert converse(path_of("0123456789abcdef"), [], keyed(other_key))[2] == 4404
    assert converse(path_of(session_id), [], keyed(other_key))[2] == 4404


def test_a_finished_session_is_closed_4409(session_id, key):
    PopSession.objects.filter(session_id=session_id).update(status="failed")

    assert converse(path_of(session_id), [], keyed(key))[2] == 4409


def test_an_invalid_frame_is_answered_and_the_socket_stays_open(session_id, key):
    _, answers, code = converse(
        path_of(session_id), [{"uuid": "rex"}, {"image": FAKE, "uuid": "rex"}], keyed(key)
    )

    assert answers[0] == {"error": "Missing required field: image", "status": 400}
    assert answers[1]["frame_index"] == 0
    assert code is None


def test_a_message_that_is_not_a_json_object_closes_4400(session_id, key):
    _, answers, code = converse(path_of(session_id), ["not json"], keyed(key))

    assert answers == [{"error": "A frame must be a JSON object", "status": 400}]
    assert code == 4400


def test_a_changed_uuid_is_refused_on_the_socket_too(session_id, key):
    _, answers, _ = converse(
        path_of(session_id),
        [{"image": FAKE, "uuid": "rex"}, {"image": FAKE, "uuid": "max"}],
        keyed(key),
    )

    assert answers[1]["status"] == 400
    assert answers[1]["error"].startswith("uuid does not match")


# --- through a real daphne ---------------------------------------------------------------------


class RawSocket:
    """Just enough of RFC 6455 for a test: a handshake, masked text frames, frames back."""

    def __init__(self, port: int, path: str, headers: dict[str, str]) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        nonce = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Origin: http://127.0.0.1",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {nonce}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(4096)
        self.status_line = response.split(b"\r\n", 1)[0].decode()
        self.buffer = response.split(b"\r\n\r\n", 1)[1]

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send(self, message: dict) -> None:
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x81, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def receive(self) -> tuple[int, bytes]:
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        return first & 0x0F, self._read(length)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.integration
def test_a_session_runs_to_complete_over_a_real_daphne_websocket(test_database_url, good_frame):
    key = ApiKey.issue(Customer.objects.create(name="Live capture clinic"))[1]
    daphne, base_url = start_daphne(platform_env(test_database_url, None))
    try:
        port = int(base_url.rsplit(":", 1)[1])
        import requests

        session_id = requests.post(
            f"{base_url}/vhs/v3/pop-session/start", json={}, headers={"x-api-key": key}, timeout=60
        ).json()["session_id"]
        ticket = requests.post(
            f"{base_url}/vhs/v3/pop-session/ticket",
            json={"session_id": session_id},
            headers={"x-api-key": key},
            timeout=60,
        ).json()["ticket"]
        ws = RawSocket(port, path_of(session_id, f"ticket={ticket}"), {})
        assert ws.status_line.startswith("HTTP/1.1 101"), ws.status_line
        statuses = []
        for _ in range(3):
            ws.send({"image": good_frame, "uuid": "patient-123"})
            opcode, payload = ws.receive()
            assert opcode == 0x1
            statuses.append(json.loads(payload)["session_status"])
        opcode, payload = ws.receive()
        ws.close()
    finally:
        daphne.stop()

    assert statuses == ["continue", "continue", "complete"]
    assert opcode == 0x8  # close
    assert struct.unpack("!H", payload[:2])[0] == 1000
    assert UsageEvent.objects.get(billable=True).patient_uuid == "patient-123"
