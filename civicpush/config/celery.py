"""The Celery app. With no CELERY_BROKER_URL, tasks run in-process (task_always_eager)."""

import os

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicpush.config.settings")

app = Celery("civicpush")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_postrun.connect
def _close_old_connections(task=None, **kwargs):  # type: ignore[no-untyped-def]
    """With CELERY_DB_REUSE_MAX set, a worker keeps its connections between tasks: close them as Django
    does after a request when they are broken, left in an error, or older than CONN_MAX_AGE (not for
    tasks run in-process, whose caller owns the connection)."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
