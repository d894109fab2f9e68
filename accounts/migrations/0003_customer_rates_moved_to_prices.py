"""A customer's two agreed-rate columns are gone: agreed prices are ``billing.CustomerPrice``
rows.  Products that priced with these columns copy them into rows before this runs."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_customer_custom_session_rate_and_more"),
        ("billing", "0005_prices"),
    ]

    operations = [
        migrations.RemoveField(model_name="customer", name="custom_single_rate"),
        migrations.RemoveField(model_name="customer", name="custom_session_rate"),
    ]
