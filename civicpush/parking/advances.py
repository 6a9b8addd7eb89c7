"""The parking credit: when auto-deduct finds too few coins the platform advances the fee, within a
bound per citizen, from a county-funded pool; later coins repay it.

Accounts (ADR 0011): the pool is a ledger account that, like every account but the county's issuing
account, may never go below zero — it is funded by issuing coins into it from a reserved budget.
What a citizen owes is not a negative wallet but a `CreditLine` row (0 ≤ outstanding ≤ limit, database
CHECKs) with one `Advance` per advanced payment. Advances and repayments lock the credit-line row, so
concurrent runs cannot together exceed the bound; the CHECK is the backstop.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from civicpush.citizens.models import Citizen
from civicpush.coins import ledger
from civicpush.coins.errors import InsufficientFunds
from civicpush.coins.models import Budget, ExpiryPeriod
from civicpush.core.audit import log_action

from .models import Advance, AdvanceStatus, CreditLine, PaymentStatus
from .payments import KIND_POOL_FUNDING, KIND_REPAYMENT, advance_pool, credit_line_locked


def repay_advances(citizen: Citizen) -> int:
    """Repay the citizen's open advances (oldest first) from the coins now in the wallet, as far as
    they reach. Returns the coins repaid. Each repayment's key names the advance and how much of it
    was repaid before, so a retried run never repays the same part twice."""
    repaid_total = 0
    with transaction.atomic():
        line = credit_line_locked(citizen)
        if line.outstanding <= 0:
            return 0
        wallet = ledger.wallet_of(citizen)
        pool = advance_pool(citizen.county_id)
        left = ledger.available(wallet)
        advances = Advance.objects.select_for_update().filter(
            citizen=citizen, status=AdvanceStatus.OPEN, payment__status=PaymentStatus.CONFIRMED
        )
        for advance in advances.order_by("created_at", "id"):
            take = min(left, advance.owed)
            if take <= 0:
                break
            try:
                ledger.transfer(
                    key=f"parking:advance:{advance.pk}:repay:{advance.repaid}",
                    debit=wallet,
                    credit=pool,
                    amount=take,
                    kind=KIND_REPAYMENT,
                    memo="parking advance repaid",
                    metadata={"advance": advance.pk},
                )
            except InsufficientFunds:
                break  # spent elsewhere meanwhile; the next run tries again
            done = advance.repaid + take >= advance.coins
            Advance.objects.filter(pk=advance.pk).update(
                repaid=F("repaid") + take,
                status=AdvanceStatus.REPAID if done else AdvanceStatus.OPEN,
                closed_at=timezone.now() if done else None,
            )
            CreditLine.objects.filter(pk=line.pk).update(outstanding=F("outstanding") - take)
            left -= take
            repaid_total += take
    return repaid_total


def do_fund_advance_pool(
    actor: object, *, budget: Budget, period: ExpiryPeriod, amount: int, key: str
) -> ledger.TransferResult:
    """Issue coins from a reserved budget into the county's parking-advance pool (staff; audited)."""
    with transaction.atomic():
        result = ledger.issue(
            key=key,
            budget=budget,
            credit=advance_pool(budget.county_id),
            amount=amount,
            period=period,
            reason="parking advance pool",
            actor=actor,
            metadata={"kind": KIND_POOL_FUNDING},
        )
        if not result.replayed:
            log_action(
                "parking.advance_pool.funded",
                actor=actor,
                county_id=budget.county_id,
                unit_id=budget.unit_id,
                data={"budget": budget.pk, "amount": amount, "transfer": result.transfer_id},
            )
    return result
