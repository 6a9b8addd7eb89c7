# The per-county version of the in-process broadcast timelines (pushes/timeline.py).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("org", "0001_initial"),
        ("pushes", "0002_push_is_test"),
    ]

    operations = [
        migrations.CreateModel(
            name="InboxTimelineVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version", models.BigIntegerField(default=0)),
                (
                    "county",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="org.county"
                    ),
                ),
            ],
        ),
    ]
