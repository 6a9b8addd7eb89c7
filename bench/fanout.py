"""Benchmark: Web Push fan-out of one broadcast to N synthetic subscribers (issue "Delivery").

N subscribers with real P-256 keys (derived from their index, so the sink can decrypt samples) are
loaded into PostgreSQL with COPY; a local push service (bench/push_sink.py, HTTP/1.1 on 127.0.0.1)
accepts the requests and checks a sample (the payload decrypts with http_ece, the VAPID JWT
verifies). `--workers` Celery worker processes (default: two per core) share the real broker.
Measured, in one run:

* per_second — end-to-end deliveries/s, from the dispatch to the sink's last accepted request;
* floor_per_second — bare RFC 8291 encryption of the same payload, on all cores, no I/O;
* naive_per_second — `pywebpush.webpush()` in a plain loop over 500 subscribers (same sink);
* max_rss_mb — the peak of the summed RSS of the worker processes (sampled every 0.2 s).

`--fault` kills -9 every worker at about half way, starts them again, and checks that the sink
counts exactly N distinct deliveries. Prints a final JSON line.

    make bench-fanout ARGS="--subscribers 1000000 --fault"
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import TEST_SECRETS, ensure_database, log  # noqa: E402
from push_sink import subscriber_auth, subscriber_scalar  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/civicpush_bench_fanout"
DEFAULT_BROKER = "redis://127.0.0.1:6379/14"
SINK_PORT = 18931  # fixed, so loaded endpoints stay valid between runs
BENCH_VAPID_KEY = "p3qNJ2nN3wG9u8m2T0kFQ0b8c3u2r6JqRr0f1lB8Q0I"  # throw-away
TITLE = "颱風警報：請做好防颱準備"
BODY = "中央氣象署已發布海上陸上颱風警報，請檢查門窗、避免外出，最新資訊請見縣府公告。"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ------------------------------------------------------------------ subscriber keys


def _public_points(bounds: tuple[int, int]) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    out = io.BytesIO()
    curve = ec.SECP256R1()
    for i in range(*bounds):
        key = ec.derive_private_key(subscriber_scalar(i), curve)
        out.write(
            key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        )
    return out.getvalue()


def public_points(n: int, cache_dir: Path) -> bytes:
    """65 bytes per subscriber, computed on all cores once and cached in the bench var dir."""
    cache = cache_dir / "fanout-subscriber-points.bin"
    have = cache.read_bytes() if cache.exists() else b""
    if len(have) >= 65 * n:
        return have[: 65 * n]
    start = len(have) // 65
    log(f"deriving {n - start:,} subscriber key pairs on all cores (cached afterwards)…")
    step = 20_000
    ranges = [(a, min(a + step, n)) for a in range(start, n, step)]
    with multiprocessing.Pool(os.cpu_count()) as pool:
        parts = pool.map(_public_points, ranges)
    data = have + b"".join(parts)
    cache.write_bytes(data)
    return data


# ------------------------------------------------------------------ database


def load_subscribers(n: int, county_id: int, points: bytes) -> None:
    """Citizens and Web Push devices 0…n-1 with COPY (kept between runs when n is unchanged; the
    bench database's citizens are replaced otherwise)."""
    from django.db import connection

    from civicpush.delivery.models import Device

    origin = f"http://127.0.0.1:{SINK_PORT}"
    existing = Device.objects.filter(address__startswith=f"{origin}/s/").count()
    if existing == n and Device.objects.count() == n:
        log(f"{n:,} subscribers already loaded")
        return
    log(f"loading {n:,} subscribers with COPY…")
    started = time.monotonic()
    with connection.cursor() as cursor:
        # The bench database is the benchmark's own: wipe citizens and everything that refers to them
        # (a row-by-row DELETE of a million citizens would check every referring table per row).
        cursor.execute("TRUNCATE citizens_citizen, delivery_deliveryoutcome RESTART IDENTITY CASCADE")
        now = "2020-01-01 00:00:00+00"
        raw = cursor.cursor  # psycopg 3
        with raw.copy("COPY citizens_citizen (county_id, pseudonym, status, created_at) FROM STDIN") as copy:
            for _ in range(n):
                copy.write_row((county_id, uuid.uuid4(), "active", now))
        cursor.execute("SELECT id FROM citizens_citizen WHERE county_id = %s ORDER BY id", [county_id])
        citizen_ids = [row[0] for row in cursor.fetchall()]
        with raw.copy(
            "COPY delivery_device (citizen_id, kind, address, address_hash, p256dh, auth, label, created_at, "
            "removed_reason) FROM STDIN"
        ) as copy:
            for i, citizen_id in enumerate(citizen_ids):
                address = f"{origin}/s/{i}"
                copy.write_row(
                    (
                        citizen_id,
                        "webpush",
                        address,
                        hashlib.sha256(f"webpush:{address}".encode()).hexdigest(),
                        b64url(points[65 * i : 65 * i + 65]),
                        b64url(subscriber_auth(i)),
                        "bench",
                        now,
                        "",
                    )
                )
        cursor.execute("ANALYZE citizens_citizen")
        cursor.execute("ANALYZE delivery_device")
    log(f"loaded in {time.monotonic() - started:.1f} s")


def new_dispatch(county_id: int) -> int:
    from django.utils import timezone

    from civicpush.delivery.notices import system_user
    from civicpush.org.models import County, Unit
    from civicpush.pushes.models import (
        Dispatch,
        DispatchStatus,
        Push,
        PushStatus,
        PushType,
        ScheduleKind,
        TargetKind,
        Urgency,
    )

    county = County.objects.get(pk=county_id)
    unit = Unit.objects.filter(county=county).order_by("pk").first()
    now = timezone.now()
    push = Push.objects.create(
        county=county,
        unit=unit,
        push_type=PushType.NOTICE,
        title=TITLE,
        body=BODY,
        urgency=Urgency.URGENT,
        target_kind=TargetKind.EVERYONE,
        schedule_kind=ScheduleKind.NOW,
        send_at=now,
        status=PushStatus.SENT,
        created_by=system_user(county),
        first_sent_at=now,
    )
    return Dispatch.objects.create(
        push=push,
        county=county,
        target_kind=TargetKind.EVERYONE,
        scheduled_for=now,
        frozen_at=now,
        status=DispatchStatus.DISPATCHING,
    ).pk


# ------------------------------------------------------------------ processes


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (and its reaped children) from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields[11:15]) / ticks


def postgres_cpu_seconds(database: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to `database` (process titles name it)."""
    total = 0.0
    found = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
            total += cpu_seconds(int(entry))
            found += 1
    log(f"postgres backends of {database}: {found}, {total:.2f} CPU-s")
    return total


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


class RssSampler(threading.Thread):
    """Peak of the summed RSS of the worker processes (and their children)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.pids: list[int] = []
        self.peak_kb = 0
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            total = 0
            for pid in list(self.pids):
                total += rss_kb(pid) + sum(rss_kb(c) for c in children(pid))
            self.peak_kb = max(self.peak_kb, total)
            time.sleep(0.2)


def start_workers(count: int, env: dict[str, str], tag: str) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "civicpush.config",
                "worker",
                "-Q",
                "personal,default,bulk",
                "--pool",
                "solo",
                "--loglevel",
                "WARNING",
                "-n",
                f"bench{tag}{i}-{os.getpid()}@%h",
            ],
            cwd=REPO,
            env=env,
            stderr=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        for i in range(count)
    ]


def sink_stats() -> dict:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{SINK_PORT}/stats", timeout=10) as r:
        return json.loads(r.read())


# ------------------------------------------------------------------ floor and naive


def _floor_worker(args: tuple[bytes, float]) -> tuple[int, float]:
    points, seconds = args
    from civicpush.delivery import webpush
    from civicpush.delivery.providers.base import Nudge
    from civicpush.delivery.providers.webpush import nudge_payload

    payload = nudge_payload(Nudge(push_id=1, title=TITLE, body=BODY, url="/m/1/", topic="push-1"))
    keys = [webpush.subscriber_keys(points[65 * i : 65 * i + 65], subscriber_auth(i)) for i in range(len(points) // 65)]
    n = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for k in keys:
            webpush.encrypt(payload, k)
        n += len(keys)
    return n, time.perf_counter() - started


def measure_floor(points: bytes, seconds: float) -> float:
    cores = os.cpu_count() or 1
    sample = points[: 65 * 500]
    with multiprocessing.Pool(cores) as pool:
        results = pool.map(_floor_worker, [(sample, seconds)] * cores)
    return sum(n / t for n, t in results)


def measure_naive(points: bytes, sample: int) -> float:
    from pywebpush import webpush as pywebpush_send

    from civicpush.delivery.providers.base import Nudge
    from civicpush.delivery.providers.webpush import nudge_payload

    payload = nudge_payload(Nudge(push_id=1, title=TITLE, body=BODY, url="/m/1/", topic="push-1")).decode()
    subs = [
        {
            "endpoint": f"http://127.0.0.1:{SINK_PORT}/naive/{i}",
            "keys": {"p256dh": b64url(points[65 * i : 65 * i + 65]), "auth": b64url(subscriber_auth(i))},
        }
        for i in range(sample)
    ]
    from cryptography.hazmat.primitives import serialization

    from civicpush.delivery.vapid import load_private_key

    pem = load_private_key(BENCH_VAPID_KEY).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    vapid_file = Path(os.environ["CIVICPUSH_VAR_DIR"]) / "bench-vapid.pem"
    vapid_file.write_bytes(pem)
    started = time.perf_counter()
    for sub in subs:
        pywebpush_send(
            sub,
            payload,
            vapid_private_key=str(vapid_file),
            vapid_claims={"sub": "mailto:bench@civicpush.invalid"},
            ttl=3600,
        )
    return sample / (time.perf_counter() - started)


def crypto_compare(rounds: int = 7, size: int = 200) -> dict[str, float]:
    """µs per message, best of `rounds`: textbook RFC 8291 (the `HKDF` class, the subscriber's key
    decoded per message) against ours (`hmac.digest`, cached key objects), and the key schedules alone."""
    import hmac

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from civicpush.delivery import webpush

    points = _public_points((0, size))
    subs = [(points[65 * i : 65 * i + 65], subscriber_auth(i)) for i in range(size)]
    keys = [webpush.subscriber_keys(a, b) for a, b in subs]
    payload = b'{"push_id":1,"title":"t","body":"' + b"y" * 120 + b'"}'
    curve, x962, raw = ec.SECP256R1(), serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint

    def textbook(ua_public: bytes, auth: bytes) -> bytes:
        ua = ec.EllipticCurvePublicKey.from_encoded_point(curve, ua_public)
        private = ec.generate_private_key(curve)
        as_public = private.public_key().public_bytes(x962, raw)
        secret = private.exchange(ec.ECDH(), ua)
        ikm = HKDF(hashes.SHA256(), 32, auth, b"WebPush: info\x00" + ua_public + as_public).derive(secret)
        salt = os.urandom(16)
        cek = HKDF(hashes.SHA256(), 16, salt, b"Content-Encoding: aes128gcm\x00").derive(ikm)
        nonce = HKDF(hashes.SHA256(), 12, salt, b"Content-Encoding: nonce\x00").derive(ikm)
        head = salt + (4096).to_bytes(4, "big") + bytes([65]) + as_public
        return head + AESGCM(cek).encrypt(nonce, payload + b"\x02", None)

    fixed = ec.generate_private_key(curve)
    fixed_public = fixed.public_key().public_bytes(x962, raw)
    secret = fixed.exchange(ec.ECDH(), keys[0].ua_key)

    def schedule_hkdf(k: webpush.SubscriberKeys) -> None:
        ikm = HKDF(hashes.SHA256(), 32, k.auth_secret, k.key_info + fixed_public).derive(secret)
        salt = os.urandom(16)
        HKDF(hashes.SHA256(), 16, salt, b"Content-Encoding: aes128gcm\x00").derive(ikm)
        HKDF(hashes.SHA256(), 12, salt, b"Content-Encoding: nonce\x00").derive(ikm)

    def schedule_hmac(k: webpush.SubscriberKeys) -> None:
        prk = hmac.digest(k.auth_secret, secret, "sha256")
        ikm = hmac.digest(prk, k.key_info + fixed_public + b"\x01", "sha256")
        prk = hmac.digest(os.urandom(16), ikm, "sha256")
        hmac.digest(prk, b"Content-Encoding: aes128gcm\x00\x01", "sha256")
        hmac.digest(prk, b"Content-Encoding: nonce\x00\x01", "sha256")

    cases = {
        "textbook_us": lambda: [textbook(a, b) for a, b in subs],
        "ours_us": lambda: [webpush.encrypt(payload, k) for k in keys],
        "key_schedule_hkdf_class_us": lambda: [schedule_hkdf(k) for k in keys],
        "key_schedule_hmac_digest_us": lambda: [schedule_hmac(k) for k in keys],
    }
    best = {name: float("inf") for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():
            t = time.perf_counter()
            run()
            best[name] = min(best[name], (time.perf_counter() - t) / size * 1e6)
    return {name: round(v, 1) for name, v in best.items()}


# ------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1),
        help="worker processes (default: 2 per core: while one waits on the network or PostgreSQL, another encrypts)",
    )
    parser.add_argument("--fault", action="store_true", help="kill -9 the workers half way, restart them")
    parser.add_argument("--floor-seconds", type=float, default=5.0)
    parser.add_argument("--naive-sample", type=int, default=500)
    parser.add_argument("--crypto-only", action="store_true", help="compare textbook and our RFC 8291 code only")
    args = parser.parse_args()
    n = args.subscribers
    if args.crypto_only:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicpush.config.settings")
        print(json.dumps(crypto_compare()), flush=True)
        return 0

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("BENCH_DATABASE_URL must be a PostgreSQL URL")
    broker = os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER
    var_dir = Path(os.environ.get("CIVICPUSH_BENCH_VAR_DIR", REPO / "var" / "bench-fanout"))
    var_dir.mkdir(parents=True, exist_ok=True)
    ensure_database(url)
    for key, value in TEST_SECRETS.items():
        os.environ.setdefault(key, value)
    os.environ.update(
        {
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": broker,
            "DJANGO_SETTINGS_MODULE": "civicpush.config.settings",
            "CIVICPUSH_VAR_DIR": str(var_dir),
            "CIVICPUSH_VAPID_PRIVATE_KEY": BENCH_VAPID_KEY,
            "CIVICPUSH_VAPID_SUBJECT": "mailto:bench@civicpush.invalid",
            "CIVICPUSH_LOG_LEVEL": "WARNING",
            "CIVICPUSH_DELIVERY_WORKER_PROCESSES": str(args.workers),
        }
    )
    if args.fault:  # a dead worker's batches are handed out again soon after its lease runs out
        os.environ["CIVICPUSH_DELIVERY_LEASE_SECONDS"] = "8"
        os.environ["CIVICPUSH_DELIVERY_STALL_SECONDS"] = "8"

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from civicpush.config.celery import app as celery_app
    from civicpush.delivery import tasks
    from civicpush.delivery.models import Fanout, FanoutBatch, FanoutStatus
    from civicpush.demo.organisation import create_fire_bureau, ensure_county

    county = ensure_county()
    create_fire_bureau()
    points = public_points(n, var_dir)
    load_subscribers(n, county.pk, points)
    from django.db import connection

    connection.close()

    sink = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "bench" / "push_sink.py"),
            "--port",
            str(SINK_PORT),
            "--subscribers",
            str(n),
            "--check-every",
            "997",
        ],
        stdout=subprocess.PIPE,
        env=os.environ.copy(),
    )
    assert sink.stdout is not None
    ready = sink.stdout.readline().decode()
    if not ready.startswith("READY"):
        raise SystemExit(f"push sink did not start: {ready!r}")

    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    env = os.environ.copy()
    workers = start_workers(args.workers, env, "a")
    sampler = RssSampler()
    sampler.pids = [w.pid for w in workers]
    sampler.start()
    deadline = time.monotonic() + 120
    while len(celery_app.control.ping(timeout=0.5) or []) < args.workers:
        if time.monotonic() > deadline:
            raise SystemExit("workers did not start")
    log(f"{args.workers} worker(s) up; dispatching to {n:,} subscribers")

    dispatch_id = new_dispatch(county.pk)
    database = urlparse(url).path.lstrip("/")
    # CPU of the fan-out alone (worker start-up excluded): workers, sink, their PostgreSQL backends.
    cpu_before = (sum(cpu_seconds(w.pid) for w in workers), cpu_seconds(sink.pid), postgres_cpu_seconds(database))
    load_start = os.getloadavg()
    started = time.time()
    tasks.start_fanout(dispatch_id, personal=False)
    killed = False
    last_resume = 0.0
    while True:
        time.sleep(0.5)
        if args.fault and not killed:
            accepted = sink_stats()["accepted"]
            if accepted >= n // 2:
                for w in workers:
                    os.kill(w.pid, signal.SIGKILL)
                for w in workers:
                    w.wait()
                killed = True
                log(f"killed every worker (kill -9) at {accepted:,} accepted; starting them again")
                workers = start_workers(args.workers, env, "b")
                sampler.pids = [w.pid for w in workers]
        if killed and time.monotonic() - last_resume > 3:  # what `celery beat` does every minute
            tasks.resume_fanouts.delay()
            last_resume = time.monotonic()
        if Fanout.objects.filter(dispatch_id=dispatch_id).exclude(status=FanoutStatus.RUNNING).exists():
            break
        if time.time() - started > 3600:
            raise SystemExit("the fan-out did not finish within an hour")
    stats = sink_stats()
    elapsed = stats["last_accepted_at"] - started
    worker_cpu = sum(cpu_seconds(w.pid) for w in workers) - (0.0 if killed else cpu_before[0])
    sink_cpu = cpu_seconds(sink.pid) - cpu_before[1]
    pg_cpu = postgres_cpu_seconds(database) - (0.0 if killed else cpu_before[2])
    progress = Fanout.objects.get(dispatch_id=dispatch_id)
    resent = sum(FanoutBatch.objects.filter(dispatch_id=dispatch_id).values_list("resent", flat=True))
    sampler.stop = True
    for w in workers:
        w.terminate()
    for w in workers:
        try:
            w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.kill()
    per_second = n / elapsed
    log(
        f"fan-out: {stats['distinct']:,} distinct deliveries ({stats['duplicates']} duplicates, resent in doubt "
        f"{resent}) in {elapsed:.1f} s = {per_second:,.0f}/s; fanout sent={progress.sent} failed={progress.failed}; "
        f"sink checked {stats['checked']} samples, failures {stats['check_failures'][:3]}"
    )

    log(f"floor: bare RFC 8291 encryption on {os.cpu_count()} core(s) for {args.floor_seconds} s…")
    floor = measure_floor(points, args.floor_seconds)
    log(f"floor: {floor:,.0f}/s")
    naive = measure_naive(points, min(args.naive_sample, n))
    log(f"naive pywebpush loop: {naive:,.1f}/s")
    sink.send_signal(signal.SIGINT)
    try:
        sink.wait(timeout=10)
    except subprocess.TimeoutExpired:  # SIGINT is ignored when the benchmark was started in the background
        sink.kill()
        sink.wait()

    ok = stats["distinct"] == n and not stats["check_failures"] and progress.sent == n
    result = {
        "subscribers": n,
        "per_second": round(per_second),
        "floor_per_second": round(floor),
        "naive_per_second": round(naive, 1),
        "max_rss_mb": round(sampler.peak_kb / 1024),
        "share_of_floor": round(per_second / floor, 3),
        "times_naive": round(per_second / naive, 1),
        "seconds": round(elapsed, 2),
        "workers": args.workers,
        "sink_requests": stats["requests"],
        "sink_by_status": stats["by_status"],
        "distinct_deliveries": stats["distinct"],
        "duplicate_requests": stats["duplicates"],
        "resent_in_doubt": resent,
        "sink_checked": stats["checked"],
        "sink_check_failures": len(stats["check_failures"]),
        "worker_cpu_s": round(worker_cpu, 1),
        "sink_cpu_s": round(sink_cpu, 1),
        "postgres_cpu_s": round(pg_cpu, 1),
        # per delivery, fan-out only (after a --fault restart: the new workers' whole life)
        "us_per_delivery": {
            "worker": round(worker_cpu / n * 1e6),
            "sink": round(sink_cpu / n * 1e6),
            "postgres": round(pg_cpu / n * 1e6),
        },
        "load_average_1m": {"start": round(load_start[0], 2), "end": round(os.getloadavg()[0], 2)},
        "fault": args.fault,
        "ok": ok,
    }
    print(json.dumps(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
