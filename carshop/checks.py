"""System checks for running Carshop on several app hosts (`manage.py check --deploy`,
docs/scale-out.md). The API's rate limits have their own check (accounts.E002)."""

from django.conf import settings
from django.core import checks

from accounts.checks import SHARED_CACHE_BACKENDS


def _cache_is_shared():
    return settings.CACHES.get("default", {}).get("BACKEND", "") in SHARED_CACHE_BACKENDS


@checks.register(checks.Tags.caches, checks.Tags.security, deploy=True)
def sessions_are_shared_by_every_worker(app_configs, **kwargs):
    engine = settings.SESSION_ENGINE
    per_process = engine.endswith(".file") or (engine.endswith(".cache") and not _cache_is_shared())
    if not per_process:
        return []
    return [
        checks.Error(
            f"Sessions are kept by {engine} with a cache or folder of one worker or host: a "
            "person signed in on one worker is signed out on the next.",
            hint="Leave SESSION_ENGINE unset (database sessions, read through Redis when "
            "CACHE_URL is a Redis) and set CACHE_URL to a Redis every host uses "
            "(docs/scale-out.md).",
            id="carshop.E010",
        )
    ]


@checks.register(checks.Tags.caches, checks.Tags.database, deploy=True)
def read_your_writes_is_shared_by_every_worker(app_configs, **kwargs):
    if "replica" not in settings.DATABASES or _cache_is_shared():
        return []
    return [
        checks.Error(
            "DATABASE_REPLICA_URL is set but the cache is not shared: the marker that keeps a "
            "person's reads on the primary after they write is seen by one worker only, so "
            "their next page, served by another, may not show their change.",
            hint="Set CACHE_URL to a Redis every worker and host uses (docs/scale-out.md).",
            id="carshop.E011",
        )
    ]


@checks.register(deploy=True)
def media_is_on_shared_storage(app_configs, **kwargs):
    if settings.APP_HOSTS < 2 or settings.MEDIA_STORAGE == "S3":
        return []
    if settings.MEDIA_SHARED_FILESYSTEM:
        return []
    return [
        checks.Error(
            f"APP_HOSTS is {settings.APP_HOSTS} but uploads are kept in MEDIA_ROOT "
            f"({settings.MEDIA_ROOT}) on each host's own disk: a photo or receipt uploaded on "
            "one host is missing on the others.",
            hint="Set MEDIA_STORAGE=S3 and the MEDIA_S3_* variables, or mount MEDIA_ROOT from "
            "a shared file system on every host and set MEDIA_SHARED_FILESYSTEM=true "
            "(docs/scale-out.md).",
            id="carshop.E012",
        )
    ]
