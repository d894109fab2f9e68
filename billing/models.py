"""Billing data. Tiers and their prices are rows (seeded by migrations), so staff change
prices in admin.

Prices are per product and call type: a tier lists its ``Price`` rows, an enterprise customer
its agreed ``CustomerPrice`` rows, which win over the tier's.  Which products exist, and
whether a product may be called without a price, is declared by the products themselves
(``billing.rules``); nothing here names one.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

# Rates are USD with cents; stored as decimals so sums are exact.
RATE_DIGITS = {"max_digits": 8, "decimal_places": 2}


def product_choices() -> list[tuple[str, str]]:
    """The declared products, for the ``product`` fields' drop-downs (callable choices, so a
    new product needs no migration here)."""
    from inference.runtime.product import products

    return [(config.product, config.verbose_name) for config in products()]


class CallType(models.TextChoices):
    SINGLE = "single", "Single image"
    SESSION = "session", "Session (batch, stream, PoP)"


class Tier(models.Model):
    """A volume band of monthly billable calls; its list prices are its ``prices`` rows.

    A tier without a price for a call type of a product whose rule requires one (enterprise)
    needs prices agreed per customer (``CustomerPrice``).  Staff assign tiers: the band
    describes the offer and does not move a customer by itself.
    """

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    min_monthly_calls = models.PositiveIntegerField(default=0)
    max_monthly_calls = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty means no upper bound."
    )

    class Meta:
        ordering = ["min_monthly_calls"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def price(self, product: str, call_type: str) -> Decimal | None:
        """The tier's list price of one call, or None when it lists none."""
        return (
            self.prices.filter(product=product, call_type=call_type)
            .values_list("rate", flat=True)
            .first()
        )

    def missing_prices(self) -> list[tuple[str, str]]:
        """``(product, call_type)`` pairs a customer on this tier can only be billed for at an
        agreed price: products whose rule requires a price, call types the tier lists none for.
        """
        from billing.rules import rule_for

        listed = set(self.prices.values_list("product", "call_type")) if self.pk else set()
        return [
            (product, call_type)
            for product, _ in product_choices()
            if rule_for(product).price_required
            for call_type in CallType.values
            if (product, call_type) not in listed
        ]

    @property
    def needs_agreed_prices(self) -> bool:
        return bool(self.missing_prices())


class Price(models.Model):
    """A tier's list price for one call of a product's call type."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="prices")
    product = models.CharField(max_length=32, choices=product_choices)
    call_type = models.CharField(max_length=8, choices=CallType.choices)
    rate = models.DecimalField(
        **RATE_DIGITS, validators=[MinValueValidator(Decimal("0.00"))], help_text="USD per call."
    )

    class Meta:
        ordering = ["tier__min_monthly_calls", "product", "call_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["tier", "product", "call_type"], name="price_per_tier_product_call_type"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tier.code} {self.product} {self.call_type} ${self.rate}"


class CustomerPrice(models.Model):
    """A price agreed with one customer (enterprise); it wins over the tier's list price."""

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.CASCADE, related_name="agreed_prices"
    )
    product = models.CharField(max_length=32, choices=product_choices)
    call_type = models.CharField(max_length=8, choices=CallType.choices)
    rate = models.DecimalField(
        **RATE_DIGITS, validators=[MinValueValidator(Decimal("0.00"))], help_text="USD per call."
    )

    class Meta:
        ordering = ["product", "call_type"]
        verbose_name = "agreed price"
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "product", "call_type"],
                name="agreed_price_per_customer_product_call_type",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.product} {self.call_type} ${self.rate}"


DEFAULT_TIER_CODE = "paygo"


class Reason(models.TextChoices):
    """The reasons the engine itself gives; a billed or valueless call carries its product's
    reason (``ValueRule.billed_reason`` / ``free_reason``)."""

    RECHECK_24H = "recheck_24h", "Recheck within 24 h (free)"
    BILLING_ERROR = "billing_error", "Billing error (free)"


def reason_label(reason: str, billable: bool) -> str:
    """How staff pages name a reason: the engine's own labels, else the product's reason
    string with whether it bills."""
    if reason in Reason.values:
        return Reason(reason).label
    return f"{reason} ({'billed' if billable else 'free'})"


class UsageEvent(models.Model):
    """One prediction call, billable or not. Monthly usage is counted from these rows.

    ``monthly_usage`` is the customer's count of billable calls of this product this calendar
    month (UTC) as reported to the caller when the decision was made; for a billable event it
    is this event's place in the month (1, 2, 3, …).
    """

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="usage_events"
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    product = models.CharField(max_length=32)
    endpoint = models.CharField(max_length=100)
    call_type = models.CharField(max_length=8, choices=CallType.choices)
    billable = models.BooleanField()
    # The product's reason strings or the engine's (Reason); free text, not choices, so a new
    # product needs no migration of billing.
    reason = models.CharField(max_length=32)
    tier_code = models.CharField(max_length=32)
    rate = models.DecimalField(**RATE_DIGITS, null=True, blank=True)
    result_code = models.SmallIntegerField(null=True, blank=True)
    patient_uuid = models.CharField(max_length=128, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    monthly_usage = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Stripe outbox: billable events with a rate above zero, of customers with a Stripe id,
    # are reported once.  An event billed at 0.00 owes Stripe nothing and never waits here.
    reported_at = models.DateTimeField(null=True, blank=True)
    report_attempts = models.PositiveSmallIntegerField(default=0)
    last_report_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer", "billable", "created_at"]),
            models.Index(fields=["customer", "patient_uuid", "billable", "created_at"]),
            models.Index(
                fields=["created_at"],
                condition=models.Q(billable=True, reported_at__isnull=True, rate__gt=0),
                name="usage_unreported_idx",
            ),
        ]

    def __str__(self) -> str:
        verdict = f"billed {self.rate}" if self.billable else self.reason
        return f"{self.customer} {self.endpoint} {verdict}"

    @property
    def reason_label(self) -> str:
        return reason_label(self.reason, self.billable)

    @property
    def stripe_identifier(self) -> str:
        """Our event id as Stripe's meter-event identifier: retries never double-charge."""
        return f"usage-{self.pk}"


class IdempotentRequest(models.Model):
    """The stored answer to a request sent with an ``Idempotency-Key`` header.

    A retry with the same key and the same body gets this response again (and is not billed
    again); the same key with a different body is refused.  Keys are per customer.
    """

    customer = models.ForeignKey("accounts.Customer", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    endpoint = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # Text, not JSONField: PostgreSQL's jsonb reorders keys, and a replay must be the same
    # document the first request got.
    response_body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "key"], name="idempotency_key_per_customer")
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.key}"
