"""Benchmark: 2,000 concurrent quiz answers over HTTP on PostgreSQL for a first-300 reward.

    .venv/bin/python bench/quiz.py [--answers 2000] [--quota 300] [--concurrency 64]
                                   [--config 2x8] [--notices]

Issue 6 (questionnaires and quizzes). On PostgreSQL (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/civicpush_bench_quiz; created when missing, never dropped):

1. Data: the demo organisation, N citizens with profiles (made once, reused), a reserved budget of
   預防科 topped up for this run, and a new quiz push (the seed's two questions, 10 coins each, first
   QUOTA respondents) drafted, signed through the whole chain — the final approval moves
   QUOTA × 20 coins from the budget into the push's reward pool — and sent to everyone. Each
   citizen gets a signed-in session (as sign-in makes it).
2. gunicorn (gthread, WORKERSxTHREADS, DATABASE_URL = the bench database, debug off) on a free
   loopback port; one warm-up GET of the answer form.
3. N POSTs of the right answers to /m/<push>/survey/, one per citizen, from C concurrent client
   threads (a new connection per request, as phones do): latency of each (p50, p99), answers/s over
   the whole run, and the HTTP statuses (all must be 303).
4. Checks: exactly QUOTA citizens rewarded, each once (distinct wallets), the pool plus the wallets
   equal what was funded, and `verify_ledger`'s checks pass.

Without a broker a task runs inside the request that enqueues it; the reward's inbox notice is a
task on the personal queue, so by default the server runs with SURVEYS_REWARD_NOTICES = False (what
is measured is the answer and its reward); `--notices` keeps them (inline, as with no broker).

The final line is JSON: answers, quota, rewarded, p50_ms, p99_ms, answers_per_second (and details).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from common import TEST_SECRETS, ensure_database, log  # noqa: E402
from inbox import http_status, stop_server  # noqa: E402
from inbox import start_server as start_gunicorn  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/civicpush_bench_quiz"


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Citizens (once), a funded quiz sent to everyone, and one session per citizen."""
    from django.conf import settings
    from django.contrib.sessions.backends.base import VALID_KEY_CHARS
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from civicpush.citizens.middleware import CITIZEN_SESSION_KEY, SNAPSHOT_SESSION_KEY, session_snapshot
    from civicpush.citizens.models import Citizen
    from civicpush.citizens.reference import ensure_reference_data
    from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
    from civicpush.demo.bulk_load import generate_citizens
    from civicpush.demo.organisation import create_fire_bureau
    from civicpush.pushes import dispatching
    from civicpush.pushes import services as push_services
    from civicpush.pushes.chains import ensure_default_chains, next_step
    from civicpush.pushes.models import CountyPushPolicy, PushType, ScheduleKind, TargetKind
    from civicpush.surveys import services

    demo = create_fire_bureau()
    county = demo.county
    ensure_reference_data(county)
    ensure_default_chains(county)
    have = Citizen.objects.filter(county=county).count()
    if have < args.answers:
        log(f"generating {args.answers - have:,} citizens …")
        generate_citizens(county, args.answers - have, seed="bench-quiz")
    now = timezone.now()
    Citizen.objects.filter(county=county, created_at__gt=now - datetime.timedelta(days=1)).update(
        created_at=now - datetime.timedelta(days=2)
    )
    unit = demo.unit("prevention")
    reward = 20
    budget, _created = Budget.objects.get_or_create(
        unit=unit,
        year=timezone.localdate().year,
        defaults={"county": county, "status": BudgetStatus.RESERVED},
    )
    # Top up the reservation so that this run's quota is always covered.
    budget.status = BudgetStatus.RESERVED
    budget.reserved_amount = budget.issued_amount + args.quota * reward + 1_000
    budget.requested_amount = max(budget.requested_amount, budget.reserved_amount)
    budget.issue_deadline = datetime.date(timezone.localdate().year, 12, 31)
    budget.save()
    ExpiryPeriod.objects.get_or_create(
        county=county,
        code="bench-quiz",
        defaults={"name": "bench", "expires_at": now + datetime.timedelta(days=3650)},
    )
    drafter = demo.user("prevention.drafter")
    push = push_services.do_create_draft(
        drafter,
        unit,
        push_type=PushType.QUESTIONNAIRE,
        title=f"[防火]測驗 {now:%m%d%H%M%S}",
        body=f"答對兩題可獲得金幣{reward}枚(限制前{args.quota}位用戶領取)",
        planned_date=timezone.localdate(),
        target_kind=TargetKind.EVERYONE,
    )
    survey = services.do_configure_survey(
        drafter,
        push,
        opens_at=now - datetime.timedelta(hours=1),
        closes_at=now + datetime.timedelta(days=1),
        quota=args.quota,
        budget_id=budget.pk,
    )
    services.do_add_question(
        drafter,
        survey,
        {"kind": "single", "text": "請問下列那一項是安全開車門的行為?", "options": ["轉頭開車門往後看", "大聲鳴按喇叭"],
         "correct": "1"},
    )  # fmt: skip
    services.do_add_question(
        drafter,
        survey,
        {"kind": "multiple", "text": "請問下列何者為台東地名?", "options": ["關山鎮", "池上鄉", "富里鄉"],
         "correct": "1、2"},
    )  # fmt: skip
    push.refresh_from_db()
    approvers = {"push_liaison": "fire.liaison", "secretary": "fire.secretary", "deputy_director": "fire.deputy",
                 "director": "fire.director"}  # fmt: skip
    push_services.do_submit(drafter, push)
    push.refresh_from_db()
    while (step := next_step(push)) is not None:
        role = push.chain_roles[step]
        push_services.do_decide(demo.user(approvers.get(role, "prevention.head")), push, "approved")
        push.refresh_from_db()
    at = now - datetime.timedelta(minutes=5)
    midnight = datetime.time(0, 0)
    CountyPushPolicy.objects.update_or_create(county=county, defaults={"quiet_start": midnight, "quiet_end": midnight})
    push_services.do_schedule(drafter, push, ScheduleKind.NOW, now=at)
    dispatching.dispatch_due(at)
    survey.refresh_from_db()
    answers = {f"q{q.pk}": [str(c.pk) for c in q.choices.all() if c.is_correct] for q in services.questions_of(survey)}
    ids = list(Citizen.objects.filter(county=county, status="active").order_by("?").values_list("pk", flat=True))
    ids = ids[: args.answers]
    citizens = Citizen.objects.in_bulk(ids)
    store = SessionStore()
    expire = now + datetime.timedelta(hours=2)
    rows = [
        Session(
            session_key=get_random_string(32, VALID_KEY_CHARS),
            session_data=store.encode(
                {
                    CITIZEN_SESSION_KEY: pk,
                    SNAPSHOT_SESSION_KEY: session_snapshot(citizens[pk], settings.PRIVACY_NOTICE_VERSION),
                }
            ),
            expire_date=expire,
        )
        for pk in ids
    ]
    Session.objects.bulk_create(rows, batch_size=1000)
    log(f"quiz push {push.pk} (survey {survey.pk}) sent; pool funded with {survey.funded_amount:,} coins")
    return {
        "push_id": push.pk,
        "survey_id": survey.pk,
        "funded": survey.funded_amount,
        "answers": answers,
        "citizen_ids": ids,
        "sessions": [r.session_key for r in rows],
    }


def start_server(url: str, workers: int, threads: int, notices: bool, tmp: str) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn as bench/inbox.py starts it, with a settings module that may switch off reward notices."""
    Path(tmp, "bench_quiz_settings.py").write_text(
        f"from civicpush.config.settings import *  # noqa: F403\nSURVEYS_REWARD_NOTICES = {notices!r}\n"
    )
    return start_gunicorn(
        url,
        workers,
        threads,
        settings_module="bench_quiz_settings",
        extra_env={"PYTHONPATH": os.pathsep.join([tmp, str(REPO), os.environ.get("PYTHONPATH", "")])},
        backlog=2048,
    )


def post_answer(base: str, path: str, session: str, body: dict[str, Any], csrf: str) -> tuple[int, float]:
    parsed = urlparse(base)
    started = time.perf_counter()
    conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=120)
    try:
        conn.request(
            "POST",
            path,
            body=urlencode({**body, "csrfmiddlewaretoken": csrf}, doseq=True),
            headers={
                "Cookie": f"sessionid={session}; csrftoken={csrf}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": base + path,
            },
        )
        response = conn.getresponse()
        response.read()
        status = int(response.status)
    except OSError:
        status = 0
    finally:
        conn.close()
    return status, (time.perf_counter() - started) * 1000


def check(data: dict[str, Any], quota: int) -> dict[str, Any]:
    from civicpush.coins import ledger
    from civicpush.coins.models import Transfer
    from civicpush.coins.verify import verify
    from civicpush.surveys.models import Participation, Survey
    from civicpush.surveys.services import KIND_REWARD

    survey = Survey.objects.get(pk=data["survey_id"])
    rewards = Transfer.objects.filter(kind=KIND_REWARD, memo=f"push {survey.push_id}")
    pool = ledger.available(ledger.reward_pool(survey.county_id, ref=survey.pool_ref))
    wallets = sum(t.amount for t in rewards)
    problems = verify()
    return {
        "rewarded": Participation.objects.filter(survey=survey, rewarded=True).count(),
        "rewarded_count": survey.rewarded_count,
        "reward_transfers": rewards.count(),
        "distinct_wallets": rewards.values("credit_account_id").distinct().count(),
        "participations": Participation.objects.filter(survey=survey).count(),
        "conserved": pool + wallets == data["funded"],
        "ledger_verified": problems == [],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=2_000)
    parser.add_argument("--quota", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=64, help="client threads sending at once")
    parser.add_argument("--config", default="2x8", help="gunicorn WORKERSxTHREADS")
    parser.add_argument("--notices", action="store_true", help="keep the reward's inbox notice (inline)")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("BENCH_DATABASE_URL must be a PostgreSQL URL")
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "civicpush.config.settings"
    os.environ.setdefault("CIVICPUSH_LOG_LEVEL", "WARNING")
    for key, value in TEST_SECRETS.items():
        os.environ.setdefault(key, value)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.middleware.csrf import _get_new_csrf_string

    call_command("migrate", verbosity=0, interactive=False)
    data = prepare(args)
    connection.close()
    workers, threads = (int(x) for x in args.config.lower().split("x"))
    path = f"/m/{data['push_id']}/survey/"
    with tempfile.TemporaryDirectory(prefix="bench-quiz-") as tmp:
        proc, base = start_server(url, workers, threads, args.notices, tmp)
        try:
            warm = http_status(base, path, data["sessions"][-1])
            if warm != 200:
                raise SystemExit(f"the answer form answered {warm} for a signed-in citizen, not 200")
            jobs = [
                (session, {**data["answers"], "token": f"bench-{data['survey_id']}-{cid}"}, _get_new_csrf_string())
                for session, cid in zip(data["sessions"], data["citizen_ids"], strict=True)
            ]
            log(f"{len(jobs):,} answers from {args.concurrency} concurrent clients against gunicorn {args.config} …")
            started = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                results = list(pool.map(lambda j: post_answer(base, path, *j), jobs))
            elapsed = time.perf_counter() - started
        finally:
            stop_server(proc)
    statuses: dict[str, int] = {}
    for status, _ms in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    latencies = sorted(ms for _s, ms in results)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * len(latencies)) - 1)]
    checks = check(data, args.quota)
    summary = {
        "answers": len(results),
        "quota": args.quota,
        "rewarded": checks["rewarded"],
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(p99, 1),
        "answers_per_second": round(len(results) / elapsed, 1),
        "seconds": round(elapsed, 2),
        "statuses": statuses,
        "config": args.config,
        "concurrency": args.concurrency,
        "notices": args.notices,
        **{k: v for k, v in checks.items() if k != "rewarded"},
    }
    ok = (
        statuses == {"303": len(results)}
        and checks["rewarded"]
        == checks["distinct_wallets"]
        == checks["reward_transfers"]
        == min(args.quota, len(results))
        and checks["conserved"]
        and checks["ledger_verified"]
    )
    if not ok:
        log("CHECK FAILED: " + json.dumps(summary))
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
