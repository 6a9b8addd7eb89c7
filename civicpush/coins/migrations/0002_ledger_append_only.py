"""Transfers, their legs, hold legs and idempotency keys are append-only in the database too.

PostgreSQL: a row trigger refuses UPDATE and DELETE (TRUNCATE, used only by test teardown, is a
table operation and not affected). SQLite: a trigger refuses UPDATE; DELETE stays possible because
Django's test flush on SQLite deletes rows, and the ORM refuses deletes (AppendOnlyModel).
"""

from django.db import migrations

TABLES = ("coins_transfer", "coins_transferleg", "coins_holdleg", "coins_ledgerkey")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION coins_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '%% is append-only: correct with a reversing transfer', TG_TABLE_NAME;
END
$$ LANGUAGE plpgsql;
"""


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION coins_append_only();"
            )
    elif vendor == "sqlite":
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {table}_append_only BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
            )


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only;")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS coins_append_only();")


class Migration(migrations.Migration):
    dependencies = [("coins", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
