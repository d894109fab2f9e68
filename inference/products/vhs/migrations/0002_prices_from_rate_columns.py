"""VHS prices as rows: the tiers' and enterprise customers' rate columns, copied.

Until ``billing.0006`` and ``accounts.0003`` a tier carried one single and one session rate,
and an enterprise customer its agreed pair; they were the prices of the VHS API, the only
product billed then.  This copies them into ``billing.Price`` and ``billing.CustomerPrice``
rows for product "vhs" and is declared to run before the columns are removed, so prices hold
on existing databases (whatever staff had set) and on fresh ones (seed 002's table, written by
``billing.0002``).

A customer's agreed rates were used only while its tier lacked a list price, so they are
copied only for such customers: no customer's price changes.  ``seed`` writes seed 002's
table directly; the test suite calls it to restore prices after flushing the database.
"""

from django.db import migrations

PRODUCT = "vhs"

# Seed 002's list prices (USD), frozen: (tier code, call type, rate).  Enterprise: per customer.
SEED_PRICES = [
    ("paygo", "single", "3.00"),
    ("paygo", "session", "4.00"),
    ("starter", "single", "2.50"),
    ("starter", "session", "3.50"),
    ("professional", "single", "2.00"),
    ("professional", "session", "3.00"),
]


def copy_rates(apps, schema_editor):
    Tier = apps.get_model("billing", "Tier")
    Price = apps.get_model("billing", "Price")
    Customer = apps.get_model("accounts", "Customer")
    CustomerPrice = apps.get_model("billing", "CustomerPrice")
    for tier in Tier.objects.all():
        for call_type, rate in (("single", tier.single_rate), ("session", tier.session_rate)):
            if rate is not None:
                Price.objects.update_or_create(
                    tier=tier, product=PRODUCT, call_type=call_type, defaults={"rate": rate}
                )
    for customer in Customer.objects.select_related("tier"):
        if customer.tier.single_rate is not None and customer.tier.session_rate is not None:
            continue  # the tier's list prices applied, never the customer's own
        for call_type, rate in (
            ("single", customer.custom_single_rate),
            ("session", customer.custom_session_rate),
        ):
            if rate is not None:
                CustomerPrice.objects.update_or_create(
                    customer=customer,
                    product=PRODUCT,
                    call_type=call_type,
                    defaults={"rate": rate},
                )


def restore_rates(apps, schema_editor):
    """Backwards: the rows' rates back into the columns (re-added by reversing billing.0006)."""
    Price = apps.get_model("billing", "Price")
    CustomerPrice = apps.get_model("billing", "CustomerPrice")
    for price in Price.objects.filter(product=PRODUCT).select_related("tier"):
        setattr(price.tier, f"{price.call_type}_rate", price.rate)
        price.tier.save(update_fields=[f"{price.call_type}_rate"])
    for price in CustomerPrice.objects.filter(product=PRODUCT).select_related("customer"):
        setattr(price.customer, f"custom_{price.call_type}_rate", price.rate)
        price.customer.save(update_fields=[f"custom_{price.call_type}_rate"])


def seed(apps, schema_editor):
    """Seed 002's list prices for every seeded tier (runs on the current models too)."""
    Tier = apps.get_model("billing", "Tier")
    Price = apps.get_model("billing", "Price")
    for code, call_type, rate in SEED_PRICES:
        tier = Tier.objects.filter(code=code).first()
        if tier is not None:
            Price.objects.update_or_create(
                tier=tier, product=PRODUCT, call_type=call_type, defaults={"rate": rate}
            )


class Migration(migrations.Migration):
    dependencies = [
        ("vhs", "0001_initial"),
        ("billing", "0005_prices"),
    ]
    run_before = [
        ("billing", "0006_tier_rates_moved_to_prices"),
        ("accounts", "0003_customer_rates_moved_to_prices"),
    ]

    operations = [migrations.RunPython(copy_rates, restore_rates)]
