"""Billing data. Tiers are rows (seeded by a migration), so staff change prices in admin."""

from django.db import models


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
