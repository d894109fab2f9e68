"""Customers and their API keys."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from accounts import keys

# last_used_at is refreshed at most this often, so a busy key does not cost a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def default_tier_id() -> int | None:
    from billing.models import DEFAULT_TIER_CODE, Tier

    return Tier.objects.filter(code=DEFAULT_TIER_CODE).values_list("id", flat=True).first()


class Customer(models.Model):
    """A clinic, lab or practice that calls the APIs; usage and patients belong to it."""

    name = models.CharField(max_length=200, unique=True)
    email = models.EmailField(blank=True)
    tier = models.ForeignKey(
        "billing.Tier", on_delete=models.PROTECT, related_name="customers", default=default_tier_id
    )
    stripe_customer_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="Stripe customer id (cus_…); billable usage is reported to Stripe when set.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    #: False when a form edits the agreed prices together with the customer (the admin's
    #: inline) and checks them itself: the rows it is about to save are not stored yet.
    checks_prices_in_clean = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.checks_prices_in_clean:
            self.require_prices()

    def require_prices(self, agreed: Collection[tuple[str, str]] | None = None) -> None:
        """Refuse a tier this customer could not be billed on: one that needs agreed prices
        (``Tier.missing_prices``) the customer has not got, in ``agreed`` or else stored."""
        if not self.tier_id:
            return
        missing = self.missing_prices(agreed)
        if missing:
            listed = ", ".join(f"{product} {call_type}" for product, call_type in missing)
            raise ValidationError(
                f"The {self.tier.name} tier has no list prices for {listed}: "
                "set the agreed prices for this customer."
            )

    def missing_prices(
        self, agreed: Collection[tuple[str, str]] | None = None
    ) -> list[tuple[str, str]]:
        """``(product, call_type)`` pairs that would be billing errors for this customer: its
        tier lists no price and it has no agreed price (``agreed``, else its stored rows)."""
        if agreed is None:
            agreed = set(self.agreed_prices.values_list("product", "call_type")) if self.pk else ()
        return [pair for pair in self.tier.missing_prices() if pair not in agreed]

    def rate_for(self, product: str, call_type: str) -> Decimal | None:
        """USD for one billable call: the agreed price, else the tier's, else None."""
        agreed = (
            self.agreed_prices.filter(product=product, call_type=call_type)
            .values_list("rate", flat=True)
            .first()
        )
        return agreed if agreed is not None else self.tier.price(product, call_type)


class Membership(models.Model):
    """Links a Django user to the customer they act for (staff need none)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="memberships")

    def __str__(self) -> str:
        return f"{self.user} → {self.customer}"


class ApiKey(models.Model):
    """One API key of a customer. The raw key is never stored, only its SHA-256 hash."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="api_keys")
    prefix = models.CharField(max_length=keys.DISPLAY_PREFIX_LENGTH, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Empty: never expires; short-lived keys (staff pages') stop working then.",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.label or 'no label'})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and not self.is_expired and self.customer.is_active

    def touch(self) -> None:
        """Record use, writing only when the stored time is older than the resolution."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    @classmethod
    def issue(
        cls, customer: Customer, label: str = "", expires_at: datetime | None = None
    ) -> tuple[ApiKey, str]:
        """Create a key for ``customer`` (valid until ``expires_at``, if given); returns the
        row and the raw key (shown once)."""
        raw_key = keys.generate_raw_key()
        api_key = cls.objects.create(
            customer=customer,
            prefix=keys.display_prefix(raw_key),
            key_hash=keys.hash_key(raw_key),
            label=label,
            expires_at=expires_at,
        )
        return api_key, raw_key
