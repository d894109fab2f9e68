"""The distributed platform for real: daphne -> Redis -> Celery worker -> back."""

import json

import pytest
import requests

from tests.health_access import staff_headers
from tests.servers import platform_env, start_celery_worker, start_daphne, start_redis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_request_travels_through_daphne_and_a_celery_worker_and_back(platform_stack):
    response = requests.get(
        f"{platform_stack.base_url}/health/?deep=1",
        headers={"X-Request-ID": "trace-42", **staff_headers()},
        timeout=30,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["redis"]["configured"] is True
    assert body["checks"]["workers"]["answering"] == [platform_stack.worker_name]
    round_trip = body["checks"]["task_round_trip"]
    assert round_trip["ok"] is True
    worker_pid = platform_stack.worker.process.pid
    assert round_trip["worker"]["pid"] == worker_pid
    assert response.headers["X-Request-ID"] == "trace-42"


def test_daphne_writes_one_json_log_line_per_request(platform_stack):
    requests.get(
        f"{platform_stack.base_url}/health/?patient=Jane+Doe",
        headers={"X-Request-ID": "log-line-check"},
        timeout=30,
    )

    lines = [
        json.loads(line)
        for line in platform_stack.daphne.log_text().splitlines()
        if line.startswith("{") and '"log-line-check"' in line
    ]
    request_lines = [line for line in lines if line["logger"] == "platform.request"]
    assert len(request_lines) == 1
    line = request_lines[0]
    assert line["method"] == "GET"
    assert line["path"] == "/health/"
    assert line["status"] == 200
    assert line["duration_ms"] > 0
    assert "Jane" not in platform_stack.daphne.log_text()


def test_health_turns_503_when_redis_stops(test_database_url):
    redis_server, redis_url = start_redis()
    env = platform_env(test_database_url, redis_url)
    worker, _ = start_celery_worker(env, redis_url)
    daphne, base_url = start_daphne(env)
    try:
        before = requests.get(f"{base_url}/health/", timeout=30)
        redis_server.stop()
        after = requests.get(f"{base_url}/health/", timeout=30, headers=staff_headers())
    finally:
        daphne.stop()
        worker.stop(timeout=5)
        redis_server.stop()

    assert before.status_code == 200, before.text
    assert after.status_code == 503
    body = after.json()
    assert body["failing"] == [
        "redis",
        "broker",
        "workers",
        "models:cxr",
        "models:leukemia",
        "models:vhs",
    ]
    assert body["checks"]["redis"]["ok"] is False
    assert "ConnectionError" in body["checks"]["redis"]["error"]
    assert body["checks"]["workers"]["error"] == "broker unreachable"
