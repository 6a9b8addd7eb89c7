"""Start the web server (and Celery workers when a broker is configured) in the foreground.

Embedded default: gunicorn with threads, tasks executed in-process. With CELERY_BROKER_URL set,
a worker for the personal queue and one for default+bulk are started beside the web server, so
bulk broadcasts never hold up personal notices.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def main() -> int:
    port = os.environ.get("PORT", "8000")
    python = sys.executable
    procs: list[subprocess.Popen[bytes]] = []
    web = [
        python,
        "-m",
        "gunicorn",
        "civicpush.config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        os.environ.get("WEB_CONCURRENCY", "2"),
        "--threads",
        os.environ.get("WEB_THREADS", "8"),
        "--worker-class",
        "gthread",
        "--access-logfile",
        "-" if os.environ.get("CIVICPUSH_ACCESS_LOG") == "1" else "/dev/null",
        "--graceful-timeout",
        "10",
    ]
    procs.append(subprocess.Popen(web))
    if os.environ.get("CELERY_BROKER_URL"):
        celery = [python, "-m", "celery", "-A", "civicpush.config", "worker", "--loglevel", "INFO"]
        procs.append(subprocess.Popen([*celery, "-Q", "personal", "-n", "personal@%h", "--concurrency", "2"]))
        procs.append(subprocess.Popen([*celery, "-Q", "default,bulk", "-n", "bulk@%h", "--concurrency", "2"]))
        beat_schedule = os.path.join(os.environ.get("CIVICPUSH_VAR_DIR", "var"), "celerybeat-schedule")
        procs.append(subprocess.Popen([python, "-m", "celery", "-A", "civicpush.config", "beat", "-s", beat_schedule]))
        print("Celery workers started for queues: personal; default,bulk; and celery beat", flush=True)
    else:
        # Embedded default: periodic tasks run in-process in a small scheduler process.
        procs.append(subprocess.Popen([python, "manage.py", "run_periodic"]))
    print(f"CivicPush is serving on http://127.0.0.1:{port}/  (console: /console/, store: /store/)", flush=True)

    def stop(signum: int, frame: object) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    finally:
        stop(0, None)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    return max((p.returncode or 0) for p in procs)


if __name__ == "__main__":
    sys.exit(main())
