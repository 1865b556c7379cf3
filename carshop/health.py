"""The project's own health checks, run beside django-health-check's, and the middleware that
lets /health/ answer while the database is down."""

import asyncio
import dataclasses
import os
import shutil

from asgiref.sync import sync_to_async
from django.conf import settings
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable


@dataclasses.dataclass
class DiskSpace(HealthCheck):
    """Enough free space where the database, logs and backups are written."""

    def run(self):
        minimum = settings.HEALTH_MIN_FREE_DISK_MB * 1024 * 1024
        for label, path in (("data", settings.VAR_DIR), ("logs", settings.LOG_DIR)):
            existing = path
            while not existing.exists() and existing != existing.parent:
                existing = existing.parent
            free = shutil.disk_usage(existing).free
            if free < minimum:
                raise ServiceUnavailable(
                    f"{label} disk has {free // (1024 * 1024)} MB free, "
                    f"below {settings.HEALTH_MIN_FREE_DISK_MB} MB"
                )


@dataclasses.dataclass
class LogFolder(HealthCheck):
    """The log folder exists and is writable, so errors are not lost."""

    def run(self):
        if not settings.LOG_DIR.is_dir() or not os.access(settings.LOG_DIR, os.W_OK):
            raise ServiceUnavailable("log folder is missing or not writable")


@dataclasses.dataclass
class BackupFreshness(HealthCheck):
    """The last successful backup is recent enough (BACKUP_MAX_AGE_HOURS); enforced where
    BACKUP_FRESHNESS_REQUIRED (staging and production by default)."""

    def run(self):
        from carshop.ops.backups import status

        if not settings.BACKUP_FRESHNESS_REQUIRED:
            return
        age = status.last_backup_age()
        if age is None:
            raise ServiceUnavailable("no successful backup recorded")
        if age > status.max_age():
            hours = age.total_seconds() / 3600
            raise ServiceUnavailable(
                f"last successful backup is {hours:.1f} hours old, "
                f"over {settings.BACKUP_MAX_AGE_HOURS} hours"
            )


@dataclasses.dataclass
class WalArchiving(HealthCheck):
    """With the pgBackRest engine: PostgreSQL archives its WAL, and keeps up
    (BACKUP_WAL_MAX_LAG_SECONDS); the RPO is only as good as the archive."""

    def run(self):
        from carshop.ops.backups import pgbackrest
        from carshop.ops.backups.errors import BackupError

        try:
            if not pgbackrest.selected():
                return
            problem = pgbackrest.archiving_problem()
        except BackupError as exc:
            raise ServiceUnavailable(str(exc)) from None
        if problem:
            raise ServiceUnavailable(problem)


# What a load balancer probes (/health/live/): can this host serve requests? A stale backup is
# the operators' alarm, not a reason to take the host out of rotation.
LIVENESS_CHECKS = (
    "health_check.checks.Database",
    "health_check.checks.Cache",
    "health_check.checks.Storage",
    "carshop.health.DiskSpace",
    "carshop.health.LogFolder",
)

# Everything operators watch (/health/, manage.py health_check): liveness plus backup freshness.
HEALTH_CHECKS = (
    "health_check.checks.Database",
    "health_check.checks.Cache",
    "health_check.checks.Storage",
    "carshop.health.DiskSpace",
    "carshop.health.LogFolder",
    "carshop.health.BackupFreshness",
    "carshop.health.WalArchiving",
)


HEALTH_URL_NAMES = ("health", "health-live")


def _user_or_anonymous(request):
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import get_user
    from django.contrib.auth.models import AnonymousUser
    from django.db import DatabaseError

    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    try:
        return get_user(request)
    except DatabaseError:
        return AnonymousUser()


class HealthProbeMiddleware:
    """/health/ and /health/live/ answer without sessions, users, CSRF or audit.

    Those need the database: a logged-in browser's session cookie would make the user be loaded
    (the audit and access-log middleware ask who it is) and, with the database down, the request
    would end in the HTML 500 page instead of the health report that says the database is down,
    in the format asked for. Placed near the top of MIDDLEWARE; every other path goes on as
    usual."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/health/"):
            from django.contrib.auth.models import AnonymousUser
            from django.urls import Resolver404, resolve

            try:
                match = resolve(request.path_info)
            except Resolver404:
                match = None
            if match is not None and match.url_name in HEALTH_URL_NAMES:
                # Hosts are checked as for every page (DisallowedHost answers 400).
                request.get_host()
                request.user = AnonymousUser()

                async def auser():
                    return await sync_to_async(_user_or_anonymous)(request)

                # The view asks who it is (staff see details from anywhere); a database that
                # is down makes that "nobody", never an error page.
                request.auser = auser
                response = match.func(request, *match.args, **match.kwargs)
                if asyncio.iscoroutine(response):
                    from asgiref.sync import async_to_sync

                    async def awaited():
                        return await response

                    response = async_to_sync(awaited)()
                if callable(getattr(response, "render", None)):
                    response = response.render()
                return response
        return self.get_response(request)
