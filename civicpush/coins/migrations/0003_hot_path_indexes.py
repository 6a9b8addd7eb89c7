"""The ledger's hot path (issue 5 benchmark): fewer indexes to maintain per transfer, and room on
balance pages for HOT updates (a lot row is updated by every transfer touching it; with full pages
each update wrote a new entry into every index of coins_balance)."""

import django.db.models.deletion
from django.db import migrations, models

# Pattern-ops copies of the unique key indexes, created by Django for LIKE 'x%' on PostgreSQL; the
# ledger only ever looks keys up by equality.
LIKE_INDEXES = ("coins_ledgerkey", "key"), ("coins_transfer", "key")


# SQLite rebuilds a table to change its indexes, dropping its triggers: restore 0002's append-only ones.
SQLITE_APPEND_ONLY = ("coins_transfer", "coins_ledgerkey", "coins_transferleg", "coins_holdleg")


def tune_postgresql(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "sqlite":
        for table in SQLITE_APPEND_ONLY:
            schema_editor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {table}_append_only BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
            )
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("ALTER TABLE coins_balance SET (fillfactor = 50)")
        for table, column in LIKE_INDEXES:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s",
                [table, f"{table}_{column}_%_like"],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


def untune_postgresql(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("ALTER TABLE coins_balance RESET (fillfactor)")
        for table, column in LIKE_INDEXES:
            cursor.execute(
                f'CREATE INDEX IF NOT EXISTS "{table}_{column}_like" ON {table} ({column} varchar_pattern_ops)'
            )


class Migration(migrations.Migration):
    dependencies = [
        ("coins", "0002_ledger_append_only"),
        ("org", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="balance",
            name="account",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="balances", to="coins.account"
            ),
        ),
        migrations.AlterField(
            model_name="ledgerkey",
            name="hold",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="coins.hold",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerkey",
            name="transfer",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="coins.transfer",
            ),
        ),
        migrations.AlterField(
            model_name="transfer",
            name="county",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="org.county"
            ),
        ),
        migrations.AlterField(
            model_name="transfer",
            name="credit_account",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="credits", to="coins.account"
            ),
        ),
        migrations.AlterField(
            model_name="transfer",
            name="debit_account",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="debits", to="coins.account"
            ),
        ),
        migrations.RunPython(tune_postgresql, untune_postgresql),
    ]
