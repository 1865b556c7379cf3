"""The project's own health checks, run beside django-health-check's."""

import dataclasses
import os
import shutil

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
        from carshop.backups import status

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
)
