"""Billing data. Tiers are rows (seeded by a migration), so staff change prices in admin."""

from django.db import models
from django.utils import timezone


class Tier(models.Model):
    """A volume band of monthly billable calls with its per-call rates (seed 002, Billing).

    Rates are null for tiers whose prices are agreed per customer (enterprise).
    """

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    min_monthly_calls = models.PositiveIntegerField(default=0)
    max_monthly_calls = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty means no upper bound."
    )
    single_rate = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="USD per single call."
    )
    session_rate = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="USD per session call."
    )

    class Meta:
        ordering = ["min_monthly_calls"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def has_custom_rates(self) -> bool:
        return self.single_rate is None or self.session_rate is None


DEFAULT_TIER_CODE = "paygo"


class CallType(models.TextChoices):
    SINGLE = "single", "Single image"
    SESSION = "session", "Session (batch, stream, PoP)"


class Reason(models.TextChoices):
    VALID_VHS = "valid_vhs", "Valid VHS (billed)"
    NO_VALID_VHS = "no_valid_vhs", "No valid VHS (free)"
    RECHECK_24H = "recheck_24h", "Recheck within 24 h (free)"
    BILLING_ERROR = "billing_error", "Billing error (free)"


class UsageEvent(models.Model):
    """One prediction call, billable or not. Monthly usage is counted from these rows.

    ``monthly_usage`` is the customer's count of billable calls this calendar month (UTC)
    as reported to the caller when the decision was made; for a billable event it is this
    event's place in the month (1, 2, 3, …).
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
    reason = models.CharField(max_length=16, choices=Reason.choices)
    tier_code = models.CharField(max_length=32)
    rate = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    result_code = models.SmallIntegerField(null=True, blank=True)
    patient_uuid = models.CharField(max_length=128, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    monthly_usage = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Stripe outbox: billable events of customers with a Stripe id are reported once.
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
                condition=models.Q(billable=True, reported_at__isnull=True),
                name="usage_unreported_idx",
            ),
        ]

    def __str__(self) -> str:
        verdict = f"billed {self.rate}" if self.billable else self.reason
        return f"{self.customer} {self.endpoint} {verdict}"

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
