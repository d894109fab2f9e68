"""Monthly reconciliation: Stripe must invoice what the API answered.

Each billable event above 0.00 is reported to its product's meter with the answered amount in
integer cents (``billing.stripe_reporting``), so for one customer and one billing period (a
UTC calendar month) three totals per meter must agree:

* ``expected_cents``: the sum of the rates of the month's billable ``UsageEvent`` rows, in
  cents: what the API answered and what staff see in the monthly summary;
* ``reported_cents``: the same over the events the outbox has already reported;
* ``stripe_cents``: what Stripe itself has aggregated on each meter for the customer in that
  interval (its meter event summaries), which is what a $0.01-per-unit price invoices.

``reconcile`` puts them side by side; a meter whose Stripe total differs from the expected one
is a ``difference`` (events still pending in the outbox explain a shortfall until reported).
Totals are computed from the rates stored on the events, never from today's prices.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import stripe
from django.db.models import QuerySet, Sum

from accounts.models import Customer
from billing.models import UsageEvent
from billing.reports import month_range
from billing.rules import rule_for
from billing.stripe_reporting import cents, stripe_client


def billed_events(customer: Customer, month: date) -> QuerySet[UsageEvent]:
    """The customer's events of ``month`` that Stripe should invoice: billable, above 0.00."""
    start, end = month_range(month)
    return UsageEvent.objects.filter(
        customer=customer, billable=True, rate__gt=0, created_at__gte=start, created_at__lt=end
    )


def _cents_per_meter(events: QuerySet[UsageEvent]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for row in events.order_by().values("product").annotate(total=Sum("rate")):
        totals[rule_for(row["product"]).meter_event] += cents(row["total"])
    return dict(totals)


def expected_cents(customer: Customer, month: date) -> dict[str, int]:
    """Cents per meter the customer's billable events of ``month`` add up to."""
    return _cents_per_meter(billed_events(customer, month))


def reported_cents(customer: Customer, month: date) -> dict[str, int]:
    """Cents per meter of those events the outbox has reported to Stripe."""
    return _cents_per_meter(billed_events(customer, month).filter(reported_at__isnull=False))


def stripe_cents(
    customer: Customer, month: date, meters: list[str], client: stripe.StripeClient | None = None
) -> dict[str, int]:
    """What Stripe has aggregated on each of ``meters`` (event names) for the customer over
    the month: its meter event summaries, one per meter.  A meter Stripe does not have
    counts as 0, so it shows up as a difference."""
    client = client or stripe_client()
    start, end = month_range(month)
    ids = {
        meter.event_name: meter.id for meter in client.v1.billing.meters.list().auto_paging_iter()
    }
    totals: dict[str, int] = {}
    for meter in meters:
        if meter not in ids:
            totals[meter] = 0
            continue
        summaries = client.v1.billing.meters.event_summaries.list(
            ids[meter],
            params={
                "customer": customer.stripe_customer_id,
                "start_time": int(start.timestamp()),
                "end_time": int(end.timestamp()),
            },
        )
        totals[meter] = round(sum(s.aggregated_value for s in summaries.auto_paging_iter()))
    return totals


@dataclass
class Reconciliation:
    """One customer's month, per meter: expected, reported and Stripe's cents."""

    customer: Customer
    month: date
    expected: dict[str, int]
    reported: dict[str, int]
    stripe: dict[str, int] = field(default_factory=dict)

    @property
    def meters(self) -> list[str]:
        return sorted({*self.expected, *self.reported, *self.stripe})

    @property
    def differences(self) -> dict[str, int]:
        """Meter -> Stripe's cents minus the expected cents, for meters that disagree."""
        return {
            meter: self.stripe.get(meter, 0) - self.expected.get(meter, 0)
            for meter in self.meters
            if self.stripe.get(meter, 0) != self.expected.get(meter, 0)
        }

    @property
    def pending(self) -> dict[str, int]:
        """Meter -> cents not yet reported by the outbox (a shortfall they explain)."""
        return {
            meter: self.expected.get(meter, 0) - self.reported.get(meter, 0)
            for meter in self.meters
            if self.expected.get(meter, 0) != self.reported.get(meter, 0)
        }


def reconcile(
    customer: Customer, month: date, client: stripe.StripeClient | None = None
) -> Reconciliation:
    """The customer's month on our side and on Stripe's (the customer must have a Stripe id)."""
    if not customer.stripe_customer_id:
        raise ValueError(f"customer {customer.pk} has no Stripe customer id")
    expected = expected_cents(customer, month)
    reported = reported_cents(customer, month)
    meters = sorted({*expected, *reported})
    return Reconciliation(
        customer=customer,
        month=month,
        expected=expected,
        reported=reported,
        stripe=stripe_cents(customer, month, meters, client) if meters else {},
    )
