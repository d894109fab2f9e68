"""Pay-for-value billing (seed 002): every billing decision is made here, once.

Rules:

* result codes 1-4 (a valid VHS) bill; 0, 5, 6 and 7 never do (``no_valid_vhs``);
* a billable result for a patient uuid the same customer was billed for in the last 24 hours
  is free (``recheck_24h``); the window runs from the billed call, not from free rechecks;
* a single image bills at the single rate; batch, stream and PoP completion bill once at the
  session rate; utility endpoints never call this;
* ``monthly_usage`` is the customer's billable calls in the current calendar month (UTC),
  including this one when it bills.

Each decision, and the count it reports, is made in one transaction holding a lock on the
customer's row, so concurrent calls of one customer are decided one after another: no count
is skipped or doubled.  If recording fails, the prediction still goes out, with
``reason: "billing_error"``; the failure is logged and stored as a free event staff can see.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, Customer
from billing.models import CallType, Reason, UsageEvent

logger = logging.getLogger(__name__)

BILLABLE_RESULT_CODES = frozenset({1, 2, 3, 4})
RECHECK_WINDOW = timedelta(hours=24)


class BillingConfigurationError(Exception):
    """The customer's tier has no price for this call (an enterprise customer without rates)."""


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


def monthly_usage(customer: Customer, now: datetime | None = None) -> int:
    """Billable calls of ``customer`` so far this month, counted from the events."""
    now = now or timezone.now()
    return UsageEvent.objects.filter(
        customer=customer, billable=True, created_at__gte=month_start(now)
    ).count()


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
        decision, event = _decide_and_record(call)
    except Exception:
        logger.exception(
            "billing failed; prediction returned unbilled",
            extra={"customer_id": customer.pk, "endpoint": endpoint},
        )
        return _billing_error(call)
    if event.billable and customer.stripe_customer_id and settings.STRIPE_API_KEY:
        from billing.tasks import report_usage_event

        transaction.on_commit(lambda: report_usage_event.delay(event.pk))
    return decision


def _decide_and_record(call: Call) -> tuple[BillingDecision, UsageEvent]:
    with transaction.atomic():
        # The lock that makes concurrent decisions of one customer take turns.
        locked = (
            Customer.objects.select_for_update().select_related("tier").get(pk=call.customer.pk)
        )
        now = timezone.now()
        used = monthly_usage(locked, now)
        rate: Decimal | None = None
        if call.result_code not in BILLABLE_RESULT_CODES:
            reason = Reason.NO_VALID_VHS
        elif call.patient_uuid and _billed_recently(locked, call.patient_uuid, now):
            reason = Reason.RECHECK_24H
        else:
            reason = Reason.VALID_VHS
            rate = locked.rate_for(call.call_type)
            if rate is None:
                raise BillingConfigurationError(
                    f"tier {locked.tier.code} has no {call.call_type} rate for customer {locked.pk}"
                )
        billable = reason == Reason.VALID_VHS
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
        reason=str(reason),
        call_type=call.call_type,
        tier=locked.tier.code,
        monthly_usage=usage,
        rate=rate,
        event_id=event.pk,
    )
    return decision, event


def _billed_recently(customer: Customer, patient_uuid: str, now: datetime) -> bool:
    return UsageEvent.objects.filter(
        customer=customer,
        patient_uuid=patient_uuid,
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
        usage = monthly_usage(call.customer)
        event_id = call.store(
            billable=False, reason=Reason.BILLING_ERROR, tier_code=tier, monthly_usage=usage
        ).pk
    except Exception:  # the database itself is failing: the response still goes out
        logger.exception(
            "billing error could not be recorded", extra={"customer_id": call.customer.pk}
        )
    return BillingDecision(
        billable=False,
        reason=Reason.BILLING_ERROR,
        call_type=call.call_type,
        tier=tier,
        monthly_usage=usage,
        event_id=event_id,
    )
