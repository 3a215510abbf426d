"""Settings: the one place that reads the environment.

Every variable read here is listed, with its default, in `.env.example`. The defaults are
the embedded setup (SQLite in WAL mode, the django-q2 ORM broker, a local-memory cache);
`DATABASE_URL`, `Q_BROKER_URL` and `CACHE_URL` switch to PostgreSQL and Redis.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # real environment variables win over the file

# "production" makes missing secrets fatal; "development" (the default) runs with
# local fallbacks so that `make run` and `make test` need no configuration.
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in ("development", "production"):
    raise ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'.")
IS_PRODUCTION = DJANGO_ENV == "production"
DEBUG = env.bool("DEBUG", default=False)
if IS_PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be false when DJANGO_ENV is production: it shows settings and code to anyone.")
# An empty value (`SECRET_KEY=` in a .env copied from .env.example) counts as unset.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY and IS_PRODUCTION:
    raise ImproperlyConfigured("Set the SECRET_KEY environment variable: it signs sessions and encrypts secret headers.")
SECRET_KEY = SECRET_KEY or "dev-only-insecure-key-0123456789abcdefghijklmnopqrstuvwxyz"

# Secret header values are encrypted with this key; rotating SECRET_KEY must not lose them,
# so it can be set on its own. Comma-separated: the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or [SECRET_KEY]

if IS_PRODUCTION:
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")  # the public host names; no default can be right
else:
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "flarelane.audience",
    "channels_webhook",
    "history",
    "journeys",
    "flarelane.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if IS_PRODUCTION:
    # gunicorn serves the collected static files itself (the console's CSS, Swagger UI),
    # so no separate web server is needed; development keeps runserver's own handling.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "flarelane.urls"
WSGI_APPLICATION = "flarelane.wsgi.application"

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

if IS_PRODUCTION:
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; IMMEDIATE takes the write lock
    # at BEGIN so two writers queue on `timeout` instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests that start a real worker process need the test database in a file it can open.
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_SQLITE_PATH", default=str(BASE_DIR / "test_db.sqlite3"))}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Throttle counters and the per-webhook rate limits live in the cache, so every process
# must share one: local memory is per process, hence required to be named in production.
if IS_PRODUCTION:
    CACHES = {"default": env.cache_url("CACHE_URL")}
else:
    CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / env.str("STATIC_ROOT", default="staticfiles")  # an absolute path wins
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production serves hashed, compressed copies made by collectstatic, cacheable forever;
    # development and tests have no collectstatic run, so they use the plain files.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# django-q2. `timeout` bounds one task (a chunk of sends, each with its own deadline);
# `retry` is how long the ORM broker waits before handing an unacknowledged task out again,
# so it must stay above `timeout` or a slow task runs twice. Failures are acknowledged at
# once: our own retry state lives in Delivery.next_attempt_at, not in the queue.
Q_TASK_TIMEOUT_SECONDS = env.int("Q_TASK_TIMEOUT_SECONDS", default=120)
Q_CLUSTER: dict[str, object] = {
    "name": "flarelane",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": Q_TASK_TIMEOUT_SECONDS,
    "retry": Q_TASK_TIMEOUT_SECONDS + 60,
    "max_attempts": 2,
    "ack_failures": True,
    "save_limit": -1,  # our history is the record; django-q2 keeps failures only
    "catch_up": False,
    "poll": 0.2,
    "label": "Task queue",
}
Q_BROKER_URL = env.str("Q_BROKER_URL", default="")
if Q_BROKER_URL:
    Q_CLUSTER["redis"] = Q_BROKER_URL
else:
    Q_CLUSTER["orm"] = "default"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "flarelane.audience.authentication.ProjectApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["flarelane.audience.authentication.IsProjectMember"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["flarelane.api_parsers.StrictJSONParser"],
    "UNAUTHENTICATED_USER": None,
    # Each key, and each staff member, has its own budget; over it the answer is 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "flarelane.audience.throttling.ApiKeyRateThrottle",
        "flarelane.audience.throttling.StaffRateThrottle",
    ],
}
# Requests per key (and per staff session): "N/s", "N/min", "N/hour" or "N/day". The counters
# live in the cache (CACHE_URL), so they are shared only when the cache is (Redis).
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="6000/min")
API_STAFF_THROTTLE_RATE = env.str("API_STAFF_THROTTLE_RATE", default="6000/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "Webhook channel API",
    "DESCRIPTION": "Users, webhooks, sends and the send history. Authenticate with `Authorization: Bearer <project API key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Sending. Empty WEBHOOK_ALLOWED_NETWORKS means every private, loopback, link-local, CGNAT
# and metadata address is refused; list CIDRs (e.g. 127.0.0.1/32) to exempt them.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
HISTORY_RESPONSE_BODY_LIMIT = env.int("HISTORY_RESPONSE_BODY_LIMIT", default=64 * 1024)
WEBHOOK_USER_AGENT = env.str("WEBHOOK_USER_AGENT", default="flarelane-webhooks/1.0")
# Requests a worker process keeps in flight at once for slow receivers (1 sends one by one);
# with the task timeout it also sets how many deliveries are claimed together (sending.py).
WEBHOOK_SEND_CONCURRENCY = env.int("WEBHOOK_SEND_CONCURRENCY", default=50)
# How long a worker may hold a delivery in `sending` before the sweeper takes it back.
DELIVERY_LEASE_SECONDS = env.int("DELIVERY_LEASE_SECONDS", default=Q_TASK_TIMEOUT_SECONDS + 30)
# A queued delivery whose task has not started after this long is taken to be lost (pulled
# from Redis by a worker that was then killed) and queued again; the claim stops a double send.
DELIVERY_STRANDED_SECONDS = env.int("DELIVERY_STRANDED_SECONDS", default=300)

# The built-in demo receiver (a URL that records and answers what it gets) and where it
# lives; the seeded demo webhooks point at it. Off unless asked for (`make run` turns it on).
DEMO_RECEIVER_ENABLED = env.bool("DEMO_RECEIVER_ENABLED", default=False)
DEMO_RECEIVER_BASE_URL = env.str("DEMO_RECEIVER_BASE_URL", default="http://127.0.0.1:8000/demo-receiver")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # requests-hardened warns on every refused address, including those our allow-list
        # then exempts; the transport logs the refusals that stand.
        "requests_hardened": {"level": "ERROR"},
        "django_q": {"level": env.str("Q_LOG_LEVEL", default="INFO")},
    },
}

# How long the send history is kept, in days (0 keeps it forever); pruned hourly in batches.
HISTORY_RETENTION_DAYS = env.int("HISTORY_RETENTION_DAYS", default=30)

# HTTPS. Production defaults to TLS everywhere; behind a proxy that ends TLS, set
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https so Django sees the original scheme
# (only when the proxy overwrites that header, or clients could claim HTTPS).
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=IS_PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=IS_PRODUCTION)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=IS_PRODUCTION)
# Load balancers probe over plain HTTP; a redirect would read as "down".
SECURE_REDIRECT_EXEMPT = [r"^health/?$"]  # balancers probe over plain HTTP, with or without the slash
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER is a header and a value, e.g. HTTP_X_FORWARDED_PROTO,https.")
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header[0], _proxy_ssl_header[1]) if _proxy_ssl_header else None
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if IS_PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=IS_PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=IS_PRODUCTION)
