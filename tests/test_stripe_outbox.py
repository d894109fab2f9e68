"""Reporting billable usage to Stripe's meters: once per event, never lost, never doubled.

The Stripe SDK talks to ``tests.fake_stripe`` on this machine (``STRIPE_API_BASE``).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Customer
from billing import engine, reconciliation, reports, stripe_reporting
from billing.models import CustomerPrice, Price, Tier, UsageEvent
from billing.tasks import report_usage_event, sweep_unreported_usage
from tests.fake_stripe import FakeStripe
from tests.servers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_server(settings):
    with FakeStripe() as fake:
        settings.STRIPE_API_KEY = "sk_test_local"
        settings.STRIPE_API_BASE = fake.url
        yield fake


@pytest.fixture
def stripe_customer():
    return Customer.objects.create(name="Metered clinic", stripe_customer_id="cus_TEST123")


def call(customer, code=1, uuid="", call_type="single", product="vhs"):
    return engine.record(
        customer=customer,
        product=product,
        endpoint=f"/{product}/predict",
        call_type=call_type,
        result_code=code,
        patient_uuid=uuid,
    )


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
        "event_name": "vhs_usage_cents",
        "payload[stripe_customer_id]": "cus_TEST123",
        "payload[value]": "300",  # the answered $3.00, in cents
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


# --- amounts: Stripe is sent what the API answered, in cents ------------------------------


def test_each_event_is_sent_to_its_products_meter_with_the_answered_amount_in_cents(
    stripe_server, django_capture_on_commit_callbacks
):
    group = Customer.objects.create(
        name="Hospital group",
        tier=Tier.objects.get(code="enterprise"),
        stripe_customer_id="cus_GROUP",
    )
    CustomerPrice.objects.create(customer=group, product="vhs", call_type="session", rate="1.65")
    starter = Tier.objects.get(code="starter")
    Price.objects.create(tier=starter, product="leukemia", call_type="single", rate="0.40")
    lab = Customer.objects.create(name="Lab", tier=starter, stripe_customer_id="cus_LAB")

    with django_capture_on_commit_callbacks(execute=True):
        session = call(group, call_type="session")
        classified = call(lab, product="leukemia", code=None)

    sent = {r["form"]["identifier"]: r["form"] for r in stripe_server.requests}
    assert session.as_response()["rate"] == 1.65
    assert sent[f"usage-{session.event_id}"]["event_name"] == "vhs_usage_cents"
    assert sent[f"usage-{session.event_id}"]["payload[value]"] == "165"
    assert classified.as_response()["rate"] == 0.40
    assert sent[f"usage-{classified.event_id}"]["event_name"] == "leukemia_usage_cents"
    assert sent[f"usage-{classified.event_id}"]["payload[value]"] == "40"


def test_an_event_billed_at_zero_never_waits_in_the_outbox(
    stripe_server, stripe_customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as queued:
        free_of_charge = call(stripe_customer, product="leukemia", code=None)  # no price: 0.00

    UsageEvent.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    event = UsageEvent.objects.get(pk=free_of_charge.event_id)
    assert (event.billable, event.rate) == (True, Decimal("0.00"))
    assert queued == []
    assert sweep_unreported_usage.apply().get() == 0
    assert not UsageEvent.objects.filter(reports.owed_to_stripe()).exists()
    assert reports.stripe_status(event) == "not_owed"
    assert stripe_server.requests == []


# --- reconciliation -------------------------------------------------------------------------


@pytest.fixture
def month_reported_through_the_outbox(stripe_server, django_capture_on_commit_callbacks):
    """A month of mixed calls of three customers on three tiers, reported by the outbox."""
    clinic = Customer.objects.create(name="Paygo clinic", stripe_customer_id="cus_PAYGO")
    starter = Tier.objects.get(code="starter")
    lab = Customer.objects.create(name="Starter lab", tier=starter, stripe_customer_id="cus_LAB")
    Price.objects.create(tier=starter, product="leukemia", call_type="single", rate="0.40")
    group = Customer.objects.create(
        name="Hospital group",
        tier=Tier.objects.get(code="enterprise"),
        stripe_customer_id="cus_GROUP",
    )
    for call_type, rate in (("single", "1.10"), ("session", "1.60")):
        CustomerPrice.objects.create(customer=group, product="vhs", call_type=call_type, rate=rate)

    # Last month: reported by the sweep, with its own timestamp; not this month's money.
    before = call(clinic, uuid="old-dog")
    UsageEvent.objects.filter(pk=before.event_id).update(
        created_at=engine.month_start(timezone.now()) - timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            call(clinic, uuid=f"dog-{n}")  # 3 x 3.00
        call(clinic, uuid="dog-0")  # recheck: free
        call(clinic, code=6)  # rejected: free
        call(clinic, call_type="session")  # 4.00
        call(clinic, product="leukemia", code=None)  # unpriced for paygo: 0.00, not sent
        for n in range(2):
            call(lab, uuid=f"cat-{n}")  # 2 x 2.50
            call(lab, call_type="session")  # 2 x 3.50
        call(lab, product="leukemia", code=None)  # 0.40
        call(group, uuid="a")  # 1.10
        call(group, uuid="b")  # 1.10
        call(group, call_type="session")  # 1.60
    assert sweep_unreported_usage.apply().get() == 1
    return {"clinic": clinic, "lab": lab, "group": group}


def stripe_values(fake: FakeStripe, customer: Customer, month) -> dict[str, int]:
    """Per meter, the sum of the values Stripe received for the customer within ``month``."""
    start, end = reports.month_range(month)
    totals: dict[str, int] = {}
    for event in fake.events.values():
        if event["payload"]["stripe_customer_id"] != customer.stripe_customer_id:
            continue
        if start.timestamp() <= event["timestamp"] < end.timestamp():
            meter = event["event_name"]
            totals[meter] = totals.get(meter, 0) + int(event["payload"]["value"])
    return totals


def answered_usd(customer: Customer, product: str, month) -> Decimal:
    start, end = reports.month_range(month)
    return UsageEvent.objects.filter(
        customer=customer, product=product, billable=True, created_at__gte=start, created_at__lt=end
    ).aggregate(total=Sum("rate"))["total"] or Decimal("0.00")


def test_stripe_priced_at_one_cent_per_unit_invoices_exactly_the_answered_amounts(
    stripe_server, month_reported_through_the_outbox
):
    month = reports.month_of(timezone.now())
    one_cent = Decimal("0.01")

    for customer in month_reported_through_the_outbox.values():
        received = stripe_values(stripe_server, customer, month)
        for product, meter in (("vhs", "vhs_usage_cents"), ("leukemia", "leukemia_usage_cents")):
            assert received.get(meter, 0) * one_cent == answered_usd(customer, product, month)

    customers = month_reported_through_the_outbox
    assert stripe_values(stripe_server, customers["clinic"], month) == {"vhs_usage_cents": 1300}
    assert stripe_values(stripe_server, customers["lab"], month) == {
        "vhs_usage_cents": 1200,
        "leukemia_usage_cents": 40,
    }
    assert stripe_values(stripe_server, customers["group"], month) == {"vhs_usage_cents": 380}


def test_the_monthly_reconciliation_finds_stripe_in_agreement_with_the_usage_events(
    stripe_server, month_reported_through_the_outbox
):
    month = reports.month_of(timezone.now())

    for customer in month_reported_through_the_outbox.values():
        result = reconciliation.reconcile(customer, month)
        assert result.expected == reconciliation.expected_cents(customer, month)
        assert result.stripe == result.expected == result.reported
        assert (result.differences, result.pending) == ({}, {})
    clinic = month_reported_through_the_outbox["clinic"]
    last_month = reports.add_months(month, -1)
    assert reconciliation.reconcile(clinic, last_month).stripe == {"vhs_usage_cents": 300}


def test_the_reconciliation_shows_what_stripe_has_not_got_yet(stripe_server, stripe_customer):
    call(stripe_customer)  # recorded; its report never ran (the transaction never committed)

    result = reconciliation.reconcile(stripe_customer, reports.month_of(timezone.now()))

    assert result.expected == {"vhs_usage_cents": 300}
    assert result.stripe == {"vhs_usage_cents": 0}
    assert result.differences == {"vhs_usage_cents": -300}
    assert result.pending == {"vhs_usage_cents": 300}
