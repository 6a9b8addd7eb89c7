"""Settings for the test suite: fixed throw-away keys (not secrets), fast hashing, demo SMS."""

import os

os.environ.setdefault("CIVICPUSH_SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
os.environ.setdefault("CIVICPUSH_FIELD_KEY", "dGVzdC1vbmx5LWZpZWxkLWtleS0wMTIzNDU2Nzg5YWI=")
os.environ.setdefault("CIVICPUSH_HMAC_KEY", "test-only-hmac-key")
os.environ.setdefault("CIVICPUSH_DEMO_MODE", "1")
# A throw-away VAPID key (P-256 scalar) so tests never write one into var/.
os.environ.setdefault("CIVICPUSH_VAPID_PRIVATE_KEY", "p3qNJ2nN3wG9u8m2T0kFQ0b8c3u2r6JqRr0f1lB8Q0I")
os.environ.setdefault("CIVICPUSH_VAPID_SUBJECT", "mailto:test@civicpush.invalid")

from .settings import *  # noqa: F403
from .settings import DATABASES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not :memory:) so that live-server threads and worker processes see the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-civicpush.sqlite3")}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tasks run in-process in tests; the broker tests (marked `broker`) switch this off around a real
# worker process to prove the queue path.
CELERY_TASK_ALWAYS_EAGER = True
