"""Anagen settings: environment variables with safe defaults.

`ANAGEN_ENV=production` turns on the production hardening (secure cookies, HSTS, SSL redirect) and
requires `SECRET_KEY`; the default is a development set-up on SQLite that runs on a laptop.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ANAGEN_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

ENV = os.environ.get("ANAGEN_ENV", "development")
PRODUCTION = ENV == "production"
DEBUG = os.environ.get("DEBUG", "0" if PRODUCTION else "1") == "1"

if PRODUCTION:
    SECRET_KEY = os.environ["SECRET_KEY"]
else:
    SECRET_KEY = os.environ.get(
        "SECRET_KEY", "dev-only-insecure-key-0f3c9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a"
    )

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_tasks_db",
    "anagen.accounts",
    "anagen.audit",
    "anagen.patients",
    "anagen.imports",
    "anagen.care",
    "anagen.scheduling",
    "anagen.procedures",
    "anagen.outcomes",
    "anagen.billing",
    "anagen.fhir",
    "anagen.web",
    "anagen.interop",
    "anagen.ops",
]

MIDDLEWARE = [
    # First: every log line and error page of the request carries its id.
    "anagen.ops.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the body: an oversized API body is a 413 problem document.
    "anagen.interop.limits.ApiBodyLimitMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's and django-otp's middleware with the person, device and membership remembered
    # per process for a few seconds (issue 15: the signed-in floor; anagen/accounts/signed_in.py).
    "anagen.accounts.signed_in.CachedAuthenticationMiddleware",
    "anagen.accounts.signed_in.CachedOTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "anagen.accounts.session_cap.AbsoluteSessionCapMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Two-factor gate: a signed-in person who still owes a code (or must enrol) reaches only
    # the two-factor pages until then; it runs before the clinic context is built.
    "anagen.accounts.middleware.MfaGateMiddleware",
    "anagen.accounts.middleware.ActiveClinicMiddleware",
    # One audit row for a request that read patient data and wrote none (anagen/audit/reads.py).
    "anagen.audit.reads.AuditReadMiddleware",
    "anagen.web.request_guards.RequestGuardMiddleware",
    "anagen.interop.idempotency.IdempotencyMiddleware",
    "anagen.web.middleware.OutOfRangeIdMiddleware",
    # Axes must be last: it turns a locked-out login into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "anagen.urls"
WSGI_APPLICATION = "anagen.wsgi.application"
ASGI_APPLICATION = "anagen.asgi.application"

# The test suite (pytest) renders templates strictly: see _strict_invalid.
TESTING = "pytest" in sys.modules or os.environ.get("ANAGEN_STRICT_TEMPLATES") == "1"


def _strict_invalid() -> str:
    from anagen.web.strict_templates import MissingVariable

    return MissingVariable()


TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "anagen" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "anagen.accounts.context_processors.clinic_context",
            ],
            # Clinic time and labels in every template without a {% load %}.
            "builtins": ["anagen.web.templatetags.human"],
            # Under the test suite a template that prints a missing variable fails loudly
            # instead of rendering an empty string.
            **({"string_if_invalid": _strict_invalid()} if TESTING else {}),
        },
    }
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'anagen.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions: readers never block the writer and two writers serialise
    # instead of failing mid-transaction (reference/reliability-and-security.md §3.6).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests use a file, like production: an in-memory database is shared between the live
    # server's threads without SQLite's busy timeout, so parallel requests fail on locks.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("ANAGEN_TEST_DB", str(VAR_DIR / "test-anagen.sqlite3"))
    }
# Caches kept in VAR_DIR belong to one database: two instances (or two test runs) sharing the
# folder with different databases must not read each other's sessions or invalidation stamps.
DATABASE_TAG = hashlib.sha256(
    "|".join(
        str(DATABASES["default"].get(k) or "") for k in ("ENGINE", "NAME", "HOST", "PORT")
    ).encode()
).hexdigest()[:12]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: lock a username+IP pair after 5 failures for 15 minutes, so an attacker
# cannot lock a physician out from everywhere (reference §3.4).
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Also lock an address after this many failures across all usernames within the cool-off, and
# take the client address from X-Forwarded-For only when the request comes from a trusted proxy
# (ANAGEN_TRUSTED_PROXIES: comma-separated addresses or CIDR ranges, e.g. "127.0.0.1,10.0.0.0/8").
ANAGEN_LOGIN_ADDRESS_LIMIT = int(os.environ.get("ANAGEN_LOGIN_ADDRESS_LIMIT", "20"))
ANAGEN_TRUSTED_PROXIES = [
    p.strip() for p in os.environ.get("ANAGEN_TRUSTED_PROXIES", "").split(",") if p.strip()
]
AXES_HANDLER = "anagen.accounts.client_ip.AddressLimitHandler"
# Password-reset emails: at most this many an hour per email address and per client address
# (over the limit nothing is sent and the page answers as usual).
ANAGEN_PASSWORD_RESET_EMAIL_LIMIT = int(os.environ.get("ANAGEN_PASSWORD_RESET_EMAIL_LIMIT", "3"))
ANAGEN_PASSWORD_RESET_IP_LIMIT = int(os.environ.get("ANAGEN_PASSWORD_RESET_IP_LIMIT", "10"))
# FHIR Bulk Data exports: the files are deleted this many hours after the export finished.
ANAGEN_FHIR_EXPORT_HOURS = float(os.environ.get("ANAGEN_FHIR_EXPORT_HOURS", "24"))

# Photo uploads (issue 13): refused by size and by pixel count before any decoding; see
# anagen/outcomes/imaging.py for the bounded-memory decode and benchmarks/upload_memory.py.
ANAGEN_UPLOAD_MAX_BYTES = int(os.environ.get("ANAGEN_UPLOAD_MAX_BYTES", str(25 * 1024 * 1024)))
ANAGEN_UPLOAD_MAX_PIXELS = int(os.environ.get("ANAGEN_UPLOAD_MAX_PIXELS", "40000000"))
# Outcome analytics for roles without per-patient rows (clinic admins): any count under this is
# shown as "fewer than 5", never the number (issue 13: aggregate-only, small cells n < 5
# suppressed). A disclosure-control policy of the deployment, not a clinical rule.
ANAGEN_ANALYTICS_MIN_CELL = int(os.environ.get("ANAGEN_ANALYTICS_MIN_CELL", "5"))
AXES_CLIENT_IP_CALLABLE = "anagen.accounts.client_ip.client_ip"

# Sessions: 30 minutes idle, cookie never readable by scripts. Use renews the idle timeout, but a
# request writes the session only when its last renewal is over SESSION_TOUCH_INTERVAL seconds
# old (anagen/accounts/session_cap.py), not on every request (issue 15: a write per page).
# Database sessions behind a cache every worker of the host shares
# (anagen/accounts/session_store.py): a signed-in request reads no row (issue 15). Several
# hosts: point the "sessions" cache at a shared cache server instead.
SESSION_ENGINE = "anagen.accounts.session_store"
SESSION_CACHE_ALIAS = "sessions"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Rendered page parts (the signed-in header, calendar grids, chart parts), per worker and
    # keyed by their content or data version: kept apart so large bodies never push out the
    # default cache's entries.
    "rendered": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "anagen-rendered",
        "TIMEOUT": 24 * 3600,
        "OPTIONS": {"MAX_ENTRIES": 3000, "CULL_FREQUENCY": 4},
    },
    "sessions": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache" / f"sessions-{DATABASE_TAG}"),
        "OPTIONS": {"MAX_ENTRIES": 20000},
    },
}
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_TOUCH_INTERVAL = 60
# How long a worker trusts a remembered person/membership that nothing said changed (see
# anagen/accounts/signed_in.py). Under pytest an hour: a page's query count must not depend on
# how slowly the suite happens to run (tests of the limit itself set it).
SIGNED_IN_CACHE_SECONDS = int(
    os.environ.get("SIGNED_IN_CACHE_SECONDS", "3600" if TESTING else "15")
)
SESSION_ABSOLUTE_MAX_AGE = 12 * 3600  # sign in again at least once a working day
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SECURE_SSL_REDIRECT = os.environ.get("SECURE_SSL_REDIRECT", "1") == "1"
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The container's health probe speaks plain HTTP to the app itself.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LANGUAGE_CODE = "en-gb"
# One human format everywhere (anagen/formats): "30 Nov 2026, 14:05"; ISO first for inputs.
FORMAT_MODULE_PATH = ["anagen.formats"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "anagen" / "static"]
WHITENOISE_AUTOREFRESH = DEBUG  # serve from the app folders until collectstatic has run
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Background work goes through Django's Tasks API on the database-backed worker.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

MAILERS = {
    "default": {
        "BACKEND": os.environ.get(
            "EMAIL_BACKEND",
            "django.core.mail.backends.smtp.EmailBackend"
            if PRODUCTION
            else "django.core.mail.backends.console.EmailBackend",
        )
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Anagen <no-reply@anagen.local>")

PATIENT_PAGE_SIZE = 25

# One JSON object a line on stderr, each with the request id (anagen.ops.logging); one access
# line per request at INFO (ACCESS_LOG_LEVEL=WARNING turns it off).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "anagen.ops.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "anagen.ops.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {
        # Django's own plain-text handlers replaced: its lines go to the JSON handler too.
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": [], "level": "INFO"},
        "anagen.access": {"level": os.environ.get("ACCESS_LOG_LEVEL", "INFO")},
    },
}

# Optional error reporting: Sentry (or a compatible service) when SENTRY_DSN is set.
from anagen.ops.sentry import init_sentry  # noqa: E402

SENTRY_ENABLED = init_sentry(environment=ENV)
CSRF_FAILURE_VIEW = "anagen.web.views.csrf_failure"
