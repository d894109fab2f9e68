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
    Tier = apps.get_model("billing", "Tier")
    for code, name, low, high, single, session in TIERS:
        Tier.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "min_monthly_calls": low,
                "max_monthly_calls": high,
                "single_rate": single,
                "session_rate": session,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("billing", "Tier").objects.filter(code__in=[t[0] for t in TIERS]).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
