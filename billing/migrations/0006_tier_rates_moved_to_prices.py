"""A tier's two rate columns are gone: its prices are ``Price`` rows (0005).

Every product that priced with these columns copies them into rows in a migration declared to
run before this one, so no rate is lost.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_prices")]

    operations = [
        migrations.RemoveField(model_name="tier", name="single_rate"),
        migrations.RemoveField(model_name="tier", name="session_rate"),
    ]
