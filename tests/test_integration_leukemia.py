"""The leukemia API for real: daphne -> Redis -> a Celery worker holding the model -> back."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from inference.phantoms.leukemia import draw_cell
from tests.health_access import staff_headers
from tests.servers import REPO_ROOT, platform_env, start_celery_worker, start_daphne

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SEED_CLIENT = REPO_ROOT / "tests" / "clients" / "leukemia_seed_client.py"
# A Redis database of its own, so the session's shared worker cannot take these tasks.
CONCURRENCY_REDIS_URL = "redis://127.0.0.1:6379/14"


def png_b64(cell_class: str, seed: int) -> str:
    buffer = io.BytesIO()
    draw_cell(cell_class, seed=seed).image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def test_the_seeds_python_client_works_unchanged(platform_stack, tmp_path):
    draw_cell("Pro", seed=11).image.save(tmp_path / "cell_image.jpg", format="JPEG", quality=92)

    result = subprocess.run(
        [sys.executable, str(SEED_CLIENT)],
        cwd=tmp_path,
        env={**os.environ, "API_URL": f"{platform_stack.base_url}/leukemia"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "API Status: healthy"
    assert lines[1] == "Models Loaded: 3/3"
    assert lines[2].startswith("Class: ")
    assert lines[3].startswith("Confidence: ")
    assert lines[3].endswith("%")
    assert lines[4].startswith("Description: ")
    assert lines[5].startswith("Upload: ")


def test_a_prediction_runs_on_the_worker_not_in_the_web_process(platform_stack):
    image_b64 = png_b64("Benign", 5)
    response = requests.post(
        f"{platform_stack.base_url}/leukemia/predict", json={"image_base64": image_b64}, timeout=60
    )
    assert response.status_code == 200, response.text

    health = requests.get(
        f"{platform_stack.base_url}/health/", timeout=30, headers=staff_headers()
    ).json()
    worker_view = health["products"]["leukemia"]["workers"][platform_stack.worker_name]
    assert worker_view["loaded"] is True
    assert worker_view["batching"]["items"] >= 2  # warm-up + at least this request
    web_libraries = open(f"/proc/{platform_stack.daphne.process.pid}/maps").read()
    worker_libraries = open(f"/proc/{platform_stack.worker.process.pid}/maps").read()
    assert "libtorch" in worker_libraries
    assert "libtorch" not in web_libraries  # the web tier never imports torch
    # Neither process writes the image, or any part of it, to its log.
    assert image_b64[100:160] not in platform_stack.worker.log_text()
    assert image_b64[100:160] not in platform_stack.daphne.log_text()
    assert "[redacted]" in platform_stack.worker.log_text()


def test_the_worker_exports_its_batches_tasks_and_models_to_prometheus(platform_stack):
    def scrape() -> dict:
        text = requests.get(platform_stack.worker_metrics_url, timeout=10).text
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    group = frozenset({("product", "leukemia"), ("group", "classifier")})
    task = frozenset({("product", "leukemia")})
    before = scrape()
    response = requests.post(
        f"{platform_stack.base_url}/leukemia/predict",
        json={"image_base64": png_b64("Early", 8)},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    after = scrape()

    assert after[("medimg_models_loaded", group)] == 1
    assert after[("medimg_inference_task_seconds_count", task)] == (
        before.get(("medimg_inference_task_seconds_count", task), 0) + 1
    )
    assert after[("medimg_inference_batch_size_count", group)] >= (
        before[("medimg_inference_batch_size_count", group)] + 1
    )


def test_64_concurrent_requests_wait_together_without_holding_threads(test_database_url):
    """No thread pool in the web tier caps concurrency.

    Daphne gets a pool of only 4 threads (ASGI_THREADS) and no worker runs yet, so no request
    can finish.  All 64 requests nevertheless reach the inference queue together, which
    proves 64 views are waiting at once on the event loop rather than on a thread each.  Then
    a worker starts, and every request gets its answer, in shared forward passes.
    """
    queue = redis.Redis.from_url(CONCURRENCY_REDIS_URL)
    queue.flushdb()
    env = platform_env(
        test_database_url,
        CONCURRENCY_REDIS_URL,
        ASGI_THREADS="4",
        CELERY_WORKER_CONCURRENCY="64",
        LEUKEMIA_ANON_RATE="1000/min",
        # The requests must queue before any worker exists, instead of failing fast.
        INFERENCE_FAIL_FAST_WITHOUT_WORKER="false",
    )
    daphne, base_url = start_daphne(env)
    payload = {"image_base64": png_b64("Early", 21)}
    worker = None
    pool = ThreadPoolExecutor(max_workers=64)
    try:
        pending = [
            pool.submit(requests.post, f"{base_url}/leukemia/predict", json=payload, timeout=120)
            for _ in range(64)
        ]
        deadline = time.monotonic() + 60
        while queue.llen("inference") < 64 and time.monotonic() < deadline:
            time.sleep(0.1)
        queued_together = queue.llen("inference")
        worker, worker_name = start_celery_worker(env, CONCURRENCY_REDIS_URL)
        responses = [future.result() for future in pending]
        health = requests.get(f"{base_url}/health/", timeout=30, headers=staff_headers()).json()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        daphne.stop()
        if worker is not None:
            worker.stop()

    assert queued_together == 64
    failures = [r.text for r in responses if r.status_code != 200]
    assert not failures, (failures[:3], daphne.log_tail(60))
    batching = health["products"]["leukemia"]["workers"][worker_name]["batching"]
    assert batching["items"] == 64 + 1  # the warm-up item, then the 64 requests
    assert batching["largest"] > 1
    assert batching["batches"] < batching["items"]
