"""Reading configuration from the environment.

Layers, lowest first: `.env`, then `.env.<DJANGO_ENV>`, then the real environment. A value set in a
higher layer wins. Every reader names the variable in its error, so a missing or malformed value
stops start-up with one line that says which.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
ENVIRONMENTS = ("development", "staging", "production", "test")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_UNSET = object()


def current_environment():
    name = os.environ.get("DJANGO_ENV", "development").strip().lower()
    if name not in ENVIRONMENTS:
        raise ImproperlyConfigured(
            f"DJANGO_ENV: expected one of {', '.join(ENVIRONMENTS)}, got {name!r}"
        )
    return name


def load_files(environment, base_dir=BASE_DIR):
    """Read `.env.<environment>` then `.env`; neither overrides a variable already set."""
    for name in (f".env.{environment}", ".env"):
        path = Path(base_dir) / name
        if path.is_file():
            environ.Env.read_env(path, overwrite=False)


_env = environ.Env()


def _raw(name, default):
    value = os.environ.get(name)
    if value is None:
        if default is _UNSET:
            raise ImproperlyConfigured(f"{name} is not set (see .env.example)")
        return None
    return value


def env_str(name, default=_UNSET):
    value = _raw(name, default)
    return default if value is None else value


def env_bool(name, default=_UNSET):
    value = _raw(name, default)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}: expected true or false, got {value!r}")


def env_int(name, default=_UNSET, minimum=None):
    value = _raw(name, default)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}, got {number}")
    return number


def env_list(name, default=_UNSET):
    value = _raw(name, default)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_db(name, default=_UNSET):
    value = _raw(name, default)
    if value is None:
        value = default
    return db_url_config(value, name)


def db_url_config(value, name):
    """A database URL as Django's DATABASES entry, read from `value` (not from the environment);
    `name` says where the value came from, in the error."""
    try:
        config = environ.Env.db_url_config(value)
    except Exception as exc:  # environ raises several kinds for a bad URL
        raise ImproperlyConfigured(f"{name}: not a database URL ({exc})") from None
    if config.get("ENGINE") not in set(environ.Env.DB_SCHEMES.values()):
        raise ImproperlyConfigured(f"{name}: unsupported database URL scheme in {value!r}")
    return config


def env_cache(name, default=_UNSET):
    value = _raw(name, default)
    if value is None:
        value = default
    try:
        config = environ.Env.cache_url_config(value)
    except Exception as exc:
        raise ImproperlyConfigured(f"{name}: not a cache URL ({exc})") from None
    # django-environ lower-cases every query option for Django's Redis backend, but Django reads
    # KEY_PREFIX, VERSION and KEY_FUNCTION in capitals only (`?key_prefix=carshop` would be lost).
    for option in ("KEY_PREFIX", "VERSION", "KEY_FUNCTION"):
        if option.lower() in config:
            config[option] = config.pop(option.lower())
    return config


def env_choice(name, default, choices):
    value = env_str(name, default).strip().upper()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def env_timezone(name, default):
    import zoneinfo

    value = env_str(name, default).strip()
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name}: {value!r} is not a time zone name (such as America/Chicago)"
        ) from None
    return value


def env_email(name):
    value = env_str(name)
    try:
        config = environ.Env.email_url_config(value)
    except Exception as exc:
        raise ImproperlyConfigured(f"{name}: not an email URL ({exc})") from None
    return {key: val for key, val in config.items() if val not in (None, "")}


def env_admins(name, default):
    from email.utils import getaddresses

    value = _raw(name, default)
    if value is None:
        return list(default)
    admins = [(real, address) for real, address in getaddresses([value]) if "@" in address]
    if value.strip() and not admins:
        raise ImproperlyConfigured(f"{name}: expected 'Name <email>, ...', got {value!r}")
    return admins
