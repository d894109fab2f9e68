"""Patient and Measurement now belong to their product's app (``vhs.0001_initial``).

State only: the tables stay where they are, under their old names.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inference", "0001_initial"), ("vhs", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="Measurement"),
                migrations.DeleteModel(name="Patient"),
            ],
        )
    ]
