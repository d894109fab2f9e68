"""Customers and their API keys."""

from __future__ import annotations

from django.db import models

from accounts import keys


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
    stripe_customer_id = models.CharField(max_length=64, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """One API key of a customer. The raw key is never stored, only its SHA-256 hash."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="api_keys")
    prefix = models.CharField(max_length=keys.DISPLAY_PREFIX_LENGTH, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.label or 'no label'})"

    @classmethod
    def issue(cls, customer: Customer, label: str = "") -> tuple[ApiKey, str]:
        """Create a key for ``customer``; returns the row and the raw key (shown once)."""
        raw_key = keys.generate_raw_key()
        api_key = cls.objects.create(
            customer=customer,
            prefix=keys.display_prefix(raw_key),
            key_hash=keys.hash_key(raw_key),
            label=label,
        )
        return api_key, raw_key
