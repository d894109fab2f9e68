"""Stripe unreachable (issue 20, item 5): reporting waits and then catches up, once per event.

A real daphne and a real Celery worker bill VHS predictions while the Stripe address refuses
connections (nothing listens on its port); the worker's report tasks fail and retry with
backoff; then the fake Stripe (``tests.fake_stripe``) starts on that port and every billable
event reaches it exactly once, under its own identifier.
"""

from __future__ import annotations

import base64
import io
import time

import pytest
import requests

from accounts.models import ApiKey, Customer
from billing.models import UsageEvent
from inference.phantoms.vhs import draw_radiograph
from tests.fake_stripe import FakeStripe
from tests.servers import free_port, platform_env, start_celery_worker, start_daphne, start_redis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CALLS = 3
REFUSING_S = 6.0


def test_stripe_refusing_for_a_while_delays_reporting_then_it_catches_up_once(
    test_database_url,
):
    customer = Customer.objects.create(name="Metered clinic", stripe_customer_id="cus_DOWN1")
    key = ApiKey.issue(customer)[1]
    stripe_port = free_port()
    redis_server, redis_url = start_redis()
    env = platform_env(
        test_database_url,
        redis_url,
        STRIPE_API_KEY="sk_test_local",
        STRIPE_API_BASE=f"http://127.0.0.1:{stripe_port}",
    )
    worker, _ = start_celery_worker(env, redis_url)
    daphne, base_url = start_daphne(env)
    buffer = io.BytesIO()
    draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False).image.save(buffer, format="PNG")
    image = base64.b64encode(buffer.getvalue()).decode()
    try:
        for n in range(CALLS):
            response = requests.post(
                f"{base_url}/vhs/v3/predict",
                json={"image": image, "uuid": f"dog-{n}"},
                headers={"x-api-key": key},
                timeout=120,
            )
            assert response.status_code == 200, response.text
            assert response.json()["billing"]["billable"] is True
        time.sleep(REFUSING_S)
        waiting = UsageEvent.objects.filter(billable=True, reported_at__isnull=True).count()
        failed_tries = sum(e.report_attempts for e in UsageEvent.objects.filter(billable=True))
        with FakeStripe(port=stripe_port) as stripe_back:
            back_at = time.monotonic()
            deadline = back_at + 90
            while time.monotonic() < deadline:
                if not UsageEvent.objects.filter(billable=True, reported_at__isnull=True):
                    break
                time.sleep(0.5)
            caught_up_s = time.monotonic() - back_at
            time.sleep(2)  # any late duplicate would arrive now
            requests_seen = list(stripe_back.requests)
            events = dict(stripe_back.events)
    finally:
        daphne.stop()
        worker.stop(timeout=5)
        redis_server.stop()

    print(f"refused {REFUSING_S} s ({failed_tries} failed tries); caught up {caught_up_s:.1f} s")
    assert waiting == CALLS  # nothing was reported while Stripe refused
    assert failed_tries >= CALLS
    reported = UsageEvent.objects.filter(billable=True)
    assert all(event.reported_at is not None for event in reported)
    assert sorted(events) == sorted(f"usage-{event.pk}" for event in reported)
    identifiers = [r["form"]["identifier"] for r in requests_seen]
    assert len(identifiers) == len(set(identifiers)) == CALLS  # one request per event
