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
# Delivery channels: fixed fake identities and a discard address (port 9) for every provider, so
# nothing leaves the machine. The adapters' tests start the local fakes (civicpush/delivery/fakes/)
# and point the base URLs at them; keys are generated per test run and never stored. FCM and APNs
# stay "not configured" unless a test sets FCM_SERVICE_ACCOUNT / APNS_KEY.
FCM_SERVICE_ACCOUNT = ""
FCM_PROJECT_ID = "civicpush-test"
FCM_BASE_URL = "http://127.0.0.1:9"
FCM_TOKEN_URI = "http://127.0.0.1:9/token"  # noqa: S105  (a URL, not a password)
APNS_KEY = ""
APNS_KEY_ID = "TESTKEY001"
APNS_TEAM_ID = "TESTTEAM01"
APNS_TOPIC = "tw.gov.civicpush.test"
APNS_BASE_URL = "http://127.0.0.1:9"
SMS_NOTICE_BACKEND = "civicpush.citizens.sms.DemoSmsBackend"
NOTICE_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = 9
EMAIL_USE_TLS = False
EMAIL_USE_SSL = False
EMAIL_TIMEOUT = 5
DEFAULT_FROM_EMAIL = "CivicPush <no-reply@civicpush.test>"
PUBLIC_URL = "https://civicpush.test"
