"""Settings shared by every environment; development defaults.

Each value comes from the environment (see docs/configuration.md for the table of variables and
.env.example for a commented template). production.py tightens what must be strict there.
"""

import re
from pathlib import Path
from typing import Any

import csp.constants as csp
from django.core.exceptions import ImproperlyConfigured

from .env import (
    BASE_DIR,
    current_environment,
    env_admins,
    env_bool,
    env_cache,
    env_choice,
    env_db,
    env_email,
    env_int,
    env_list,
    env_str,
    env_timezone,
    load_files,
)

DJANGO_ENV = current_environment()
load_files(DJANGO_ENV)

# ---------------------------------------------------------------------------------------------
# Core
# https://docs.djangoproject.com/en/5.2/ref/settings/#core-settings
# ---------------------------------------------------------------------------------------------
# Development only: production.py demands a real SECRET_KEY and has no default.
SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-change-me-0123456789abcdefghijklmnop")
DEBUG = env_bool("DEBUG", DJANGO_ENV == "development")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
    # Carshop first: its templates and commands (health_check) take precedence.
    "carshop",
    # Backups: no models; its change-capture tables are made by the first backup.
    "carshop.ops.backups",
    # The bottom layer every app shares (errors, money, admin and API bases).
    "core",
    "accounts",
    "inventory",
    "repairs",
    "sales",
    # Messages to customers (email, text), their templates, reminders: above sales.
    "messaging",
    # The managers' report pages: the top layer, reading every app above.
    "reports",
    "django.contrib.admin",
    # Nested inlines: a repair order's jobs with their labor and parts on the order's page.
    "nested_admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "import_export",
    "auditlog",
    "axes",
    "dbbackup",
    "health_check",
    "csp",
]

MIDDLEWARE = [
    "carshop.middleware.RequestIdMiddleware",
    # Second, so that every response has its line: refused hosts (400), HTTPS and slash
    # redirects and static files answered by the middleware below included.
    "carshop.middleware.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every answer (static files included).
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # /health/ answers before sessions and users, which need the database it reports on.
    "carshop.health.HealthProbeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The user's locations (accounts.locations), remembered for the session.
    "accounts.locations.LocationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    # Reads of a person who just wrote stay on the primary database (DATABASE_REPLICA_URL).
    "carshop.middleware.ReadYourWritesMiddleware",
    # Last, as django-axes requires.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "carshop.urls"
WSGI_APPLICATION = "carshop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "carshop" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # {{ CSP_NONCE }}: the nonce of the page's own inline <script> (API docs).
                "csp.context_processors.nonce",
            ],
        },
    },
]

# ---------------------------------------------------------------------------------------------
# Database and cache
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
# ---------------------------------------------------------------------------------------------
DATABASES = {"default": env_db("DATABASE_URL", f"sqlite:///{VAR_DIR / 'carshop.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets readers work while a writer commits; IMMEDIATE transactions take the write lock
    # up front so two writers queue instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A fresh clone has no var/ yet: SQLite can create its file, not the folder around it.
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DATABASES["default"].setdefault("TEST", {})


def add_read_replica(databases):
    """DATABASE_REPLICA_URL: a streaming read replica of the primary (docs/scale-out.md). Report
    pages, exports and API lists read from it (core/replicas.py); tests read the primary."""
    url = env_str("DATABASE_REPLICA_URL", "")
    if not url:
        return
    primary = databases["default"]
    replica = env_db("DATABASE_REPLICA_URL", url)
    if replica["ENGINE"] != primary["ENGINE"] or not replica["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL: a replica of a PostgreSQL DATABASE_URL (postgres://...)"
        )
    replica["CONN_MAX_AGE"] = primary["CONN_MAX_AGE"]
    replica["CONN_HEALTH_CHECKS"] = True
    replica["TEST"] = {"MIRROR": "default"}
    databases["replica"] = replica


add_read_replica(DATABASES)
DATABASE_ROUTERS = ["core.replicas.ReplicaRouter"]
# How long a person's (or partner key's) reads stay on the primary after a request that may have
# written: longer than the replica ever lags behind (monitor it: docs/scale-out.md).
REPLICA_PIN_SECONDS = env_int("REPLICA_PIN_SECONDS", 30, minimum=1)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env_cache("CACHE_URL", "locmemcache://carshop")}
# Sessions: in the database, read through the cache when it is Redis (shared by every host, so a
# session made on one host works on the others, and a Redis restart logs nobody out).
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if CACHES["default"]["BACKEND"].endswith("RedisCache")
    else "django.contrib.sessions.backends.db"
)

# ---------------------------------------------------------------------------------------------
# Authentication, passwords and login protection
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
# ---------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend that reads the user and their permissions in one query (PostgreSQL).
    "accounts.backends.PermissionsInOneQueryBackend",
    # Still listed so sessions that name it keep working.
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 10, minimum=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 30, minimum=1) / 60  # hours
# Each counted on its own: AXES_FAILURE_LIMIT failures for one account (from any addresses:
# guessing one password from many machines) or from one address (for any accounts: password
# spraying) lock it. One office behind one public address shares that address's count; a
# successful login from it starts the count again.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "carshop/lockout.html"
# Behind reverse proxies, the client's address comes from X-Forwarded-For (carshop/clientip.py).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "carshop.clientip.client_ip"

# ---------------------------------------------------------------------------------------------
# Content-Security-Policy and Permissions-Policy
# https://django-csp.readthedocs.io/en/latest/configuration.html
# https://github.com/adamchainz/django-permissions-policy
# ---------------------------------------------------------------------------------------------
# Scripts only from Carshop's own static files, or inline with the page's nonce (the API docs'
# start-up script): an injected <script> or onclick="..." does not run. Inline styles are
# allowed (the admin's widgets and the Swagger UI set them; they cannot run code).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:", "blob:"],
        "font-src": [csp.SELF, "data:"],
        "connect-src": [csp.SELF],
        "worker-src": [csp.SELF, "blob:"],  # Redoc parses the schema in a worker
        "object-src": [csp.NONE],
        "base-uri": [csp.NONE],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    },
}
# Browser features no page of Carshop uses, refused to the page and to anything it embeds.
# (The technicians' photo upload is a file input, which needs no camera permission.)
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# ---------------------------------------------------------------------------------------------
# Internationalization
# ---------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_timezone("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------------------------------------
# Static and media files
# https://whitenoise.readthedocs.io/en/stable/django.html
# ---------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# The only folders of MEDIA_ROOT that anyone may fetch from MEDIA_URL (nginx: deploy/nginx/).
PUBLIC_MEDIA_FOLDERS = ["stock/photos/"]
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Private uploads (cost receipts): never under MEDIA_URL; their URLs are a view that checks
    # permissions (inventory/files.py). Same folder as the default storage, so files uploaded
    # before they were private keep working; nginx serves none of them from /media/.
    "private": {"BACKEND": "inventory.files.PrivateFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    "dbbackup": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env_str("BACKUP_DIR", str(VAR_DIR / "backups"))},
    },
}
# Several app hosts: media on shared storage, either MEDIA_ROOT on a shared file system (NFS,
# then set MEDIA_SHARED_FILESYSTEM) or an S3-compatible bucket through django-storages.
MEDIA_STORAGE = env_choice("MEDIA_STORAGE", "FILESYSTEM", ("FILESYSTEM", "S3"))
MEDIA_SHARED_FILESYSTEM = env_bool("MEDIA_SHARED_FILESYSTEM", False)
# How many app hosts serve Carshop behind the load balancer (check --deploy: carshop.E012).
APP_HOSTS = env_int("APP_HOSTS", 1, minimum=1)
if MEDIA_STORAGE == "S3":
    # https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
    # Objects are private (no public ACL); photos get signed URLs that expire, receipts the
    # permission-checking view (inventory/files.py), which reads them from the bucket.
    _S3_OPTIONS = {
        "bucket_name": env_str("MEDIA_S3_BUCKET"),
        "endpoint_url": env_str("MEDIA_S3_ENDPOINT_URL", "") or None,
        "region_name": env_str("MEDIA_S3_REGION", "") or None,
        "access_key": env_str("MEDIA_S3_ACCESS_KEY_ID", "") or None,
        "secret_key": env_str("MEDIA_S3_SECRET_ACCESS_KEY", "") or None,
        "default_acl": None,
        "file_overwrite": False,
        "querystring_auth": True,
        "querystring_expire": env_int("MEDIA_S3_URL_SECONDS", 3600, minimum=60),
    }
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _S3_OPTIONS}
    STORAGES["private"] = {"BACKEND": "inventory.files.PrivateS3Storage", "OPTIONS": _S3_OPTIONS}
BACKUP_DIR = Path(STORAGES["dbbackup"]["OPTIONS"]["location"])
# Where nginx serves private files from after the permission check (its `internal` location,
# deploy/nginx/carapp.conf), e.g. /protected-media/. Empty: Django sends the file itself.
PRIVATE_MEDIA_X_ACCEL_REDIRECT = env_str("PRIVATE_MEDIA_X_ACCEL_REDIRECT", "")
# Inspection photos and videos taken on a phone (repairs/media.py): a photo is resized to this
# longest edge in pixels (EXIF orientation applied, EXIF removed); what an upload may weigh.
# Keep the video limit under nginx's client_max_body_size (deploy/nginx/carapp.conf: 25m).
INSPECTION_PHOTO_MAX_EDGE = env_int("INSPECTION_PHOTO_MAX_EDGE", 1600, minimum=200)
INSPECTION_PHOTO_MAX_MB = env_int("INSPECTION_PHOTO_MAX_MB", 15, minimum=1)
INSPECTION_VIDEO_MAX_MB = env_int("INSPECTION_VIDEO_MAX_MB", 20, minimum=1)

# ---------------------------------------------------------------------------------------------
# Audit log: every change of every model of Carshop's apps
# https://django-auditlog.readthedocs.io/en/latest/usage.html#settings
# ---------------------------------------------------------------------------------------------
AUDITLOG_INCLUDE_ALL_MODELS = True
AUDITLOG_EXCLUDE_TRACKING_MODELS = (
    "auditlog",
    "admin",
    "sessions",
    "contenttypes",
    "axes",
    "health_check",
    "django_tasks_db",
    # The webhook outbox and delivery log are machine records, not changes people make.
    "accounts.webhookevent",
    "accounts.webhookdelivery",
    "accounts.idempotentrequest",
    # The accounting feed's clocks tick with every invoice, credit note and payment.
    "repairs.feedclock",
    # The report summaries are counted again from the audited records by every refresh (and
    # marked stale by their changes): logging each stored or deleted sum doubled the records.
    "reports.shopday",
    "reports.technicianday",
    "reports.summarystate",
    "reports.openinvoice",
    "reports.invoicespan",
    "reports.declinedjob",
    "reports.staleday",
    "reports.partsday",
    "reports.partmoved",
    "reports.partstockmoved",
    "reports.reconditioningorder",
)
# A message's text carries the customer's signed approval and opt-out links: the log keeps that
# it changed, not the links (who reads the log could use them).
AUDITLOG_INCLUDE_TRACKING_MODELS = ({"model": "messaging.message", "mask_fields": ["body"]},)
AUDITLOG_EXCLUDE_TRACKING_FIELDS = ("last_login", "updated_at", "last_used_at")
AUDITLOG_MASK_TRACKING_FIELDS = ("password", "hashed_key", "secret")
AUDITLOG_MASK_CALLABLE = "carshop.audit.mask_secret"

# ---------------------------------------------------------------------------------------------
# Partner REST API (/api/v1/): API keys with scopes, one error format, cursor pagination
# https://www.django-rest-framework.org/api-guide/settings/ and docs/api/partners.md
# ---------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so a request without credentials gets 401 with `WWW-Authenticate: Api-Key`.
        "accounts.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Closed by default: a view opens itself to partner keys with HasScope("...").
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.permissions.StaffModelPermissions"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.CarshopCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "core.api.filters.RejectUnknownParameters",
        "django_filters.rest_framework.DjangoFilterBackend",
        "core.api.filters.CarshopOrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # JSON only, at most 64 KB and 16 levels deep (core/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.CarshopJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.CarshopAutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.api_exception_handler",
}
# Requests one key may make, as N/sec, N/min, N/hour or N/day (a key may have its own rate).
# The counters live in the cache: with several app servers, CACHE_URL must be a shared cache.
API_KEY_THROTTLE_RATE = env_str("API_KEY_THROTTLE_RATE", "600/min").replace(" ", "")
if not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", API_KEY_THROTTLE_RATE):
    raise ImproperlyConfigured(
        f"API_KEY_THROTTLE_RATE: expected requests per period like 600/min, "
        f"got {API_KEY_THROTTLE_RATE!r}"
    )

# Requests with a bad or missing API key, per client address: past it, every request from the
# address gets 429 until the period ends, its key not even looked up (no guessing keys at speed).
API_UNAUTHENTICATED_THROTTLE_RATE = "30/min"

# A partner's Idempotency-Key is remembered this long (accounts.services.forget_idempotency_keys).
IDEMPOTENCY_KEY_HOURS = 24

# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "Carshop partner API",
    "DESCRIPTION": (
        "Partners of the shop and the car lot: marketplaces, fleet and insurance partners, "
        "accounting systems. Authenticate with `Authorization: Api-Key <key>`. "
        "See docs/api/partners.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.close_request_bodies",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ScopeEnum": "accounts.scopes.SCOPE_CHOICES",
        "EventTypeEnum": "accounts.scopes.EVENT_CHOICES",
        "RepairOrderStatusEnum": "repairs.choices.RepairOrderStatus",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# ---------------------------------------------------------------------------------------------
# Background tasks: webhook deliveries (django-tasks, the API Django 6 makes built-in)
# https://github.com/RealOrangeOne/django-tasks-db — `python manage.py db_worker` runs them;
# the database backend keeps the queue in the database, so no broker is needed.
# ---------------------------------------------------------------------------------------------
# Tests deliver in the process right after the commit (to servers they start on 127.0.0.1).
_DEFAULT_TASKS_BACKEND = (
    "django_tasks.backends.immediate.ImmediateBackend"
    if DJANGO_ENV == "test"
    else "django_tasks_db.DatabaseBackend"
)
TASKS = {
    "default": {
        "BACKEND": _DEFAULT_TASKS_BACKEND,
        "QUEUES": ["default", "webhooks", "messages"],
    }
}
# Deliveries: seconds to wait for a partner's server, attempts before giving up, and the first
# retry delay (doubled after each failure, capped at WEBHOOK_MAX_RETRY_DELAY).
# With these, a delivery is tried 8 times over about an hour before it is given up.
WEBHOOK_TIMEOUT = 10
WEBHOOK_MAX_ATTEMPTS = 8
WEBHOOK_RETRY_DELAY = 30
WEBHOOK_MAX_RETRY_DELAY = 6 * 3600
# Webhook subscriptions a partner may have (one per URL), and verification handshakes a partner
# may cause per hour (each is one POST to its URL).
WEBHOOK_MAX_SUBSCRIPTIONS_PER_PARTNER = 10
WEBHOOK_HANDSHAKES_PER_HOUR = 20
# Partners' URLs must be https on public addresses. Development and tests allow plain http and
# loopback/private addresses; never turn this on in production (a partner could make the worker
# call internal services).
WEBHOOK_ALLOW_INSECURE_URLS = env_bool(
    "WEBHOOK_ALLOW_INSECURE_URLS", DJANGO_ENV in ("development", "test")
)

# ---------------------------------------------------------------------------------------------
# Logging: JSON lines in LOG_DIR (see carshop/logconfig.py)
# ---------------------------------------------------------------------------------------------
SERVER_ENVIRONMENT = DJANGO_ENV in ("production", "staging")
LOG_DIR = Path(
    env_str("LOG_DIR", "/var/log/carapp" if SERVER_ENVIRONMENT else str(VAR_DIR / "log"))
)
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
SLOW_QUERY_MS = env_int("SLOW_QUERY_MS", 500, minimum=0)
LOG_TO_CONSOLE = env_bool("LOG_TO_CONSOLE", DJANGO_ENV == "development")
if DJANGO_ENV == "test":
    # Each test run logs into a throw-away folder.
    import tempfile

    LOG_DIR = Path(tempfile.mkdtemp(prefix="carshop-test-logs-"))
    LOG_TO_CONSOLE = False

from carshop.logconfig import build_logging_config  # noqa: E402

LOGGING = build_logging_config(LOG_DIR, LOG_LEVEL, console=LOG_TO_CONSOLE)

# ---------------------------------------------------------------------------------------------
# Email
# ---------------------------------------------------------------------------------------------
# EMAIL_URL such as smtp+tls://user:password@smtp.example.com:587 (django-environ's email URL).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
if env_str("EMAIL_URL", ""):
    globals().update(env_email("EMAIL_URL"))  # EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, ...
# Who receives mail about server errors: "Name <email>, Other <email>".
ADMINS = env_admins("ADMINS", [])
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "carshop@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Seconds to wait for the mail server when sending a customer's message.
EMAIL_SEND_TIMEOUT = env_int("EMAIL_SEND_TIMEOUT", 20, minimum=1)

# ---------------------------------------------------------------------------------------------
# Messages to customers (messaging/, docs/messaging.md): email through the backend above, text
# messages through SMS_BACKEND, sent by the worker (queue "messages").
# ---------------------------------------------------------------------------------------------
# The address customers reach Carshop at: links in messages (approval, opt-out, the email's
# open tracking) and the text provider's status callback are built on it.
MESSAGING_BASE_URL = env_str("MESSAGING_BASE_URL", "http://localhost:8000")
# "file" (development: one JSON line per text in SMS_FILE_PATH) or "twilio".
SMS_BACKEND = env_str("SMS_BACKEND", "twilio" if DJANGO_ENV == "production" else "file")
SMS_FILE_PATH = Path(env_str("SMS_FILE_PATH", str(VAR_DIR / "sms" / "messages.jsonl")))
# Twilio's Messages API; TWILIO_BASE_URL only changes for tests (a local server).
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER", "")
TWILIO_BASE_URL = env_str("TWILIO_BASE_URL", "https://api.twilio.com")
SMS_TIMEOUT = env_int("SMS_TIMEOUT", 10, minimum=1)
# A mobile number written without its country code gets this one.
SMS_DEFAULT_COUNTRY_CODE = env_str("SMS_DEFAULT_COUNTRY_CODE", "1")
# Retries of a send that certainly did not reach the provider: the first after
# MESSAGE_RETRY_DELAY seconds, doubled each time (capped), MESSAGE_MAX_ATTEMPTS in all.
MESSAGE_MAX_ATTEMPTS = env_int("MESSAGE_MAX_ATTEMPTS", 5, minimum=1)
MESSAGE_RETRY_DELAY = env_int("MESSAGE_RETRY_DELAY", 60, minimum=1)
MESSAGE_MAX_RETRY_DELAY = 6 * 3600
# How far back send_reminders catches up on what fell due (days the timer missed).
REMINDER_LOOKBACK_DAYS = env_int("REMINDER_LOOKBACK_DAYS", 7, minimum=1)

# ---------------------------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------------------------
# Backups (docs/backups.md). BACKUP_DIR above is the default destination.
# The health check fails when the newest successful backup is older than this, or when there is
# none; enforced by default in staging and production only (development and test databases are
# not backed up).
BACKUP_MAX_AGE_HOURS = env_int("BACKUP_MAX_AGE_HOURS", 26, minimum=1)
BACKUP_FRESHNESS_REQUIRED = env_bool(
    "BACKUP_FRESHNESS_REQUIRED", DJANGO_ENV in ("staging", "production")
)
# Retention (prune_backups, backup --clean): restore points kept per day, ISO week and month.
BACKUP_KEEP_DAILY = env_int("BACKUP_KEEP_DAILY", 7, minimum=1)
BACKUP_KEEP_WEEKLY = env_int("BACKUP_KEEP_WEEKLY", 4, minimum=0)
BACKUP_KEEP_MONTHLY = env_int("BACKUP_KEEP_MONTHLY", 12, minimum=0)
# Last backup, last recovery drill and RTO/RPO history, read by the health check and reports.
BACKUP_STATUS_FILE = Path(env_str("BACKUP_STATUS_FILE", str(VAR_DIR / "backup-status.json")))
# The scratch database of recovery drills: a PostgreSQL database name or an SQLite path.
# Empty: "<database>_recovery" (PostgreSQL) or "<file>.recovery.sqlite3" (SQLite).
BACKUP_SCRATCH_DATABASE = env_str("BACKUP_SCRATCH_DATABASE", "")
# Where files bound for a remote storage are staged (empty: the system's temporary folder).
BACKUP_STAGING_DIR = env_str("BACKUP_STAGING_DIR", "")
# How long a backup or restore waits for another one of the same database to finish.
BACKUP_LOCK_WAIT_SECONDS = env_int("BACKUP_LOCK_WAIT_SECONDS", 5, minimum=0)
# How long a backup's DDL (change capture set-up, PostgreSQL) may wait for a lock: writers queue
# behind a waiting lock request, so the backup stops instead, naming the session in the way.
BACKUP_LOCK_TIMEOUT_MS = env_int("BACKUP_LOCK_TIMEOUT_MS", 500, minimum=1)
# How often an incremental backup compares every table's checksum with its chain's (a row count
# check is made every time): catches changes that bypassed the capture triggers.
BACKUP_CAPTURE_CHECK_HOURS = env_int("BACKUP_CAPTURE_CHECK_HOURS", 24, minimum=0)
# Processes computing SQLite table checksums (0: one per CPU core).
BACKUP_CHECKSUM_WORKERS = env_int("BACKUP_CHECKSUM_WORKERS", 0, minimum=0)
# Folder of pg_dump, pg_restore and psql when they are not on PATH.
BACKUP_PG_BIN_DIR = env_str("BACKUP_PG_BIN_DIR", "")
# The backup engine on PostgreSQL (docs/backups.md, "Which engine"): "logical" (pg_dump and
# change-capture triggers; also SQLite's only engine) or "pgbackrest" (physical backups and
# continuous WAL archiving: point-in-time restores, nothing on the write path).
BACKUP_ENGINE = env_str("BACKUP_ENGINE", "logical")
# pgBackRest: the stanza, its configuration file (empty: pgBackRest's default), the system user
# that owns the data directory (commands run as it with sudo -n, or runuser when root; empty:
# the current user), the data directory (empty: asked from the server), and how the server is
# stopped and started around a restore ({pgdata} is replaced; empty: pg_ctl on {pgdata}).
BACKUP_PGBACKREST_STANZA = env_str("BACKUP_PGBACKREST_STANZA", "carshop")
BACKUP_PGBACKREST_CONFIG = env_str("BACKUP_PGBACKREST_CONFIG", "")
BACKUP_PGBACKREST_USER = env_str("BACKUP_PGBACKREST_USER", "")
BACKUP_PG_DATA = env_str("BACKUP_PG_DATA", "")
BACKUP_PG_START_COMMAND = env_str("BACKUP_PG_START_COMMAND", "")
BACKUP_PG_STOP_COMMAND = env_str("BACKUP_PG_STOP_COMMAND", "")
# The program that moves, removes and reads the data directory and the copies beside it, as its
# owner, refusing any other path (carshop/ops/backups/pgdata-files; in production a root-owned
# copy that the sudoers rule names, docs/backups.md).
BACKUP_PGDATA_FILES = env_str(
    "BACKUP_PGDATA_FILES", str(BASE_DIR / "carshop" / "ops" / "backups" / "pgdata-files")
)
# The port a restore replays WAL on (a private server on the staged copy) and drills run on.
BACKUP_PGBACKREST_SCRATCH_PORT = env_int("BACKUP_PGBACKREST_SCRATCH_PORT", 5499, minimum=1)
# The health check fails when finished WAL segments have waited longer than this to be archived,
# or when archiving fails.
BACKUP_WAL_MAX_LAG_SECONDS = env_int("BACKUP_WAL_MAX_LAG_SECONDS", 300, minimum=1)
# Free disk space under which the health check fails.
HEALTH_MIN_FREE_DISK_MB = env_int("HEALTH_MIN_FREE_DISK_MB", 500, minimum=0)
# monitor_resources: CPU, memory and disk use (percent) that is a warning, and a failure.
MONITOR_CPU_WARN_PERCENT = env_int("MONITOR_CPU_WARN_PERCENT", 80, minimum=1)
MONITOR_CPU_FAIL_PERCENT = env_int("MONITOR_CPU_FAIL_PERCENT", 95, minimum=1)
MONITOR_MEMORY_WARN_PERCENT = env_int("MONITOR_MEMORY_WARN_PERCENT", 85, minimum=1)
MONITOR_MEMORY_FAIL_PERCENT = env_int("MONITOR_MEMORY_FAIL_PERCENT", 95, minimum=1)
MONITOR_DISK_WARN_PERCENT = env_int("MONITOR_DISK_WARN_PERCENT", 80, minimum=1)
MONITOR_DISK_FAIL_PERCENT = env_int("MONITOR_DISK_FAIL_PERCENT", 90, minimum=1)
# monitor_db_connections: share of the database server's connections in use (percent).
MONITOR_DB_CONNECTIONS_WARN_PERCENT = env_int("MONITOR_DB_CONNECTIONS_WARN_PERCENT", 70, minimum=1)
MONITOR_DB_CONNECTIONS_FAIL_PERCENT = env_int("MONITOR_DB_CONNECTIONS_FAIL_PERCENT", 90, minimum=1)
