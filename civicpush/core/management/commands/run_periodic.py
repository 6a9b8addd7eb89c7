"""Embedded scheduler: run the tasks of CELERY_BEAT_SCHEDULE in-process at their intervals.

Used by `make run` when no broker is configured (with a broker, `celery beat` does this job and
workers execute the tasks). The same task functions run either way.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from civicpush.config.celery import app

logger = logging.getLogger("civicpush.periodic")


class Command(BaseCommand):
    help = "Run periodic tasks in-process (embedded default, no broker)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="run every due task once and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        schedule: dict[str, dict[str, Any]] = getattr(settings, "CELERY_BEAT_SCHEDULE", {})
        next_run = {name: 0.0 for name in schedule}
        while True:
            now = time.monotonic()
            for name, entry in schedule.items():
                if now < next_run[name]:
                    continue
                next_run[name] = now + float(entry["schedule"])
                task = app.tasks.get(entry["task"])
                if task is None:
                    logger.debug("periodic task %s is not registered", entry["task"])
                    continue
                try:
                    task.apply()
                except Exception:  # a failing periodic task must not stop the scheduler
                    logger.exception("periodic task %s failed", entry["task"])
            if options["once"]:
                return
            time.sleep(1.0)
