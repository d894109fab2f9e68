"""Staff admin of customers, their users and their API keys.

A raw API key exists only in the response of the "Generate an API key" action: it is never
stored, logged or put in a Django message (messages may travel in a cookie).  Issuing and
revoking keys are written to the admin's LogEntry audit trail like any other change.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from accounts.models import ApiKey, Customer, Membership
from billing import reports
from billing.engine import month_start
from billing.models import CustomerPrice, UsageEvent


def _count_of(queryset: QuerySet) -> Coalesce:
    """A per-customer count as a subquery, so several counts never multiply each other."""
    counted = queryset.order_by().values("customer").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    verbose_name = "user"
    verbose_name_plural = "users (memberships)"


class ApiKeyInline(admin.TabularInline):
    """The customer's keys, read-only: keys are issued by the action and revoked on the
    API key list, never typed in here."""

    model = ApiKey
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["prefix", "label", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Customer | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Customer | None = None) -> bool:
        return False


# The inline's form prefix: the related name of CustomerPrice.customer.
AGREED_PRICES_PREFIX = "agreed_prices"


class AgreedPriceFormSet(forms.BaseInlineFormSet):
    """Checks the customer's tier against the agreed prices as they will be saved: a tier
    that lists no price for a call type of a product requiring one needs an agreed price."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        agreed = {
            (form.cleaned_data["product"], form.cleaned_data["call_type"])
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("rate") is not None
        }
        customer: Customer = self.instance
        try:
            customer.require_prices(agreed)
        except ValidationError as error:
            raise ValidationError(error.messages) from error


class AgreedPriceInline(admin.TabularInline):
    """Prices agreed with this customer (enterprise): they win over the tier's list prices."""

    model = CustomerPrice
    formset = AgreedPriceFormSet
    extra = 0
    fields = ["product", "call_type", "rate"]


class CustomerForm(forms.ModelForm):
    """The customer's fields.  When the agreed-price inline is submitted with them, its
    formset checks the tier against the rows about to be saved (``Customer.clean`` would
    see only the stored ones); without it (no permission for prices) ``clean`` checks."""

    class Meta:
        model = Customer
        fields = ["name", "email", "is_active", "tier", "stripe_customer_id"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if f"{AGREED_PRICES_PREFIX}-TOTAL_FORMS" in self.data:
            self.instance.checks_prices_in_clean = False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "tier",
        "is_active",
        "stripe_customer_id",
        "live_keys",
        "billable_this_month",
    ]
    list_filter = ["tier", "is_active"]
    list_select_related = ["tier"]
    search_fields = ["name", "email", "stripe_customer_id"]
    readonly_fields = ["created_at"]
    fieldsets = [
        (None, {"fields": ["name", "email", "is_active", "created_at"]}),
        ("Billing", {"fields": ["tier"]}),
        ("Stripe", {"fields": ["stripe_customer_id"]}),
    ]
    form = CustomerForm
    inlines = [AgreedPriceInline, MembershipInline, ApiKeyInline]
    actions = ["generate_api_key"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        this_month = UsageEvent.objects.filter(
            customer=OuterRef("pk"), billable=True, created_at__gte=month_start(timezone.now())
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                unrevoked_keys=_count_of(
                    ApiKey.objects.filter(customer=OuterRef("pk"), revoked_at__isnull=True)
                ),
                billable_month=_count_of(this_month),
            )
        )

    @admin.display(description="live keys", ordering="unrevoked_keys")
    def live_keys(self, customer: Customer) -> int:
        # An inactive customer's keys are refused (ApiKey.is_live), however many exist.
        return customer.unrevoked_keys if customer.is_active else 0

    @admin.display(description="billable calls this month (UTC)", ordering="billable_month")
    def billable_this_month(self, customer: Customer) -> int:
        return customer.billable_month

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ):
        """The customer's page opens with this month's usage and cost per product."""
        extra = {**(extra_context or {}), **self.this_month_context(request, object_id)}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def this_month_context(self, request: HttpRequest, object_id: str) -> dict:
        """This UTC month's calls, billable calls and cost per product (one query), and the
        ledger filtered to the customer and month; nothing when the id is not a customer's."""
        try:
            customer_id = int(object_id)
        except ValueError:
            return {}
        month = reports.month_of(timezone.now())
        context = {"this_month": reports.customer_month(customer_id, month)}
        events = UsageEvent._meta
        if request.user.has_perm(f"{events.app_label}.view_{events.model_name}"):
            ledger = reverse(
                f"{self.admin_site.name}:{events.app_label}_{events.model_name}_changelist"
            )
            context["usage_events_url"] = (
                f"{ledger}?customer__id__exact={customer_id}&month={month:%Y-%m}"
            )
            context["all_usage_events_url"] = f"{ledger}?customer__id__exact={customer_id}"
        return context

    def has_issue_key_permission(self, request: HttpRequest) -> bool:
        opts = ApiKey._meta
        return request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")

    @admin.action(description="Generate an API key", permissions=["issue_key"])
    def generate_api_key(
        self, request: HttpRequest, queryset: QuerySet[Customer]
    ) -> TemplateResponse | None:
        issued: list[tuple[Customer, ApiKey, str]] = []
        for customer in queryset.order_by("name"):
            if not customer.is_active:
                self.message_user(
                    request,
                    f"{customer.name} is inactive: no key issued. Activate the customer first.",
                    messages.WARNING,
                )
                continue
            api_key, raw_key = ApiKey.issue(
                customer, label=f"issued in admin by {request.user.get_username()}"
            )
            self.log_addition(request, api_key, [{"added": {}}])
            self.log_change(request, customer, f"Issued API key {api_key.prefix}…")
            issued.append((customer, api_key, raw_key))
        if not issued:
            return None  # back to the list, showing the warnings
        context = {
            **self.admin_site.each_context(request),
            "title": "New API keys",
            "opts": self.opts,
            "issued": issued,
        }
        response = TemplateResponse(request, "admin/accounts/customer/issued_keys.html", context)
        add_never_cache_headers(response)  # includes no-store: no copy on disk or in a proxy
        return response


class LiveFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("live", "live"), ("revoked", "revoked"), ("inactive", "customer inactive")]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.filter(revoked_at__isnull=True, customer__is_active=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "inactive":
            return queryset.filter(revoked_at__isnull=True, customer__is_active=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are listed and revoked here; they are created by the customer action or the
    ``create_api_key`` command, and never deleted (revoking keeps the audit trail)."""

    list_display = ["prefix", "customer", "label", "created_at", "last_used_at", "revoked_at"]
    list_filter = [LiveFilter, ("customer", admin.RelatedOnlyFieldListFilter), "created_at"]
    list_select_related = ["customer"]
    search_fields = ["prefix", "customer__name", "label"]
    fields = ["customer", "prefix", "label", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["customer", "prefix", "created_at", "last_used_at", "revoked_at"]
    date_hierarchy = "created_at"
    actions = ["revoke_keys"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key.revoke()
            self.log_change(request, api_key, "Revoked")
            revoked += 1
        already = queryset.count() - revoked
        note = f" ({already} already revoked)" if already else ""
        self.message_user(request, f"Revoked {revoked} API key(s){note}.", messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "customer"]
    list_select_related = ["user", "customer"]
    list_filter = [("customer", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__email", "customer__name"]
    autocomplete_fields = ["user", "customer"]
