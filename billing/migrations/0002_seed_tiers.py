"""Seed the four tiers of seed 002 (paygo, starter, professional, enterprise)."""

from django.db import migrations

# A frozen copy: migrations must not change when billing.models.SEED_TIERS is edited later.
TIERS = [
    ("paygo", "Pay-as-you-go", 0, 100, "3.00", "4.00"),
    ("starter", "Starter", 101, 500, "2.50", "3.50"),
    ("professional", "Professional", 501, 2000, "2.00", "3.00"),
    ("enterprise", "Enterprise", 2001, None, None, None),
]


def seed(apps, schema_editor):
    """The four tiers.  Also called with the current models (the test suite restores seeded
    rows after a flush with it), where prices are no longer tier columns but rows, which the
    migrations that moved them seed (their own ``seed``)."""
    Tier = apps.get_model("billing", "Tier")
    has_rate_columns = any(field.name == "single_rate" for field in Tier._meta.get_fields())
    for code, name, low, high, single, session in TIERS:
        defaults = {"name": name, "min_monthly_calls": low, "max_monthly_calls": high}
        if has_rate_columns:
            defaults.update(single_rate=single, session_rate=session)
        Tier.objects.update_or_create(code=code, defaults=defaults)


def unseed(apps, schema_editor):
    apps.get_model("billing", "Tier").objects.filter(code__in=[t[0] for t in TIERS]).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
