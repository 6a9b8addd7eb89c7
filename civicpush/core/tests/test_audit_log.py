from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from civicpush.core import request_context
from civicpush.core.audit import log_action
from civicpush.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_log_action_records_actor_object_unit_and_client_address(org):
    manager = org.user("prevention.manager")
    unit = org.unit("prevention")
    token = request_context.set_current(request_context.RequestContext(client_ip="203.0.113.7"))
    try:
        entry = log_action(
            "org.unit.renamed", actor=manager, obj=unit, before={"name": "預防科"}, after={"name": "預防科(新)"}
        )
    finally:
        request_context.reset(token)
    entry.refresh_from_db()
    assert entry.actor == manager
    assert entry.actor_label == "prevention.manager"
    assert entry.unit_id == unit.pk
    assert (entry.object_type, entry.object_id) == ("org.unit", str(unit.pk))
    assert entry.before == {"name": "預防科"} and entry.after == {"name": "預防科(新)"}
    assert entry.client_ip == "203.0.113.7"
    assert entry.county_id == org.county.pk


def test_orm_refuses_to_change_or_delete_audit_entries(org):
    entry = log_action("org.test.happened", actor=org.user("county.admin"))
    entry.action = "org.test.rewritten"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")


def test_database_refuses_update_even_with_raw_sql(org):
    entry = log_action("org.test.happened", actor=org.user("county.admin"))
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditentry SET action = 'tampered' WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).action == "org.test.happened"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="DELETE is refused by a PostgreSQL trigger")
def test_postgres_refuses_delete_even_with_raw_sql(org):
    entry = log_action("org.test.happened", actor=org.user("county.admin"))
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
