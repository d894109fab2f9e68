"""Pay-for-value billing (seed 002): every billing decision is made here, once.

What a call is worth belongs to its product (``billing.rules.ValueRule``, declared in the
product's ``ProductConfig``); what is common to every product is here:

* a result the product's rule says carries no value is free (the rule's ``free_reason``);
* a valued result for a patient uuid the same customer was billed for, for the same product,
  in the last 24 hours is free (``recheck_24h``); the window runs from the billed call, not
  from free rechecks;
* any other valued result bills (the rule's ``billed_reason``) at the customer's price for the
  product and call type (``Customer.rate_for``: agreed price, else the tier's): a single image
  at the single price, batch, stream and session completion once at the session price.  No
  price is a configuration error when the rule requires one, else the call bills at 0.00;
* ``monthly_usage`` is the customer's billable calls of this product in the billing period,
  the current calendar month in UTC, including this one when it bills.  Tiers are assigned by
  staff: the count never moves a customer to another tier by itself.

Each decision, and the count it reports, is made in one transaction that first takes the
customer's lock, so concurrent calls of one customer are decided one after another: no count
is skipped or doubled.  On PostgreSQL the lock is ``SELECT … FOR UPDATE`` on the customer's
row; SQLite ignores that, and its transactions start ``IMMEDIATE`` (settings), taking the
database's write lock before the count is read.  A transient lock or serialisation failure is
retried a few times with jittered backoff.  If recording still fails, the prediction goes out
with ``reason: "billing_error"``; the failure is logged and stored as a free event staff see.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, OperationalError, transaction
from django.utils import timezone

from accounts.models import ApiKey, Customer
from billing.models import CallType, Reason, UsageEvent
from billing.rules import ValueRule, rule_for
from config.metrics import BILLING_DECISIONS, BILLING_ERRORS

logger = logging.getLogger(__name__)

RECHECK_WINDOW = timedelta(hours=24)
ZERO = Decimal("0.00")

# Transient failures worth another attempt: SQLite's busy lock (after its own timeout), and
# PostgreSQL's serialization_failure (40001) and deadlock_detected (40P01).
SQLITE_LOCK_MESSAGES = ("database is locked", "database table is locked")
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
# Seconds to wait before each retry; each is jittered to between half and one and a half
# times itself, so callers that collided do not collide again in step.
RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4)

T = TypeVar("T")


class BillingConfigurationError(Exception):
    """No price for a call whose product requires one (an enterprise customer without an
    agreed price, say)."""


@dataclass(frozen=True)
class BillingDecision:
    billable: bool
    reason: str
    call_type: str
    tier: str
    monthly_usage: int | None
    rate: Decimal | None = None
    event_id: int | None = None

    def as_response(self) -> dict[str, Any]:
        """The response's ``billing`` object, in exactly one of the seed's shapes."""
        if self.billable:
            return {
                "billable": True,
                "reason": self.reason,
                "call_type": self.call_type,
                "monthly_usage": self.monthly_usage,
                "tier": self.tier,
                "rate": float(self.rate) if self.rate is not None else None,
            }
        return {
            "billable": False,
            "reason": self.reason,
            "monthly_usage": self.monthly_usage,
            "tier": self.tier,
        }


def month_start(moment: datetime) -> datetime:
    """The first instant of ``moment``'s calendar month in UTC: the billing period."""
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def monthly_usage(customer: Customer, product: str, now: datetime | None = None) -> int:
    """Billable calls of ``customer`` for ``product`` so far this month, counted from the
    events: each product's count is its own (one product's calls never move another's)."""
    now = now or timezone.now()
    return UsageEvent.objects.filter(
        customer=customer, product=product, billable=True, created_at__gte=month_start(now)
    ).count()


def is_transient(error: BaseException) -> bool:
    """True for a database failure that another attempt of the same transaction may not meet:
    a lock held by another writer or a serialisation conflict, not a broken query."""
    if not isinstance(error, DatabaseError):
        return False
    cause = error.__cause__
    if getattr(cause, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    return isinstance(error, OperationalError) and any(
        message in str(error) for message in SQLITE_LOCK_MESSAGES
    )


def with_retries(attempt: Callable[[], T], *, what: str) -> T:
    """``attempt()``, retried after a transient failure (``is_transient``) with jittered
    backoff, then the failure itself.  Only an outermost transaction is retried: inside a
    caller's transaction the whole of it failed, and only that caller can repeat it."""
    retryable = not transaction.get_connection().in_atomic_block
    for delay in (*RETRY_DELAYS, None):
        try:
            return attempt()
        except DatabaseError as error:
            if delay is None or not retryable or not is_transient(error):
                raise
            logger.warning("%s retried after a transient database failure: %s", what, error)
            time.sleep(random.uniform(delay / 2, delay * 1.5))  # noqa: S311 - jitter, not secrecy
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Call:
    """The prediction call being billed: what every usage event records about it."""

    customer: Customer
    product: str
    endpoint: str
    call_type: str
    result_code: int | None
    api_key: ApiKey | None
    patient_uuid: str
    request_id: str

    def store(self, **decision: Any) -> UsageEvent:
        """The call's ``UsageEvent`` with the decision's fields (billable, reason, rate, …)."""
        return UsageEvent.objects.create(
            customer_id=self.customer.pk,
            api_key=self.api_key,
            product=self.product,
            endpoint=self.endpoint,
            call_type=self.call_type,
            result_code=self.result_code,
            patient_uuid=self.patient_uuid,
            request_id=self.request_id,
            **decision,
        )


def record(
    *,
    customer: Customer,
    product: str,
    endpoint: str,
    call_type: str,
    result_code: int | None,
    api_key: ApiKey | None = None,
    patient_uuid: str = "",
    request_id: str = "",
) -> BillingDecision:
    """Decide, record and return the billing of one prediction call. Never raises."""
    if call_type not in CallType.values:
        raise ValueError(f"unknown call type {call_type!r}")
    call = Call(
        customer, product, endpoint, call_type, result_code, api_key, patient_uuid, request_id
    )
    try:
        rule = rule_for(product)
        decision, event = with_retries(lambda: _decide_and_record(call, rule), what="billing")
    except Exception:
        logger.exception(
            "billing failed; prediction returned unbilled",
            extra={"customer_id": customer.pk, "endpoint": endpoint},
        )
        BILLING_ERRORS.labels(product).inc()
        return _billing_error(call)
    BILLING_DECISIONS.labels(product, decision.reason).inc()
    if event.billable and event.rate and customer.stripe_customer_id and settings.STRIPE_API_KEY:
        from billing.tasks import report_usage_event

        transaction.on_commit(lambda: report_usage_event.delay(event.pk))
    return decision


def _decide_and_record(call: Call, rule: ValueRule) -> tuple[BillingDecision, UsageEvent]:
    # One transaction: the lock, the count and the insert, so concurrent calls take turns.
    with transaction.atomic():
        locked = (
            Customer.objects.select_for_update().select_related("tier").get(pk=call.customer.pk)
        )
        now = timezone.now()
        used = monthly_usage(locked, call.product, now)
        rate: Decimal | None = None
        if not rule.carries_value(call.result_code):
            reason = rule.free_reason
        elif call.patient_uuid and _billed_recently(locked, call, now):
            reason = Reason.RECHECK_24H.value
        else:
            reason = rule.billed_reason
            rate = _price(locked, call, rule)
        billable = rate is not None
        usage = used + 1 if billable else used
        event = call.store(
            billable=billable,
            reason=reason,
            tier_code=locked.tier.code,
            rate=rate,
            monthly_usage=usage,
            created_at=now,
        )
    decision = BillingDecision(
        billable=billable,
        reason=reason,
        call_type=call.call_type,
        tier=locked.tier.code,
        monthly_usage=usage,
        rate=rate,
        event_id=event.pk,
    )
    return decision, event


def _price(customer: Customer, call: Call, rule: ValueRule) -> Decimal:
    rate = customer.rate_for(call.product, call.call_type)
    if rate is not None:
        return rate
    if rule.price_required:
        raise BillingConfigurationError(
            f"tier {customer.tier.code} has no {call.product} {call.call_type} price "
            f"for customer {customer.pk}"
        )
    return ZERO


def _billed_recently(customer: Customer, call: Call, now: datetime) -> bool:
    return UsageEvent.objects.filter(
        customer=customer,
        product=call.product,
        patient_uuid=call.patient_uuid,
        billable=True,
        created_at__gt=now - RECHECK_WINDOW,
    ).exists()


def _billing_error(call: Call) -> BillingDecision:
    """The free decision given when billing failed, kept as an event for staff if possible."""
    usage: int | None = None
    tier = ""
    event_id = None
    try:
        tier = Customer.objects.select_related("tier").get(pk=call.customer.pk).tier.code
        usage = monthly_usage(call.customer, call.product)
        event_id = call.store(
            billable=False, reason=Reason.BILLING_ERROR, tier_code=tier, monthly_usage=usage
        ).pk
    except Exception:  # the database itself is failing: the response still goes out
        logger.exception(
            "billing error could not be recorded", extra={"customer_id": call.customer.pk}
        )
    return BillingDecision(
        billable=False,
        reason=Reason.BILLING_ERROR.value,
        call_type=call.call_type,
        tier=tier,
        monthly_usage=usage,
        event_id=event_id,
    )
