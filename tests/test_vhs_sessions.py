"""PoP capture sessions over HTTP (/vhs/v3/pop-session…): the seed's documents and every rule
docs/vhs.md decides (good frames, the chosen frame, failures, the frame budget, the TTL, the
patient, retries, concurrent frames, unknown and finished sessions).

Frames are real phantoms measured by the reference models, except where a rule needs many
frames of a known code: there ``service.measure`` is replaced by a list of results."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
import requests
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import ApiKey, Customer
from billing.models import UsageEvent
from inference.phantoms.vhs import draw_negative, draw_radiograph
from inference.products.vhs import service, session_service, sessions
from inference.products.vhs.analysis import FrameResult
from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.models import Measurement, PopSession, PopSessionTicket
from inference.products.vhs.pop.feedback import SENTENCES
from inference.runtime.errors import ModelsNotLoaded
from tests.servers import REPO_ROOT, platform_env, start_daphne

pytestmark = [pytest.mark.django_db, pytest.mark.schema_checked]

START = "/vhs/v3/pop-session/start"
FRAME = "/vhs/v3/pop-session"
TICKET = "/vhs/v3/pop-session/ticket"
DEFAULTS = sessions.Limits(
    max_frames=20, max_consecutive_failures=5, session_ttl_seconds=300, good_frames_needed=3
)


def b64(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.convert("RGB" if fmt == "JPEG" else image.mode).save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


#: Any readable frame, for the tests whose results come from ``worker_results``.
FAKE = b64(Image.new("L", (256, 256)))


@pytest.fixture(scope="module")
def frames() -> dict[str, str]:
    """Frames the reference models measure with known codes (tests/test_vhs_api.py)."""
    photo = next(image for image, kind in map(draw_negative, range(50)) if kind == "photo")
    return {
        "optimal": b64(draw_radiograph(seed=604, atrial_infiltrate=False).image),  # code 1
        "good": b64(draw_radiograph(seed=609, atrial_infiltrate=False).image),  # code 2
        "review": b64(draw_radiograph(seed=769, atrial_infiltrate=False).image),  # code 3
        "photo": b64(photo, "JPEG"),  # code 6
    }


@pytest.fixture
def customer() -> Customer:
    return Customer.objects.create(name="Vet practice")


@pytest.fixture
def key(customer) -> str:
    return ApiKey.issue(customer)[1]


class Api:
    def __init__(self, client: Client, key: str) -> None:
        self.client, self.key = client, key

    def post(self, path: str, body: dict | None = None, key: str | None = "", **headers):
        key = self.key if key == "" else key
        if key is not None:
            headers["x-api-key"] = key
        return self.client.post(
            path, body if body is not None else {}, content_type="application/json", headers=headers
        )

    def start(self) -> str:
        return self.post(START).json()["session_id"]

    def frame(self, session_id: str, image: str, uuid: str | None = "rex", **headers) -> dict:
        body = {"image": image, "session_id": session_id}
        if uuid is not None:
            body["uuid"] = uuid
        response = self.post(FRAME, body, **headers)
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def api(client, key) -> Api:
    return Api(client, key)


def result(code: int, spread: float | None = 0.003, **extra) -> FrameResult:
    """A worker's result of a given code (for rules that need many frames)."""
    measured = code in (1, 2, 3, 4)
    return FrameResult(
        result_code=code,
        classifier_confidence=0.9,
        landmarks=dict.fromkeys(LANDMARKS, (0.5, 0.5)) if measured else None,
        spread=spread if measured else None,
        vhs=10.0 if measured else None,
        vlas=2.0 if code in (1, 2, 3) else None,
        **extra,
    )


@pytest.fixture
def worker_results(monkeypatch):
    """``service.measure`` answering each frame with the next of the given results."""

    def install(*results: FrameResult) -> list[FrameResult]:
        queue = list(results)

        async def measure(images, *, render, rectified=False):
            for image in images:
                image.item()  # the bytes are sent, as the real measure sends them
            return [service.Measured(queue.pop(0), "cmVuZGVyZWQ=", "vhs-ref-phantom-3.0")]

        monkeypatch.setattr(service, "measure", measure)
        return queue

    return install


def at(seconds: float, started: PopSession):
    """The sessions' clock ``seconds`` after the session started."""
    return mock.patch.object(
        session_service, "now", return_value=started.created_at + timedelta(seconds=seconds)
    )


# --- start -----------------------------------------------------------------------------------


def test_start_answers_the_seeds_document_and_is_never_billed(api, customer):
    response = api.post(START)

    body = response.json()
    assert response.status_code == 200
    assert body["session_status"] == "ready"
    assert len(body["session_id"]) == 16
    assert int(body["session_id"], 16) >= 0
    assert body["session_config"] == {
        "max_frames": 20,
        "max_consecutive_failures": 5,
        "session_ttl_seconds": 300,
    }
    assert body["models_loaded"] == 5
    assert body["model_version"] == "vhs-ref-phantom-3.0"
    assert isinstance(body["pop_pipeline_enabled"], bool)
    assert body["pop_models_loaded"] >= 0
    session = PopSession.objects.get(session_id=body["session_id"])
    assert (session.customer, session.status) == (customer, "ready")
    assert session.expires_at - session.created_at == timedelta(seconds=300)
    assert not UsageEvent.objects.exists()


def test_start_reports_the_pop_pipeline_as_health_does(api, client, key):
    health = client.get("/vhs/v3/health", headers={"x-api-key": key}).json()

    body = api.post(START).json()

    for field in ("pop_pipeline_enabled", "models_loaded", "pop_models_loaded", "model_version"):
        assert body[field] == health[field]


def test_session_config_follows_the_settings(api, settings):
    settings.VHS_POP_SESSION_MAX_FRAMES = 8
    settings.VHS_POP_SESSION_TTL_SECONDS = 60

    body = api.post(START).json()

    assert body["session_config"]["max_frames"] == 8
    assert body["session_config"]["session_ttl_seconds"] == 60


def test_sessions_need_a_key(api):
    for path in (START, FRAME, TICKET):
        response = api.post(path, {"session_id": "x", "image": "x"}, key=None)
        assert response.status_code == 403
        assert response.json() == {"error": "Invalid API key"}


# --- a session with real frames ---------------------------------------------------------------


def test_three_good_frames_complete_the_session_billed_once_at_the_session_rate(api, frames):
    session_id = api.start()

    first = api.frame(session_id, frames["optimal"])
    rejected = api.frame(session_id, frames["photo"])
    second = api.frame(session_id, frames["good"])
    done = api.frame(session_id, frames["optimal"])

    assert first["session_status"] == "continue"
    assert first["reason"] == "1/3 good frames so far, need more"
    assert (first["frame_index"], first["frames_processed"], first["good_frames"]) == (0, 1, 1)
    assert first["result_code"] == 1
    assert first["frame_result"]["landmarks_detected"] is True
    assert first["frame_result"]["pop_detected"] is False
    assert first["model_version"] == "vhs-ref-phantom-3.0"
    assert "billing" not in first
    assert first["feedback"] is None  # a good frame: nothing to change
    assert (rejected["result_code"], rejected["good_frames"]) == (6, 1)
    assert rejected["feedback_class"] == "not_a_radiograph"
    assert rejected["feedback"] == SENTENCES["not_a_radiograph"]
    assert rejected["frame_result"] == {
        "vhs": None,
        "vlas": None,
        "spread": None,
        "model_confidence": "review",
        "landmarks_detected": False,
        "pop_detected": False,
    }
    assert second["reason"] == "2/3 good frames so far, need more"
    assert done["session_status"] == "complete"
    assert done["frame_index"] == 3
    assert done["billing"] == {
        "billable": True,
        "reason": "valid_vhs",
        "call_type": "session",
        "monthly_usage": 1,
        "tier": "paygo",
        "rate": 4.0,
    }
    prediction = done["prediction"]
    assert prediction["result_code"] == 1  # the chosen frame's own code, not the seed's 0
    assert prediction["model_confidence"] == "optimal"
    assert [p["class"] for p in prediction["prediction"]] == list(LANDMARKS)
    assert prediction["historic_vhs"] == []
    stored = Measurement.objects.get(pk=prediction["measurement_id"])  # correctable, printable
    assert (stored.vhs, stored.landmarks is not None) == (prediction["vhs"], True)
    rendered = Image.open(io.BytesIO(base64.b64decode(prediction["rendered_image"])))
    assert rendered.size == (Image.open(io.BytesIO(base64.b64decode(frames["optimal"])))).size
    # A direct radiograph needs no rectifying: the chosen frame comes back as it was sent.
    assert done["rectified_image"] == frames["optimal"]
    event = UsageEvent.objects.get()
    assert (event.endpoint, event.call_type, event.billable) == (
        "/vhs/v3/pop-session",
        "session",
        True,
    )
    assert (event.patient_uuid, event.result_code) == ("rex", 1)
    assert Measurement.objects.get(patient__uuid="rex").vhs == prediction["vhs"]
    session = PopSession.objects.get(session_id=session_id)
    assert session.status == "complete"
    assert session.frame_codes == [1, 6, 2, 1]
    assert (session.best_rectified, session.best_rendered) == (None, None)


def test_the_answer_is_the_good_frame_the_ensemble_agrees_on_most(api, frames):
    session_id = api.start()
    answers = [api.frame(session_id, frames[name]) for name in ("good", "optimal", "good")]

    done = answers[-1]
    spreads = [a["frame_result"]["spread"] for a in answers[:2]]
    assert done["prediction"]["frame_index"] == 1
    assert done["prediction"]["spread"] == min(spreads)
    assert done["prediction"]["vhs"] == answers[1]["frame_result"]["vhs"]
    assert done["rectified_image"] == frames["optimal"]


def test_a_code_3_frame_is_not_good(api, frames):
    session_id = api.start()

    body = api.frame(session_id, frames["review"])

    assert (body["result_code"], body["good_frames"]) == (3, 0)
    assert PopSession.objects.get(session_id=session_id).consecutive_failures == 0


def test_completion_is_a_recheck_within_24h_of_the_patients_billed_call(api, frames):
    first = api.start()
    for _ in range(3):
        done = api.frame(first, frames["optimal"], uuid="bella")
    second = api.start()
    for _ in range(3):
        again = api.frame(second, frames["optimal"], uuid="bella")

    today = timezone.now().date().isoformat()
    assert again["billing"] == {
        "billable": False,
        "reason": "recheck_24h",
        "monthly_usage": 1,
        "tier": "paygo",
    }
    assert again["prediction"]["historic_vhs"] == [[today, done["prediction"]["vhs"]]]
    assert Measurement.objects.filter(patient__uuid="bella").count() == 2


def test_without_a_uuid_nothing_is_stored_in_history(api, frames):
    session_id = api.start()
    for _ in range(3):
        done = api.frame(session_id, frames["optimal"], uuid=None)

    assert done["prediction"]["historic_vhs"] is None
    assert done["prediction"]["measurement_id"] is None
    assert not Measurement.objects.exists()
    assert UsageEvent.objects.get().billable is True


# --- failures -------------------------------------------------------------------------------


def test_five_failures_in_a_row_fail_the_session_unbilled(api, frames):
    session_id = api.start()

    answers = [api.frame(session_id, frames["photo"]) for _ in range(5)]

    assert [a["session_status"] for a in answers] == ["continue"] * 4 + ["failed"]
    assert answers[-1] == {
        "session_id": session_id,
        "session_status": "failed",
        "frame_index": 4,
        "error": "max_consecutive_failures",
        "frames_processed": 5,
        "good_frames": 0,
        "billing": {
            "billable": False,
            "reason": "no_valid_vhs",
            "monthly_usage": 0,
            "tier": "paygo",
        },
    }
    event = UsageEvent.objects.get()  # recorded free, as a batch without a valid VHS is
    assert (event.billable, event.reason, event.endpoint) == (False, "no_valid_vhs", FRAME)
    assert not Measurement.objects.exists()


def test_a_measured_frame_ends_a_run_of_failures(api, worker_results):
    worker_results(*[result(5)] * 4, result(3), *[result(6)] * 4, result(7))
    session_id = api.start()

    answers = [api.frame(session_id, FAKE) for _ in range(10)]

    assert [a["session_status"] for a in answers[:9]] == ["continue"] * 9
    assert answers[9]["error"] == "max_consecutive_failures"
    assert answers[9]["frame_index"] == 9


def test_an_unreadable_frame_is_a_failure_answered_in_the_session(api, frames):
    session_id = api.start()

    body = api.frame(session_id, "this is not an image")

    assert body["session_status"] == "continue"
    assert (body["frame_index"], body["frames_processed"], body["good_frames"]) == (0, 1, 0)
    assert body["result_code"] is None
    assert body["frame_result"]["landmarks_detected"] is False
    assert body["result_description"].startswith("Invalid")
    assert body["feedback_class"] == "unreadable_frame"
    assert "JPEG or PNG" in body["feedback"]
    session = PopSession.objects.get(session_id=session_id)
    assert (session.consecutive_failures, session.frame_codes) == (1, [None])


def test_an_oversized_frame_is_a_failure_with_the_size_message(api, frames, settings):
    settings.IMAGE_MAX_BYTES = 1000
    session_id = api.start()

    body = api.frame(session_id, frames["optimal"])

    assert body["result_description"] == "Image exceeds maximum size of 10MB"
    assert PopSession.objects.get(session_id=session_id).consecutive_failures == 1


def test_the_21st_frame_fails_the_session_unmeasured(api, worker_results):
    queue = worker_results(*[result(3)] * 21)
    session_id = api.start()

    answers = [api.frame(session_id, FAKE) for _ in range(21)]

    assert [a["session_status"] for a in answers[:20]] == ["continue"] * 20
    assert (
        answers[19]["reason"] == "0/3 good frames so far, need more; no frames left (max_frames 20)"
    )
    assert answers[20]["frame_index"] == 20  # as the seed's failed example shows
    assert answers[20]["error"] == "max_frames_exceeded"
    assert answers[20]["billing"]["billable"] is False
    assert len(queue) == 1  # the 21st frame was never measured
    assert len(PopSession.objects.get(session_id=session_id).frame_codes) == 20


def test_the_ttl_runs_from_the_start_not_from_the_last_frame(api, worker_results):
    worker_results(result(3), result(3))
    session_id = api.start()
    session = PopSession.objects.get(session_id=session_id)

    with at(299, session):
        late = api.frame(session_id, FAKE)
    with at(300, session):
        expired = api.frame(session_id, FAKE)
    with at(301, session):
        after = api.post(FRAME, {"image": FAKE, "session_id": session_id})

    assert late["session_status"] == "continue"
    assert expired["session_status"] == "failed"
    assert (expired["error"], expired["frame_index"]) == ("session_timeout", 1)
    assert expired["billing"]["billable"] is False
    assert after.status_code == 409
    assert after.json() == {"error": "Session already failed"}


def test_an_expired_sessions_kept_image_is_dropped_when_anyone_starts_a_session(
    api, worker_results
):
    worker_results(result(1))
    session_id = api.start()
    api.frame(session_id, FAKE)
    assert PopSession.objects.get(session_id=session_id).best_rendered is not None

    with at(301, PopSession.objects.get(session_id=session_id)):
        api.start()

    assert PopSession.objects.get(session_id=session_id).best_rendered is None


# --- the patient, retries, and who may use a session ----------------------------------------


def test_a_uuid_that_changes_mid_session_is_refused_and_not_counted(api, worker_results):
    worker_results(result(3), result(3))
    session_id = api.start()
    api.frame(session_id, FAKE, uuid="rex")

    changed = api.post(FRAME, {"image": FAKE, "session_id": session_id, "uuid": "max"})
    omitted = api.frame(session_id, FAKE, uuid=None)

    assert changed.status_code == 400
    assert changed.json() == {
        "error": "uuid does not match this session's patient: a session measures one patient"
    }
    assert omitted["frame_index"] == 1  # an omitted uuid keeps the session's
    assert PopSession.objects.get(session_id=session_id).uuid == "rex"


def test_a_retried_frame_with_the_same_idempotency_key_is_counted_once(api, frames):
    session_id = api.start()

    first = api.frame(session_id, frames["optimal"], **{"Idempotency-Key": "frame-0"})
    again = api.frame(session_id, frames["optimal"], **{"Idempotency-Key": "frame-0"})
    next_frame = api.frame(session_id, frames["optimal"], **{"Idempotency-Key": "frame-1"})

    assert again == first
    assert next_frame["frame_index"] == 1
    assert PopSession.objects.get(session_id=session_id).frames_processed == 2


def test_unknown_and_other_customers_sessions_are_not_found(api, client):
    session_id = api.start()
    other = Api(client, ApiKey.issue(Customer.objects.create(name="Other practice"))[1])

    for caller, sid in ((api, "0123456789abcdef"), (other, session_id)):
        for path in (FRAME, TICKET):
            response = caller.post(path, {"image": FAKE, "session_id": sid})
            assert response.status_code == 404
            assert response.json() == {"error": "Session not found"}


def test_a_complete_session_takes_no_more_frames(api, worker_results):
    worker_results(result(1), result(1), result(1))
    session_id = api.start()
    for _ in range(3):
        api.frame(session_id, FAKE)

    response = api.post(FRAME, {"image": FAKE, "session_id": session_id})
    ticket = api.post(TICKET, {"session_id": session_id})

    assert response.status_code == 409
    assert response.json() == {"error": "Session already complete"}
    assert ticket.status_code == 409


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"session_id": "abc"}, "Missing required field: image"),
        ({"image": FAKE}, "Missing required field: session_id"),
        ({"image": 5, "session_id": "abc"}, "Images must be base64-encoded strings"),
        (
            {"image": FAKE, "session_id": "a" * 65},
            "session_id must be a string of at most 64 characters",
        ),
        (
            {"image": FAKE, "session_id": "abc", "uuid": 7},
            "uuid must be a string of at most 128 characters",
        ),
    ],
)
def test_invalid_frames_are_400s_with_a_clear_message(api, body, message):
    response = api.post(FRAME, body)

    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_models_not_loaded_is_a_503_and_the_frame_is_not_counted(api, monkeypatch):
    async def unavailable(images, *, render, rectified=False):
        raise ModelsNotLoaded()

    monkeypatch.setattr(service, "measure", unavailable)
    session_id = api.start()

    response = api.post(FRAME, {"image": FAKE, "session_id": session_id})

    assert response.status_code == 503
    assert response.json() == {"error": "Models not loaded"}
    session = PopSession.objects.get(session_id=session_id)
    assert (session.frames_processed, session.lease_token, session.lease_until) == (0, "", None)


# --- concurrent frames of one session -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_frames_of_one_session_are_each_counted_once(key, monkeypatch):
    """Two web requests at once (each thread has its own database connection): the second
    waits for the first's lease, so they are measured one after the other and both count."""
    intervals: list[tuple[float, float]] = []
    real_measure = service.measure

    async def slow_measure(images, **kwargs):
        began = time.monotonic()
        answer = await real_measure(images, **kwargs)
        await asyncio_sleep(0.3)
        intervals.append((began, time.monotonic()))
        return answer

    monkeypatch.setattr(service, "measure", slow_measure)
    api = Api(Client(), key)
    session_id = api.start()
    image = b64(draw_radiograph(seed=604, atrial_infiltrate=False).image)
    answers: list[dict] = []

    def send() -> None:
        try:
            answers.append(Api(Client(), key).frame(session_id, image))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(a["frame_index"] for a in answers) == [0, 1]
    assert sorted(a["good_frames"] for a in answers) == [1, 2]
    session = PopSession.objects.get(session_id=session_id)
    assert (session.frames_processed, session.good_frames, session.lease_token) == (2, 2, "")
    (_, first_end), (second_start, _) = sorted(intervals)
    assert second_start >= first_end  # never measured at once


async def asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def test_a_lease_left_by_a_dead_process_expires(api, worker_results):
    worker_results(result(3))
    session_id = api.start()
    session = PopSession.objects.get(session_id=session_id)
    PopSession.objects.filter(pk=session.pk).update(
        lease_token="gone", lease_until=session.created_at + timedelta(seconds=5)
    )

    with at(6, session):
        body = api.frame(session_id, FAKE)

    assert body["frame_index"] == 0


# --- rules, directly ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "good", "failure"),
    [
        (result(1, 0.004), True, False),
        (result(2, 0.007), True, False),
        (result(4, 0.004), True, False),
        (result(4, 0.009), False, False),  # VHS without VLAS, but the ensemble disagrees
        (result(3, 0.009), False, False),
        (result(0), False, True),
        (result(5), False, True),
        (result(6), False, True),
        (result(7), False, True),
        (None, False, True),  # unreadable
    ],
)
def test_which_frames_are_good_and_which_are_failures(frame, good, failure):
    assert (frame is not None and sessions.is_good(frame)) is good
    assert sessions.is_failure(frame) is failure


def test_the_20th_frame_is_measured_and_the_21st_is_refused():
    assert sessions.refusal_before_measuring(sessions.Progress(19), False, DEFAULTS) is None
    assert sessions.refusal_before_measuring(sessions.Progress(20), False, DEFAULTS) == (
        "max_frames_exceeded"
    )
    assert sessions.refusal_before_measuring(sessions.Progress(3), True, DEFAULTS) == (
        "session_timeout"
    )


def test_the_third_good_frame_completes_even_after_failures():
    progress = sessions.Progress(frames_processed=6, good_frames=2, consecutive_failures=4)

    step = sessions.step(progress, result(1), DEFAULTS)

    assert (step.outcome, step.progress.consecutive_failures) == ("complete", 0)


# --- tickets, admin, schema ------------------------------------------------------------------


def test_a_ticket_is_issued_for_60_seconds_and_only_its_hash_is_stored(api):
    session_id = api.start()

    response = api.post(TICKET, {"session_id": session_id})

    body = response.json()
    assert response.status_code == 200
    assert body["expires_in"] == 60
    stored = PopSessionTicket.objects.get()
    assert body["ticket"] not in (stored.ticket_hash, stored.session.session_id)
    assert len(stored.ticket_hash) == 64
    assert stored.expires_at - stored.created_at == timedelta(seconds=60)


def test_staff_see_sessions_in_admin_without_their_images(admin_client, api, worker_results):
    worker_results(result(1))
    session_id = api.start()
    api.frame(session_id, FAKE)
    session = PopSession.objects.get(session_id=session_id)

    listing = admin_client.get(reverse("admin:vhs_popsession_changelist"))
    page = admin_client.get(reverse("admin:vhs_popsession_change", args=[session.pk]))

    assert session_id in listing.content.decode()
    assert "Vet practice" in listing.content.decode()
    assert page.status_code == 200
    assert "cmVuZGVyZWQ=" not in page.content.decode()
    assert admin_client.get(reverse("admin:vhs_popsession_add")).status_code == 403


def test_the_schema_documents_the_session_endpoints(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    for path in (START, FRAME, TICKET):
        assert schema["paths"][path]["post"]["security"] == [{"ApiKeyAuth": []}], path
    alternatives = schema["components"]["schemas"]["VhsPopSessionFrameResponse"]["oneOf"]
    assert [a["$ref"].rsplit("/", 1)[-1] for a in alternatives] == [
        "VhsPopSessionContinue",
        "VhsPopSessionComplete",
        "VhsPopSessionFailed",
    ]


# --- the seed's JavaScript PoP session flow, against a running server -------------------------

POP_CLIENT = REPO_ROOT / "tests" / "clients" / "vhs_pop_session_client.py"


def frame_files(kind: str, folder) -> None:
    """Frames as a phone would send them (JPEG): a miss, then good pictures."""
    if kind == "pop":
        from inference.phantoms.pop import draw_pop  # what `make_phantom pop` draws

        pictures = [draw_pop(seed, tilt=10.0, glare=0.0, blur=0.0).image for seed in (7, 8, 9, 10)]
        pictures = [*pictures, *pictures]
    else:
        photo = next(image for image, kind in map(draw_negative, range(50)) if kind == "photo")
        dogs = [draw_radiograph(seed=s, atrial_infiltrate=False).image for s in (604, 609, 604)]
        pictures = [photo, *dogs, *dogs]
    for index, picture in enumerate(pictures):
        picture.convert("RGB").save(folder / f"frame-{index:02d}.jpg", format="JPEG", quality=92)


@pytest.fixture(scope="module")
def make_run_server(test_database_url):
    """daphne as ``make run`` starts it: one process, tasks run in it (no broker)."""
    daphne, base_url = start_daphne(platform_env(test_database_url, None))
    yield base_url
    daphne.stop()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["radiograph", "pop"])
def test_the_seeds_javascript_session_flow_runs_to_complete(make_run_server, tmp_path, kind):
    key = ApiKey.issue(Customer.objects.create(name="Seed example clinic"))[1]
    health = requests.get(f"{make_run_server}/vhs/v3/health", headers={"x-api-key": key}).json()
    # The PoP models ship in the repository: a PoP flow without them is a failure, not a skip.
    assert health["pop_pipeline_enabled"] or kind != "pop", health
    frame_files(kind, tmp_path)

    ran = subprocess.run(
        [sys.executable, str(POP_CLIENT)],
        env={**os.environ, "API_BASE": f"{make_run_server}/vhs", "API_KEY": key},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("Feedback: ")
    assert lines[-2].startswith("VHS: ")
    assert lines[-1].startswith("VLAS: ")
    session = PopSession.objects.get()
    assert session.status == "complete"
    event = UsageEvent.objects.get(billable=True)
    assert (event.call_type, event.patient_uuid) == ("session", "patient-123")


def test_the_web_tier_reads_feedback_without_importing_torch_or_opencv():
    script = (
        "import django, sys; django.setup()\n"
        "from inference.products.vhs import session_service\n"
        "print(session_service.feedback_for(7, True, None)[0])\n"
        "print('torch' in sys.modules, 'cv2' in sys.modules)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert ran.stdout.splitlines() == ["screen_not_found", "False False"], ran.stderr
