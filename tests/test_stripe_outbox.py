"""Reporting billable usage to Stripe's meters: once per event, never lost, never doubled.

The Stripe SDK talks to ``tests.fake_stripe`` on this machine (``STRIPE_API_BASE``).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Customer
from billing import engine, stripe_reporting
from billing.models import UsageEvent
from billing.tasks import report_usage_event, sweep_unreported_usage
from tests.fake_stripe import FakeStripe
from tests.servers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_server(settings):
    with FakeStripe() as fake:
        settings.STRIPE_API_KEY = "sk_test_local"
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_METER_EVENT_NAME = "vhs_measurement"
        yield fake


@pytest.fixture
def stripe_customer():
    return Customer.objects.create(name="Metered clinic", stripe_customer_id="cus_TEST123")


def billable_event(customer, uuid="") -> UsageEvent:
    decision = engine.record(
        customer=customer,
        product="vhs",
        endpoint="/vhs/v3/predict",
        call_type="single",
        result_code=1,
        patient_uuid=uuid,
    )
    return UsageEvent.objects.get(pk=decision.event_id)


def test_a_billable_event_is_sent_to_stripe_when_its_transaction_commits(
    stripe_server, stripe_customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event = billable_event(stripe_customer)

    event.refresh_from_db()
    assert event.reported_at is not None
    (sent,) = stripe_server.requests
    assert sent["path"] == "/v1/billing/meter_events"
    assert sent["form"] == {
        "event_name": "vhs_measurement",
        "payload[stripe_customer_id]": "cus_TEST123",
        "payload[value]": "1",
        "identifier": f"usage-{event.pk}",
        "timestamp": str(int(event.created_at.timestamp())),
    }
    assert sent["headers"]["Idempotency-Key"] == f"usage-{event.pk}"
    assert sent["headers"]["Authorization"] == "Bearer sk_test_local"


@pytest.fixture
def eager_retries():
    """Eagerly, Celery performs each retry at once (no countdown), as a worker would later;
    with propagation off, the caller gets the result instead of the Retry signal."""
    from config.celery import app

    previous = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = previous


def test_a_failure_then_success_reports_the_event_once(
    stripe_server, stripe_customer, eager_retries
):
    event = billable_event(stripe_customer)
    stripe_server.fail_next = 2

    report_usage_event.apply(args=[event.pk])

    event.refresh_from_db()
    assert event.reported_at is not None
    assert event.report_attempts == 3
    assert len(stripe_server.requests) == 3
    identifiers = {r["form"]["identifier"] for r in stripe_server.requests}
    keys = {r["headers"]["Idempotency-Key"] for r in stripe_server.requests}
    assert identifiers == keys == {f"usage-{event.pk}"}  # every retry is the same event
    assert len(stripe_server.events) == 1


def test_stripe_being_down_delays_reporting_and_loses_nothing(settings, stripe_customer):
    settings.STRIPE_API_KEY = "sk_test_local"
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    events = [billable_event(stripe_customer, uuid=f"dog-{i}") for i in range(3)]

    for event in events:
        with pytest.raises(stripe_reporting.ReportFailed):
            stripe_reporting.report(event.pk)

    assert UsageEvent.objects.filter(reported_at__isnull=True, billable=True).count() == 3
    assert all(e.last_report_error for e in UsageEvent.objects.filter(billable=True))

    with FakeStripe() as stripe_back:
        settings.STRIPE_API_BASE = stripe_back.url
        UsageEvent.objects.update(created_at=timezone.now() - timedelta(minutes=2))
        assert sweep_unreported_usage.apply().get() == 3

    assert UsageEvent.objects.filter(billable=True, reported_at__isnull=True).count() == 0
    assert len(stripe_back.events) == 3


def test_reporting_an_already_reported_event_sends_nothing(stripe_server, stripe_customer):
    event = billable_event(stripe_customer)
    stripe_reporting.report(event.pk)

    assert stripe_reporting.report(event.pk) is True
    assert len(stripe_server.requests) == 1


def test_free_events_and_customers_without_stripe_are_never_reported(stripe_server):
    no_stripe = Customer.objects.create(name="Invoiced by hand")
    billable_event(no_stripe)
    engine.record(
        customer=Customer.objects.create(name="S", stripe_customer_id="cus_X"),
        product="vhs",
        endpoint="/vhs/v3/predict",
        call_type="single",
        result_code=6,
    )
    UsageEvent.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    assert sweep_unreported_usage.apply().get() == 0
    assert stripe_server.requests == []
