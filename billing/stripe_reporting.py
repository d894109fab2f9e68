"""Reporting billable usage to Stripe's billing meters, as an outbox.

Every billable ``UsageEvent`` above 0.00 of a customer with a Stripe customer id is sent once
as a meter event to its product's meter (``ValueRule.meter_event``), with the amount the API
answered, in integer cents, as the value.  A Stripe price of $0.01 per unit on a meter that
sums its values therefore invoices exactly what the API answered, whatever the tier, call
type or agreed price (``billing.reconciliation`` checks it).

Our event id is the meter event's ``identifier`` and the request's idempotency key,
so a retry after a timeout (Stripe got it, we never heard) can never charge twice: Stripe
deduplicates identifiers over at least 24 hours and answers a reused idempotency key with
the first response.  An unreachable Stripe delays reporting and loses nothing: the event
stays unreported until a retry or the periodic sweep succeeds (within Stripe's 35-day limit).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import UsageEvent
from billing.rules import rule_for

logger = logging.getLogger(__name__)

# Stripe accepts meter events whose timestamp lies within the past 35 days.
STRIPE_TIMESTAMP_LIMIT = timedelta(days=35)


class ReportFailed(Exception):
    """Stripe did not take the event this time; it will be retried."""


def stripe_client() -> stripe.StripeClient:
    base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(
        settings.STRIPE_API_KEY,
        base_addresses=base,
        max_network_retries=0,  # retries are ours: backoff, jitter, and the sweep
        http_client=stripe.new_default_http_client(timeout=settings.STRIPE_TIMEOUT_SECONDS),
    )


def cents(rate: Decimal) -> int:
    """A USD amount with cents as integer cents: the meter event's value."""
    return int((rate * 100).to_integral_value(rounding=ROUND_HALF_UP))


def unreported_events():
    """Billable events above 0.00 still owed to Stripe, oldest first."""
    return (
        UsageEvent.objects.filter(
            billable=True,
            rate__gt=0,
            reported_at__isnull=True,
            created_at__gte=timezone.now() - STRIPE_TIMESTAMP_LIMIT,
        )
        .exclude(customer__stripe_customer_id="")
        .order_by("created_at")
    )


def report(event_id: int) -> bool:
    """Send one event to Stripe; True when it is (now, or already) reported.

    The event's row is locked while it is sent, so two reporters (a retry and the sweep)
    never send the same event at once; a row locked by another reporter is skipped.  A
    failure is recorded on the event (attempts, last error) before ``ReportFailed`` is raised.
    """
    failure: str | None = None
    with transaction.atomic():
        event = (
            unreported_events()
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("customer")
            .filter(pk=event_id)
            .first()
        )
        if event is None:
            return True
        event.report_attempts += 1
        try:
            _send(event)
        except (stripe.StripeError, LookupError) as exc:  # LookupError: no such product
            failure = event.last_report_error = f"{type(exc).__name__}: {exc}"[:300]
            logger.warning(
                "stripe report failed", extra={"event_id": event.pk, "error": type(exc).__name__}
            )
        else:
            event.reported_at = timezone.now()
            event.last_report_error = ""
        event.save(update_fields=["report_attempts", "last_report_error", "reported_at"])
    if failure is not None:
        raise ReportFailed(failure)
    return True


def _send(event: UsageEvent) -> None:
    stripe_client().v1.billing.meter_events.create(
        params={
            "event_name": rule_for(event.product).meter_event,
            "payload": {
                "stripe_customer_id": event.customer.stripe_customer_id,
                "value": str(cents(event.rate)),
            },
            "identifier": event.stripe_identifier,
            "timestamp": int(event.created_at.timestamp()),
        },
        options={"idempotency_key": event.stripe_identifier},
    )
