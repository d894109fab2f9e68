"""Image bytes travel beside the tasks: a task message carries a key, never the image."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from typing import Any

import pytest
import redis
from PIL import Image

from config.log_redaction import REDACTED, RedactTaskPayloadFilter
from inference import tasks
from inference.api import inference
from inference.api.images import check_base64
from inference.runtime import payloads, registry
from inference.runtime.errors import Overloaded
from inference.runtime.payloads import KEY_PREFIX, STOWED, PayloadMissing

# A Redis database of its own (the suite's shared one is 15; others use 11, 13 and 14).
PAYLOADS_REDIS_URL = "redis://127.0.0.1:6379/12"


def png_b64(side: int = 600) -> str:
    """A PNG of noise, so it is about a megabyte."""
    import numpy as np

    pixels = np.random.default_rng(side).integers(0, 255, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture
def captured_tasks(monkeypatch) -> list[tuple]:
    """The arguments every task would be published with; each answers at once."""
    sent: list[tuple] = []

    async def fake_run_task(task: Any, *args: Any, timeout: float | None = None) -> Any:
        sent.append(args)
        return {"ok": True}

    monkeypatch.setattr(inference, "run_task", fake_run_task)
    return sent


@pytest.fixture
def redis_payloads(settings) -> redis.Redis:
    """The distributed store: payloads in Redis, as a web process with REDIS_URL has them."""
    client = redis.Redis.from_url(PAYLOADS_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable: {exc}")
    client.flushdb()
    settings.REDIS_URL = PAYLOADS_REDIS_URL
    settings.CELERY_TASK_ALWAYS_EAGER = False
    yield client
    client.flushdb()
    client.close()


def test_a_task_message_carries_the_images_key_not_its_bytes(captured_tasks):
    image = png_b64()
    item = check_base64(image).item(render=True)

    asyncio.run(inference.run_items("vhs", [item]))

    ((product, sent_item, deadline),) = captured_tasks
    message = json.dumps([product, sent_item, deadline])
    assert len(image) > 1_000_000
    assert len(message) < 300
    assert set(sent_item) == {"image_ref", "format", "decoded_bytes", "render"}
    assert sent_item["image_ref"].startswith(KEY_PREFIX)
    assert image[1000:1100] not in message


def test_the_request_keeps_no_copy_of_the_bytes_it_sent(captured_tasks):
    checked = check_base64(png_b64())
    item = checked.item()

    asyncio.run(inference.run_items("vhs", [item]))

    assert checked.data is None
    assert "image_bytes" not in item
    with pytest.raises(RuntimeError, match="sent already"):
        checked.item()


def test_payloads_nobody_took_are_discarded_when_the_request_ends(captured_tasks):
    asyncio.run(inference.run_items("vhs", [check_base64(png_b64()).item()]))

    ((_, sent_item, _),) = captured_tasks
    with pytest.raises(PayloadMissing):
        payloads.take(sent_item["image_ref"])


def test_the_worker_takes_an_images_bytes_exactly_once():
    (key,) = payloads.put_many([b"image bytes"], ttl_s=60)

    assert payloads.take(key) == b"image bytes"
    with pytest.raises(PayloadMissing):
        payloads.take(key)


def test_a_payload_expires_with_its_request(monkeypatch):
    (key,) = payloads.put_many([b"image bytes"], ttl_s=30)
    clock = payloads.time.monotonic() + 31
    monkeypatch.setattr(payloads.time, "monotonic", lambda: clock)

    with pytest.raises(PayloadMissing):
        payloads.take(key)


def test_with_redis_each_image_is_stored_once_with_the_requests_ttl(redis_payloads):
    keys = payloads.put_many([b"first", b"second"], ttl_s=300)

    assert [redis_payloads.get(key) for key in keys] == [b"first", b"second"]
    assert all(250_000 < redis_payloads.pttl(key) <= 300_000 for key in keys)
    assert payloads.take(keys[0]) == b"first"
    assert not redis_payloads.exists(keys[0])
    payloads.discard(keys)
    assert not redis_payloads.exists(keys[1])


class _Rendering:
    """A served product whose result carries a large rendered image."""

    name = "rendering"
    rendered = "R" * (payloads.LARGE_VALUE_BYTES + 1)

    def load(self) -> bool:
        return True

    def status(self) -> dict[str, Any]:
        return {"loaded": True}

    def run(self, item: dict[str, Any], deadline: float | None = None) -> dict[str, Any]:
        return {"frame": {"vhs": 10.0}, "rendered_image": self.rendered}


@pytest.fixture
def rendering():
    served = registry.register(_Rendering())
    yield served
    registry.unregister(served.name)


def test_a_rendered_image_comes_back_beside_the_result_not_in_it(rendering):
    outcome = tasks.predict(rendering.name, {"render": True})

    stowed = outcome["result"]["rendered_image"]
    assert set(stowed) == {STOWED, "type"}
    assert len(json.dumps(outcome)) < 300
    assert payloads.restore(outcome["result"])["rendered_image"] == rendering.rendered


def test_run_items_restores_stowed_results(rendering):
    (result,) = asyncio.run(inference.run_items(rendering.name, [{"render": True}]))

    assert result["rendered_image"] == rendering.rendered
    assert result["frame"] == {"vhs": 10.0}


def test_what_unread_results_stowed_is_discarded_when_the_request_fails(monkeypatch):
    stowed = payloads.stow_large({"rendered_image": "R" * 100_000}, ttl_s=60)
    (key,) = payloads.stowed_keys(stowed)

    async def one_busy(task: Any, product: str, item: dict, deadline: float, **_: Any) -> Any:
        if item["n"] == 0:
            raise Overloaded()
        await asyncio.sleep(0.05)
        return stowed

    async def request() -> None:
        with pytest.raises(Overloaded):
            await inference.run_items("vhs", [{"n": 0}, {"n": 1}])
        await asyncio.sleep(0.2)  # the other item's result arrives, unread

    monkeypatch.setattr(inference, "run_task", one_busy)
    asyncio.run(request())

    with pytest.raises(PayloadMissing):
        payloads.take(key)


def test_celerys_task_lines_still_carry_no_payload_key():
    record = logging.LogRecord(
        "celery.worker.strategy",
        logging.INFO,
        __file__,
        1,
        "Task %(name)s[%(id)s] received: %(args)s",
        None,
        None,
    )
    record.args = {"name": "inference.tasks.predict", "id": "1", "args": "['vhs', {...}]"}
    record.data = {"args": "('vhs', {'image_ref': 'payload:abc'})", "kwargs": "{}"}

    RedactTaskPayloadFilter().filter(record)

    assert record.args["args"] == REDACTED
    assert record.data == {"args": REDACTED, "kwargs": REDACTED}
