"""Monthly settlement: totals equal the ledger's sums; an issued statement cannot change (model and
database); the workflow and who may take each step; the payable is cleared; XLSX and PDF read back."""

from __future__ import annotations

import datetime
import io

import pytest
import time_machine
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Sum

from civicpush.coins import ledger
from civicpush.coins.models import Transfer
from civicpush.core.errors import Conflict, NotFound, PermissionDenied
from civicpush.core.models import AuditEntry
from civicpush.stores import exports, settlement
from civicpush.stores import payments as pay
from civicpush.stores.models import Adjustment, Statement, StatementStatus
from civicpush.wallet.services import issue_pay_code

from .helpers import funded_citizen, make_shop

pytestmark = pytest.mark.django_db

IN_MARCH = datetime.datetime(2026, 3, 10, 3, 0, tzinfo=datetime.UTC)
IN_APRIL = datetime.datetime(2026, 4, 2, 3, 0, tzinfo=datetime.UTC)


def _march_activity(org):
    with time_machine.travel(IN_MARCH, tick=True):
        shop = make_shop(org)
        citizens = [funded_citizen(shop, 2000) for _ in range(3)]
        paid = []
        for i, c in enumerate(citizens):
            for j, coins in enumerate((100, 250)):
                paid.append(
                    pay.charge_pay_code(shop.cashier, shop.store, issue_pay_code(c).token, coins, f"m-{i}-{j}-xxxx")
                )
        pay.refund(shop.cashier, shop.store, paid[0].payment.pk, "退貨")
    # A payment in April does not belong to March.
    with time_machine.travel(IN_APRIL + datetime.timedelta(days=1), tick=True):
        pay.charge_pay_code(shop.cashier, shop.store, issue_pay_code(citizens[0]).token, 40, "april-0001")
    return shop, citizens


def test_statement_totals_equal_the_ledgers_sums_and_the_issued_statement_is_frozen(org):
    shop, citizens = _march_activity(org)
    with time_machine.travel(IN_APRIL, tick=True):
        [draft] = [
            s for s in settlement.prepare_drafts(shop.operator, shop.county.pk, 2026, 3) if s.store_id == shop.store.pk
        ]
        # Independently from the ledger: what left the citizens' wallets into this store in March, minus reversals.
        start, end = settlement.month_bounds(2026, 3)
        wallets = [ledger.wallet_of(c) for c in citizens]
        spent = Transfer.objects.filter(
            debit_account__in=wallets, created_at__gte=start, created_at__lt=end, kind="store_payment"
        )
        back = Transfer.objects.filter(
            credit_account__in=wallets, created_at__gte=start, created_at__lt=end, kind="reversal"
        )
        gross = spent.aggregate(s=Sum("amount"))["s"]
        refunds = back.aggregate(s=Sum("amount"))["s"]
        assert (draft.payments_count, draft.gross_coins, draft.refund_coins) == (6, gross, refunds) == (6, 1050, 100)
        assert draft.due_coins == draft.ledger_net_coins == 950
        with pytest.raises(Conflict):  # March is over only on 1 April (Taiwan time): now it is.
            settlement.issue(shop.operator, draft.pk, now=datetime.datetime(2026, 3, 31, 15, 0, tzinfo=datetime.UTC))
        with pytest.raises(PermissionDenied):
            settlement.issue(shop.cashier, draft.pk)
        issued = settlement.issue(shop.operator, draft.pk)
    assert issued.status == StatementStatus.ISSUED and settlement.verify_snapshot(issued)
    assert sum(line["coins"] for line in issued.snapshot["lines"]) == 950

    # The ORM refuses to change it…
    issued.gross_coins = 1
    with pytest.raises(PermissionError):
        issued.save()
    with pytest.raises(PermissionError):
        Statement.objects.get(pk=issued.pk).delete()
    # …and so does the database, even with raw SQL.
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE stores_statement SET due_coins = due_coins + 1, ledger_net_coins = ledger_net_coins + 1, gross_coins = gross_coins + 1 WHERE id = %s",
            [issued.pk],
        )
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE stores_statement SET status = 'paid' WHERE id = %s", [issued.pk])
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM stores_statement WHERE id = %s", [issued.pk])
    fresh = Statement.objects.get(pk=issued.pk)
    assert fresh.gross_coins == 1050 and settlement.verify_snapshot(fresh)


def test_confirm_approve_pay_clears_the_payable(org):
    shop, _citizens = _march_activity(org)
    other = make_shop(org)
    with time_machine.travel(IN_APRIL, tick=True):
        settlement.prepare_drafts(shop.operator, shop.county.pk, 2026, 3)
        statement = Statement.objects.get(store=shop.store, year=2026, month=3)
        settlement.issue(shop.operator, statement.pk)
    with pytest.raises(NotFound):
        settlement.confirm(other.cashier, statement.pk)  # another store's staff
    settlement.confirm(shop.cashier, statement.pk)
    with pytest.raises(PermissionDenied):
        settlement.approve(shop.operator, statement.pk)  # the operator is not accounting
    with pytest.raises(PermissionDenied):
        settlement.approve(org.user("fire.accounting"), statement.pk)  # an agency's accounting is not the county's
    settlement.approve(shop.accounting, statement.pk)
    before = ledger.balance(pay.payable_account(shop.store))
    paid = settlement.mark_paid(shop.accounting, statement.pk, "TWB-2026-0410-001")
    assert paid.status == StatementStatus.PAID and paid.bank_reference == "TWB-2026-0410-001"
    assert ledger.balance(pay.payable_account(shop.store)) == before - 950 == 40  # April's payment stays
    assert ledger.balance(settlement.settled_account(shop.county.pk)) == 950
    actions = set(AuditEntry.objects.filter(action__startswith="stores.statement.").values_list("action", flat=True))
    assert actions == {
        "stores.statement.issued",
        "stores.statement.confirmed",
        "stores.statement.approved",
        "stores.statement.paid",
    }


def test_a_dispute_is_fixed_by_an_adjustment_in_the_next_period(org):
    shop, _citizens = _march_activity(org)
    with time_machine.travel(IN_APRIL, tick=True):
        settlement.prepare_drafts(shop.operator, shop.county.pk, 2026, 3)
        march = Statement.objects.get(store=shop.store, year=2026, month=3)
        settlement.issue(shop.operator, march.pk)
    settlement.dispute(shop.cashier, march.pk, "少算一筆 50 金幣")
    settlement.resolve_dispute(shop.operator, march.pk, "50", "補入下期")
    settlement.approve(shop.accounting, march.pk)
    assert Adjustment.objects.get(source_statement=march).coins == 50
    with time_machine.travel(datetime.datetime(2026, 5, 1, 3, 0, tzinfo=datetime.UTC), tick=True):
        settlement.prepare_drafts(shop.operator, shop.county.pk, 2026, 4)
        april = settlement.issue(shop.operator, Statement.objects.get(store=shop.store, year=2026, month=4).pk)
    assert (april.ledger_net_coins, april.adjustment_coins, april.due_coins) == (40, 50, 90)
    assert Adjustment.objects.get(source_statement=march).applied_statement_id == april.pk


def test_statement_xlsx_and_pdf_read_back_with_the_right_totals(org):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    shop, _citizens = _march_activity(org)
    with time_machine.travel(IN_APRIL, tick=True):
        settlement.prepare_drafts(shop.operator, shop.county.pk, 2026, 3)
        statement = settlement.issue(shop.operator, Statement.objects.get(store=shop.store, year=2026, month=3).pk)
    book = load_workbook(io.BytesIO(exports.statement_xlsx(statement)))
    values = {row[0]: row[1] for row in book["請款明細"].iter_rows(values_only=True)}
    assert values["應付金幣（數值）"] == 950 and values["應付金額（數值）"] == 95.0
    assert sum(row[4] for row in book["交易"].iter_rows(min_row=2, values_only=True)) == 950
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(exports.statement_pdf(statement))).pages)
    assert "950" in text and "95.0" in text and statement.store.ubn in text

    summary = load_workbook(io.BytesIO(exports.summary_xlsx(shop.county.pk, 2026, 3)))["請款總表"]
    rows = list(summary.iter_rows(values_only=True))
    total = rows[-1]
    assert total[0] == "合計" and total[8] == sum(r[8] for r in rows[2:-1]) and total[9] == 95.0
    pdf_text = "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(exports.summary_pdf(shop.county.pk, 2026, 3))).pages
    )
    assert "950" in pdf_text and "95.0" in pdf_text
