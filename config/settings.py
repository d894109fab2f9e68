"""Settings of the imaging-AI platform.

Every value that differs between a laptop and production comes from the environment
(django-environ), with an embedded default that makes ``make run`` work with nothing set:

* ``DATABASE_URL`` unset -> a SQLite file under ``var/``.
* ``REDIS_URL`` unset -> Celery runs tasks eagerly in the web process, the channel layer and
  the cache live in memory.  Set -> Redis is the Celery broker and result backend, the
  cache and the Channels layer.

The code never asks which of the two is in use; it reads the settings below.  The full list
of knobs, with examples, is in ``platform/env.example``.
"""

import warnings
from datetime import timedelta
from pathlib import Path

import environ

from config.product_settings import product_settings

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# --- Core -------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)

# An unset SECRET_KEY gets a placeholder so that management commands (migrate, shell,
# create_customer) work on a fresh checkout.  Serving with it is refused outside DEBUG:
# config.startup.require_secret_key() runs when the ASGI app or a Celery worker starts.
INSECURE_PLACEHOLDER_SECRET_KEY = "insecure-placeholder-secret-key-set-SECRET_KEY"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="") or INSECURE_PLACEHOLDER_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS (production: docs in platform/DEPLOYMENT.md; `manage.py check --deploy` is clean
# with them set).  Off by default so that `make run` and the tests work over plain HTTP.
# Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=true: the proxy must then set
# X-Forwarded-Proto itself (and strip a client's).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Load balancers probe health over plain HTTP: those paths are never redirected.
SECURE_REDIRECT_EXEMPT = env.list(
    "SECURE_REDIRECT_EXEMPT", default=[r"^health/$", r"^[a-z]+/(v3/)?health/?$"]
)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
X_FRAME_OPTIONS = "DENY"

# --- Content-Security-Policy (django-csp) on every answer: the staff pages, admin and the API
# docs load scripts only from this origin, never inline (the docs page's initialiser is its
# own URL: SpectacularSwaggerSplitView).  Styles may be inline (the pages' and admin's style
# attributes); images may be data: and blob: URLs (results drawn in the browser).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'", "blob:"],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# The products this platform serves: each package declares itself in its apps.py
# (inference.runtime.product.ProductConfig); nothing else names a product.
PRODUCT_APPS = ["inference.products.leukemia", "inference.products.vhs", "inference.products.cxr"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    # Refresh tokens are single-use: a rotated one is blacklisted (SIMPLE_JWT, below).
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "corsheaders",
    "accounts",
    "billing",
    "inference",
    *PRODUCT_APPS,
    # The staff web pages (/, /try/...): after the products they let staff try.
    "web",
]

MIDDLEWARE = [
    "config.request_log.RequestLogMiddleware",
    # Before anything that can answer: a browser's preflight is answered here, before
    # authentication, and every answer (errors too) carries the CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Content-Security-Policy on every answer (CONTENT_SECURITY_POLICY, below).
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"

# The staff web pages log in with Django's session (docs/web.md).
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# --- Browsers calling the APIs (django-cors-headers) ---------------------------------------
# Origins allowed to call the APIs from a browser, e.g. https://app.clinic.example; none by
# default.  Credentials (cookies) are never sent cross-origin: the APIs authenticate with
# x-api-key or a JWT in Authorization.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/(?!admin/|static/).*$"
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "x-api-key",
    "idempotency-key",
    "x-request-id",
)
CORS_EXPOSE_HEADERS = ("retry-after", "x-request-id")
CORS_PREFLIGHT_MAX_AGE = 3600
ASGI_APPLICATION = "config.asgi.application"

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

# --- Database ---------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has no row locks (select_for_update is a no-op): a transaction that starts
    # IMMEDIATE takes the write lock first, so concurrent billing decisions take turns instead
    # of failing with "database is locked" when a reader tries to become a writer.  Waiting
    # writers wait up to `timeout` seconds; WAL lets readers go on while one writes.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's ModelBackend, refusing addresses and usernames with too many failed logins first
# (every login path: /login/, /admin/login/, /auth/token/; accounts.login_throttling).
AUTHENTICATION_BACKENDS = ["accounts.login_throttling.ThrottledModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (admin, API docs) are served by WhiteNoise from the ASGI process ----------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Without collectstatic (make run, tests) WhiteNoise serves straight from the app finders,
# and an absent STATIC_ROOT is expected rather than worth a warning on every start.
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at: ")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Upload limits ----------------------------------------------------------------------
# Every request body is limited before Django reads it (config.body_limit, at the ASGI
# layer): an endpoint that takes images declares its limit from its contract (its view's
# body_limit, computed from IMAGE_MAX_BYTES: inference.api.limits); every other path is
# limited to MAX_REQUEST_BODY_BYTES.  Django's own check is one number for every path, which
# would have to admit the largest legal body everywhere, so it is off.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = None
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)
# Decoded pixels one process (a worker, or the web process in eager mode) holds at once, as
# Pillow stores them (an RGB pixel takes 4 bytes: a 40-megapixel image is 160 MB).  A decode
# that does not fit waits up to DECODED_PIXELS_WAIT_SECONDS, then the request is a 503.
DECODED_PIXELS_MAX_BYTES = env.int("DECODED_PIXELS_MAX_BYTES", default=1024 * 1024 * 1024)
DECODED_PIXELS_WAIT_SECONDS = env.float("DECODED_PIXELS_WAIT_SECONDS", default=10.0)

# --- Redis: broker, result backend, cache and channel layer -------------------------------

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # One pool for the process: Django builds a cache object per request under ASGI.
            "OPTIONS": {"pool_class": "config.cache_pool.SharedConnectionPool"},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery -----------------------------------------------------------------------------
# Read by config/celery.py through the CELERY_ namespace.

CELERY_INFERENCE_QUEUE = "inference"
# The task queue.  Default: the same Redis as everything else, so `make run` and existing
# deployments change nothing.  Production may name RabbitMQ here (amqp://...), which hands a
# lost worker's unacknowledged tasks to another at once; results, the cache and the channel
# layer stay on REDIS_URL either way (the web tier awaits results on Redis pub/sub), so it is
# read only with REDIS_URL set.
CELERY_BROKER_URL = (
    (env.str("CELERY_BROKER_URL", default="") or REDIS_URL) if REDIS_URL else "memory://"
)
# Results are awaited by inference.runtime.dispatch, never by Celery's own result consumer
# (inference.runtime.results says why).
CELERY_RESULT_BACKEND = (
    f"inference.runtime.results:ResultsOnlyRedisBackend+{REDIS_URL}"
    if REDIS_URL
    else "cache+memory://"
)
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"inference.tasks.*": {"queue": CELERY_INFERENCE_QUEUE}}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged after it ran, and re-queued if its worker dies mid-way, so a
# crashed GPU worker never loses a request.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)
# One worker process per GPU holds the models once; its threads each wait on one request, and
# the runtime's batcher groups what they hold into one forward pass.
CELERY_WORKER_POOL = "threads"
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=16)
# The contracts allow 300 s per request; a task past it is stopped, the web tier answers.
REQUEST_TIMEOUT_SECONDS = env.int("REQUEST_TIMEOUT_SECONDS", default=300)

# Prometheus metrics (config.metrics): GET /metrics for staff, or for a scraper sending
# "Authorization: Bearer <METRICS_TOKEN>"; a worker serves its own on WORKER_METRICS_PORT.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
WORKER_METRICS_ADDRESS = env.str("WORKER_METRICS_ADDRESS", default="127.0.0.1")
# With no worker answering a ping, a prediction fails at once (503, Retry-After) rather than
# waiting out REQUEST_TIMEOUT_SECONDS in the queue; false lets requests queue until a worker
# starts (a deployment that starts its web tier first, or a test proving queueing).
INFERENCE_FAIL_FAST_WITHOUT_WORKER = env.bool("INFERENCE_FAIL_FAST_WITHOUT_WORKER", default=True)
CELERY_TASK_TIME_LIMIT = REQUEST_TIMEOUT_SECONDS
CELERY_TASK_SOFT_TIME_LIMIT = REQUEST_TIMEOUT_SECONDS - 10
CELERY_RESULT_EXPIRES = 3600
# Redis broker only: a task a worker took and never acknowledged (the worker was SIGKILLed,
# its machine lost) goes back on the queue once it has been out this long; the workers'
# sweep for such tasks runs every CELERY_BROKER_RESTORE_INTERVAL_SECONDS.  kombu's default
# (3600 s, swept every ~100 s) answered such requests 504 after 300 s.  The price of a short
# timeout: a task still running after it is delivered again and runs twice (no double bill:
# the web tier settles once, on the first result; the second lands on a channel nobody awaits,
# and a redelivered task past its request's deadline is discarded, `expires`).  60 s is far
# above a batch's run time on a GPU and leaves 240 s of the 300 s request for the rerun.
# CELERY_TASK_TIME_LIMIT cannot bound a thread-pool task, so it is no substitute.
CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS = env.int(
    "CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS", default=60
)
CELERY_BROKER_RESTORE_INTERVAL_SECONDS = env.int(
    "CELERY_BROKER_RESTORE_INTERVAL_SECONDS", default=5
)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS,
        "unacked_restore_interval": CELERY_BROKER_RESTORE_INTERVAL_SECONDS,
        "unacked_restore_throttle": 1,
        # The sweep's lock outlives a worker killed while holding it: kombu's 300 s would stop
        # every sweep for that long.  A sweep takes milliseconds, and a restore is a Redis
        # transaction that a second sweep cannot repeat, so a short lock is safe.
        "unacked_mutex_expire": 10,
    }
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else {}
)
# kombu's Redis transport with its restore-on-close made safe for an outage (the module says
# why); RabbitMQ's transport is kombu's own.
CELERY_BROKER_TRANSPORT = (
    "config.broker_transport:Transport" if CELERY_BROKER_URL.startswith("redis://") else None
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_REDIS_SOCKET_TIMEOUT = 10
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 3
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False

# JWTs for the JWT-authenticated products (POST /auth/token/ with a username and password).
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    # One algorithm, HS256 with SECRET_KEY: a token naming another (none, HS512, RS256) is
    # refused.  A refresh answers a new refresh token and the old one is blacklisted, so a
    # stolen refresh token stops working once its owner refreshes.
    "ALGORITHM": "HS256",
    "ROTATE_REFRESH_TOKENS": env.bool("JWT_ROTATE_REFRESH_TOKENS", default=True),
    "BLACKLIST_AFTER_ROTATION": True,
}

# --- Billing and Stripe usage reporting ------------------------------------------------------

# Unset: usage is recorded but not reported.  Set: billable events above 0.00 of customers
# with a Stripe customer id are sent, in cents, to their product's billing meter (its
# ValueRule.meter_event), through the billing.tasks outbox.
STRIPE_API_KEY = env.str("STRIPE_API_KEY", default="")
# Only for tests and stripe-mock style servers; production uses Stripe's own address.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
# Retries of one report (exponential backoff with jitter), then the periodic sweep takes over.
STRIPE_REPORT_MAX_RETRIES = env.int("STRIPE_REPORT_MAX_RETRIES", default=8)
CELERY_BEAT_SCHEDULE = {
    "sweep-unreported-usage": {
        "task": "billing.tasks.sweep_unreported_usage",
        "schedule": env.float("STRIPE_SWEEP_SECONDS", default=300.0),
    },
}

# --- Inference --------------------------------------------------------------------------

MODEL_STORE = Path(env.str("MODEL_STORE", default=str(BASE_DIR / "models")))
# "auto" picks cuda > mps > cpu; anything else ("cpu", "cuda:1") is used as given.
INFERENCE_DEVICE = env.str("INFERENCE_DEVICE", default="auto")
# A pickled whole module runs arbitrary code when loaded; only files you trust as code.
TRUST_PICKLED_MODELS = env.bool("TRUST_PICKLED_MODELS", default=False)
# Micro-batching: a batch runs when full or when its first request has waited this long.
INFERENCE_MAX_BATCH_SIZE = env.int("INFERENCE_MAX_BATCH_SIZE", default=16)
INFERENCE_MAX_BATCH_WAIT_MS = env.float("INFERENCE_MAX_BATCH_WAIT_MS", default=5.0)

# Input images: the most bytes and pixels accepted (more pixels is a decompression bomb).
IMAGE_MAX_BYTES = env.int("IMAGE_MAX_BYTES", default=10 * 1024 * 1024)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=40_000_000)

# --- Django REST framework and the OpenAPI schema ---------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "inference.api.parsers.JSONBodyParser",
        "inference.api.parsers.MultiPartBodyParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    # Products declare their own throttle rates (ProductConfig.settings_defaults, below).
    # Failed credentials, counted per client IP and per username (accounts.throttling).
    "DEFAULT_THROTTLE_RATES": {
        "api_key_failures": env.str("API_KEY_FAILURE_RATE", default="20/min"),
        "auth_token_failures_ip": env.str("AUTH_TOKEN_FAILURE_RATE_IP", default="20/min"),
        "auth_token_failures_user": env.str("AUTH_TOKEN_FAILURE_RATE_USER", default="10/h"),
    },
    # Clients behind this many proxies are told apart by X-Forwarded-For (0: REMOTE_ADDR).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Medical imaging AI platform",
    # The products' own sections are added from their declarations (config.openapi).
    "DESCRIPTION": (
        "One platform, several imaging-AI products, each under its own prefix. Reference "
        "models are trained on synthetic phantoms and are not for clinical use."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["config.openapi.drop_trailing_slash_aliases"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.declare_security_schemes",
        "config.openapi.describe_products",
        # Every product operation can be a 429 after a flood of wrong keys.
        "accounts.openapi.declare_key_failure_throttling",
    ],
    # Swagger UI keeps an x-api-key or JWT typed into "Authorize" across reloads.
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    # Swagger UI's assets ship in drf-spectacular-sidecar: the docs page needs no network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Product settings ----------------------------------------------------------------------
# Each product declares its own knobs with defaults (ProductConfig.settings_defaults); any of
# them can be set in the environment under the same name.

globals().update(product_settings(env, PRODUCT_APPS))

# --- Logging: one JSON object per line -----------------------------------------------------
# Request lines come from config.request_log; nothing logs bodies, images or patient names
# (Celery's task-argument lines are redacted by config.log_redaction).

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "config.request_log.RequestIdFilter"},
        "redact_task_payloads": {"()": "config.log_redaction.RedactTaskPayloadFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id", "redact_task_payloads"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own per-request lines duplicate ours and print the query string.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}
