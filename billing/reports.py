"""The numbers behind the staff pages: monthly summary, dashboard, Stripe reporting health.

Pure query functions: each takes a month or a date range (UTC, the billing period of
``billing.engine``) and returns plain data, so the admin views only lay them out.  Money is
summed as ``Decimal`` from the ``rate`` stored on each billable event, never recomputed from
today's tier prices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Min, Q, Sum, Value, Window
from django.db.models.functions import Coalesce, RowNumber, TruncDate, TruncMonth
from django.utils import timezone

from billing.models import CallType, Reason, UsageEvent

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=12, decimal_places=2)
# The engine's own free reasons, after the products' (see ``free_reasons``).
ENGINE_FREE_REASONS = (Reason.RECHECK_24H.value, Reason.BILLING_ERROR.value)


def free_reasons(products: Iterable[str] | None = None) -> tuple[str, ...]:
    """Reasons of free events, in the order of the summary's columns: each declared
    product's ``free_reason`` (only those of ``products`` when given), then the engine's."""
    from billing.rules import rule_for
    from inference.runtime.product import products as declared

    names = [config.product for config in declared()]
    if products is not None:
        wanted = set(products)
        names = [name for name in names if name in wanted]
    own = [rule_for(name).free_reason for name in names]
    return (*dict.fromkeys(own), *ENGINE_FREE_REASONS)


def __getattr__(name: str) -> object:
    # FREE_REASONS is derived from the products' declarations, which exist only once the app
    # registry is ready: computed when asked for, not at import.
    if name == "FREE_REASONS":
        return free_reasons()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# A billable event still unreported this long after it was recorded needs a look: the
# outbox task normally reports it within seconds, the sweep within minutes.
STRIPE_OVERDUE_AFTER = timedelta(hours=1)


# --- months -------------------------------------------------------------------------------


def month_of(moment: datetime | date) -> date:
    """The first day of the UTC calendar month ``moment`` falls in."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date()
    return moment.replace(day=1)


def add_months(month: date, count: int) -> date:
    """The first day of the month ``count`` months after ``month`` (negative: before)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_range(month: date) -> tuple[datetime, datetime]:
    """The half-open UTC interval [start, end) of ``month``."""
    first = month_of(month)
    start = datetime(first.year, first.month, 1, tzinfo=UTC)
    following = add_months(first, 1)
    return start, datetime(following.year, following.month, 1, tzinfo=UTC)


def parse_month(text: str) -> date:
    """``"2026-11"`` -> ``date(2026, 11, 1)``; ValueError for anything else."""
    year, sep, month = text.partition("-")
    if not (sep and len(year) == 4 and len(month) == 2 and year.isdigit() and month.isdigit()):
        raise ValueError(f"not a month (YYYY-MM): {text!r}")
    return date(int(year), int(month), 1)


def recent_months(count: int = 12, now: datetime | None = None) -> list[date]:
    """The last ``count`` calendar months, the current one first."""
    current = month_of(now or timezone.now())
    return [add_months(current, -offset) for offset in range(count)]


# --- monthly summary per customer ---------------------------------------------------------


@dataclass
class SummaryRow:
    """One customer's month (or, as the total row, everyone's)."""

    customer_id: int | None
    customer: str
    #: The free reasons shown as columns, in order (``MonthlySummary.free_reasons``).
    reasons: tuple[str, ...] = ENGINE_FREE_REASONS
    tiers: list[str] = field(default_factory=list)
    billable_single: int = 0
    billable_session: int = 0
    free: dict[str, int] = field(default_factory=dict)
    cost: Decimal = ZERO

    @property
    def billable(self) -> int:
        return self.billable_single + self.billable_session

    @property
    def free_total(self) -> int:
        return sum(self.free.values())

    @property
    def free_by_reason(self) -> list[int]:
        """Free calls per reason, in the order of ``reasons``."""
        return [self.free.get(reason, 0) for reason in self.reasons]

    def add(self, other: SummaryRow) -> None:
        self.billable_single += other.billable_single
        self.billable_session += other.billable_session
        for reason, count in other.free.items():
            self.free[reason] = self.free.get(reason, 0) + count
        self.cost += other.cost
        for tier in other.tiers:
            if tier not in self.tiers:
                self.tiers.append(tier)


@dataclass
class MonthlySummary:
    month: date
    rows: list[SummaryRow]
    total: SummaryRow
    #: Free reasons with a column: those of the products called this month, then the engine's.
    free_reasons: tuple[str, ...] = ENGINE_FREE_REASONS


def monthly_summary(month: date) -> MonthlySummary:
    """Per customer with any event in ``month``: billable calls by type, free calls by
    reason, the tiers the calls were decided at, and the cost (sum of billed rates).

    The free-reason columns are those of the products called in the month (and the engine's
    own), so a product nobody used adds no column of zeros."""
    start, end = month_range(month)
    in_month = UsageEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    called = in_month.order_by().values_list("product", flat=True).distinct()
    reasons = free_reasons(called)
    billable = Q(billable=True)
    groups = (
        in_month.order_by()
        .values("customer_id", "customer__name", "tier_code")
        .annotate(
            first=Min("created_at"),
            single=Count("pk", filter=billable & Q(call_type=CallType.SINGLE)),
            session=Count("pk", filter=billable & Q(call_type=CallType.SESSION)),
            cost=Sum("rate", filter=billable),
            **{
                f"free_{index}": Count("pk", filter=Q(billable=False, reason=reason))
                for index, reason in enumerate(reasons)
            },
        )
    )
    rows: dict[int, SummaryRow] = {}
    for group in sorted(groups, key=lambda g: g["first"]):
        row = rows.setdefault(
            group["customer_id"],
            SummaryRow(
                customer_id=group["customer_id"],
                customer=group["customer__name"],
                reasons=reasons,
                free=dict.fromkeys(reasons, 0),
            ),
        )
        row.add(
            SummaryRow(
                customer_id=group["customer_id"],
                customer=group["customer__name"],
                reasons=reasons,
                tiers=[group["tier_code"]] if group["tier_code"] else [],
                billable_single=group["single"],
                billable_session=group["session"],
                free={reason: group[f"free_{i}"] for i, reason in enumerate(reasons)},
                cost=group["cost"] or ZERO,
            )
        )
    ordered = sorted(rows.values(), key=lambda row: row.customer.lower())
    total = SummaryRow(
        customer_id=None, customer="Total", reasons=reasons, free=dict.fromkeys(reasons, 0)
    )
    for row in ordered:
        total.add(row)
    total.tiers = []
    return MonthlySummary(month=month_of(month), rows=ordered, total=total, free_reasons=reasons)


# --- dashboard series ---------------------------------------------------------------------


def product_labels(seen: Iterable[str] = ()) -> dict[str, str]:
    """Product name -> how staff pages name it: every declared product (its verbose name), in
    ``INSTALLED_APPS`` order, then any other name ``seen`` in events (a product since removed
    keeps its history)."""
    from inference.runtime.product import products

    labels = {config.product: str(config.verbose_name) for config in products()}
    for name in seen:
        labels.setdefault(name, name)
    return labels


@dataclass
class ProductSeries:
    """One product's values over a run of periods (days or months), oldest first."""

    product: str
    label: str
    values: list
    #: Every call of the product over the periods, billable or free.
    calls: int = 0

    @property
    def total(self) -> int | Decimal:
        return sum(self.values, ZERO if any(isinstance(v, Decimal) for v in self.values) else 0)


def _day_range(last_day: date, days: int) -> tuple[list[date], datetime, datetime]:
    first_day = last_day - timedelta(days=days - 1)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    end = datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC) + timedelta(days=1)
    return [first_day + timedelta(days=n) for n in range(days)], start, end


def daily_usage_by_product(
    last_day: date, days: int = 30
) -> tuple[list[date], list[ProductSeries]]:
    """Billable calls per UTC day and product for the ``days`` days ending with ``last_day``
    (zeros kept; every declared product, then any other product called), one query."""
    series_days, start, end = _day_range(last_day, days)
    rows = list(
        UsageEvent.objects.filter(created_at__gte=start, created_at__lt=end)
        .order_by()
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", "product")
        .annotate(calls=Count("pk"), billable=Count("pk", filter=Q(billable=True)))
        .values_list("day", "product", "calls", "billable")
    )
    labels = product_labels(product for _, product, _, _ in rows)
    index = {day: n for n, day in enumerate(series_days)}
    series = {name: ProductSeries(name, label, [0] * days) for name, label in labels.items()}
    for day, product, calls, billable in rows:
        series[product].values[index[day]] += billable
        series[product].calls += calls
    return series_days, list(series.values())


def daily_billable_calls(last_day: date, days: int = 30) -> list[tuple[date, int]]:
    """Billable calls per UTC day for the ``days`` days ending with ``last_day``, zeros kept."""
    series_days, series = daily_usage_by_product(last_day, days)
    return [(day, sum(s.values[n] for s in series)) for n, day in enumerate(series_days)]


def monthly_revenue_by_product(
    last_month: date, months: int = 12
) -> tuple[list[date], list[ProductSeries]]:
    """Billed USD per UTC calendar month and product for the ``months`` months ending with
    ``last_month``, oldest first, zeros kept: the sum of the rates stored on the billable
    events (``Decimal``), never today's prices.  ``calls`` counts the billable calls."""
    first_month = add_months(month_of(last_month), -(months - 1))
    start, _ = month_range(first_month)
    _, end = month_range(last_month)
    rows = list(
        UsageEvent.objects.filter(billable=True, created_at__gte=start, created_at__lt=end)
        .order_by()
        .annotate(month=TruncMonth("created_at", tzinfo=UTC))
        .values("month", "product")
        .annotate(revenue=Sum("rate"), calls=Count("pk"))
        .values_list("month", "product", "revenue", "calls")
    )
    series_months = [add_months(first_month, n) for n in range(months)]
    labels = product_labels(product for _, product, _, _ in rows)
    index = {month: n for n, month in enumerate(series_months)}
    series = {name: ProductSeries(name, label, [ZERO] * months) for name, label in labels.items()}
    for month, product, revenue, calls in rows:
        series[product].values[index[month_of(month)]] += revenue or ZERO
        series[product].calls += calls
    return series_months, list(series.values())


def monthly_revenue(last_month: date, months: int = 12) -> list[tuple[date, Decimal]]:
    """Billed USD per UTC calendar month for the ``months`` months ending with
    ``last_month``, oldest first, zeros kept."""
    series_months, series = monthly_revenue_by_product(last_month, months)
    return [
        (month, sum((s.values[n] for s in series), ZERO)) for n, month in enumerate(series_months)
    ]


@dataclass
class CustomerUsage:
    """One customer's calls of one product over a period."""

    customer_id: int
    customer: str
    calls: int
    billable: int
    revenue: Decimal


@dataclass
class ProductTop:
    product: str
    label: str
    customers: list[CustomerUsage]


def top_customers(month: date, limit: int = 5) -> list[ProductTop]:
    """Per product, the ``limit`` customers with the most revenue in ``month`` (then the most
    billable calls, then the most calls): ranked in the database, one query."""
    start, end = month_range(month)
    billable = Q(billable=True)
    rows = list(
        UsageEvent.objects.filter(created_at__gte=start, created_at__lt=end)
        .order_by()
        .values("product", "customer_id", "customer__name")
        .annotate(
            calls=Count("pk"),
            billed=Count("pk", filter=billable),
            revenue=Coalesce(Sum("rate", filter=billable), Value(ZERO), output_field=MONEY),
        )
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=F("product"),
                order_by=[
                    F("revenue").desc(),
                    F("billed").desc(),
                    F("calls").desc(),
                    F("customer__name").asc(),
                ],
            )
        )
        .filter(rank__lte=limit)
        .order_by("product", "rank")
    )
    labels = product_labels(row["product"] for row in rows)
    tops = {name: ProductTop(name, label, []) for name, label in labels.items()}
    for row in rows:
        tops[row["product"]].customers.append(
            CustomerUsage(
                customer_id=row["customer_id"],
                customer=row["customer__name"],
                calls=row["calls"],
                billable=row["billed"],
                revenue=row["revenue"],
            )
        )
    return list(tops.values())


@dataclass
class ProductMonth:
    """One customer's month of one product."""

    product: str
    label: str
    calls: int = 0
    billable: int = 0
    cost: Decimal = ZERO

    @property
    def free(self) -> int:
        return self.calls - self.billable


@dataclass
class CustomerMonth:
    month: date
    #: Every declared product (zeros kept), then any other product the customer called.
    products: list[ProductMonth]
    total: ProductMonth
    #: The tiers the month's calls were decided at, first used first.
    tiers: list[str]


def customer_month(customer_id: int, month: date) -> CustomerMonth:
    """A customer's ``month`` per product: calls, billable calls and cost (the rates billed
    at the time), and the tiers the calls were decided at; one query."""
    start, end = month_range(month)
    billable = Q(billable=True)
    rows = list(
        UsageEvent.objects.filter(
            customer_id=customer_id, created_at__gte=start, created_at__lt=end
        )
        .order_by()
        .values("product", "tier_code")
        .annotate(
            first=Min("created_at"),
            calls=Count("pk"),
            billed=Count("pk", filter=billable),
            cost=Sum("rate", filter=billable),
        )
        .order_by("first")
    )
    labels = product_labels(row["product"] for row in rows)
    per_product = {name: ProductMonth(name, label) for name, label in labels.items()}
    total = ProductMonth("", "Total")
    tiers: list[str] = []
    for row in rows:
        for line in (per_product[row["product"]], total):
            line.calls += row["calls"]
            line.billable += row["billed"]
            line.cost += row["cost"] or ZERO
        if row["tier_code"] and row["tier_code"] not in tiers:
            tiers.append(row["tier_code"])
    return CustomerMonth(
        month=month_of(month), products=list(per_product.values()), total=total, tiers=tiers
    )


# --- Stripe reporting ---------------------------------------------------------------------

STRIPE_STATUSES = {
    "reported": "Reported",
    "pending": "Pending",
    "overdue": "Unreported for over an hour",
    "failing": "Failing (last attempt failed)",
    "not_owed": "Not reported (free, billed at 0.00, or customer without Stripe id)",
}


def owed_to_stripe() -> Q:
    """Billable, unreported events above 0.00 of customers with a Stripe id: the outbox's
    work.  An event billed at 0.00 adds nothing to an invoice and is never sent."""
    return Q(billable=True, rate__gt=0, reported_at__isnull=True) & ~Q(
        customer__stripe_customer_id=""
    )


def stripe_status_q(status: str, now: datetime | None = None) -> Q:
    """The events in one of ``STRIPE_STATUSES``; ``pending`` and ``failing`` do not overlap,
    ``overdue`` holds both kinds once they are older than ``STRIPE_OVERDUE_AFTER``."""
    now = now or timezone.now()
    if status == "reported":
        return Q(reported_at__isnull=False)
    if status == "pending":
        return owed_to_stripe() & Q(last_report_error="")
    if status == "failing":
        return owed_to_stripe() & ~Q(last_report_error="")
    if status == "overdue":
        return owed_to_stripe() & Q(created_at__lt=now - STRIPE_OVERDUE_AFTER)
    if status == "not_owed":
        return Q(reported_at__isnull=True) & ~owed_to_stripe()
    raise ValueError(f"unknown Stripe reporting status {status!r}")


def stripe_status(event: UsageEvent) -> str:
    """The status of one event (with its customer loaded), as a key of ``STRIPE_STATUSES``."""
    if event.reported_at is not None:
        return "reported"
    if not (event.billable and event.rate and event.customer.stripe_customer_id):
        return "not_owed"
    return "failing" if event.last_report_error else "pending"


@dataclass
class OverdueCustomer:
    customer_id: int
    customer: str
    events: int
    failing: int
    oldest: datetime


@dataclass
class StripeHealth:
    pending: int
    failing: int
    overdue: int
    billing_errors: int
    billing_errors_since: datetime
    overdue_customers: list[OverdueCustomer]


def stripe_health(now: datetime | None = None, billing_errors_days: int = 30) -> StripeHealth:
    """Counts of events owed to Stripe (pending, failing, overdue), of ``billing_error``
    events in the last ``billing_errors_days`` days, and the customers with overdue events."""
    now = now or timezone.now()
    since = now - timedelta(days=billing_errors_days)
    counts = UsageEvent.objects.order_by().aggregate(
        pending=Count("pk", filter=stripe_status_q("pending", now)),
        failing=Count("pk", filter=stripe_status_q("failing", now)),
        overdue=Count("pk", filter=stripe_status_q("overdue", now)),
        billing_errors=Count("pk", filter=Q(reason=Reason.BILLING_ERROR, created_at__gte=since)),
    )
    overdue = (
        UsageEvent.objects.filter(stripe_status_q("overdue", now))
        .order_by()
        .values("customer_id", "customer__name")
        .annotate(
            events=Count("pk"),
            failing=Count("pk", filter=~Q(last_report_error="")),
            oldest=Min("created_at"),
        )
        .order_by("oldest")
    )
    return StripeHealth(
        pending=counts["pending"],
        failing=counts["failing"],
        overdue=counts["overdue"],
        billing_errors=counts["billing_errors"],
        billing_errors_since=since,
        overdue_customers=[
            OverdueCustomer(
                customer_id=row["customer_id"],
                customer=row["customer__name"],
                events=row["events"],
                failing=row["failing"],
                oldest=row["oldest"],
            )
            for row in overdue
        ],
    )
