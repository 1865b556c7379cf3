"""validate_config: the running environment's settings are complete and consistent.

Settings already refuse malformed values at start-up (carshop/settings/env.py) and insecure ones
in production (production.py). This goes further, with the services they point at: the folders
can be written, the database and the cache answer, Django's system checks (and its deployment
checks on a server) pass, and values that each look fine agree with each other.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Collection
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.db import connections
from django.http.request import validate_host

from carshop.ops import on_server
from carshop.ops.toolkit import Report, first_line

# The start of base.py's public development key (not a secret).
DEV_SECRET_KEY_PREFIX = "dev-only-insecure-key"  # noqa: S105
# Parts of the placeholder keys that docs/configuration.md and .env.example show.
PLACEHOLDER_MARKERS = ("replace-with", "change-me", "changeme")
# (setting, what it is) that must have a value in every environment.
REQUIRED = (
    ("ALLOWED_HOSTS", "host names the site answers to"),
    ("DEFAULT_FROM_EMAIL", "sender of the mail Carshop sends"),
    ("TIME_ZONE", "the shop's time zone"),
)
# (setting, what is written there) that must be writable folders.
FOLDERS = (
    ("VAR_DIR", "application data"),
    ("LOG_DIR", "logs"),
    ("MEDIA_ROOT", "uploaded files"),
    ("BACKUP_DIR", "backups"),
)
# Pairs of thresholds (warning, failure) in percent.
THRESHOLDS = (
    ("MONITOR_CPU_WARN_PERCENT", "MONITOR_CPU_FAIL_PERCENT"),
    ("MONITOR_MEMORY_WARN_PERCENT", "MONITOR_MEMORY_FAIL_PERCENT"),
    ("MONITOR_DISK_WARN_PERCENT", "MONITOR_DISK_FAIL_PERCENT"),
    ("MONITOR_DB_CONNECTIONS_WARN_PERCENT", "MONITOR_DB_CONNECTIONS_FAIL_PERCENT"),
)


def validate_configuration() -> Report:
    report = Report("configuration")
    report.ok("DJANGO_ENV", settings.DJANGO_ENV)
    _required(report)
    secret_key_and_debug(report)
    for name, purpose in FOLDERS:
        _folder(report, name, purpose)
    _database(report)
    _caches(report)
    system_checks(report)
    hosts_and_origins(report)
    _server_only(report)
    _thresholds(report)
    return report


def _required(report: Report) -> None:
    for name, purpose in REQUIRED:
        value = getattr(settings, name, None)
        if value in (None, "", [], ()):
            report.fail(name, f"not set ({purpose})")
        else:
            report.ok(name, "set")


def weak_secret_key(key: str | None) -> str:
    """Why `key` must not sign anything on a server, or "" when it is fit."""
    if not key:
        return "not set (signs sessions and CSRF tokens)"
    lowered = key.lower()
    if key.startswith(("django-insecure", DEV_SECRET_KEY_PREFIX)) or any(
        marker in lowered for marker in PLACEHOLDER_MARKERS
    ):
        return "a published key (Django's, the development default or a documented placeholder)"
    if len(key) < 50 or len(set(key)) < 5:
        return f"too weak: {len(key)} characters, {len(set(key))} different (50+ random ones)"
    return ""


def secret_key_and_debug(report: Report, server: bool | None = None) -> None:
    server = on_server() if server is None else server
    key = settings.SECRET_KEY or ""
    problem = weak_secret_key(key)
    if problem and (server or not key):
        report.fail("SECRET_KEY", problem)
    elif key.startswith(DEV_SECRET_KEY_PREFIX):
        report.ok("SECRET_KEY", f"the public development key ({settings.DJANGO_ENV} only)")
    else:
        report.ok("SECRET_KEY", f"set, {len(key)} characters")
    if settings.DEBUG and server:
        report.fail("DEBUG", "True on a server shows tracebacks and settings to visitors")
    else:
        report.ok("DEBUG", str(settings.DEBUG))


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _can_write(folder: str | Path) -> bool:
    """Really write there (permission bits say nothing when running as root)."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".carshop-write-test-"):
            return True
    except OSError:
        return False


def _folder(report: Report, name: str, purpose: str) -> None:
    value = getattr(settings, name, None)
    if not value:
        report.fail(name, f"not set ({purpose})")
        return
    path = Path(value)
    if path.exists() and not path.is_dir():
        report.fail(name, f"{path} is a file, not a folder ({purpose})")
    elif path.is_dir():
        if _can_write(path):
            report.ok(name, f"{path} writable")
        else:
            report.fail(name, f"{path} is not writable by this user ({purpose})")
    else:
        parent = _existing_parent(path)
        if parent.is_dir() and _can_write(parent):
            report.ok(name, f"{path} not created yet; {parent} is writable")
        else:
            report.fail(name, f"{path} does not exist and cannot be created under {parent}")


def _database(report: Report) -> None:
    for alias in connections:
        connection = connections[alias]
        label = f"database {alias}" if alias != "default" else "database"
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception as exc:
            report.fail(label, f"cannot connect: {first_line(exc)}")
            continue
        detail = f"{connection.vendor} {connection.settings_dict.get('NAME')} reachable"
        if on_server() and connection.vendor == "sqlite":
            report.warn(label, f"{detail}; servers run PostgreSQL (docs/deploy.md)")
        else:
            report.ok(label, detail)


def _caches(report: Report) -> None:
    for alias in settings.CACHES:
        label = f"cache {alias}" if alias != "default" else "cache"
        backend = settings.CACHES[alias]["BACKEND"].rsplit(".", 1)[-1]
        key = f"carshop:validate_config:{uuid.uuid4().hex}"
        try:
            cache = caches[alias]
            cache.set(key, "ok", 30)
            answer = cache.get(key)
            cache.delete(key)
        except Exception as exc:
            report.fail(label, f"{backend} does not answer: {first_line(exc)}")
            continue
        if answer != "ok":
            report.fail(label, f"{backend} did not return what was stored")
        else:
            report.ok(label, f"{backend} reachable")


def system_checks(report: Report, deploy: bool | None = None, skip: Collection[str] = ()) -> None:
    """Django's system checks; on a server also its deployment checks (manage.py check --deploy).
    `skip`: check ids that the caller's own findings already judge."""
    deploy = on_server() if deploy is None else deploy
    messages = [
        message
        for message in checks.run_checks(include_deployment_checks=deploy)
        if not message.is_silenced() and message.level >= checks.WARNING and message.id not in skip
    ]
    for message in messages:
        status = "FAIL" if message.level >= checks.ERROR else "WARN"
        report.add(status, message.id or "check", first_line(message.msg))
    if not messages:
        scope = "system and deployment checks" if deploy else "system checks"
        note = "" if deploy else " (deployment checks run in production and staging)"
        report.ok("django checks", f"{scope} pass{note}")


def _host_allowed(host: str, allowed: list[str]) -> bool:
    if host.startswith("*."):  # https://*.example.com: the hosts need a .example.com entry
        return "*" in allowed or host[1:] in allowed
    return validate_host(host, allowed)


def hosts_and_origins(report: Report, server: bool | None = None) -> None:
    server = on_server() if server is None else server
    allowed = list(settings.ALLOWED_HOSTS)
    if server and "*" in allowed:
        report.fail("ALLOWED_HOSTS", "'*' answers to any host name")
    problems = []
    for origin in settings.CSRF_TRUSTED_ORIGINS:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            report.fail("CSRF_TRUSTED_ORIGINS", f"{origin!r} needs a scheme: https://host")
            problems.append(origin)
            continue
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        if not _host_allowed(host, allowed):
            report.warn(
                "CSRF_TRUSTED_ORIGINS",
                f"{origin}: {host} is not in ALLOWED_HOSTS, so its requests are refused",
            )
            problems.append(origin)
        elif server and parts.scheme != "https":
            report.warn("CSRF_TRUSTED_ORIGINS", f"{origin}: plain HTTP on a server")
            problems.append(origin)
    if not problems:
        count = len(settings.CSRF_TRUSTED_ORIGINS)
        report.ok(
            "ALLOWED_HOSTS / CSRF_TRUSTED_ORIGINS",
            f"{len(allowed)} hosts, {count} trusted origins, consistent",
        )


def _server_only(report: Report) -> None:
    if not on_server():
        return
    if settings.TRUSTED_PROXY_COUNT == 0:
        report.warn(
            "TRUSTED_PROXY_COUNT",
            "0 on a server: behind nginx set 1, or lockouts count nginx's address",
        )
    var_dir = Path(settings.VAR_DIR).resolve()
    if var_dir.is_relative_to(Path(settings.BASE_DIR).resolve()):
        report.warn("VAR_DIR", f"{var_dir} is inside the checkout; set /var/lib/carapp")
    if not settings.ADMINS:
        report.warn("ADMINS", "nobody is mailed when the server fails")
    if settings.EMAIL_BACKEND.endswith(
        ("console.EmailBackend", "locmem.EmailBackend", "dummy.EmailBackend")
    ):
        report.warn("EMAIL_BACKEND", f"{settings.EMAIL_BACKEND} sends no mail")
    if settings.DEFAULT_FROM_EMAIL.endswith("@localhost"):
        report.warn("DEFAULT_FROM_EMAIL", f"{settings.DEFAULT_FROM_EMAIL}: set the shop's address")


def _thresholds(report: Report) -> None:
    consistent = True
    for warn_name, fail_name in THRESHOLDS:
        warn_at, fail_at = getattr(settings, warn_name), getattr(settings, fail_name)
        if not 0 < warn_at < fail_at <= 100:
            consistent = False
            report.fail(
                warn_name.replace("_WARN", ""),
                f"{warn_name}={warn_at} must be below {fail_name}={fail_at}, "
                "both between 1 and 100",
            )
    if consistent:
        report.ok("monitoring thresholds", "each warning below its failure, within 1-100")
