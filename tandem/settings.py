"""Tandem's one settings module.

Every value that differs between machines is read from a ``TANDEM_*``
environment variable through the typed helpers in ``tandem.lib.env``. A bad
value stops start-up with a message that names the variable. Every setting is
listed, with its default, in docs/configuration.md.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from tandem.lib.env import ConfigError, env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("TANDEM_DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("TANDEM_DEBUG", False)
DEMO_MODE = env_bool("TANDEM_DEMO", False)

_DEV_SECRET = "insecure-development-key-only-for-debug-and-tests-" + "x" * 20
SECRET_KEY = env_str("TANDEM_SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ConfigError("TANDEM_SECRET_KEY must be set when TANDEM_DEBUG is off")
if not DEBUG and (SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50):
    raise ConfigError("TANDEM_SECRET_KEY must be a random value of at least 50 characters")

ALLOWED_HOSTS = env_list("TANDEM_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("TANDEM_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "tandem.accounts",
    "tandem.audit",
    "tandem.organizations",
    "tandem.patients",
    "tandem.credentials",
    "tandem.records",
    "tandem.consent",
    "tandem.scheduling",
    "tandem.feeds",
    "tandem.reminders",
    "tandem.referrals",
    "tandem.video",
    "tandem.messaging",
    "tandem.measures",
    "tandem.plans",
    "tandem.medications",
    "tandem.home",
    "tandem.operations",
    "tandem.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tandem.lib.security_headers.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tandem.accounts.middleware.SessionLimitsMiddleware",
    "tandem.accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tandem.lib.request_log.RequestLogMiddleware",
]

ROOT_URLCONF = "tandem.urls"
WSGI_APPLICATION = "tandem.wsgi.application"
ASGI_APPLICATION = "tandem.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tandem" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tandem.home.context.site",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
_database_url = env_str("TANDEM_DATABASE_URL", f"sqlite:///{DATA_DIR / 'tandem.sqlite3'}")
try:
    _db = dj_database_url.parse(_database_url)
except Exception as exc:  # dj-database-url raises several types for a bad URL
    raise ConfigError(f"TANDEM_DATABASE_URL is not a database URL Tandem can use: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite creates the file but not its folder; a fresh checkout has no var/ yet.
    if _db["NAME"] and _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["OPTIONS"] = {
        # IMMEDIATE makes every atomic block take the write lock up front, so two
        # processes never interleave a read-then-write (the audit chain relies on it).
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    _test_name = env_str("TANDEM_TEST_SQLITE_FILE", "")
    if _test_name:
        Path(_test_name).parent.mkdir(parents=True, exist_ok=True)
        _db["TEST"] = {"NAME": _test_name}
elif _db["ENGINE"] != "django.db.backends.postgresql":
    raise ConfigError("TANDEM_DATABASE_URL must point at SQLite or PostgreSQL")
# Keeping connections open between requests saves a new PostgreSQL backend (or
# SQLite's WAL set-up) per request; worth it on the WSGI servers, while
# Django advises 0 under ASGI. See docs/deployment.md.
_conn_max_age = env_int("TANDEM_DB_CONN_MAX_AGE", 0, minimum=0)
_db["CONN_MAX_AGE"] = _conn_max_age
_db["CONN_HEALTH_CHECKS"] = _conn_max_age > 0
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer and cache ------------------------------------------------------
REDIS_URL = env_str("TANDEM_REDIS_URL", "")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("TANDEM_REDIS_URL must start with redis://, rediss:// or unix://")
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("TANDEM_REDIS_PREFIX", "tandem")},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("TANDEM_REDIS_PREFIX", "tandem"),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Background tasks -------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
WORKER_HEARTBEAT_STALE_SECONDS = env_int("TANDEM_WORKER_STALE_SECONDS", 120, minimum=10)
# A safety alert nobody has acknowledged goes to the organizations' admins after this long.
SAFETY_ALERT_ESCALATE_MINUTES = env_int("TANDEM_SAFETY_ALERT_ESCALATE_MINUTES", 60, minimum=5, maximum=24 * 60)

# --- Accounts and sessions ----------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:sign_in"
LOGIN_REDIRECT_URL = "home:today"

IDLE_TIMEOUT_SECONDS = env_int("TANDEM_IDLE_TIMEOUT_MINUTES", 15, minimum=1, maximum=240) * 60
SESSION_ABSOLUTE_SECONDS = env_int("TANDEM_SESSION_MAX_HOURS", 12, minimum=1, maximum=24) * 3600
SUDO_SECONDS = env_int("TANDEM_SUDO_MINUTES", 10, minimum=1, maximum=60) * 60
LOGIN_FAILURE_LIMIT = env_int("TANDEM_LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("TANDEM_LOGIN_LOCKOUT_MINUTES", 15, minimum=1) * 60
PASSWORD_RESET_TIMEOUT = env_int("TANDEM_PASSWORD_RESET_MINUTES", 60, minimum=5, maximum=1440) * 60
MFA_ISSUER = env_str("TANDEM_MFA_ISSUER", "Tandem")

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# --- HTTPS and headers ----------------------------------------------------------------
_secure_default = not DEBUG
SECURE_SSL_REDIRECT = env_bool("TANDEM_SSL_REDIRECT", _secure_default)
SESSION_COOKIE_SECURE = env_bool("TANDEM_SECURE_COOKIES", _secure_default)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("TANDEM_HSTS_SECONDS", 31536000 if _secure_default else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind one reverse proxy, the client's address is the last X-Forwarded-For hop.
BEHIND_PROXY = env_bool("TANDEM_BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Mail ---------------------------------------------------------------------------------
_email_backend = env_choice("TANDEM_EMAIL_BACKEND", "console", {"console", "file", "smtp"})
EMAIL_BACKEND = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}[_email_backend]
EMAIL_FILE_PATH = str(DATA_DIR / "mail")
EMAIL_HOST = env_str("TANDEM_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("TANDEM_EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("TANDEM_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("TANDEM_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("TANDEM_EMAIL_TLS", True)
# The address people reach Tandem at, for links in emails the worker sends.
SITE_URL = env_str("TANDEM_SITE_URL", "http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = env_str("TANDEM_EMAIL_FROM", "Tandem <no-reply@tandem.invalid>")

# --- Text messages ------------------------------------------------------------------------
# "outbox" keeps messages in memory (tests), "console" prints them (the demo),
# "twilio" sends them through Twilio's REST API.
SMS_BACKEND = env_choice("TANDEM_SMS_BACKEND", "console", {"outbox", "console", "twilio"})
SMS_TWILIO_ACCOUNT_SID = env_str("TANDEM_SMS_TWILIO_ACCOUNT_SID", "")
SMS_TWILIO_AUTH_TOKEN = env_str("TANDEM_SMS_TWILIO_AUTH_TOKEN", "")
SMS_TWILIO_BASE_URL = env_str("TANDEM_SMS_TWILIO_BASE_URL", "https://api.twilio.com")
SMS_FROM_NUMBER = env_str("TANDEM_SMS_FROM_NUMBER", "")

# --- E-prescribing ----------------------------------------------------------------------------
# The vendor adapter prescriptions go through. The stub sends nothing, and says so.
ERX_BACKEND = env_str("TANDEM_ERX_BACKEND", "tandem.medications.erx.StubBackend")

# --- Consent ----------------------------------------------------------------------------------
# How long a patient's signing link works, and how long emergency access lasts.
SIGNING_LINK_HOURS = env_int("TANDEM_SIGNING_LINK_HOURS", 72, minimum=1, maximum=24 * 30)
BREAK_GLASS_MINUTES = env_int("TANDEM_BREAK_GLASS_MINUTES", 60, minimum=5, maximum=24 * 60)

# --- Reminders --------------------------------------------------------------------------------
# A reminder claimed by a worker that died is taken over after this long; it
# must outlast the slowest send (Twilio times out after 10 s, email after 60 s).
REMINDER_RECLAIM_SECONDS = env_int("TANDEM_REMINDER_RECLAIM_MINUTES", 10, minimum=1, maximum=120) * 60

# --- Video -------------------------------------------------------------------------------------
# ICE servers for video calls. TURN credentials are minted per participant from
# the secret coturn shares (its use-auth-secret mode) and last TURN_TTL seconds.
# With no TURN URLs, calls use STUN only (and fail behind symmetric NATs).
STUN_URLS = env_list("TANDEM_STUN_URLS", [])
TURN_URLS = env_list("TANDEM_TURN_URLS", [])
TURN_SECRET = env_str("TANDEM_TURN_SECRET", "")
TURN_TTL_SECONDS = env_int("TANDEM_TURN_TTL_MINUTES", 120, minimum=5, maximum=24 * 60) * 60
# Who may enter a video room, and when: from this long before the start to this long after the end.
# Relay every call's media through TURN, so that no participant learns
# another's network address (a clinician calling from home, for one).
VIDEO_RELAY_ONLY = env_bool("TANDEM_VIDEO_RELAY_ONLY", False)
VIDEO_ROOM_OPENS_MINUTES = env_int("TANDEM_VIDEO_ROOM_OPENS_MINUTES", 15, minimum=0, maximum=240)
VIDEO_ROOM_CLOSES_MINUTES = env_int("TANDEM_VIDEO_ROOM_CLOSES_MINUTES", 60, minimum=0, maximum=24 * 60)
if TURN_URLS and not TURN_SECRET:
    raise ConfigError("TANDEM_TURN_SECRET must be set when TANDEM_TURN_URLS is")
if VIDEO_RELAY_ONLY and not TURN_URLS:
    raise ConfigError("TANDEM_VIDEO_RELAY_ONLY needs a TURN server: set TANDEM_TURN_URLS")

# --- Internationalization ------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
LANGUAGES = [("en", "English"), ("es", "Español")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "tandem" / "static"]
# Hashed, compressed file names need ``collectstatic`` first: on in production,
# off for the demo and tests, which serve straight from the source tree.
STATIC_MANIFEST = env_bool("TANDEM_STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Credential documents: no URL, served only by views that ask the access policy.
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "private"), "base_url": None},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
# collectstatic writes here; without the manifest, files are served from the source tree.
STATIC_ROOT = DATA_DIR / "static" if STATIC_MANIFEST else None

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env_choice("TANDEM_LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "tandem.lib.request_log.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own request logger prints the full path and can echo query
        # strings (search terms are health information), so ours replaces it.
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": [], "level": "ERROR", "propagate": False},
        # The task worker logs every idle poll at INFO.
        "django_tasks_db": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        # WeasyPrint narrates every step of every PDF at INFO.
        "weasyprint": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "fontTools": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}
