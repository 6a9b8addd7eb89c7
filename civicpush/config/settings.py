"""CivicPush settings. Everything that differs between machines comes from the environment.

Embedded default (no DATABASE_URL, no CELERY_BROKER_URL): SQLite in var/, tasks run in-process.
At scale: DATABASE_URL=postgres://..., CELERY_BROKER_URL=redis://... or amqp://...
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CIVICPUSH_VAR_DIR", BASE_DIR / "var"))


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def required_secret(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set. `make run` writes one into .local/env; in production set it in the environment."
        )
    return value


DEBUG = env_flag("CIVICPUSH_DEBUG")
SECRET_KEY = required_secret("CIVICPUSH_SECRET_KEY")
# Key for encrypting identity numbers at rest (Fernet, urlsafe base64 of 32 bytes).
FIELD_ENCRYPTION_KEY = required_secret("CIVICPUSH_FIELD_KEY")
# Key for the keyed hash used to look identity numbers and phones up without storing them in clear.
LOOKUP_HMAC_KEY = required_secret("CIVICPUSH_HMAC_KEY")

# Demo mode: the demo SMS backend's codes are visible on /dev/otp/. Never on in production.
DEMO_MODE = env_flag("CIVICPUSH_DEMO_MODE")

# Web Push VAPID key (RFC 8292): base64url raw 32-byte P-256 scalar or PEM. In demo mode a missing key
# is generated once into VAR_DIR/vapid_private_key (see civicpush/delivery/vapid.py); elsewhere
# Web Push refuses to start without it. The subject is a mailto: or https: contact for push services.
VAPID_PRIVATE_KEY = os.environ.get("CIVICPUSH_VAPID_PRIVATE_KEY", "")
VAPID_SUBJECT = os.environ.get("CIVICPUSH_VAPID_SUBJECT", "mailto:webpush@civicpush.invalid")
# Delivery fan-out (civicpush/delivery/fanout.py): provider quotas per minute for the whole project,
# shared by DELIVERY_WORKER_PROCESSES processes; a batch lease must outlast one batch's sending.
DELIVERY_RATE_LIMITS = {"fcm": int(os.environ.get("CIVICPUSH_FCM_PER_MINUTE", "600000"))}
DELIVERY_WORKER_PROCESSES = int(os.environ.get("CIVICPUSH_DELIVERY_WORKER_PROCESSES", "1"))
DELIVERY_BATCH_LEASE_SECONDS = float(os.environ.get("CIVICPUSH_DELIVERY_LEASE_SECONDS", "60"))
DELIVERY_STALL_SECONDS = float(os.environ.get("CIVICPUSH_DELIVERY_STALL_SECONDS", "120"))
DELIVERY_BATCH_SIZE = int(os.environ.get("CIVICPUSH_DELIVERY_BATCH_SIZE", "1000"))  # devices per batch task
DELIVERY_CHUNK = int(os.environ.get("CIVICPUSH_DELIVERY_CHUNK", "250"))  # sent, then committed, together
# Web Push: keep-alive connections per push-service origin, and requests written together on each (1: no pipelining).
DELIVERY_WEBPUSH_CONNECTIONS = int(os.environ.get("CIVICPUSH_WEBPUSH_CONNECTIONS", "16"))
DELIVERY_WEBPUSH_PIPELINE = int(os.environ.get("CIVICPUSH_WEBPUSH_PIPELINE", "16"))

ALLOWED_HOSTS = [h for h in os.environ.get("CIVICPUSH_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CIVICPUSH_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "civicpush.core",
    "civicpush.org",
    "civicpush.citizens",
    "civicpush.audiences",
    "civicpush.pushes",
    "civicpush.coins",
    "civicpush.wallet",
    "civicpush.surveys",
    "civicpush.delivery",
    "civicpush.stores",
    "civicpush.cases",
    "civicpush.feedback",
    "civicpush.adoption",
    "civicpush.events",
    "civicpush.parking",
    "civicpush.console",
    "civicpush.citizen_web",
    "civicpush.store_web",
    "civicpush.api",
    "civicpush.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "civicpush.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "civicpush.core.middleware.StaffIdleTimeoutMiddleware",
    "civicpush.citizens.middleware.CitizenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "civicpush.config.urls"
WSGI_APPLICATION = "civicpush.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "civicpush" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "civicpush.core.context_processors.civicpush",
            ],
        },
    }
]

VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'civicpush.sqlite3'}",
        conn_max_age=int(os.environ.get("CIVICPUSH_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets the in-process task runner and web threads read while one writes.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "org.StaffUser"
AUTHENTICATION_BACKENDS = ["civicpush.org.auth_backend.LockoutModelBackend"]
LOGIN_URL = "/console/login/"
LOGIN_REDIRECT_URL = "/console/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Staff: 5 failed sign-ins lock the account for 15 minutes; 30 idle minutes end the session.
STAFF_MAX_FAILED_LOGINS = 5
STAFF_LOCKOUT_SECONDS = 15 * 60
STAFF_IDLE_TIMEOUT_SECONDS = int(os.environ.get("CIVICPUSH_STAFF_IDLE_SECONDS", str(30 * 60)))

# Citizens: one-time codes.
OTP_TTL_SECONDS = 5 * 60
OTP_MAX_WRONG = 5
OTP_LOCK_SECONDS = 15 * 60
OTP_PER_NUMBER_INTERVAL_SECONDS = 60  # at most one code a minute per number
OTP_PER_NUMBER_PER_HOUR = 5
OTP_PER_CLIENT_PER_HOUR = int(os.environ.get("CIVICPUSH_OTP_PER_CLIENT_PER_HOUR", "20"))
SMS_BACKEND = os.environ.get("CIVICPUSH_SMS_BACKEND", "civicpush.citizens.sms.DemoSmsBackend")
# Personal and case notices by SMS (the government's 111 short code in production); default: SMS_BACKEND.
SMS_NOTICE_BACKEND = os.environ.get("CIVICPUSH_SMS_NOTICE_BACKEND", "") or SMS_BACKEND

# Delivery channels (civicpush/delivery/providers/). Unset: that channel is off.
# Web Push: push-service hosts a browser subscription may name (".host" = its subdomains too; "*" any).
WEBPUSH_ALLOWED_HOSTS = [h for h in os.environ.get("CIVICPUSH_WEBPUSH_ALLOWED_HOSTS", "").split(",") if h.strip()]
# FCM HTTP v1 (Android app): the service-account key (its JSON, or a path to the file).
FCM_SERVICE_ACCOUNT = os.environ.get("CIVICPUSH_FCM_SERVICE_ACCOUNT", "")
FCM_PROJECT_ID = os.environ.get("CIVICPUSH_FCM_PROJECT_ID", "")  # default: the key's project_id
FCM_BASE_URL = os.environ.get("CIVICPUSH_FCM_BASE_URL", "https://fcm.googleapis.com")
FCM_TOKEN_URI = os.environ.get("CIVICPUSH_FCM_TOKEN_URI", "")  # default: the key's token_uri
# APNs token authentication (iPhone app): the .p8 key (PEM, or a path), its key id, the team id and
# the app's bundle id; https://api.sandbox.push.apple.com for development builds.
APNS_KEY = os.environ.get("CIVICPUSH_APNS_KEY", "")
APNS_KEY_ID = os.environ.get("CIVICPUSH_APNS_KEY_ID", "")
APNS_TEAM_ID = os.environ.get("CIVICPUSH_APNS_TEAM_ID", "")
APNS_TOPIC = os.environ.get("CIVICPUSH_APNS_TOPIC", "")
APNS_BASE_URL = os.environ.get("CIVICPUSH_APNS_BASE_URL", "https://api.push.apple.com")
# E-mail (personal notices for citizens who chose it) by SMTP. Without CIVICPUSH_EMAIL_HOST in demo
# mode, messages go to the log (console backend) instead.
EMAIL_HOST = os.environ.get("CIVICPUSH_EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("CIVICPUSH_EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("CIVICPUSH_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("CIVICPUSH_EMAIL_PASSWORD", "")
EMAIL_USE_SSL = env_flag("CIVICPUSH_EMAIL_USE_SSL", EMAIL_PORT == 465)
EMAIL_USE_TLS = env_flag("CIVICPUSH_EMAIL_USE_TLS", EMAIL_PORT == 587) and not EMAIL_USE_SSL
EMAIL_TIMEOUT = 15
DEFAULT_FROM_EMAIL = os.environ.get("CIVICPUSH_EMAIL_FROM", "CivicPush <no-reply@civicpush.invalid>")
NOTICE_EMAIL_BACKEND = os.environ.get("CIVICPUSH_EMAIL_BACKEND", "") or (
    "django.core.mail.backends.console.EmailBackend"
    if DEMO_MODE and not EMAIL_HOST
    else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_BACKEND = NOTICE_EMAIL_BACKEND
# The citizen app's public address (e.g. https://push.taitung.gov.tw), for links in e-mails.
PUBLIC_URL = os.environ.get("CIVICPUSH_PUBLIC_URL", "")
PRIVACY_NOTICE_VERSION = "2026-11"

# Cache: CIVICPUSH_CACHE_URL=redis://host:6379/1 (shared by every process); default: per-process memory.
CACHE_URL = os.environ.get("CIVICPUSH_CACHE_URL", "")
if CACHE_URL and not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured("CIVICPUSH_CACHE_URL must be a redis://, rediss:// or unix:// URL")
CACHES = {
    "default": {"BACKEND": "civicpush.core.cache.SharedClientRedisCache", "LOCATION": CACHE_URL}  # one client a process
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "civicpush"}
}
# Sessions are read from the cache, written through to the database; sign-out and deletion clear
# both. Only with a shared cache: a per-process cache would keep a signed-out session alive in the
# other web processes (CIVICPUSH_SESSION_ENGINE overrides, e.g. cached_db for a single process).
SESSION_ENGINE = os.environ.get(
    "CIVICPUSH_SESSION_ENGINE",
    "django.contrib.sessions.backends.cached_db" if CACHE_URL else "django.contrib.sessions.backends.db",
)

# Citizen sessions last (the PWA stays signed in); staff sessions end after idle time (middleware).
SESSION_COOKIE_AGE = 90 * 24 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_flag("CIVICPUSH_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "zh-hant"
LANGUAGES = [("zh-hant", "繁體中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "civicpush" / "locale"]
TIME_ZONE = "Asia/Taipei"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

# Celery: a broker URL switches from in-process execution to real workers.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up otherwise closes the database connection before and after every task (a new
# PostgreSQL backend per fan-out batch); civicpush/config/celery.py still closes broken or expired ones.
CELERY_DB_REUSE_MAX = int(os.environ.get("CIVICPUSH_CELERY_DB_REUSE_MAX", "100"))
CELERY_TASK_DEFAULT_QUEUE = "default"
# Personal notices never wait behind bulk broadcasts: separate queues, separate workers at scale.
CELERY_TASK_ROUTES = {"civicpush.personal.*": {"queue": "personal"}, "civicpush.bulk.*": {"queue": "bulk"}}
CELERY_TIMEZONE = TIME_ZONE

COUNTY_CODE = os.environ.get("CIVICPUSH_COUNTY_CODE", "10014")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CIVICPUSH_LOG_LEVEL", "INFO")},
    # Each in-process task's "succeeded in …" line is noise on the embedded default (and per task).
    "loggers": {"django.server": {"level": "WARNING"}, "celery.app.trace": {"level": "WARNING"}},
}

NINJA_PAGINATION_PER_PAGE = 50
APP_NAME = _("CivicPush")

# Periodic tasks: run by `celery beat` with a broker, by `manage.py run_periodic` on the embedded default.
# Each entry: task name → seconds between runs.
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-pushes": {"task": "civicpush.bulk.dispatch_due_pushes", "schedule": 30.0},
    "resume-fanouts": {"task": "civicpush.bulk.resume_fanouts", "schedule": 60.0},
    "release-unreconciled-budgets": {"task": "civicpush.default.release_unreconciled_budgets", "schedule": 3600.0},
    "notify-upcoming-expiry": {"task": "civicpush.default.notify_upcoming_expiry", "schedule": 86400.0},
    # Idempotent: moves only coins of periods already past their expiry, so running hourly is safe.
    "expire-period-coins": {"task": "civicpush.default.expire_period_coins", "schedule": 3600.0},
    "expire-holds": {"task": "civicpush.default.expire_holds", "schedule": 60.0},
    # Questionnaires past their closing time are closed and their unused coins go back to the budget.
    "close-due-surveys": {"task": "civicpush.default.close_due_surveys", "schedule": 60.0},
    "send-event-reminders": {"task": "civicpush.personal.send_event_reminders", "schedule": 300.0},
    "close-ended-events": {"task": "civicpush.bulk.close_ended_events", "schedule": 900.0},
    # Cases, feedback, adoption (issue 9): each idempotent, so a missed or repeated run is harmless.
    "declare-overdue-cases": {"task": "civicpush.default.declare_overdue_cases", "schedule": 600.0},
    "retry-case-callbacks": {"task": "civicpush.default.retry_case_callbacks", "schedule": 60.0},
    "flag-late-feedback": {"task": "civicpush.default.flag_late_feedback", "schedule": 3600.0},
    "refresh-staff-groups": {"task": "civicpush.default.refresh_staff_groups", "schedule": 86400.0},
    # Parking (issue 8): hourly; the daily auto-deduct and reconciliation run once a day after 06:00
    # Taiwan time (after the operator's maintenance window) and retry hourly if the operator is down.
    "parking-sync-bills": {"task": "civicpush.default.parking_sync_bills", "schedule": 3600.0},
    "parking-settle-unknown": {"task": "civicpush.default.parking_settle_unknown", "schedule": 600.0},
    "parking-daily": {"task": "civicpush.default.parking_daily", "schedule": 3600.0},
}
# Parking operator adapter: "simulator" (demo, tests), "http", or a dotted class path; its endpoint and key.
PARKING_OPERATOR = os.environ.get("CIVICPUSH_PARKING_OPERATOR", "simulator")
PARKING_OPERATOR_URL = os.environ.get("CIVICPUSH_PARKING_OPERATOR_URL", "")
PARKING_OPERATOR_KEY = os.environ.get("CIVICPUSH_PARKING_OPERATOR_KEY", "")
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
