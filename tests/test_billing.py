"""Pay-for-value billing (seed 002): every rule, the three response shapes, concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Customer
from billing import engine
from billing.models import Tier, UsageEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic() -> Customer:
    return Customer.objects.create(name="Clinic")


def bill(customer: Customer, code: int | None = 1, uuid: str = "", call_type: str = "single"):
    return engine.record(
        customer=customer,
        product="vhs",
        endpoint="/vhs/v3/predict",
        call_type=call_type,
        result_code=code,
        patient_uuid=uuid,
    )


# --- the three shapes ---------------------------------------------------------------------


def test_a_billable_single_call_has_the_seeds_billable_shape(clinic):
    assert bill(clinic).as_response() == {
        "billable": True,
        "reason": "valid_vhs",
        "call_type": "single",
        "monthly_usage": 1,
        "tier": "paygo",
        "rate": 3.00,
    }


def test_a_call_without_a_valid_vhs_has_the_non_billable_shape(clinic):
    bill(clinic)

    assert bill(clinic, code=6).as_response() == {
        "billable": False,
        "reason": "no_valid_vhs",
        "monthly_usage": 1,
        "tier": "paygo",
    }


def test_a_recheck_has_the_recheck_shape(clinic):
    bill(clinic, uuid="patient-123")

    assert bill(clinic, uuid="patient-123").as_response() == {
        "billable": False,
        "reason": "recheck_24h",
        "monthly_usage": 1,
        "tier": "paygo",
    }


# --- result codes -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", [1, 2, 3, 4])
def test_result_codes_1_to_4_bill(clinic, code):
    assert bill(clinic, code=code).billable is True


@pytest.mark.parametrize("code", [0, 5, 6, 7, None])
def test_result_codes_0_5_6_7_never_bill(clinic, code):
    decision = bill(clinic, code=code)

    assert decision.billable is False
    assert decision.reason == "no_valid_vhs"
    assert decision.monthly_usage == 0
    event = UsageEvent.objects.get()
    assert (event.billable, event.rate, event.result_code) == (False, None, code)


# --- rates and tiers -----------------------------------------------------------------------------


def test_sessions_bill_once_at_the_session_rate(clinic):
    decision = bill(clinic, call_type="session")

    assert (decision.call_type, decision.rate) == ("session", Decimal("4.00"))
    assert UsageEvent.objects.filter(billable=True).count() == 1


@pytest.mark.parametrize(
    ("tier", "single", "session"),
    [("paygo", "3.00", "4.00"), ("starter", "2.50", "3.50"), ("professional", "2.00", "3.00")],
)
def test_each_tier_bills_its_listed_rates(tier, single, session):
    customer = Customer.objects.create(name=f"on {tier}", tier=Tier.objects.get(code=tier))

    assert bill(customer, uuid="a").rate == Decimal(single)
    assert bill(customer, uuid="b", call_type="session").rate == Decimal(session)
    assert bill(customer, uuid="c").as_response()["tier"] == tier


def test_enterprise_customers_bill_their_agreed_rates():
    customer = Customer.objects.create(
        name="Hospital group",
        tier=Tier.objects.get(code="enterprise"),
        custom_single_rate=Decimal("1.10"),
        custom_session_rate=Decimal("1.60"),
    )

    assert bill(customer, uuid="a").as_response()["rate"] == 1.10
    assert bill(customer, uuid="b", call_type="session").as_response()["rate"] == 1.60


def test_new_customers_start_on_paygo():
    assert Customer.objects.create(name="Newcomer").tier.code == "paygo"


# --- the 24 h recheck grace ----------------------------------------------------------------


def test_the_same_patient_within_24h_is_free_and_does_not_count(clinic):
    first = bill(clinic, uuid="rex")
    again = bill(clinic, uuid="rex")

    assert (first.billable, again.billable, again.reason) == (True, False, "recheck_24h")
    assert again.monthly_usage == 1


def test_another_patient_is_billed(clinic):
    bill(clinic, uuid="rex")

    assert bill(clinic, uuid="bella").billable is True


def test_calls_without_a_uuid_are_never_rechecks(clinic):
    assert [bill(clinic).billable for _ in range(3)] == [True, True, True]


def test_the_grace_belongs_to_one_customer(clinic):
    other = Customer.objects.create(name="Other clinic")
    bill(clinic, uuid="patient-123")

    assert bill(other, uuid="patient-123").billable is True


def test_the_grace_ends_24h_after_the_billed_call_however_many_rechecks_followed(clinic):
    billed = bill(clinic, uuid="rex")
    UsageEvent.objects.filter(pk=billed.event_id).update(
        created_at=timezone.now() - timedelta(hours=23)
    )
    assert bill(clinic, uuid="rex").reason == "recheck_24h"  # free, and does not extend it
    UsageEvent.objects.filter(pk=billed.event_id).update(
        created_at=timezone.now() - timedelta(hours=24, minutes=1)
    )

    assert bill(clinic, uuid="rex").billable is True


def test_a_recheck_with_no_valid_vhs_is_reported_as_no_valid_vhs(clinic):
    bill(clinic, uuid="rex")

    assert bill(clinic, uuid="rex", code=5).reason == "no_valid_vhs"


# --- monthly usage -----------------------------------------------------------------------------


def test_monthly_usage_counts_this_calendar_months_billable_calls_only(clinic):
    old = bill(clinic)
    UsageEvent.objects.filter(pk=old.event_id).update(
        created_at=engine.month_start(timezone.now()) - timedelta(seconds=1)
    )
    bill(clinic, code=0)

    assert bill(clinic).monthly_usage == 1
    assert engine.monthly_usage(clinic) == 1


def test_every_call_is_recorded_with_what_staff_need(clinic):
    bill(clinic, uuid="rex")
    bill(clinic, uuid="rex")
    bill(clinic, code=7)

    rows = list(UsageEvent.objects.order_by("created_at").values_list("reason", "billable", "rate"))
    assert rows == [
        ("valid_vhs", True, Decimal("3.00")),
        ("recheck_24h", False, None),
        ("no_valid_vhs", False, None),
    ]


# --- failures -----------------------------------------------------------------------------------


def test_a_billing_failure_still_answers_with_billing_error_and_is_visible_to_staff(caplog):
    unpriced = Customer.objects.create(
        name="Enterprise without rates", tier=Tier.objects.get(code="enterprise")
    )

    decision = bill(unpriced)

    assert decision.as_response() == {
        "billable": False,
        "reason": "billing_error",
        "monthly_usage": 0,
        "tier": "enterprise",
    }
    assert UsageEvent.objects.get().reason == "billing_error"
    assert "billing failed" in caplog.text


# --- concurrency: one transaction per decision -------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_50_concurrent_billable_calls_count_1_to_50_exactly_once():
    assert connection.vendor == "postgresql"
    customer = Customer.objects.create(name="Busy clinic")
    start = threading.Barrier(50)
    usages: list[int] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            start.wait()
            usages.append(bill(customer).monthly_usage)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(usages) == list(range(1, 51))
    events = UsageEvent.objects.filter(customer=customer)
    assert events.count() == 50
    assert sorted(events.values_list("monthly_usage", flat=True)) == list(range(1, 51))
    assert engine.monthly_usage(customer) == 50


@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_for_one_patient_bill_exactly_once():
    customer = Customer.objects.create(name="Rushed clinic")
    start = threading.Barrier(10)
    decisions: list = []

    def call() -> None:
        try:
            start.wait()
            decisions.append(bill(customer, uuid="same-dog"))
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(d.reason for d in decisions) == ["recheck_24h"] * 9 + ["valid_vhs"]
