"""``POST /vhs/v3/predict/stream`` through real daphne servers: events, refusals, billing,
incremental delivery and a client that leaves mid-stream.

Two stacks: ``make run``'s (one daphne, tasks eager in its threads, keep-alives every 50 ms)
and the distributed one with a worker that runs one image at a time (concurrency 1, batches
of one), so that "the first photo arrives before the last image finishes" and "the images
not yet started are not run" can be seen from outside.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
import requests
from celery import Celery

from accounts.models import ApiKey, Customer
from billing.models import UsageEvent
from inference.api import sse
from inference.phantoms.vhs import draw_radiograph
from inference.products.vhs.models import Measurement
from tests.servers import ServerProcess, platform_env, start_celery_worker, start_daphne

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STREAM = "/vhs/v3/predict/stream"
# make run's stack is given a small image limit, so that a body over the batch limit (ten
# such images) is cheap to send.
IMAGE_LIMIT = 400_000


def radiograph_b64(seed: int, size: int = 640) -> str:
    dog = draw_radiograph(seed=seed, vhs=10.0 + seed % 3, vlas=2.0, crop=False)
    buffer = io.BytesIO()
    dog.image.convert("RGB").resize((size, size)).save(buffer, format="JPEG", quality=85)
    return base64.b64encode(buffer.getvalue()).decode()


@dataclass
class Event:
    name: str
    data: dict
    at: float  # seconds since the request was sent


def read_stream(base_url: str, key: str, body: dict, stop_after_photos: int | None = None):
    """The events (with arrival times) and raw text of one stream; with
    ``stop_after_photos``, the connection is closed after that many ``photo`` events."""
    sent = time.monotonic()
    response = requests.post(
        base_url + STREAM, json=body, headers={"x-api-key": key}, stream=True, timeout=120
    )
    events: list[Event] = []
    raw = ""
    buffer = ""
    with response:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
            raw += chunk
            buffer += chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                for name, data in sse.parse(block + "\n\n"):
                    events.append(Event(name, data, time.monotonic() - sent))
            photos = sum(1 for e in events if e.name == "photo")
            if stop_after_photos is not None and photos >= stop_after_photos:
                break
    return events, raw


@pytest.fixture(scope="module")
def eager_stack(test_database_url: str) -> Iterator[str]:
    env = platform_env(
        test_database_url,
        None,
        VHS_STREAM_KEEPALIVE_SECONDS="0.05",
        IMAGE_MAX_BYTES=str(IMAGE_LIMIT),
    )
    daphne, base_url = start_daphne(env)
    yield base_url
    daphne.stop()


@dataclass
class OneByOne:
    base_url: str
    worker: ServerProcess
    worker_name: str
    redis_url: str

    def images_run(self) -> int:
        """How many images this worker's radiograph classifier has run (every measured
        image goes through it first)."""
        probe = Celery(broker=self.redis_url, backend=self.redis_url)
        try:
            replies = probe.control.broadcast(
                "model_status", reply=True, timeout=2.0, destination=[self.worker_name]
            )
        finally:
            probe.close()
        (reply,) = replies
        (status,) = reply.values()
        return status["vhs"]["groups"]["radiograph"]["batching"]["items"]


# A Redis database of its own: the suite's other workers (platform_stack's, sixteen threads)
# consume the shared one's queue, and would run these images in parallel.
ONE_BY_ONE_REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture(scope="module")
def one_by_one(test_database_url: str, redis_url: str) -> Iterator[OneByOne]:
    redis.Redis.from_url(ONE_BY_ONE_REDIS_URL).flushdb()
    env = platform_env(
        test_database_url,
        ONE_BY_ONE_REDIS_URL,
        CELERY_WORKER_CONCURRENCY="1",
        INFERENCE_MAX_BATCH_SIZE="1",
        VHS_STREAM_KEEPALIVE_SECONDS="1",
    )
    worker, worker_name = start_celery_worker(env, ONE_BY_ONE_REDIS_URL)
    try:
        daphne, base_url = start_daphne(env)
    except Exception:
        worker.stop()
        raise
    yield OneByOne(base_url, worker, worker_name, ONE_BY_ONE_REDIS_URL)
    daphne.stop()
    worker.stop()


def test_a_stream_sends_its_events_in_the_seeds_order_and_bills_once(eager_stack):
    key = ApiKey.issue(Customer.objects.create(name="Stream clinic"))[1]
    body = {"images": [radiograph_b64(1), "bm90IGFuIGltYWdl", radiograph_b64(2)], "uuid": "p-1"}

    events, raw = read_stream(eager_stack, key, body)

    names = [e.name for e in events]
    assert names[0] == "processing_started"
    assert names[-1] == "summary"
    assert events[0].data["n_images"] == 3
    assert events[0].data["model_version"] == "vhs-ref-phantom-3.0"
    (error,) = [e.data for e in events if e.name == "error"]
    assert error == {"index": 1, "uuid": "p-1", "error": "Invalid image data"}
    photos = sorted((e.data for e in events if e.name == "photo"), key=lambda p: p["index"])
    assert [p["index"] for p in photos] == [0, 2]
    for photo in photos:
        assert photo["n_total"] == 3
        assert photo["model_version"] == "vhs-ref-phantom-3.0"
        assert photo["result_code"] in (1, 2, 3, 4)
        assert photo["landmarks_detected"] is True
        assert photo["pop_detected"] is False
        assert "rendered_image" not in photo
    summary = events[-1].data
    assert summary["n_photos_processed"] == 2
    assert summary["best_photo_index"] in (0, 2)
    assert summary["billing"]["billable"] is True
    assert summary["billing"]["call_type"] == "session"
    assert summary["historic_vhs"] == []
    assert summary["historic_vlas"] == []
    # One charge at the session rate, one history entry for the patient.
    (event,) = UsageEvent.objects.all()
    assert (event.billable, event.call_type, event.endpoint) == (True, "session", STREAM)
    assert Measurement.objects.filter(patient__uuid="p-1").count() == 1
    # Keep-alive comments were sent while images computed (every 50 ms on this stack).
    assert ": keep-alive" in raw


def test_render_adds_the_rendered_image_to_each_photo(eager_stack):
    key = ApiKey.issue(Customer.objects.create(name="Render clinic"))[1]

    events, _ = read_stream(eager_stack, key, {"images": [radiograph_b64(3)], "render": True})

    (photo,) = [e.data for e in events if e.name == "photo"]
    assert base64.b64decode(photo["rendered_image"])[:3] == b"\xff\xd8\xff"  # JPEG in, JPEG out


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({"x-api-key": "wrong"}, {"images": ["x"]}, 403, "Invalid API key"),
        ({}, b"{not json", 400, "Invalid JSON body"),
        ({}, {"images": ["x"] * 11}, 400, "Batch size exceeds maximum of 10 images"),
        ({}, {"uuid": "p"}, 400, "Missing required field: image"),
        ({}, b"x" * 6_000_000, 413, "Request body exceeds the maximum of 5682176 bytes"),
    ],
    ids=["bad-key", "bad-json", "eleven-images", "no-image", "oversized-body"],
)
def test_refusals_before_the_stream_are_ordinary_json_errors(
    eager_stack, headers, body, status, message
):
    key = ApiKey.issue(Customer.objects.create(name="Refused clinic"))[1]
    sent = {"x-api-key": key, "content-type": "application/json", **headers}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()

    response = requests.post(eager_stack + STREAM, data=data, headers=sent, timeout=60)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"].startswith(message)
    assert list(response.json()) == ["error"]
    assert not UsageEvent.objects.exists()


def test_an_sse_clients_accept_header_gets_the_stream_and_its_refusals_in_json(eager_stack):
    key = ApiKey.issue(Customer.objects.create(name="Accepting clinic"))[1]
    headers = {"x-api-key": key, "Accept": "text/event-stream"}

    streamed = requests.post(
        eager_stack + STREAM, json={"image": radiograph_b64(3)}, headers=headers, timeout=120
    )
    refused = requests.post(eager_stack + STREAM, json={}, headers=headers, timeout=60)

    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert "event: summary" in streamed.text
    assert refused.status_code == 400
    assert refused.json() == {"error": "Missing required field: image"}


def test_each_photo_leaves_as_its_image_finishes(one_by_one):
    key = ApiKey.issue(Customer.objects.create(name="Incremental clinic"))[1]
    # Large enough that each image takes the worker a good tenth of a second (decoding,
    # the screen search's copy, rendering), far above the web tier's own jitter.
    images = [radiograph_b64(seed, size=3000) for seed in range(5)]

    events, _ = read_stream(one_by_one.base_url, key, {"images": images, "render": True})

    photos = [e for e in events if e.name == "photo"]
    assert sorted(p.data["index"] for p in photos) == [0, 1, 2, 3, 4]
    # The worker runs one image at a time: had the events waited for the batch, all five
    # would arrive together.  Here they arrive spread over the images' own time, the first
    # well before the last image is done.
    arrivals = [p.at for p in photos]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert sum(gap > 0.05 for gap in gaps) >= 3, arrivals
    assert arrivals[-1] - arrivals[0] > 0.3, arrivals
    assert events[-1].name == "summary"
    assert events[-1].data["billing"]["billable"] is True


def test_a_client_that_leaves_mid_stream_stops_the_images_not_started(one_by_one):
    key = ApiKey.issue(Customer.objects.create(name="Impatient clinic"))[1]
    images = [radiograph_b64(seed, size=3000) for seed in range(10)]  # ~0.4 s each
    before = one_by_one.images_run()

    events, _ = read_stream(one_by_one.base_url, key, {"images": images}, stop_after_photos=1)
    assert [e.name for e in events][:2] == ["processing_started", "photo"]

    # The one image running when the client left may finish, and the worker may hold one
    # more it had reserved; none of the others is run.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not UsageEvent.objects.exists():
        time.sleep(0.2)
    time.sleep(3.0)  # long enough for the rest of the batch, had it been run
    ran = one_by_one.images_run() - before
    assert 1 <= ran <= 3, ran
    # Settled on what was sent: a valid measurement was delivered, so billed once.
    (event,) = UsageEvent.objects.all()
    assert (event.billable, event.call_type) == (True, "session")


def test_an_open_stream_holds_no_channel_layer_read_on_redis(one_by_one):
    """A stream talks only to its client: no blocking channel-layer read per open stream,
    which under load timed out inside streams and cut them off (the soak's stalled one)."""
    key = ApiKey.issue(Customer.objects.create(name="Open stream clinic"))[1]
    images = [radiograph_b64(seed, size=3000) for seed in range(4)]
    waiting = []

    def channel_layer_reads() -> int:
        clients = redis.Redis.from_url(one_by_one.redis_url).client_list()
        return sum(1 for c in clients if c["cmd"] in {"bzpopmin", "bzpopmax", "blpop"})

    response = requests.post(
        one_by_one.base_url + STREAM,
        json={"images": images},
        headers={"x-api-key": key},
        stream=True,
        timeout=120,
    )
    with response:
        for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
            if "event: processing_started" in chunk or "event: photo" in chunk:
                waiting.append(channel_layer_reads())
            if "event: summary" in chunk:
                break

    assert waiting
    assert max(waiting) == 0, waiting


def test_the_stream_path_through_django_alone_says_where_streams_are_served(client):
    key = ApiKey.issue(Customer.objects.create(name="No ASGI clinic"))[1]

    response = client.post(
        STREAM, {"images": ["x"]}, content_type="application/json", headers={"x-api-key": key}
    )

    assert response.status_code == 501
    assert response.json() == {
        "error": "Streaming is served by the ASGI server (daphne); this path was not."
    }
