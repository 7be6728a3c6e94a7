"""Django settings for cryptotrack, read once from the environment (12-factor).

Every knob is listed with its default and meaning in ``.env.example``. An empty variable
counts as unset. Code reads ``settings.X``, never ``os.environ``.

Two shapes:
- the embedded default (nothing set): SQLite in ``var/``, database cache, a server-less
  Celery broker, the in-memory channel layer; keys read from ``var/secrets.env``, which
  the entry points generate once (``config.prepare_var_dir``): importing this module
  writes nothing and changes no environment variable;
- production (``ENVIRONMENT=production``): PostgreSQL, Redis, explicit keys — a missing
  or malformed key stops start-up with a clear message instead of failing at first use.
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import timedelta
from pathlib import Path

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from cryptotrack.config import (
    BASE_DIR,
    SECRETS_FILE,
    env_reader,
    fernet_keys,
    read_local_secrets,
    var_dir,
)

# Lets annotations such as ModelAdmin[User] run (django-stubs generics at runtime).
django_stubs_ext.monkeypatch()

env = env_reader(BASE_DIR / ".env")

# --- Environment ----------------------------------------------------------------------
ENVIRONMENT = env.str("ENVIRONMENT", default="development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured("ENVIRONMENT must be 'development' or 'production'.")
PRODUCTION = ENVIRONMENT == "production"
VAR_DIR = var_dir(env)

# https://docs.djangoproject.com/en/5.2/ref/settings/#debug
DEBUG = env.bool("DEBUG", default=False)

# --- Secrets --------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
_secret_key = env.str("SECRET_KEY", default="")
_encryption_keys = env.str("CREDENTIALS_ENCRYPTION_KEYS", default="").split(",")
if not _secret_key or _encryption_keys == [""]:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY and CREDENTIALS_ENCRYPTION_KEYS must be set when ENVIRONMENT=production."
        )
    # Generated once by the entry points (config.prepare_var_dir); only read here.
    _local = read_local_secrets(VAR_DIR / SECRETS_FILE)
    if not _local:
        raise ImproperlyConfigured(
            f"SECRET_KEY and CREDENTIALS_ENCRYPTION_KEYS are not set and {VAR_DIR / SECRETS_FILE} "
            "does not exist yet: `make run` or any `./manage.py` command generates it once "
            "(or set both, see .env.example)."
        )
    _secret_key = _secret_key or _local["SECRET_KEY"]
    if _encryption_keys == [""]:
        _encryption_keys = [_local["CREDENTIALS_ENCRYPTION_KEYS"]]
SECRET_KEY = _secret_key
if PRODUCTION:
    # Django's own bar (check --deploy, security.W009): SECRET_KEY signs sessions, password
    # resets and every JWT; a guessable one lets anybody sign in as anybody.
    _weak_key = (
        "at least 50 characters"
        if len(SECRET_KEY) < 50
        else "at least 5 different characters"
        if len(set(SECRET_KEY)) < 5
        else "no 'django-insecure-' prefix"
        if SECRET_KEY.startswith("django-insecure-")
        else ""
    )
    if _weak_key:
        raise ImproperlyConfigured(
            f"SECRET_KEY must have {_weak_key} when ENVIRONMENT=production. Make one: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    if DEBUG:
        raise ImproperlyConfigured(
            "DEBUG must be off when ENVIRONMENT=production: it shows settings, SQL and "
            "tracebacks to anyone who triggers an error."
        )
# Fernet keys, newest first: encrypt with the first, decrypt with any (MultiFernet).
CREDENTIALS_ENCRYPTION_KEYS = fernet_keys(_encryption_keys)

# https://docs.djangoproject.com/en/5.2/ref/settings/#allowed-hosts
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Proxies (IPs or CIDRs) whose X-Forwarded-For / X-Forwarded-Proto are believed; default:
# none, so a client cannot pick its own address for the throttles. The Procfile passes the
# same list to uvicorn's --forwarded-allow-ips. See docs/operations.md.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network ({_error})."
        ) from None

# --- Applications ---------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "cryptotrack.core",
    "cryptotrack.accounts",
    "cryptotrack.positions",
    "cryptotrack.quotes",
    "cryptotrack.alerts",
    "cryptotrack.audit",
    "cryptotrack.balances",
    "cryptotrack.notify",
    "cryptotrack.web",
]

# Django's own middleware, each wrapped so that under ASGI its hooks run in the event loop
# instead of a thread hop apiece (core/inline_middleware.py); WhiteNoise answers only
# below STATIC_URL.
# Django's deploy checks look for SecurityMiddleware, XFrameOptionsMiddleware and
# CsrfViewMiddleware by their dotted names; ours (core/inline_middleware.py) subclass them,
# and core/checks.py asks the same by class instead.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

MIDDLEWARE = [
    # First: every log line of the request carries its id, and every answer X-Request-ID.
    "cryptotrack.core.logging.RequestIdMiddleware",
    "cryptotrack.core.inline_middleware.SecurityMiddleware",
    "cryptotrack.core.csp.ContentSecurityPolicyMiddleware",
    "cryptotrack.core.inline_middleware.StaticFilesMiddleware",
    "cryptotrack.core.inline_middleware.SessionMiddleware",
    "cryptotrack.core.inline_middleware.CommonMiddleware",
    "cryptotrack.core.inline_middleware.CsrfViewMiddleware",
    "cryptotrack.core.inline_middleware.AuthenticationMiddleware",
    "cryptotrack.core.inline_middleware.MessageMiddleware",
    "cryptotrack.core.inline_middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cryptotrack.urls"
ASGI_APPLICATION = "cryptotrack.asgi.application"
WSGI_APPLICATION = "cryptotrack.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cryptotrack.web.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and the worker share one SQLite file.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

# The web (ASGI) process pools its PostgreSQL connections (psycopg_pool through Django's
# OPTIONS["pool"], set in asgi.py) instead of keeping one per thread: at most this many
# per web process, however many requests are in flight; a request waits up to
# WEB_DATABASE_POOL_TIMEOUT seconds for one. 0 turns the pool off (a connection per request).
WEB_DATABASE_POOL_SIZE = env.int("WEB_DATABASE_POOL_SIZE", default=4)
WEB_DATABASE_POOL_TIMEOUT = env.float("WEB_DATABASE_POOL_TIMEOUT", default=10.0)
# Threads per web process that run the synchronous part of requests (our views), kept for
# the life of the process instead of one new thread per request; more requests than this
# wait for one. See core/asgi_handler.py.
WEB_THREADS = env.int("WEB_THREADS", default=32)

# --- Cache ----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# How long Redis may take before we give up on it, and how long we then leave it alone.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.25)
REDIS_BREAKER_SECONDS = env.float("REDIS_BREAKER_SECONDS", default=5.0)
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="cryptotrack")
if REDIS_URL:
    _redis_cache = {
        "BACKEND": "cryptotrack.core.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        "OPTIONS": {
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "BREAKER_SECONDS": REDIS_BREAKER_SECONDS,
        },
    }
    CACHES = {
        # Throttle counters and small lookups: while Redis is down they live per process.
        "default": {**_redis_cache, "OPTIONS": {**_redis_cache["OPTIONS"], "FALLBACK": "locmem"}},
        # Live data (positions, latest quotes): while Redis is down, readers go to the
        # database tables themselves, never to a stale per-process copy.
        "live": _redis_cache,
    }
else:
    _db_cache = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache"}
    CACHES = {
        "default": {**_db_cache, "KEY_PREFIX": CACHE_KEY_PREFIX},
        "live": {**_db_cache, "KEY_PREFIX": f"{CACHE_KEY_PREFIX}:live"},
    }

# --- Passwords (Argon2id first, OWASP ASVS) -------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/auth/passwords/#using-argon2-with-django
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation and time ----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (served by WhiteNoise, so /docs works with DEBUG off) ---------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders: no collectstatic step in `make run`.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Request bodies ---------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#data-upload-max-memory-size
# Also bounds API JSON bodies, which DRF reads past Django's own check (core/parsers.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("REQUEST_MAX_BODY_BYTES", default=2_621_440)
# Nesting levels of arrays/objects a JSON body may have (ours need 3; deep ones are attacks).
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)

# --- REST framework -------------------------------------------------------------------
# https://www.django-rest-framework.org/api-guide/settings/
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cryptotrack.accounts.authentication.CachedUserJWTAuthentication",
        "cryptotrack.accounts.authentication.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "cryptotrack.accounts.permissions.ApiKeyIsReadOnly",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser with a depth, size and valid-text bound (core/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["cryptotrack.core.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "cryptotrack.core.pagination.PageNumberPagination",
    "PAGE_SIZE": 10,
    "DEFAULT_SCHEMA_CLASS": "cryptotrack.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "cryptotrack.core.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "cryptotrack.core.throttling.AnonRateThrottle",
        "cryptotrack.core.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="60/min"),
        "user": env.str("THROTTLE_USER", default="600/min"),
        "signup": env.str("THROTTLE_SIGNUP", default="10/hour"),
        "login": env.str("THROTTLE_LOGIN", default="30/min"),
        "quotes_refresh": env.str("THROTTLE_QUOTES_REFRESH", default="5/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_SECONDS", default=900)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_SECONDS", default=7 * 86400)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer", "JWT"),
}

# How long a JWT request's user is answered from the cache (invalidated on every change of
# the user; 0 reads the database on every request). See accounts/user_cache.py.
AUTH_USER_CACHE_SECONDS = env.int("AUTH_USER_CACHE_SECONDS", default=60)

# Login lockout, kept in the database so it holds while Redis is down.
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=5)
LOGIN_LOCKOUT_WINDOW_SECONDS = env.int("LOGIN_LOCKOUT_WINDOW_SECONDS", default=900)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)

# Days the credential audit log (sign-ins, key and password changes) is kept; 0 keeps it
# forever. An hourly beat task deletes older rows in batches. See docs/operations.md.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)

# --- OpenAPI --------------------------------------------------------------------------
# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "cryptotrack API",
    "DESCRIPTION": "Track KuCoin positions, exchange rates and price alerts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Each API path also answers with a trailing slash; the schema lists it once.
    "PREPROCESSING_HOOKS": ["cryptotrack.core.urls.drop_slash_twins"],
    # Two fields are named "source": where positions were read from, and a quote's provider.
    "ENUM_NAME_OVERRIDES": {
        "PositionsSourceEnum": ["cache", "database"],
        "QuoteSourceEnum": "cryptotrack.quotes.models.Quote.Source",
        "PositionAlertKindEnum": "cryptotrack.alerts.models.PositionAlert.Kind",
        "ChannelKindEnum": "cryptotrack.notify.models.Channel.Kind",
        "StateEnum": "cryptotrack.positions.models.TrackingSubscription.State",
        "PositionEventKindEnum": "cryptotrack.positions.models.PositionEvent.Kind",
        "PositionStaleReasonEnum": "cryptotrack.positions.selectors.StaleReason",
    },
}

# --- Upstream APIs --------------------------------------------------------------------
KUCOIN_SPOT_URL = env.str("KUCOIN_SPOT_URL", default="https://api.kucoin.com")
KUCOIN_FUTURES_URL = env.str("KUCOIN_FUTURES_URL", default="https://api-futures.kucoin.com")
KUCOIN_TIMEOUT_SECONDS = env.float("KUCOIN_TIMEOUT_SECONDS", default=10.0)
# The credentials check at signup answers within this, else the key is `unverified`.
KUCOIN_CHECK_TIMEOUT_SECONDS = env.float("KUCOIN_CHECK_TIMEOUT_SECONDS", default=5.0)
ALPHAVANTAGE_URL = env.str("ALPHAVANTAGE_URL", default="https://www.alphavantage.co/query")
ALPHAVANTAGE_API_KEY = env.str("ALPHAVANTAGE_API_KEY", default="")
ALPHAVANTAGE_DAILY_QUOTA = env.int("ALPHAVANTAGE_DAILY_QUOTA", default=25)
ALPHAVANTAGE_TIMEOUT_SECONDS = env.float("ALPHAVANTAGE_TIMEOUT_SECONDS", default=10.0)
# The fair share of the daily quota (docs/operations.md): calls of each UTC day that only
# the schedule and start-up may spend (a fifth of the quota, rounded up), and the forced
# refreshes each user may make that spend a call (a fifth of the rest, at least one), so
# that four users cannot spend what forced refreshes may use, let alone the schedule's part.
QUOTES_SCHEDULE_RESERVED_CALLS = env.int(
    "QUOTES_SCHEDULE_RESERVED_CALLS", default=-(-ALPHAVANTAGE_DAILY_QUOTA // 5)
)
QUOTES_USER_DAILY_FORCED = env.int(
    "QUOTES_USER_DAILY_FORCED",
    default=max(1, (ALPHAVANTAGE_DAILY_QUOTA - QUOTES_SCHEDULE_RESERVED_CALLS) // 5),
)
COINGECKO_URL = env.str("COINGECKO_URL", default="https://api.coingecko.com/api/v3")
COINGECKO_API_KEY = env.str("COINGECKO_API_KEY", default="")
COINGECKO_TIMEOUT_SECONDS = env.float("COINGECKO_TIMEOUT_SECONDS", default=10.0)

# --- Cadences -------------------------------------------------------------------------
TRACKING_INTERVAL_SECONDS = env.int("TRACKING_INTERVAL_SECONDS", default=30)
ALERTS_INTERVAL_SECONDS = env.int("ALERTS_INTERVAL_SECONDS", default=30)
# Position tracking: rows claimed per dispatcher query (one Celery task each), KuCoin
# requests in flight per batch, a history snapshot at least this often per position
# (and on every change), and how long history is kept. Batches of 1,000: a batch has a
# cost of its own (its task, its flushes' fixed queries), and with 100 one worker kept at
# most ~650 polls/s on the 2-core box; 1,000 keeps 40,000 users, and the same lateness at
# 10,000 and 20,000 (docs/benchmarks.md).
POSITIONS_BATCH_SIZE = env.int("POSITIONS_BATCH_SIZE", default=1000)
POSITIONS_POLL_CONCURRENCY = env.int("POSITIONS_POLL_CONCURRENCY", default=16)
POSITIONS_SNAPSHOT_EVERY_SECONDS = env.int("POSITIONS_SNAPSHOT_EVERY_SECONDS", default=300)
POSITIONS_HISTORY_RETENTION_DAYS = env.int("POSITIONS_HISTORY_RETENTION_DAYS", default=30)
# GET /api/v1/positions answered on the web process's event loop when Redis holds the
# token's user and the positions (positions/fast_read.py); off: every request through Django.
POSITIONS_FAST_READ = env.bool("POSITIONS_FAST_READ", default=True)
# Balances (spot accounts + futures overview) are read with an account's positions poll,
# but at most this often per account: two more KuCoin calls, not worth every 30 s.
BALANCES_REFRESH_SECONDS = env.int("BALANCES_REFRESH_SECONDS", default=300)
QUOTES_INTERVAL_SECONDS = env.int("QUOTES_INTERVAL_SECONDS", default=3600)
QUOTES_PAIRS = env.list("QUOTES_PAIRS", default=["BTC/USD"])
QUOTES_PER_PAGE_ALL_MAX = env.int("QUOTES_PER_PAGE_ALL_MAX", default=1000)
# The live feed: every this many seconds each keyless source of QUOTES_LIVE_SOURCES prices
# the QUOTES_PAIRS it can (Alpha Vantage's free tier could never do this every minute):
# `coingecko` (one batched /simple/price call) and/or `kucoin` (its public level-1 ticker,
# one request per pair; USD pairs read the USDT market). Comma-separated; docs/api.md.
QUOTES_LIVE_INTERVAL_SECONDS = env.int("QUOTES_LIVE_INTERVAL_SECONDS", default=60)
LIVE_QUOTE_SOURCES = ("coingecko", "kucoin")
QUOTES_LIVE_SOURCES = [
    source.strip().lower()
    for source in env.list("QUOTES_LIVE_SOURCES", default=["coingecko"])
    if source.strip()
]
if unknown_live_sources := sorted(set(QUOTES_LIVE_SOURCES) - set(LIVE_QUOTE_SOURCES)):
    raise ImproperlyConfigured(
        f"QUOTES_LIVE_SOURCES names {unknown_live_sources}; known: {list(LIVE_QUOTE_SOURCES)}"
    )
# Live quotes keep every point this many days, then only the last of each hour.
QUOTES_LIVE_MINUTE_DAYS = env.int("QUOTES_LIVE_MINUTE_DAYS", default=7)
ALERTS_MAX_PER_USER = env.int("ALERTS_MAX_PER_USER", default=100)
# Position alerts a user may keep (active or paused; deleted ones do not count).
POSITION_ALERTS_MAX_PER_USER = env.int("POSITION_ALERTS_MAX_PER_USER", default=100)

# --- Celery ---------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
if CELERY_BROKER_URL:
    # An unacked message on Redis comes back after visibility_timeout: minutes, not 1 h.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300),
        "global_keyprefix": env.str("CELERY_KEY_PREFIX", default=""),
    }
else:
    # The embedded default: a SQLite file, no server (why: core/sqlite_broker.py). Imported
    # here, not by kombu at the first publish: SQLAlchemy loads at start, not in a request.
    from cryptotrack.core import sqlite_broker

    CELERY_BROKER_URL = f"sqlite:///{VAR_DIR / 'broker.sqlite3'}"
    CELERY_BROKER_TRANSPORT = sqlite_broker.TRANSPORT
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
# Celery's Django fixup closes a worker's database connections around every task unless
# this is set, and then only every this many tasks; between, cryptotrack.celery closes
# them as Django does between requests (CONN_MAX_AGE, CONN_HEALTH_CHECKS).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=10_000)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_DEFAULT_QUEUE", default="cryptotrack")
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Beat's own state file (last run times only; the schedules themselves are code and rows).
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Dispatcher ticks at DEBUG, one WARNING per broker outage (core/ticks.py).
CELERY_BEAT_SCHEDULER = "cryptotrack.core.ticks:QuietScheduler"
# Seconds between dispatcher ticks of the beat (the due-queue is read this often).
DISPATCH_TICK_SECONDS = env.float("DISPATCH_TICK_SECONDS", default=1.0)

# --- Channels -------------------------------------------------------------------------
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # channels_redis waits for a message with a blocking pop of up to 5 s
                # (brpop_timeout); redis-py's default socket timeout is 5 s too, so a
                # WebSocket idle that long had its read time out and its consumer died
                # ("Timeout reading from Redis"). Reads may last the pop plus a margin.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                "prefix": f"{CACHE_KEY_PREFIX}:asgi",
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Email ----------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/email/
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "emails"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="cryptotrack <alerts@localhost>")

# --- Notification channels (cryptotrack.notify) ----------------------------------------
# Webhooks (and Discord/Slack/ntfy URLs) to loopback, private or link-local addresses are
# refused unless this is on (`make run` and the tests turn it on for the local simulators).
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
NOTIFY_TIMEOUT_SECONDS = env.float("NOTIFY_TIMEOUT_SECONDS", default=10.0)
TELEGRAM_API_URL = env.str("TELEGRAM_API_URL", default="https://api.telegram.org")
# A delivery that keeps failing with a retryable answer is retried this long after it was
# made (backoff with full jitter from the base up to the ceiling, never sooner than the
# receiver's Retry-After), then `failed`. A channel is flagged after this many deliveries
# in a row failed for good; a success clears the flag.
NOTIFY_RETRY_HOURS = env.float("NOTIFY_RETRY_HOURS", default=24.0)
NOTIFY_RETRY_BASE_SECONDS = env.float("NOTIFY_RETRY_BASE_SECONDS", default=1.0)
NOTIFY_RETRY_MAX_SECONDS = env.float("NOTIFY_RETRY_MAX_SECONDS", default=300.0)
NOTIFY_FLAG_AFTER_FAILURES = env.int("NOTIFY_FLAG_AFTER_FAILURES", default=5)

# --- Security headers (production) ----------------------------------------------------
# `manage.py check --deploy` is clean with the production defaults. Production sits
# behind TLS: plain-HTTP requests are redirected, browsers told to stay on HTTPS.
# No SECURE_PROXY_SSL_HEADER: Django would believe X-Forwarded-Proto from any client.
# uvicorn sets the scheme from it for TRUSTED_PROXIES only (--forwarded-allow-ips).
# https://docs.djangoproject.com/en/5.2/ref/middleware/#http-strict-transport-security
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
# Health probes come over plain HTTP from inside (docker compose, load balancers).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Sent with every HTML page (core/csp.py): our own scripts and styles only, no inline
# code, nothing framed, WebSockets to ourselves.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# --- Logging --------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context_ids": {"()": "cryptotrack.core.logging.ContextIdsFilter"},
        "redact": {"()": "cryptotrack.core.logging.RedactSecretsFilter"},
        "quiet_ticks": {"()": "cryptotrack.core.ticks.QuietTicksFilter"},
    },
    "formatters": {
        # context_ids: " [request=<id> task=<id>]" when the line belongs to one, else "".
        "text": {"format": "%(asctime)s %(levelname)s %(name)s%(context_ids)s: %(message)s"},
        "json": {"()": "cryptotrack.core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["quiet_ticks", "context_ids", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # uvicorn configures these with handlers of its own (plain text, no redaction)
        # before it loads the app; hand them to ours: access and error lines too are JSON.
        **{
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
        },
        # Celery gives these two (which do not propagate) a plain-text handler of its own
        # unless they have one already: the pool's "child exited" lines, task loggers.
        **{
            name: {"handlers": ["console"], "propagate": False}
            for name in ("multiprocessing", "celery.task")
        },
    },
}
logging.captureWarnings(True)

# --- Metrics (Prometheus) -------------------------------------------------------------
# GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is off (404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Every process (web, workers, beat) writes its counters here and /metrics adds them up
# (prometheus_client's multiprocess mode): all processes of a deployment must share it.
# https://prometheus.github.io/client_python/multiprocess/
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default=str(VAR_DIR / "metrics"))
