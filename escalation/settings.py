"""Settings come from the environment, with safe local defaults: nothing needs editing to start.

DATABASE_URL  unset -> SQLite in var/db.sqlite3 (the embedded default); postgres://... in production
REDIS_URL     unset -> redis://127.0.0.1:6379/0 (`make run` starts a local server when unset)
"""
import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name, default=False):
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # A local default so `make run` needs no setup; production sets SECRET_KEY.
    SECRET_KEY = "insecure-local-only-" + str(BASE_DIR)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
PORT = int(os.environ.get("PORT", "8000"))
# DEMO=1 (set by `make run`): /demo/, an end-user chat that talks to the API as a product would.
DEMO = env_bool("DEMO", False)
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", f"http://localhost:{PORT}").rstrip("/")
# The console's own origins (CSRF and the websocket's exact-origin check). A local run with no
# PUBLIC_BASE_URL answers on every loopback name, so each is the same console: opened at
# http://127.0.0.1:8000 instead of localhost, its socket must connect too.
_LOCAL_ORIGINS = ",".join(f"http://{host}:{PORT}" for host in ("localhost", "127.0.0.1", "[::1]"))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS",
                                PUBLIC_BASE_URL if "PUBLIC_BASE_URL" in os.environ else _LOCAL_ORIGINS)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "escalation",
    "conversations",
    "contacts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "escalation.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "escalation.two_factor.RequireTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into a refusal.
    "axes.middleware.AxesMiddleware",
]

# Staff logins: locked for 15 minutes after 5 failures for a username from one address (django-axes).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address is the connection's, or behind the proxy the one the proxy saw; not django-ipware's
# guess, which believes the left-most X-Forwarded-For entry, written by the client.
AXES_CLIENT_IP_CALLABLE = "escalation.client_address.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Sessions end after 12 hours (a shift), and when the browser closes.
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(12 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# An open console socket re-checks its session and its user's rights this often (besides on every
# action and at once on logout or an admin's change): the longest a missed change can go unnoticed.
CONSOLE_RECHECK_SECONDS = float(os.environ.get("CONSOLE_RECHECK_SECONDS", "5"))

# Headers: no framing, no sniffing, a strict content security policy (django-csp): everything from
# this origin only, no inline scripts. The console's websocket is same-origin ('self').
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}
# Behind HTTPS (PUBLIC_BASE_URL https://...): secure cookies, HSTS, redirect to HTTPS.
HTTPS = PUBLIC_BASE_URL.startswith("https://")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
# BEHIND_PROXY=1: one reverse proxy in front terminates TLS and says so in X-Forwarded-Proto, and
# appends the client's address to X-Forwarded-For (escalation/client_address.py).
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

ROOT_URLCONF = "escalation.urls"
ASGI_APPLICATION = "escalation.asgi.application"
WSGI_APPLICATION = "escalation.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite is the embedded default. WAL plus IMMEDIATE transactions let concurrent
# writers queue on the lock instead of failing with "database is locked" mid-transaction.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)  # the database is in it: this user's only
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not shared memory, so tests with concurrent requests lock like production does.
            "TEST": {"NAME": str(VAR_DIR / "test-db.sqlite3")},
            # Keep each thread's connection instead of opening one (and running the PRAGMAs) per
            # request; a local file needs no health check. Under Daphne this is one connection per
            # web process: HTTP runs in the process's one sync thread (escalation/asgi.py).
            "CONN_MAX_AGE": None,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# Per-process memory cache: hot-path lookups with a short TTL (API keys, conversations.auth).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10000}}}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

# Celery: late acks and prefetch 1 so a killed worker's task runs again; the database outbox
# (swept periodically) is what guarantees delivery, the broker only makes it fast.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The second stage's reviews (RISK_BACKENDS) wait on a classifier that may take seconds: they have a
# queue and a worker of their own (scripts/run_stack.py starts it when RISK_BACKENDS is set), so
# that a slow or hung classifier never delays a webhook or an emergency SMS on the default queue.
RISK_QUEUE = "risk"
CELERY_TASK_ROUTES = {"conversations.tasks.review_risk": {"queue": RISK_QUEUE}}
CELERY_BEAT_SCHEDULE = {
    # The webhook outbox: retries that are due, and events whose on-commit dispatch was lost.
    # Expires with the next run, so sweeps do not pile up while the workers are down.
    "sweep-webhooks": {"task": "escalation.tasks.sweep_webhooks", "schedule": 15.0, "options": {"expires": 15}},
    # The emergency-contact chain: due sends, delivery timeouts, auto-start of unclaimed incidents.
    "sweep-notifications": {"task": "contacts.tasks.sweep_notifications", "schedule": 5.0,
                            "options": {"expires": 5}},
    # The risk second stage: reviews whose dispatch was lost, and retries that are due (none without RISK_BACKENDS).
    "sweep-risk-reviews": {"task": "conversations.tasks.sweep_risk_reviews", "schedule": 5.0,
                           "options": {"expires": 5}},
    # Unclaimed incidents escalated to the supervisors.
    "escalate-overdue": {"task": "escalation.tasks.escalate_overdue", "schedule": 5.0, "options": {"expires": 5}},
    "enforce-registrations": {"task": "contacts.tasks.enforce_registrations", "schedule": 3600.0,
                              "options": {"expires": 3600}},
    # Retention: logs older than RETENTION_DAYS go, daily (docs/audit-and-reports.md).
    "purge-expired": {"task": "escalation.tasks.purge_expired", "schedule": 86400.0, "options": {"expires": 3600}},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
LOGIN_URL = "/accounts/login/"
# Email: only for staff password resets, which exist only when EMAIL_HOST is set (escalation/urls.py).
# Sent in the request (the one HTTP thread of a web process waits for it), so EMAIL_TIMEOUT is short.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "webmaster@localhost")
LOGIN_REDIRECT_URL = "/console/"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise looks there first (filled by collectstatic)
# WhiteNoise serves static files from the app dirs directly, so `make run` needs no collectstatic;
# production may run collectstatic and set WHITENOISE_USE_FINDERS=0.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
WHITENOISE_AUTOREFRESH = DEBUG

# The product API: JSON in, JSON out, errors in the contract's shape.
API_MAX_BODY_BYTES = 1024 * 1024
# Requests per API key per minute (429 with Retry-After beyond); 0 turns the limit off.
API_RATE_LIMIT_PER_MINUTE = int(os.environ.get("API_RATE_LIMIT_PER_MINUTE", "60000"))
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["conversations.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["conversations.auth.IsProduct"],
    "DEFAULT_PARSER_CLASSES": ["escalation.api_errors.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "escalation.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["conversations.throttling.ApiKeyRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    # ASCII only: drf-spectacular puts the title in /api/schema/'s Content-Disposition filename, and a
    # character outside Latin-1 (an em dash) made Django MIME-encode the whole header into nonsense.
    "TITLE": "Escalation console - product API",
    "DESCRIPTION": "What AI companion services call to report users, messages and flagged sessions, "
    "and the directives they get back. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "FlagLevelEnum": "conversations.serializers.LEVELS_FLAGGED",
        "AssessedLevelEnum": "conversations.serializers.LEVELS_ASSESSED",
        "InputRoleEnum": "conversations.serializers.ROLES_IN",
        "StoredRoleEnum": "conversations.serializers.ROLES_STORED",
    },
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Per-region rules: age bounds (Civil Code Art. 17; Elderly Rights Law Art. 2) and the
# continuous-use reminder (Measures Art. 18: every 2 hours; a 15-minute gap ends a stretch).
REGION_RULES_DEFAULT = {
    "minor_under": 18,
    "elder_from": 60,
    "break_every_minutes": 120,
    "break_gap_minutes": 15,
    "ai_identity_every_minutes": None,  # remind_ai_identity off
    "timezone": "UTC",  # the user's local day and night, for dependence signals
}
REGION_RULES = {
    "CN": {"timezone": "Asia/Shanghai"},
    # NY GBL Art. 47 and CA SB 243 (known minors): tell the user every 3 hours that they talk to an AI.
    # SB 243's break floor is every 3 hours for minors; the 2-hour default is stricter and kept.
    "US": {"ai_identity_every_minutes": 180, "timezone": "America/New_York"},
}
# The learned risk model beside the rules (docs/risk.md): off by default until its false alarms
# and its speed meet the targets; `manage.py assess_risk --model` measures it either way.
RISK_MODEL = env_bool("RISK_MODEL", True)
# The second stage (docs/risk.md, "Second stage and RISK_BACKENDS"): HTTP classifiers the worker asks
# about each stored user message, raising its level, never lowering it. A JSON list, e.g.
# [{"kind": "openai_chat", "url": "http://127.0.0.1:8001/v1", "model": "qwen2.5-7b-instruct",
#   "api_key_env": "QWEN_API_KEY", "timeout": 5}]; empty (the default): no second stage at all.
try:
    RISK_BACKENDS = json.loads(os.environ.get("RISK_BACKENDS", "").strip() or "[]")
except ValueError as _error:
    raise ImproperlyConfigured(f"RISK_BACKENDS is not valid JSON: {_error}") from None
if not isinstance(RISK_BACKENDS, list):
    raise ImproperlyConfigured("RISK_BACKENDS must be a JSON list of objects (docs/risk.md)")
REGISTRATION_VERIFY_HOURS = int(os.environ.get("REGISTRATION_VERIFY_HOURS", "72"))
# SMS and voice through Twilio; without an account SID the built-in outbox records each SMS instead.
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")
TWILIO_API_URL = os.environ.get("TWILIO_API_URL", "")  # a stand-in for https://api.twilio.com
TWILIO_VOICE_ENABLED = env_bool("TWILIO_VOICE_ENABLED", False)
SERVICE_CALLBACK_NUMBER = os.environ.get("SERVICE_CALLBACK_NUMBER", "")  # in SMS texts: how to reach the service
# The emergency-contact chain (docs/api-v1.md): auto-start when nobody claimed an explicit incident.
ESCALATION_AUTO_NOTIFY_SECONDS = int(os.environ.get("ESCALATION_AUTO_NOTIFY_SECONDS", "300"))
SMS_DELIVERY_TIMEOUT_SECONDS = int(os.environ.get("SMS_DELIVERY_TIMEOUT_SECONDS", "180"))
SMS_SEND_MAX_ATTEMPTS = 6
# A worker holds a step this long; it must outlast a provider call (10 s timeout) by a margin.
NOTIFICATION_LEASE_SECONDS = int(os.environ.get("NOTIFICATION_LEASE_SECONDS", "60"))
VERIFY_LINK_HOURS = int(os.environ.get("VERIFY_LINK_HOURS", "72"))
# Verification texts go to numbers an API caller chose: at most this many an hour to one number
# (whichever product asks) and from one product. Over the limit a text waits (docs/api.md).
VERIFY_TEXTS_PER_NUMBER_PER_HOUR = int(os.environ.get("VERIFY_TEXTS_PER_NUMBER_PER_HOUR", "3"))
VERIFY_TEXTS_PER_PRODUCT_PER_HOUR = int(os.environ.get("VERIFY_TEXTS_PER_PRODUCT_PER_HOUR", "200"))
# Logs (messages, timelines, notifications, audit) are kept this many days: at least 180 (final
# Measures Art. 10) unless RETENTION_ALLOW_SHORT=1 says otherwise on purpose.
RETENTION_DAYS = int(os.environ.get("RETENTION_DAYS", "180"))
RETENTION_ALLOW_SHORT = env_bool("RETENTION_ALLOW_SHORT", False)
# An incident nobody has claimed after this long is escalated and the supervisors paged.
ESCALATE_UNCLAIMED_AFTER_SECONDS = {
    "explicit": int(os.environ.get("ESCALATE_EXPLICIT_SECONDS", "60")),
    "high_risk": int(os.environ.get("ESCALATE_HIGH_RISK_SECONDS", "600")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
