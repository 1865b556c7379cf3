"""Settings shared by every environment; development defaults.

Each value comes from the environment (see docs/configuration.md for the table of variables and
.env.example for a commented template). production.py tightens what must be strict there.
"""

from pathlib import Path

from .env import (
    BASE_DIR,
    current_environment,
    env_bool,
    env_cache,
    env_db,
    env_int,
    env_list,
    env_str,
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
    "carshop.backups",
    "accounts",
    "inventory",
    "repairs",
    "sales",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "import_export",
    "auditlog",
    "axes",
    "dbbackup",
    "health_check",
]

MIDDLEWARE = [
    "carshop.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "carshop.middleware.AccessLogMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
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
DATABASES["default"].setdefault("TEST", {})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env_cache("CACHE_URL", "locmemcache://carshop")}

# ---------------------------------------------------------------------------------------------
# Authentication, passwords and login protection
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
# ---------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
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
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "carshop/lockout.html"
# Behind a reverse proxy, the client's address is the last one the proxy appended.
AXES_IPWARE_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if AXES_IPWARE_PROXY_COUNT else ("REMOTE_ADDR",)
)

# ---------------------------------------------------------------------------------------------
# Internationalization
# ---------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "America/New_York")
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
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    "dbbackup": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env_str("BACKUP_DIR", str(VAR_DIR / "backups"))},
    },
}
BACKUP_DIR = Path(STORAGES["dbbackup"]["OPTIONS"]["location"])

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
)
AUDITLOG_EXCLUDE_TRACKING_FIELDS = ("last_login", "updated_at")
AUDITLOG_MASK_TRACKING_FIELDS = ("password",)

# ---------------------------------------------------------------------------------------------
# REST API
# ---------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.DjangoModelPermissions"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Carshop API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# ---------------------------------------------------------------------------------------------
# Logging: JSON lines in LOG_DIR (see carshop/logconfig.py)
# ---------------------------------------------------------------------------------------------
LOG_DIR = Path(env_str("LOG_DIR", str(VAR_DIR / "log")))
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
SLOW_QUERY_MS = env_int("SLOW_QUERY_MS", 500, minimum=0)
LOG_TO_CONSOLE = env_bool("LOG_TO_CONSOLE", DJANGO_ENV == "development")

from carshop.logconfig import build_logging_config  # noqa: E402

LOGGING = build_logging_config(LOG_DIR, LOG_LEVEL, console=LOG_TO_CONSOLE)

# ---------------------------------------------------------------------------------------------
# Email
# ---------------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "carshop@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# ---------------------------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------------------------
# Backups (docs/backups.md). BACKUP_DIR above is the default destination.
# The health check fails when the newest successful backup is older than this.
BACKUP_MAX_AGE_HOURS = env_int("BACKUP_MAX_AGE_HOURS", 26, minimum=1)
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
# Processes computing SQLite table checksums (0: one per CPU core).
BACKUP_CHECKSUM_WORKERS = env_int("BACKUP_CHECKSUM_WORKERS", 0, minimum=0)
# Folder of pg_dump, pg_restore and psql when they are not on PATH.
BACKUP_PG_BIN_DIR = env_str("BACKUP_PG_BIN_DIR", "")
# Free disk space under which the health check fails.
HEALTH_MIN_FREE_DISK_MB = env_int("HEALTH_MIN_FREE_DISK_MB", 500, minimum=0)
