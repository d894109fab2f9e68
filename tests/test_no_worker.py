"""No worker consumes the inference queue (issue 20, item 3): a prediction fails at once with
a 503 in the product's envelope, instead of waiting out the request timeout."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator

import pytest
import redis
import requests

from accounts.models import ApiKey, Customer
from inference.phantoms.vhs import draw_radiograph
from tests.servers import platform_env, start_daphne

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# A Redis database no worker of the suite listens on.
NO_WORKER_REDIS_URL = "redis://127.0.0.1:6379/10"


@pytest.fixture(scope="module")
def web_without_workers(test_database_url: str, redis_url: str) -> Iterator[str]:
    redis.Redis.from_url(NO_WORKER_REDIS_URL).flushdb()
    daphne, base_url = start_daphne(platform_env(test_database_url, NO_WORKER_REDIS_URL))
    yield base_url
    daphne.stop()


def radiograph() -> str:
    buffer = io.BytesIO()
    draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False).image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_prediction_with_no_worker_is_a_503_at_once_not_a_wait(web_without_workers):
    key = ApiKey.issue(Customer.objects.create(name="Lonely clinic"))[1]
    started = time.monotonic()

    response = requests.post(
        f"{web_without_workers}/vhs/v3/predict",
        json={"image": radiograph()},
        headers={"x-api-key": key},
        timeout=60,
    )

    assert time.monotonic() - started < 10  # a ping's second, not the 300 s request timeout
    assert response.status_code == 503
    assert response.json() == {"error": "No inference worker available; retry shortly"}
    assert response.headers["Retry-After"] == "10"


def test_each_product_answers_no_worker_in_its_own_envelope(web_without_workers):
    leukemia = requests.post(
        f"{web_without_workers}/leukemia/predict",
        json={"image_base64": radiograph()},
        timeout=60,
    )

    assert leukemia.status_code == 503
    body = leukemia.json()
    assert (body["success"], body["error_code"]) == (False, "MODELS_NOT_LOADED")
    assert body["error"] == "No inference worker is available; retry in 10 s"
