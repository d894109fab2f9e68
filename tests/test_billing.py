"""Pay-for-value billing (seed 002): every rule, the three response shapes, concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.utils import ConnectionHandler
from django.utils import timezone

from accounts.models import Customer
from billing import engine
from billing.models import CustomerPrice, Price, Tier, UsageEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic() -> Customer:
    return Customer.objects.create(name="Clinic")


def bill(
    customer: Customer,
    code: int | None = 1,
    uuid: str = "",
    call_type: str = "single",
    product: str = "vhs",
):
    return engine.record(
        customer=customer,
        product=product,
        endpoint="/vhs/v3/predict" if product == "vhs" else f"/{product}/predict",
        call_type=call_type,
        result_code=code,
        patient_uuid=uuid,
    )


def agree(customer: Customer, product: str = "vhs", **rates: str) -> None:
    """Agreed prices of ``customer`` for ``product``: call type -> USD."""
    for call_type, rate in rates.items():
        CustomerPrice.objects.create(
            customer=customer, product=product, call_type=call_type, rate=Decimal(rate)
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
        name="Hospital group", tier=Tier.objects.get(code="enterprise")
    )
    agree(customer, single="1.10", session="1.60")

    assert bill(customer, uuid="a").as_response()["rate"] == 1.10
    assert bill(customer, uuid="b", call_type="session").as_response()["rate"] == 1.60


def test_an_agreed_price_wins_over_the_tiers_list_price(clinic):
    agree(clinic, single="2.75")

    assert bill(clinic, uuid="a").rate == Decimal("2.75")
    assert bill(clinic, uuid="b", call_type="session").rate == Decimal("4.00")  # the tier's


def test_a_tier_price_applies_to_its_product_only():
    starter = Tier.objects.get(code="starter")
    Price.objects.create(tier=starter, product="leukemia", call_type="single", rate="0.40")
    lab = Customer.objects.create(name="Lab", tier=starter)

    assert bill(lab, product="leukemia").rate == Decimal("0.40")
    assert bill(lab).rate == Decimal("2.50")


def test_staff_changing_a_price_changes_the_next_call_not_past_events(clinic):
    first = bill(clinic)
    Price.objects.filter(tier=clinic.tier, product="vhs", call_type="single").update(rate="3.20")

    assert bill(clinic).rate == Decimal("3.20")
    assert UsageEvent.objects.get(pk=first.event_id).rate == Decimal("3.00")


def test_a_product_without_a_required_price_bills_at_zero_with_its_own_reasons(clinic):
    classified = bill(clinic, product="leukemia", code=None)

    assert classified.as_response() == {
        "billable": True,
        "reason": "classified",
        "call_type": "single",
        "monthly_usage": 1,
        "tier": "paygo",
        "rate": 0.0,
    }
    assert UsageEvent.objects.get().rate == Decimal("0.00")


def test_an_unknown_product_is_a_billing_error_not_a_crash(clinic):
    assert bill(clinic, product="not-a-product").reason == "billing_error"


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


def test_the_grace_belongs_to_one_product(clinic):
    bill(clinic, uuid="rex", product="leukemia")

    assert bill(clinic, uuid="rex").billable is True


# --- monthly usage -----------------------------------------------------------------------------


def test_monthly_usage_counts_this_calendar_months_billable_calls_only(clinic):
    old = bill(clinic)
    UsageEvent.objects.filter(pk=old.event_id).update(
        created_at=engine.month_start(timezone.now()) - timedelta(seconds=1)
    )
    bill(clinic, code=0)

    assert bill(clinic).monthly_usage == 1
    assert engine.monthly_usage(clinic, "vhs") == 1


def test_calls_100_and_101_of_a_month_both_bill_at_paygo_with_usage_100_and_101(clinic):
    # Staff assign tiers; the volume bands describe the offer, so the 101st call of a month
    # does not move a paygo customer to starter by itself.
    earlier = engine.month_start(timezone.now())
    UsageEvent.objects.bulk_create(
        UsageEvent(
            customer=clinic,
            product="vhs",
            endpoint="/vhs/v3/predict",
            call_type="single",
            billable=True,
            reason="valid_vhs",
            tier_code="paygo",
            rate=Decimal("3.00"),
            monthly_usage=n,
            created_at=earlier,
        )
        for n in range(1, 100)
    )

    hundredth, hundred_and_first = bill(clinic).as_response(), bill(clinic).as_response()

    assert (hundredth["monthly_usage"], hundredth["tier"], hundredth["rate"]) == (100, "paygo", 3.0)
    assert (hundred_and_first["monthly_usage"], hundred_and_first["tier"]) == (101, "paygo")
    assert hundred_and_first["rate"] == 3.0


def test_another_products_calls_do_not_move_this_products_monthly_usage(clinic):
    bill(clinic)
    bill(clinic, product="leukemia")
    bill(clinic, product="leukemia")

    assert bill(clinic).monthly_usage == 2
    assert bill(clinic, product="leukemia").monthly_usage == 3
    assert (engine.monthly_usage(clinic, "vhs"), engine.monthly_usage(clinic, "leukemia")) == (2, 3)


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
    assert engine.monthly_usage(customer, "vhs") == 50


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


# --- transient database failures -------------------------------------------------------------


def sqlite_lock_error(path) -> DatabaseError:
    """The error SQLite really gives a writer while another holds the write lock."""
    database = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {"timeout": 0},
    }
    holder, waiter = (ConnectionHandler({"default": database})["default"] for _ in range(2))
    try:
        holder.cursor().execute("BEGIN IMMEDIATE")
        with pytest.raises(DatabaseError) as caught:
            waiter.cursor().execute("BEGIN IMMEDIATE")
        return caught.value
    finally:
        holder.close()
        waiter.close()


def serialization_failure(customer: Customer) -> DatabaseError:
    """The error PostgreSQL really gives a repeatable-read transaction that lost a race."""
    loser, winner = (
        connections.create_connection("default"),
        connections.create_connection("default"),
    )
    update = "UPDATE accounts_customer SET email = %s WHERE id = %s"
    try:
        loser.cursor().execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        loser.cursor().execute("SELECT email FROM accounts_customer WHERE id = %s", [customer.pk])
        winner.cursor().execute(update, ["won@example.org", customer.pk])
        with pytest.raises(DatabaseError) as caught:
            loser.cursor().execute(update, ["lost@example.org", customer.pk])
        return caught.value
    finally:
        loser.close()
        winner.close()


def test_a_locked_sqlite_database_is_a_transient_failure(tmp_path):
    error = sqlite_lock_error(tmp_path / "locked.sqlite3")

    assert "database is locked" in str(error)
    assert engine.is_transient(error)


@pytest.mark.django_db(transaction=True)
def test_a_postgresql_serialization_failure_is_a_transient_failure():
    error = serialization_failure(Customer.objects.create(name="Raced clinic"))

    assert error.__cause__.sqlstate == "40001"
    assert engine.is_transient(error)


def test_a_broken_query_is_not_a_transient_failure():
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        connection.cursor().execute("SELECT no_such_column FROM accounts_customer")

    assert not engine.is_transient(caught.value)


@pytest.mark.django_db(transaction=True)
def test_a_transient_failure_is_retried_until_the_attempt_passes():
    error = serialization_failure(Customer.objects.create(name="Raced clinic"))
    attempts: list[int] = []

    def attempt() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise error
        return "recorded"

    assert engine.with_retries(attempt, what="test") == "recorded"
    assert len(attempts) == 3


@pytest.mark.django_db(transaction=True)
def test_retries_give_up_after_a_few_attempts():
    error = serialization_failure(Customer.objects.create(name="Raced clinic"))
    attempts: list[int] = []

    def attempt() -> None:
        attempts.append(1)
        raise error

    with pytest.raises(DatabaseError):
        engine.with_retries(attempt, what="test")
    assert len(attempts) == len(engine.RETRY_DELAYS) + 1


@pytest.mark.django_db(transaction=True)
def test_a_transient_failure_inside_a_callers_transaction_is_not_retried():
    error = serialization_failure(Customer.objects.create(name="Raced clinic"))
    attempts: list[int] = []

    def attempt() -> None:
        attempts.append(1)
        raise error

    with pytest.raises(DatabaseError), transaction.atomic():
        engine.with_retries(attempt, what="test")
    assert len(attempts) == 1
