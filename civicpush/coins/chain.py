"""The optional hash chain over transfers: tampering with a stored transfer becomes evident.

Each county has one chain. A transfer's `hash` is sha256(previous hash + canonical body), where the
body names everything that matters (lots included) but no surrogate id of the transfer itself, so
that the hash can be computed before the row is inserted (rows are append-only: no UPDATE after).

Appends are serialised per county by locking the `ChainHead` row, which the ledger takes *last*,
after every balance/budget/hold lock, and holds only for the inserts and the commit. With batched
transfers (`ledger.transfer_batch`) one lock covers a whole batch, so the chain costs little; a
deployment that does not want it sets `CIVICPUSH_LEDGER_HASH_CHAIN=0` (settings.COINS_HASH_CHAIN).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import json.encoder
import os
from collections.abc import Iterable
from typing import Any

from django.conf import settings

GENESIS = "0" * 64


def enabled() -> bool:
    configured = getattr(settings, "COINS_HASH_CHAIN", None)
    if configured is None:
        configured = os.environ.get("CIVICPUSH_LEDGER_HASH_CHAIN", "1") not in ("0", "false", "no", "")
    return bool(configured)


def _utc(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(fields: dict[str, Any], legs: Iterable[tuple[int, int, int]]) -> str:
    """The canonical text of a transfer: sorted JSON of its body and its legs (period, budget, amount)."""
    body = {
        "seq": fields["chain_seq"],
        "county": fields["county_id"],
        "key": fields["key"],
        "kind": fields["kind"],
        "debit": fields["debit_account_id"],
        "credit": fields["credit_account_id"],
        "amount": int(fields["amount"]),
        "budget": fields["budget_id"],
        "hold": fields["hold_id"],
        "reverses": fields["reverses_id"],
        "memo": fields["memo"],
        "metadata": fields["metadata"] or {},
        "actor": fields["actor_label"],
        "created_at": _utc(fields["created_at"]),
        "legs": sorted([int(p), int(b), int(a)] for p, b, a in legs),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link(prev_hash: str, fields: dict[str, Any], legs: Iterable[tuple[int, int, int]]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields, legs)).encode()).hexdigest()


# The hot path (`pg_transfers`) builds the same text piecewise, without a dict per transfer and
# without sorting keys: "seq" sorts last, so canonical() == head(...) + str(seq) + "}", and the
# database appends the sequence number and chains the hashes under the chain head's lock. Strings
# are encoded exactly as json.dumps(ensure_ascii=False) encodes them (the same C encoder).
_encode_str = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) uses for str
_EMPTY_METADATA = "{}"


def created_at_text(value: datetime.datetime) -> str:
    """The canonical `created_at` value of a batch, computed once (see `head`)."""
    return _utc(value)


def metadata_text(metadata: dict[str, Any] | None) -> str:
    if not metadata:
        return _EMPTY_METADATA
    return json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def head(
    *,
    county_id: int,
    key: str,
    kind: str,
    debit_id: int,
    credit_id: int,
    amount: int,
    memo: str,
    metadata: str,
    actor_label: str,
    created_at: str,
    legs: Iterable[tuple[int, int, int]],
) -> str:
    """canonical() of a plain transfer (no budget, hold or reversal) up to and including `"seq":`.
    `metadata` is `metadata_text(...)`, `created_at` is `created_at_text(...)`."""
    enc = _encode_str
    leg_text = ",".join(f"[{p},{b},{a}]" for p, b, a in sorted((int(p), int(b), int(a)) for p, b, a in legs))
    return (
        f'{{"actor":{enc(actor_label)},"amount":{int(amount)},"budget":null,"county":{int(county_id)},'
        f'"created_at":"{created_at}","credit":{int(credit_id)},"debit":{int(debit_id)},"hold":null,'
        f'"key":{enc(key)},"kind":{enc(kind)},"legs":[{leg_text}],"memo":{enc(memo)},"metadata":{metadata},'
        f'"reverses":null,"seq":'
    )
