"""Indexes for segment counts over a million citizens (bench/audience_estimate.py; target ≤ 300 ms).

They sit on the citizens app's tables but exist for audiences' queries, so they are created here
(raw SQL, no model state) and named audiences_*:

- audiences_citizen_inactive_idx: partial index of non-active citizens, so the "active only" test
  in segments.active_profiles() is an anti-join against a few rows instead of a scan of all citizens.
- audiences_profile_segment_idx (PostgreSQL): (township, birth year) covering topics_mask and
  citizen_id, so township + age + topics counts are index-only scans.
"""

from django.db import migrations

INACTIVE = (
    "CREATE INDEX IF NOT EXISTS audiences_citizen_inactive_idx ON citizens_citizen (id) "
    "WHERE NOT (status = 'active')"
)
SEGMENT = (
    "CREATE INDEX IF NOT EXISTS audiences_profile_segment_idx ON citizens_citizenprofile "
    "(township_id, birth_year) INCLUDE (topics_mask, citizen_id)"
)


def forwards(apps, schema_editor):
    schema_editor.execute(INACTIVE)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEGMENT)


def backwards(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS audiences_citizen_inactive_idx")
    schema_editor.execute("DROP INDEX IF EXISTS audiences_profile_segment_idx")


class Migration(migrations.Migration):
    dependencies = [
        ("audiences", "0001_initial"),
        ("citizens", "0002_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
