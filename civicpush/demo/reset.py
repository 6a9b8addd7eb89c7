"""`load_demo --reset` and the coin ledger (and the later domains built on it): the ledger is append-only (the database refuses UPDATE and,
on PostgreSQL, DELETE), and citizens' wallet accounts protect the citizens. A demo reset is the one
place where everything coin-related is thrown away: the coins tables and every table that refers to
them (directly or through others) are emptied — TRUNCATE on PostgreSQL (not a row operation, so the
append-only triggers do not fire), DELETE on SQLite (foreign keys are checked at commit). Refused
when the database holds more than the demo county: a reset never touches a real deployment's coins.
"""

from __future__ import annotations

from django.apps import apps
from django.db import connection, models, transaction

from civicpush.core.errors import Conflict
from civicpush.org.models import County

KEEP = {"core.auditentry"}  # the audit log survives a reset (its rows refer to staff, who stay)
# Apps whose every row is demo data in a demo database (their loaders run again after the reset).
WIPED_APPS = ("coins", "delivery", "surveys", "events", "stores", "parking", "cases", "feedback", "adoption")


def _coin_dependent_models() -> list[type[models.Model]]:
    """Concrete models of WIPED_APPS plus every model that refers to one of them, transitively."""
    found: dict[str, type[models.Model]] = {
        m._meta.label_lower: m
        for label in WIPED_APPS
        if apps.is_installed(f"civicpush.{label}")
        for m in apps.get_app_config(label).get_models()
        if not m._meta.proxy and m._meta.managed
    }
    changed = True
    while changed:
        changed = False
        for model in apps.get_models():
            label = model._meta.label_lower
            if label in found or label in KEEP or model._meta.proxy or not model._meta.managed:
                continue
            for field in model._meta.concrete_fields:
                target = getattr(field, "related_model", None)
                if target is not None and target._meta.label_lower in found:
                    found[label] = model
                    changed = True
                    break
            else:
                for m2m in model._meta.local_many_to_many:
                    if m2m.related_model._meta.label_lower in found:
                        found[label] = model
                        changed = True
                        break
    tables: dict[str, type[models.Model]] = {}
    for model in found.values():
        tables[model._meta.db_table] = model
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            if through is not None:
                tables[through._meta.db_table] = through
    return list(tables.values())


def wipe_demo_coins() -> int:
    """Empty the coin ledger, the later domains' demo data and everything that refers to them (demo
    reset only). Returns the table count."""
    if County.objects.count() > 1:
        raise Conflict("load_demo --reset refuses to wipe coins in a database with more than one county.")
    tables = sorted({m._meta.db_table for m in _coin_dependent_models()})
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Check deferred foreign keys now: TRUNCATE refuses tables with pending trigger events
            # (rows written earlier in the same transaction, e.g. inside a test).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(quote(t) for t in tables)}")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {quote(table)}")  # table names come from the model registry
    return len(tables)
