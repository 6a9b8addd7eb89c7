"""Tasks go through a real broker to a separate Celery worker process (run when CELERY_BROKER_URL is set)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from civicpush.config.celery import app as celery_app

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (a real broker)"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker shares the PostgreSQL test database"),
]
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def worker_process(transactional_db: None) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` consuming every queue, connected to this test's database."""
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env["DJANGO_SETTINGS_MODULE"] = "civicpush.config.settings_test"
    celery_app.control.purge()
    proc = subprocess.Popen(
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
            f"test{os.getpid()}@%h",
        ],
        cwd=REPO,
        env=env,
    )
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield proc
    finally:
        celery_app.conf.task_always_eager = previous
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_until(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_sign_in_code_sms_is_sent_by_a_separate_worker_through_the_broker(worker_process, client):
    from civicpush.citizens.models import DemoSmsMessage
    from civicpush.demo.organisation import ensure_county

    ensure_county()
    assert settings.CELERY_BROKER_URL
    response = client.post("/signin/", {"phone": "0912 345 678"})
    assert response.status_code in (200, 302)
    # The web request only enqueued the task; the worker process delivers it.
    assert wait_until(lambda: DemoSmsMessage.objects.filter(to="+886912345678").exists()), "worker sent nothing"
    assert worker_process.poll() is None
    message = DemoSmsMessage.objects.get(to="+886912345678")
    assert "驗證碼" in message.body or "code" in message.body.lower()
