"""Billing is exact under concurrency on both databases the platform runs on, over real HTTP.

32 billable calls of one customer arrive at once at a live daphne server: each must get its own
``monthly_usage`` (exactly 1..32), none a ``billing_error``, and 32 billable usage events must
be stored.  Once on the embedded default (``make run``: a SQLite file, Celery eager, no Redis),
where only ``IMMEDIATE`` transactions serialise writers, and once on PostgreSQL, where the
customer's row lock does.  One daphne per database serves every call of its test.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from inference.phantoms.vhs import draw_radiograph
from tests.servers import REPO_ROOT, ServerProcess, platform_env, start_daphne

# transaction=True: the PostgreSQL server writes to the test database for real, and the flush
# afterwards leaves nothing behind for other tests (the SQLite case has its own file).
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CALLS = 32


@dataclass
class Platform:
    base_url: str
    env: dict[str, str]
    server: ServerProcess


def manage(env: dict[str, str], *args: str) -> str:
    """``manage.py`` against the platform's own database (the server's environment)."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def sqlite_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """``make run``'s settings: a SQLite file, no REDIS_URL (Celery runs tasks eagerly)."""
    database = Path(tmp_path_factory.mktemp("embedded")) / "db.sqlite3"
    env = platform_env(f"sqlite:///{database}", None)
    manage(env, "migrate", "--no-input", "-v", "0")
    server, base_url = start_daphne(env)
    yield Platform(base_url, env, server)
    server.stop()


@pytest.fixture(scope="module")
def postgresql_platform(test_database_url: str) -> Iterator[Platform]:
    env = platform_env(test_database_url, None)
    server, base_url = start_daphne(env)
    yield Platform(base_url, env, server)
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def platform(request: pytest.FixtureRequest) -> Platform:
    return request.getfixturevalue(f"{request.param}_platform")


@pytest.fixture(scope="module")
def radiograph() -> str:
    """One phantom radiograph that measures (result code 1-4), as base64 PNG."""
    image = draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False).image
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def new_customer(platform: Platform) -> tuple[str, str]:
    """A paygo customer and its API key, made by the operations commands in that database."""
    name = f"Busy clinic {uuid.uuid4().hex[:8]}"
    manage(platform.env, "create_customer", name)
    return name, manage(platform.env, "create_api_key", name).splitlines()[-1]


def predict(platform: Platform, key: str, image: str, patient: str) -> requests.Response:
    return requests.post(
        f"{platform.base_url}/vhs/v3/predict",
        json={"image": image, "uuid": patient},
        headers={"x-api-key": key},
        timeout=240,
    )


STORED_EVENTS = """
import json
from billing.models import UsageEvent
events = UsageEvent.objects.filter(customer__name={name!r})
print(json.dumps({{
    "billable": events.filter(billable=True).count(),
    "billing_errors": events.filter(reason="billing_error").count(),
    "usage": sorted(events.values_list("monthly_usage", flat=True)),
}}))
"""


def test_32_concurrent_billable_calls_get_monthly_usage_1_to_32_exactly_once(platform, radiograph):
    # A first call of another customer loads the models, so the 32 race for billing only.
    _, warm_key = new_customer(platform)
    warm = predict(platform, warm_key, radiograph, "warm-up")
    assert warm.status_code == 200, warm.text[:500]
    assert warm.json()["billing"]["billable"] is True, warm.json()["billing"]
    name, key = new_customer(platform)
    start = threading.Barrier(CALLS)

    def call(n: int) -> requests.Response:
        start.wait()
        return predict(platform, key, radiograph, f"dog-{n}")

    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        responses = list(pool.map(call, range(CALLS)))

    assert [r.status_code for r in responses] == [200] * CALLS, responses[0].text[:500]
    billing = [r.json()["billing"] for r in responses]
    assert [b["reason"] for b in billing] == ["valid_vhs"] * CALLS
    assert sorted(b["monthly_usage"] for b in billing) == list(range(1, CALLS + 1))
    assert {(b["tier"], b["rate"]) for b in billing} == {("paygo", 3.0)}
    output = manage(platform.env, "shell", "-c", STORED_EVENTS.format(name=name))
    stored = json.loads(output.splitlines()[-1])
    assert stored == {"billable": CALLS, "billing_errors": 0, "usage": list(range(1, CALLS + 1))}
