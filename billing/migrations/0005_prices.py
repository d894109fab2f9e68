"""Prices become rows: a tier's list price and a customer's agreed price per product and call
type (``Price``, ``CustomerPrice``).  The reason field stores the products' own reason strings.

The old rate columns stay until each product that priced with them has copied them into rows
(its migration runs before 0006 and ``accounts.0003``, which remove them).
"""

from decimal import Decimal

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models

import billing.models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_customer_custom_session_rate_and_more"),
        ("billing", "0004_idempotent_body_as_text"),
    ]

    operations = [
        migrations.CreateModel(
            name="Price",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "product",
                    models.CharField(choices=billing.models.product_choices, max_length=32),
                ),
                (
                    "call_type",
                    models.CharField(
                        choices=[
                            ("single", "Single image"),
                            ("session", "Session (batch, stream, PoP)"),
                        ],
                        max_length=8,
                    ),
                ),
                (
                    "rate",
                    models.DecimalField(
                        decimal_places=2,
                        help_text="USD per call.",
                        max_digits=8,
                        validators=[django.core.validators.MinValueValidator(Decimal("0.00"))],
                    ),
                ),
                (
                    "tier",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="prices",
                        to="billing.tier",
                    ),
                ),
            ],
            options={
                "ordering": ["tier__min_monthly_calls", "product", "call_type"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tier", "product", "call_type"),
                        name="price_per_tier_product_call_type",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="CustomerPrice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "product",
                    models.CharField(choices=billing.models.product_choices, max_length=32),
                ),
                (
                    "call_type",
                    models.CharField(
                        choices=[
                            ("single", "Single image"),
                            ("session", "Session (batch, stream, PoP)"),
                        ],
                        max_length=8,
                    ),
                ),
                (
                    "rate",
                    models.DecimalField(
                        decimal_places=2,
                        help_text="USD per call.",
                        max_digits=8,
                        validators=[django.core.validators.MinValueValidator(Decimal("0.00"))],
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="agreed_prices",
                        to="accounts.customer",
                    ),
                ),
            ],
            options={
                "verbose_name": "agreed price",
                "ordering": ["product", "call_type"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("customer", "product", "call_type"),
                        name="agreed_price_per_customer_product_call_type",
                    )
                ],
            },
        ),
        migrations.AlterField(
            model_name="usageevent",
            name="reason",
            field=models.CharField(max_length=32),
        ),
        # Events billed at 0.00 owe Stripe nothing: the outbox's index leaves them out.
        migrations.RemoveIndex(model_name="usageevent", name="usage_unreported_idx"),
        migrations.AddIndex(
            model_name="usageevent",
            index=models.Index(
                condition=models.Q(billable=True, rate__gt=0, reported_at__isnull=True),
                fields=["created_at"],
                name="usage_unreported_idx",
            ),
        ),
    ]
