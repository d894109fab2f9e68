"""API keys may expire (the staff pages' short-lived keys): ``ApiKey.expires_at``."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_customer_rates_moved_to_prices"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="expires_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Empty: never expires; short-lived keys (staff pages') stop working then.",
                null=True,
            ),
        ),
    ]
