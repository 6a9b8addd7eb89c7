"""Benchmark: time from a fresh `git clone` to a serving page with `make run`.

Clones the current commit into a temporary directory, runs `make run` there on a free port with
no prior virtual environment or secrets, and polls http://127.0.0.1:PORT/ until it answers 200.
Then measures a second start of the same clone (installed already). Prints a final JSON line.

    make bench-startup            # or: python bench/startup.py [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_page(url: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.25)
    return False


def start_and_time(clone: Path, port: int, log_name: str, timeout: float) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIVICPUSH_", "DATABASE_URL", "CELERY_"))}
    env["PORT"] = str(port)
    log = open(clone / log_name, "wb")  # noqa: SIM115 - closed below
    started = time.monotonic()
    proc = subprocess.Popen(
        ["make", "run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        ok = wait_for_page(f"http://127.0.0.1:{port}/", proc, timeout)
        elapsed = time.monotonic() - started
        if not ok:
            raise SystemExit(f"make run did not serve a page; see {clone / log_name}")
        return elapsed
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="civicpush-startup-"))
    clone = tmp / "civicpush"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    shared = REPO.parent / "shared"
    if shared.exists() and not (tmp / "shared").exists():
        (tmp / "shared").symlink_to(shared)
    cold = start_and_time(clone, free_port(), "first-run.log", args.timeout)
    warm = start_and_time(clone, free_port(), "second-run.log", args.timeout)
    result = {"benchmark": "startup", "fresh_clone_to_page_s": round(cold, 1), "restart_to_page_s": round(warm, 1)}
    print(json.dumps(result))
    if not args.keep:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    else:
        print(f"kept {clone}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
