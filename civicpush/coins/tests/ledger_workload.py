"""A worker process of the concurrent ledger tests (run by test_concurrency_ledger.py, not collected).

    python -m civicpush.coins.tests.ledger_workload --setup setup.json --log out.jsonl --worker 3 \
        --ops 2500 [--start 0] [--seed 7] [--exit-every 0] [--mode mixed|budget]

DATABASE_URL names the (committed) test database. Each operation's outcome is one JSON line in the
log, flushed at once, so that the parent can check every key after workers died on purpose.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
from typing import Any


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--ops", type=int, required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--exit-every", type=int, default=0, help="about one op in N ends the process mid-transaction")
    parser.add_argument("--exit-at", type=int, default=-1, help="this op ends the process mid-transaction")
    parser.add_argument("--mode", default="mixed")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicpush.config.settings_test")
    import django

    django.setup()
    from django.db import DatabaseError, InterfaceError, connection, transaction
    from django.db.backends.signals import connection_created
    from django.utils import timezone

    from civicpush.coins import ledger
    from civicpush.coins.models import Account, Budget, ExpiryPeriod
    from civicpush.core.errors import DomainError

    def tag(sender: Any, connection: Any, **kwargs: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"SET application_name = 'ledger-worker-{args.worker}'")
            # The test proves isolation and atomicity, not the server's durability: skipping the
            # WAL flush at commit keeps 20,000 operations within CI's time on two cores.
            cursor.execute("SET synchronous_commit = off")

    connection_created.connect(tag)

    with open(args.setup) as f:
        setup = json.load(f)
    accounts = Account.objects.in_bulk(setup["wallets"] + setup["pools"] + setup["stores"] + [setup["parking"]])
    wallets = [accounts[i] for i in setup["wallets"]]
    pools = [accounts[i] for i in setup["pools"]]
    stores = [accounts[i] for i in setup["stores"]]
    parking = accounts[setup["parking"]]
    budget = Budget.objects.get(pk=setup["budget"])
    periods = ExpiryPeriod.objects.in_bulk(setup["periods"])
    rng = random.Random(args.seed * 1_000_003 + args.worker * 7919 + args.start)
    log = open(args.log, "a", buffering=1)  # noqa: SIM115 - open until the process ends, even by os._exit

    def record(**row: Any) -> None:
        log.write(json.dumps(row, default=str) + "\n")

    def call(fn: Any, **kw: Any) -> tuple[str, Any]:
        """Run one ledger call like a client would: on a dropped connection, reconnect and retry the
        same key and body (the first attempt may or may not have committed)."""
        for _attempt in range(8):
            try:
                res = fn(**kw)
                if res is None:
                    return "ok", None
                return ("replayed" if getattr(res, "replayed", False) else "ok"), res
            except DomainError as exc:
                return exc.code, None
            except (DatabaseError, InterfaceError):
                connection.close()
        return "gave_up", None

    done: list[tuple[str, Any, dict[str, Any]]] = []  # (fn name, fn, kwargs) of successful calls
    holds: list[int] = []
    transfers: list[int] = []

    if args.mode == "budget":
        for n in range(args.start, args.ops):
            key = f"b{args.worker}:{n}"
            outcome, res = call(
                ledger.issue, key=key, budget=budget, credit=wallets[n % len(wallets)], amount=setup["unit"],
                period=periods[setup["periods"][-1]], reason="race",
            )  # fmt: skip
            record(w=args.worker, n=n, op="issue", key=key, outcome=outcome, tid=getattr(res, "transfer_id", None))
        return 0

    late = periods[setup["periods"][-1]]
    early = periods[setup["periods"][0]]
    for n in range(args.start, args.ops):
        key = f"w{args.worker}:{n}:{args.start}"
        roll = rng.random()
        fn: Any
        if roll < 0.06 and done:
            # A client retry of an earlier successful call: the same body must replay, a changed
            # body must be refused.
            name, fn, kw = rng.choice(done)
            if rng.random() < 0.5:
                outcome, res = call(fn, **kw)
                record(
                    w=args.worker,
                    n=n,
                    op="retry",
                    key=kw["key"],
                    outcome=outcome,
                    tid=getattr(res, "transfer_id", getattr(res, "hold_id", None)),
                )
            else:
                changed = dict(kw)
                if changed.get("amount"):
                    changed["amount"] = changed["amount"] + 1
                elif "reason" in changed:
                    changed["reason"] = changed["reason"] + "!"
                else:
                    changed["hold_id"] = changed["hold_id"] + 1_000_000
                outcome, _res = call(fn, **changed)
                record(w=args.worker, n=n, op="retry_changed", key=kw["key"], outcome=outcome)
            continue
        if roll < 0.08:
            # Everyone races for the same shared keys with the same body: exactly one effect each.
            j = n % setup["shared"]
            name, fn = "shared", ledger.issue
            kw = dict(
                key=f"shared:{j}",
                budget=budget,
                credit=wallets[j % len(wallets)],
                amount=3,
                period=late,
                reason="shared",
            )
        elif roll < 0.22:
            name, fn = "issue", ledger.issue
            target = rng.choice(wallets + pools)
            period = early if rng.random() < 0.3 else late
            kw = dict(key=key, budget=budget, credit=target, amount=rng.randint(1, 40), period=period, reason="earn")
        elif roll < 0.30:
            # Several spends in one shared commit (what the batcher does for concurrent callers).
            reqs = [
                ledger.TransferRequest(key=f"{key}:{j}", debit=rng.choice(wallets), credit=rng.choice(stores),
                                       amount=rng.randint(1, 8), kind="spend")
                for j in range(rng.randint(3, 8))
            ]  # fmt: skip
            outcome, results = call(ledger.transfer_batch, requests=reqs)
            for req, res in zip(reqs, results or [None] * len(reqs), strict=True):
                item = outcome if results is None else (res.code if isinstance(res, DomainError) else "ok")
                record(w=args.worker, n=n, op="batch", key=req.key, outcome=item, tid=getattr(res, "transfer_id", None))
            continue
        elif roll < 0.42:
            name, fn = "spend", ledger.transfer
            kw = dict(
                key=key, debit=rng.choice(wallets), credit=rng.choice(stores), amount=rng.randint(1, 30), kind="spend"
            )
        elif roll < 0.60:
            name, fn = "transfer", ledger.transfer
            src = rng.choice(wallets + pools)
            dst = rng.choice([w for w in wallets if w.pk != src.pk])
            kw = dict(key=key, debit=src, credit=dst, amount=rng.randint(1, 25), kind="gift")
        elif roll < 0.72:
            name, fn = "hold", ledger.hold
            expires = timezone.now() + datetime.timedelta(seconds=rng.choice([1, 3, 600]))
            kw = dict(
                key=key,
                debit=rng.choice(wallets),
                credit=parking,
                amount=rng.randint(1, 20),
                kind="parking",
                expires_at=expires,
            )
        elif roll < 0.80 and holds:
            name, fn = "post", ledger.post_hold
            kw = dict(key=key, hold_id=rng.choice(holds), amount=rng.choice([None, 1, 2]))
        elif roll < 0.86 and holds:
            name, fn = "void", ledger.void_hold
            kw = dict(key=key, hold_id=rng.choice(holds))
        elif roll < 0.94 and transfers:
            name, fn = "reverse", ledger.reverse
            kw = dict(key=key, transfer_id=rng.choice(transfers), reason="correction")
        else:
            name = "expire"
            outcome, res = call(ledger.expire_holds if rng.random() < 0.7 else ledger.expire_period_coins)
            record(w=args.worker, n=n, op=name, key=None, outcome=outcome, moved=res)
            continue

        dies = n == args.exit_at or (args.exit_every and rng.randrange(args.exit_every) == 0)
        if dies and name != "shared":
            # Die inside an open transaction after the ledger wrote everything: nothing may remain.
            record(w=args.worker, n=n, op=name, key=kw["key"], outcome="exit_in_open_transaction")
            try:
                with transaction.atomic():
                    fn(**kw)
                    log.flush()
                    os._exit(3)
            except (DomainError, DatabaseError, InterfaceError):
                os._exit(3)  # refused or cut off: rolled back all the same
        outcome, res = call(fn, **kw)
        tid = getattr(res, "transfer_id", None)
        hid = getattr(res, "hold_id", None)
        record(w=args.worker, n=n, op=name, key=kw["key"], outcome=outcome, tid=tid, hid=hid,
               amount=getattr(res, "amount", None))  # fmt: skip
        if outcome in ("ok", "replayed") and name != "shared":
            done.append((name, fn, kw))
            if hid:
                holds.append(hid)
            if tid and name in ("issue", "spend", "transfer", "post"):
                transfers.append(tid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
