"""Tenant isolation: a second customer's key tried with the first customer's ids on every
endpoint that takes one.  Each answers a 404 (or an empty history) in the VHS envelope, and
nothing of the first customer's is returned, changed or billed; each case also runs with the
owner's key, so a refusal cannot come from a malformed request.

The chest X-ray API's ids are server-side paths: with ``{customer}`` in ``CXR_INPUT_ROOTS``
and ``CXR_OUTPUT_ROOTS`` a customer's user can name neither another customer's study nor its
output folder (400, the seed's invalid-path message).  Its study records are served back only
in admin, as usage is (staff-only: test_security_access).  Endpoints holding no per-customer
data (leukemia, health, corners/rectify/preprocess) have no ids to try.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from accounts.models import ApiKey, Customer, Membership
from billing.idempotency import fingerprint
from billing.models import IdempotentRequest, UsageEvent
from config.routing import websocket_urlpatterns
from inference.phantoms.cxr import draw_study, save_dicom
from inference.phantoms.vhs import draw_radiograph
from inference.products.vhs.models import Correction, Measurement, PopSession

pytestmark = pytest.mark.django_db

NOT_FOUND = 4404
UNAUTHENTICATED = 4401


@dataclass
class World:
    owner_key: str
    other_key: str
    owner: Customer
    other: Customer
    image: str
    measurement_id: int
    prediction: list
    session_id: str


def png(image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture(scope="module")
def dog_png() -> str:
    return png(draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False).image)


def call(client, key, path, body=None, method="post", **headers):
    headers = {"x-api-key": key, **headers}
    if method == "get":
        return client.get(path, headers=headers)
    data = body if isinstance(body, str) else json.dumps(body or {})
    return client.post(path, data, content_type="application/json", headers=headers)


@pytest.fixture
def world(client, dog_png) -> World:
    owner, other = Customer.objects.create(name="Owner"), Customer.objects.create(name="Other")
    owner_key, other_key = ApiKey.issue(owner)[1], ApiKey.issue(other)[1]
    measured = call(
        client, owner_key, "/vhs/v3/predict", {"image": dog_png, "uuid": "rex"},
        **{"Idempotency-Key": "retry-1"},
    ).json()  # fmt: skip
    assert measured["result_code"] in (1, 2, 3)
    session_id = call(client, owner_key, "/vhs/v3/pop-session/start").json()["session_id"]
    return World(
        owner_key, other_key, owner, other, dog_png,
        measured["measurement_id"], measured["prediction"], session_id,
    )  # fmt: skip


def assert_not_found(response):
    assert response.status_code == 404
    assert set(response.json()) == {"error"}


def owner_untouched(world):
    assert Correction.objects.count() == 0
    assert Measurement.objects.filter(patient__customer=world.owner).count() == 1
    session = PopSession.objects.get(session_id=world.session_id)
    assert session.frames_processed == 0
    assert not UsageEvent.objects.filter(customer=world.other, billable=True).exists()


def test_the_history_of_a_patient_is_per_customer(client, world):
    path = "/vhs/v3/measurements?uuid=rex"

    theirs = call(client, world.other_key, path, method="get")

    assert theirs.status_code == 200
    assert theirs.json() == {"uuid": "rex", "measurements": []}
    mine = call(client, world.owner_key, path, method="get").json()
    assert [m["measurement_id"] for m in mine["measurements"]] == [world.measurement_id]


def test_a_predict_with_the_same_uuid_sees_no_other_history_and_is_no_recheck(client, world):
    body = call(
        client, world.other_key, "/vhs/v3/predict", {"image": world.image, "uuid": "rex"}
    ).json()

    assert body["historic_vhs"] == []
    assert body["historic_vlas"] == []
    assert body["billing"]["billable"] is True  # another customer's patient: no free recheck
    assert body["measurement_id"] != world.measurement_id


def test_another_customers_measurement_cannot_be_corrected(client, world):
    body = {"measurement_id": world.measurement_id, "landmarks": world.prediction}

    assert_not_found(call(client, world.other_key, "/vhs/v3/corrections", body))
    owner_untouched(world)
    assert call(client, world.owner_key, "/vhs/v3/corrections", body).status_code == 201


def test_another_customers_measurement_gets_no_report(client, world):
    body = {"measurement_id": world.measurement_id, "clinic": "Sneaky vets"}

    assert_not_found(call(client, world.other_key, "/vhs/v3/report", body))
    mine = call(client, world.owner_key, "/vhs/v3/report", body)
    assert mine.status_code == 200
    assert mine["Content-Type"] == "application/pdf"


def test_another_customers_pop_session_takes_no_frame(client, world):
    body = {"session_id": world.session_id, "image": world.image, "uuid": "rex"}

    assert_not_found(call(client, world.other_key, "/vhs/v3/pop-session", body))
    owner_untouched(world)


def test_another_customers_pop_session_gets_no_ticket(client, world):
    body = {"session_id": world.session_id}

    assert_not_found(call(client, world.other_key, "/vhs/v3/pop-session/ticket", body))
    assert "ticket" in call(client, world.owner_key, "/vhs/v3/pop-session/ticket", body).json()


def test_an_idempotency_key_of_another_customer_replays_nothing_of_theirs(client, world):
    """The same key and the same body: the second customer's call is its own."""
    body = {"image": world.image, "uuid": "rex"}
    headers = {"Idempotency-Key": "retry-1"}

    theirs = call(client, world.other_key, "/vhs/v3/predict", body, **headers).json()
    replay = call(client, world.owner_key, "/vhs/v3/predict", body, **headers).json()

    assert theirs["measurement_id"] != world.measurement_id
    assert theirs["historic_vhs"] == []
    assert replay["measurement_id"] == world.measurement_id  # the owner's key still replays
    assert IdempotentRequest.objects.filter(key="retry-1").count() == 2


def test_a_stored_pop_frame_answer_is_replayed_to_its_customer_only(client, world):
    path = "/vhs/v3/pop-session"
    body = json.dumps({"session_id": world.session_id, "image": world.image, "uuid": "rex"})
    IdempotentRequest.objects.create(
        customer=world.owner, key="frame-1", endpoint=path,
        request_hash=fingerprint(path, body.encode()), status_code=200,
        response_body=json.dumps({"owner": "only"}),
    )  # fmt: skip
    headers = {"Idempotency-Key": "frame-1"}

    assert_not_found(call(client, world.other_key, path, body, **headers))
    assert call(client, world.owner_key, path, body, **headers).json() == {"owner": "only"}


# --- the PoP session's WebSocket --------------------------------------------------------------

APPLICATION = URLRouter(websocket_urlpatterns)


def close_code(path: str, headers: list) -> int | None:
    async def run():
        communicator = WebsocketCommunicator(APPLICATION, path, headers=headers)
        await communicator.connect()
        output = await communicator.receive_output(timeout=10)
        await communicator.disconnect()
        return output.get("code") if output["type"] == "websocket.close" else None

    return async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_another_customers_key_cannot_open_the_sessions_socket(client, world):
    path = f"/ws/vhs/v3/pop-session/{world.session_id}"

    assert close_code(path, [(b"x-api-key", world.other_key.encode())]) == NOT_FOUND


@pytest.mark.django_db(transaction=True)
def test_a_ticket_for_ones_own_session_opens_no_other(client, world):
    own = call(client, world.other_key, "/vhs/v3/pop-session/start").json()["session_id"]
    ticket = call(
        client, world.other_key, "/vhs/v3/pop-session/ticket", {"session_id": own}
    ).json()["ticket"]

    code = close_code(f"/ws/vhs/v3/pop-session/{world.session_id}?ticket={ticket}", [])

    assert code == UNAUTHENTICATED


# --- chest X-ray studies: server-side paths inside each customer's own roots ------------------


@pytest.fixture
def cxr_roots(settings, tmp_path):
    settings.CXR_INPUT_ROOTS = f"{tmp_path}/{{customer}}/input"
    settings.CXR_OUTPUT_ROOTS = f"{tmp_path}/{{customer}}/output"
    return tmp_path


def jwt_for(client, customer: Customer, username: str) -> str:
    user = get_user_model().objects.create_user(username, password="pw-of-" + username)
    Membership.objects.create(user=user, customer=customer)
    response = client.post(
        "/auth/token/", {"username": username, "password": "pw-of-" + username}, "application/json"
    )
    return response.json()["access"]


def cxr(client, token, **body):
    return client.post(
        "/cxr/single_inference", {"save_to_disk": False, **body},
        content_type="application/json", headers={"Authorization": token},
    )  # fmt: skip


def test_another_customers_study_and_output_folder_cannot_be_named(client, world, cxr_roots):
    study = cxr_roots / str(world.owner.pk) / "input" / "patient001.dcm"
    study.parent.mkdir(parents=True)
    save_dicom(draw_study(seed=5, findings=["Cardiomegaly"]), study)
    owner_output = cxr_roots / str(world.owner.pk) / "output"
    theirs, mine = jwt_for(client, world.other, "intruder"), jwt_for(client, world.owner, "own")

    read = cxr(client, theirs, input_image_path=str(study))
    own_study = cxr_roots / str(world.other.pk) / "input" / "mine.dcm"
    own_study.parent.mkdir(parents=True)
    own_study.write_bytes(study.read_bytes())
    write = cxr(
        client, theirs, input_image_path=str(own_study),
        save_to_disk=True, output_folder_path=str(owner_output),
    )  # fmt: skip

    for response, field in ((read, "input_image_path"), (write, "output_folder_path")):
        assert response.status_code == 400
        body = response.json()
        assert (body["Result"], body["Data"]) == ("Failure", None)
        assert body["Message"].startswith(f"Invalid path {field}:")
        assert "outside the allowed folders" in body["Message"]
    assert not owner_output.exists()
    answer = cxr(client, mine, input_image_path=str(study))
    assert answer.status_code == 200
    assert answer.json()["Data"]["metadata"]["patient_id"]
