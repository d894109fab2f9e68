"""Staff admin of billing: tiers, the usage ledger (read-only), its CSV export, the monthly
summary per customer and the dashboard.

Usage events are written by ``billing.engine`` alone; here nobody can add, change or delete
one. The queries behind the summary and the dashboard live in ``billing.reports``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from billing import reports
from billing.charts import Series, stacked_bar_chart_svg
from billing.models import Price, Tier, UsageEvent, reason_label


class PriceInline(admin.TabularInline):
    """A tier's list prices, one row per product and call type.  A product whose rule
    requires a price and that has no row here is billed only at prices agreed per customer."""

    model = Price
    extra = 0
    fields = ["product", "call_type", "rate"]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "min_monthly_calls",
        "max_monthly_calls",
        "list_prices",
        "customer_count",
    ]
    fields = ["code", "name", "min_monthly_calls", "max_monthly_calls"]
    inlines = [PriceInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tier]:
        return (
            super()
            .get_queryset(request)
            .annotate(n_customers=Count("customers"))
            .prefetch_related("prices")
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Tier | None = None) -> list[str]:
        # Events and the default tier refer to tiers by code: a code, once made, stays.
        return ["code"] if obj is not None else []

    @admin.display(description="list prices (USD)")
    def list_prices(self, tier: Tier) -> str:
        prices = sorted(tier.prices.all(), key=lambda p: (p.product, p.call_type != "single"))
        return ", ".join(f"{p.product} {p.call_type} {p.rate}" for p in prices) or "agreed"

    @admin.display(description="customers", ordering="n_customers")
    def customer_count(self, tier: Tier) -> int:
        return tier.n_customers


class MonthFilter(admin.SimpleListFilter):
    """The last 12 UTC calendar months (the billing periods)."""

    title = "month (UTC)"
    parameter_name = "month"

    def lookups(self, request, model_admin):
        return [
            (month.strftime("%Y-%m"), month.strftime("%B %Y"))
            for month in reports.recent_months(12)
        ]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            start, end = reports.month_range(reports.parse_month(self.value()))
        except ValueError as exc:
            raise IncorrectLookupParameters(str(exc)) from exc
        return queryset.filter(created_at__gte=start, created_at__lt=end)


class StripeReportingFilter(admin.SimpleListFilter):
    title = "Stripe reporting"
    parameter_name = "stripe"

    def lookups(self, request, model_admin):
        return list(reports.STRIPE_STATUSES.items())

    def queryset(self, request, queryset):
        if self.value() not in reports.STRIPE_STATUSES:
            return queryset
        return queryset.filter(reports.stripe_status_q(self.value()))


CSV_COLUMNS = [
    ("id", "pk"),
    ("created_at_utc", "created_at"),
    ("customer_id", "customer_id"),
    ("customer", "customer__name"),
    ("api_key_prefix", "api_key__prefix"),
    ("product", "product"),
    ("endpoint", "endpoint"),
    ("call_type", "call_type"),
    ("billable", "billable"),
    ("reason", "reason"),
    ("tier", "tier_code"),
    ("rate_usd", "rate"),
    ("result_code", "result_code"),
    ("monthly_usage", "monthly_usage"),
    ("patient_uuid", "patient_uuid"),
    ("request_id", "request_id"),
    ("reported_at_utc", "reported_at"),
    ("report_attempts", "report_attempts"),
    ("last_report_error", "last_report_error"),
]
# A cell starting with one of these is a formula to a spreadsheet; request ids and patient
# uuids come from callers, so such cells are prefixed with a quote (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _usd(amount: object) -> str:
    """Dollars for a chart: cents below $1,000, whole dollars above (labels stay short)."""
    return f"${amount:,.2f}" if amount < 1000 else f"${amount:,.0f}"


# Customers listed per product in the dashboard's "top customers" tables.
TOP_CUSTOMERS = 5


class _Echo:
    """A file-like object whose write returns the line, for streaming ``csv.writer``."""

    def write(self, value: str) -> str:
        return value


def usage_csv_rows(queryset: QuerySet[UsageEvent]) -> Iterator[str]:
    """The header and one line per event of ``queryset``; never an API key hash."""
    writer = csv.writer(_Echo())
    yield writer.writerow([header for header, _ in CSV_COLUMNS])
    fields = [field for _, field in CSV_COLUMNS]
    for row in queryset.values_list(*fields).iterator(chunk_size=2000):
        yield writer.writerow([_csv_cell(value) for value in row])


def usage_csv_response(queryset: QuerySet[UsageEvent]) -> StreamingHttpResponse:
    stamp = timezone.now().astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(usage_csv_rows(queryset), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="usage-events-{stamp}.csv"'
    return response


@admin.register(UsageEvent)
class UsageEventAdmin(admin.ModelAdmin):
    """The usage ledger: viewable, filterable, exportable; never editable."""

    list_display = [
        "created_at",
        "customer",
        "product",
        "endpoint",
        "call_type",
        "billable",
        "reason_shown",
        "rate",
        "result_code",
        "monthly_usage",
        "stripe_reporting",
    ]
    list_filter = [
        ("customer", admin.RelatedOnlyFieldListFilter),
        MonthFilter,
        "product",
        "billable",
        "reason",
        "call_type",
        StripeReportingFilter,
    ]
    list_select_related = ["customer"]
    search_fields = ["customer__name", "request_id", "patient_uuid", "endpoint"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # the ledger grows without bound: no extra COUNT(*)
    actions = ["export_selected_csv"]
    readonly_fields = ["reason_shown"]
    fieldsets = [
        (None, {"fields": ["created_at", "customer", "api_key", "product", "endpoint"]}),
        (
            "Billing decision",
            {
                "fields": [
                    "call_type",
                    "billable",
                    "reason_shown",
                    "tier_code",
                    "rate",
                    "monthly_usage",
                    "result_code",
                    "patient_uuid",
                    "request_id",
                ]
            },
        ),
        ("Stripe", {"fields": ["reported_at", "report_attempts", "last_report_error"]}),
    ]

    # --- read-only for everyone ---------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: UsageEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: UsageEvent | None = None) -> bool:
        return False

    # --- columns ------------------------------------------------------------------------

    @admin.display(description="reason", ordering="reason")
    def reason_shown(self, event: UsageEvent) -> str:
        return event.reason_label

    @admin.display(description="reported to Stripe")
    def stripe_reporting(self, event: UsageEvent) -> str:
        status = reports.stripe_status(event)
        if status == "reported":
            return f"reported {event.reported_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        if status == "not_owed":
            return "—"
        overdue = timezone.now() - event.created_at > reports.STRIPE_OVERDUE_AFTER
        if status == "failing":
            return format_html(
                '<span title="{}">failing ({} attempts){}</span>',
                event.last_report_error,
                event.report_attempts,
                ", overdue" if overdue else "",
            )
        return "pending, overdue" if overdue else "pending"

    # --- export ---------------------------------------------------------------------------

    @admin.action(description="Export selected as CSV", permissions=["view"])
    def export_selected_csv(
        self, request: HttpRequest, queryset: QuerySet[UsageEvent]
    ) -> StreamingHttpResponse:
        return usage_csv_response(queryset)

    def export_view(self, request: HttpRequest) -> StreamingHttpResponse | HttpResponseRedirect:
        """Every event the changelist shows with the same query string (all pages)."""
        self._require_view(request)
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(self._url("changelist") + "?e=1")
        return usage_csv_response(changelist.get_queryset(request))

    # --- summary and dashboard pages ------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view  # staff only; others go to the login page
        return [
            path("export.csv", wrap(self.export_view), name=self._url_name("export")),
            path("summary/", wrap(self.summary_view), name=self._url_name("summary")),
            path("dashboard/", wrap(self.dashboard_view), name=self._url_name("dashboard")),
            *super().get_urls(),
        ]

    def summary_view(self, request: HttpRequest) -> TemplateResponse:
        """Per customer, one month: billable calls by type, free calls by reason, cost."""
        self._require_view(request)
        months = reports.recent_months(12)
        try:
            month = reports.parse_month(request.GET.get("month", ""))
        except ValueError:
            month = months[0]
        summary = reports.monthly_summary(month)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Usage summary, {month:%B %Y} (UTC)",
            "summary": summary,
            "month_param": f"{month:%Y-%m}",
            "months": [(f"{m:%Y-%m}", f"{m:%B %Y}") for m in months],
            "previous_month": f"{reports.add_months(month, -1):%Y-%m}",
            "next_month": f"{reports.add_months(month, 1):%Y-%m}",
            "free_reasons": [
                reason_label(reason, billable=False) for reason in summary.free_reasons
            ],
            "changelist_url": self._url("changelist"),
        }
        return TemplateResponse(request, "admin/billing/usage_summary.html", context)

    def dashboard_view(self, request: HttpRequest) -> TemplateResponse:
        """Billable calls per day and product (30 days), revenue per month and product (12
        months, from the stored rates), top customers per product this month, Stripe health.
        A fixed number of queries, however many events there are."""
        self._require_view(request)
        now = timezone.now()
        today = now.astimezone(UTC).date()
        this_month = reports.month_of(now)
        days, daily = reports.daily_usage_by_product(today, days=30)
        months, revenue = reports.monthly_revenue_by_product(this_month, months=12)
        # The chart functions escape every label, product name and value they write.
        daily_chart = stacked_bar_chart_svg(
            [f"{day:%m-%d}" for day in days],
            [Series(s.label, s.values) for s in daily],
            title="Billable calls per day (UTC), last 30 days",
        )
        revenue_chart = stacked_bar_chart_svg(
            [f"{month:%b %y}" for month in months],
            [Series(s.label, s.values) for s in revenue],
            title="Billed revenue per month (USD, UTC months), last 12 months",
            format_value=_usd,
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Billing dashboard",
            "daily_chart": mark_safe(daily_chart),  # noqa: S308
            "revenue_chart": mark_safe(revenue_chart),  # noqa: S308
            "daily_rows": [(s.label, s.calls, s.total, s.calls - s.total) for s in daily],
            "revenue_rows": [(s.label, s.calls, s.total) for s in revenue],
            "daily_total": sum(s.total for s in daily),
            "revenue_total": sum((s.total for s in revenue), reports.ZERO),
            "top": reports.top_customers(this_month, limit=TOP_CUSTOMERS),
            "top_limit": TOP_CUSTOMERS,
            "this_month": this_month,
            "month_param": f"{this_month:%Y-%m}",
            "health": reports.stripe_health(now),
            "stripe_configured": bool(settings.STRIPE_API_KEY),
            "changelist_url": self._url("changelist"),
            "summary_url": self._url("summary"),
        }
        return TemplateResponse(request, "admin/billing/dashboard.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra = {
            "export_url": self._url("export"),
            "summary_url": self._url("summary"),
            "dashboard_url": self._url("dashboard"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)

    def _url_name(self, name: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{name}"

    def _url(self, name: str) -> str:
        return reverse(f"{self.admin_site.name}:{self._url_name(name)}")

    def _require_view(self, request: HttpRequest) -> None:
        if not self.has_view_permission(request):
            raise PermissionDenied
