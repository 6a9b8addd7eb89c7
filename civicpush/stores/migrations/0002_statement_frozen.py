"""An issued statement cannot change in the database either.

PostgreSQL: a row trigger refuses UPDATEs of an issued statement's frozen columns (its totals, snapshot
and hash, store and period), status changes outside the workflow, and DELETE of an issued statement
(TRUNCATE, used only by test teardown, is not affected). SQLite: a trigger refuses the UPDATEs; DELETE
stays possible there because Django's test flush deletes rows (the ORM refuses it: Statement.delete).
"""

from django.db import migrations

FROZEN = (
    "county_id",
    "store_id",
    "year",
    "month",
    "payments_count",
    "gross_coins",
    "refund_coins",
    "ledger_net_coins",
    "adjustment_coins",
    "due_coins",
    "snapshot",
    "snapshot_hash",
    "issued_at",
)
TRANSITIONS = (
    ("draft", "issued"),
    ("issued", "confirmed"),
    ("issued", "disputed"),
    ("disputed", "approved"),
    ("confirmed", "approved"),
    ("approved", "paid"),
)

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION stores_statement_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> 'draft' THEN
      RAISE EXCEPTION 'stores_statement %% is issued and cannot be deleted', OLD.id;
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.status <> 'draft' AND ({", ".join("NEW." + c for c in FROZEN)})
       IS DISTINCT FROM ({", ".join("OLD." + c for c in FROZEN)}) THEN
    RAISE EXCEPTION 'stores_statement %% is issued: its totals and snapshot cannot change', OLD.id;
  END IF;
  IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN ({", ".join(f"('{a}', '{b}')" for a, b in TRANSITIONS)}) THEN
    RAISE EXCEPTION 'stores_statement %% cannot go from %% to %%', OLD.id, OLD.status, NEW.status;
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql;
"""

SQLITE_CHANGED = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
SQLITE_ALLOWED = " OR ".join(f"(OLD.status = '{a}' AND NEW.status = '{b}')" for a, b in TRANSITIONS)


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)
        schema_editor.execute(
            "CREATE TRIGGER stores_statement_guard BEFORE UPDATE OR DELETE ON stores_statement "
            "FOR EACH ROW EXECUTE FUNCTION stores_statement_guard();"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            "CREATE TRIGGER IF NOT EXISTS stores_statement_frozen BEFORE UPDATE ON stores_statement "
            f"WHEN OLD.status <> 'draft' AND ({SQLITE_CHANGED}) "
            "BEGIN SELECT RAISE(ABORT, 'an issued statement cannot change'); END;"
        )
        schema_editor.execute(
            "CREATE TRIGGER IF NOT EXISTS stores_statement_workflow BEFORE UPDATE ON stores_statement "
            f"WHEN NEW.status <> OLD.status AND NOT ({SQLITE_ALLOWED}) "
            "BEGIN SELECT RAISE(ABORT, 'statement status change not allowed'); END;"
        )


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS stores_statement_guard ON stores_statement;")
        schema_editor.execute("DROP FUNCTION IF EXISTS stores_statement_guard();")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS stores_statement_frozen;")
        schema_editor.execute("DROP TRIGGER IF EXISTS stores_statement_workflow;")


class Migration(migrations.Migration):
    dependencies = [("stores", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
