"""Decoded pixels in flight are capped per process; what does not fit waits, then is a 503."""

from __future__ import annotations

import base64
import io
import threading
import time

import pytest
from PIL import Image

from accounts.models import ApiKey, Customer
from inference.runtime import payloads, pixels
from inference.runtime.errors import InvalidInput, Overloaded
from inference.runtime.images import decoded_item
from inference.runtime.pixels import PixelBudget, decoded_bytes


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), 90).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def small_budget(settings) -> PixelBudget:
    """Room for two 1000x1000 RGB images (4 MB each, as Pillow stores them)."""
    settings.DECODED_PIXELS_MAX_BYTES = 2 * 4_000_000
    settings.DECODED_PIXELS_WAIT_SECONDS = 0.2
    return pixels.budget()


def test_decoded_sizes_are_what_pillow_allocates():
    assert decoded_bytes(1000, 1000, "RGB") == 4_000_000  # padded to 4 bytes a pixel
    assert decoded_bytes(1000, 1000, "RGBA") == 4_000_000
    assert decoded_bytes(1000, 1000, "L") == 1_000_000
    assert decoded_bytes(1000, 1000, "I;16") == 2_000_000


def test_a_reservation_that_does_not_fit_waits_then_is_refused():
    budget = PixelBudget(100)

    with budget.reserve(80, timeout=1.0):
        started = time.monotonic()
        with pytest.raises(Overloaded), budget.reserve(30, timeout=0.2):
            pass
        waited = time.monotonic() - started

    assert 0.2 <= waited < 1.0
    assert budget.status() == {"capacity": 100, "in_use": 0, "peak": 80, "waiting": 0, "refused": 1}


def test_a_waiting_reservation_goes_ahead_as_soon_as_the_pixels_are_freed():
    budget = PixelBudget(100)
    held = budget.reserve(80, timeout=1.0)
    held.__enter__()
    threading.Timer(0.1, held.__exit__, (None, None, None)).start()

    with budget.reserve(30, timeout=2.0) as amount:
        assert amount == 30
        assert budget.in_use == 30


def test_waiters_are_served_earliest_deadline_first():
    """Under load the oldest request's images go first; the newest are the ones refused."""
    budget = PixelBudget(100)
    served: list[str] = []
    holder = budget.reserve(100, timeout=1.0)
    holder.__enter__()

    def wait(name: str, deadline: float) -> None:
        with budget.reserve(60, timeout=2.0, deadline=deadline):
            served.append(name)
            time.sleep(0.05)

    newer = threading.Thread(target=wait, args=("newer request", 200.0))
    older = threading.Thread(target=wait, args=("older request", 100.0))
    newer.start()
    time.sleep(0.05)  # the newer one is waiting first
    older.start()
    time.sleep(0.05)
    holder.__exit__(None, None, None)
    newer.join()
    older.join()

    assert served == ["older request", "newer request"]


def test_an_image_larger_than_the_whole_budget_still_runs_alone():
    budget = PixelBudget(100)

    with budget.reserve(10_000, timeout=0.1) as amount:
        assert amount == 100


def test_decoded_pixels_in_flight_never_exceed_the_budget(small_budget):
    """Six concurrent decodes of 4 MB each, with room for two: at most two at once."""
    raw = png(1000, 1000)
    inside: list[int] = []
    refused: list[Overloaded] = []

    def decode() -> None:
        try:
            with decoded_item({"image_bytes": raw}) as item:
                inside.append(small_budget.in_use)
                assert item["image"].size == (1000, 1000)
                time.sleep(0.05)
        except Overloaded as exc:
            refused.append(exc)

    threads = [threading.Thread(target=decode) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(inside) + len(refused) == 6
    assert len(inside) >= 2
    assert max(inside) <= small_budget.capacity
    assert small_budget.peak == 2 * 4_000_000
    assert small_budget.in_use == 0


def test_the_pixels_are_given_back_when_the_request_is_done_with_its_image(small_budget):
    with decoded_item({"image_bytes": png(1000, 1000), "render": True}) as item:
        image = item["image"]
        assert small_budget.in_use == 4_000_000
        assert item["render"] is True

    assert small_budget.in_use == 0
    with pytest.raises(ValueError, match="closed"):
        image.load()


def test_a_task_waiting_for_pixels_holds_none_of_its_images_bytes(small_budget):
    """The web tier announces the decoded size, so the bytes are fetched only once it fits."""
    (key,) = payloads.put_many([png(1000, 1000)], ttl_s=60)
    item = {"image_ref": key, "decoded_bytes": decoded_bytes(1000, 1000, "RGB")}

    with small_budget.reserve(small_budget.capacity, timeout=1):
        with pytest.raises(Overloaded), decoded_item(item):
            pass
        assert payloads.take(key)  # still there for a retry, or for the request to discard


def test_an_image_larger_than_announced_is_refused(small_budget):
    (key,) = payloads.put_many([png(1000, 1000)], ttl_s=60)

    with (
        pytest.raises(InvalidInput, match="larger than"),
        decoded_item({"image_ref": key, "decoded_bytes": 1000}),
    ):
        pass
    assert small_budget.in_use == 0


def test_waiting_for_pixels_never_outlasts_the_requests_deadline(small_budget, settings):
    settings.DECODED_PIXELS_WAIT_SECONDS = 30
    raw = png(1000, 1000)

    with small_budget.reserve(small_budget.capacity, timeout=1):
        started = time.monotonic()
        with pytest.raises(Overloaded), decoded_item({"image_bytes": raw}, time.monotonic() + 0.2):
            pass

    assert time.monotonic() - started < 2


@pytest.fixture
def vhs_key(db) -> str:
    return ApiKey.issue(Customer.objects.create(name="Busy clinic"))[1]


def test_a_request_refused_for_pixels_is_a_503_in_the_vhs_envelope(client, vhs_key, small_budget):
    image = base64.b64encode(png(1000, 1000)).decode()

    with small_budget.reserve(small_budget.capacity, timeout=1):
        response = client.post(
            "/vhs/v3/predict",
            {"images": [image, image]},
            content_type="application/json",
            headers={"x-api-key": vhs_key},
        )

    assert response.status_code == 503
    assert response.json() == {
        "error": "Server busy: too many images are being processed; retry in 5 s"
    }
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
def test_a_request_refused_for_pixels_is_a_503_in_the_leukemia_envelope(client, small_budget):
    image = base64.b64encode(png(200, 200)).decode()

    with small_budget.reserve(small_budget.capacity, timeout=1):
        response = client.post(
            "/leukemia/predict", {"image_base64": image}, content_type="application/json"
        )

    assert response.status_code == 503
    body = response.json()
    assert (body["status_code"], body["error_code"]) == (503, "SERVER_BUSY")
    assert body["error"].startswith("Server busy")
