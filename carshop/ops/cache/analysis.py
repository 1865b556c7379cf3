"""The cache: what Carshop keeps in it (`analyze_cache`) and its upkeep (`optimize_cache`).

What Carshop keeps in the cache (settings CACHES, from CACHE_URL) is listed in CACHE_FAMILIES:
the partner API's rate-limit counters and the probe keys of the health checks. None of them is a
read-through copy of data, so there is nothing to warm: a counter made ahead of time would count
requests nobody made. A family that caches data would name its warmer there.

Redis (production with several hosts): the figures are the server's own (INFO: hits, misses,
memory, evictions, keys per database) read with the client of Django's Redis backend, and the
app's keys are those of its namespace, `KEY_PREFIX:VERSION:` (Django's key function). Stale keys
are those of the app's prefix under another VERSION (Django's way to drop a whole cache is to
bump VERSION) and keys of the app's families that would never expire; nothing outside the app's
keys is ever deleted, and the database is never flushed.

locmem (development, one host): each gunicorn worker has its own cache in its own memory; a
command runs in another process and sees only its own, empty cache. Hit rates would need counters
inside the workers that the command cannot read: the report says so instead of guessing.

Commands call these functions; they return findings (carshop.ops.toolkit.Report) or plain
dicts, which the commands print as text or JSON.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import default_key_func
from django.core.management.base import CommandError
from django.utils.module_loading import import_string

from carshop.ops.toolkit import Report, first_line, human_size

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.core.cache.backends.base import BaseCache

# ---------------------------------------------------------------------------------------------
# What the application keeps in the cache
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CacheFamily:
    name: str
    pattern: str  # fnmatch pattern of the key, without the prefix and version
    what: str
    expires: bool  # every key of the family is written with a timeout
    warm_note: str
    # A callable(cache) -> number of keys written, for data caches.
    warmer: Callable[[Any], int] | None = None


CACHE_FAMILIES = (
    CacheFamily(
        "throttle",
        "throttle:api_*",
        "API rate-limit counters (accounts/api/throttling.py)",
        True,
        "made by requests: a counter written ahead of time would count requests nobody made",
    ),
    CacheFamily(
        "health_probe",
        "djangohealthcheck_test:*",
        "health check probes (django-health-check, 5 s)",
        True,
        "written and read back by each health check",
    ),
    CacheFamily(
        "config_probe",
        "carshop:validate_config:*",
        "validate_config probes (30 s)",
        True,
        "written, read back and deleted by validate_config",
    ),
)


def family_of(key: str) -> CacheFamily | None:
    for family in CACHE_FAMILIES:
        if fnmatch.fnmatchcase(key, family.pattern):
            return family
    return None


def cache_kind(backend: str) -> str:
    name = backend.rsplit(".", 1)[-1].lower()
    for kind in ("redis", "locmem", "dummy", "database", "filebased", "memcache"):
        if kind in name or kind in backend.lower():
            return {"database": "db", "filebased": "file"}.get(kind, kind)
    return "other"


def redacted(location: Any) -> Any:
    """A cache location without its password."""
    if isinstance(location, (list, tuple)):
        return [redacted(item) for item in location]
    text = str(location)
    parts = urlsplit(text)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))
    return text


def _cache(alias: str) -> BaseCache:
    if alias not in settings.CACHES:
        raise CommandError(f"no cache {alias!r} in CACHES (caches: {', '.join(settings.CACHES)})")
    return caches[alias]


def _namespace(cache: BaseCache) -> str:
    """The app's key namespace: 'PREFIX:VERSION:' (Django's default key function)."""
    return f"{cache.key_prefix}:{cache.version}:"


def _custom_key_function(alias: str) -> bool:
    function = settings.CACHES[alias].get("KEY_FUNCTION")
    if function is None:
        return False
    if isinstance(function, str):
        function = import_string(function)
    return function is not default_key_func


def _split_key(name: str, prefix: str) -> tuple[int, str] | None:
    """'PREFIX:VERSION:key' -> (version, key); None when not of the prefix."""
    head = f"{prefix}:"
    if not name.startswith(head):
        return None
    version, sep, key = name[len(head) :].partition(":")
    if not sep or not version.lstrip("-").isdigit():
        return None
    return int(version), key


# ---------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------


def _redis_client(cache: Any) -> Any:
    """The redis-py client Django's Redis backend uses (its connection pool and options)."""
    return cache._cache.get_client(write=True)


def _decode(name: str | bytes) -> str:
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else name


def scan_app_keys(
    cache: Any, client: Any, progress: Callable[..., Any] | None = None
) -> dict[str, Any]:
    """Every key of the cache's database, sorted out: the app's keys of the current version by
    family (with and without a timeout), the app's keys of other versions, and other keys."""
    prefix, current = cache.key_prefix, cache.version
    result: dict[str, Any] = {
        "app_keys": 0,
        "by_family": Counter(),
        "without_ttl": Counter(),
        "unknown_samples": [],
        "other_versions": Counter(),
        "foreign_keys": 0,
        "stale": [],
    }
    names = client.scan_iter(count=1000)
    if progress is not None:
        names = progress(names, label="keys")
    candidates = []
    for raw in names:
        name = _decode(raw)
        split = _split_key(name, prefix)
        if split is None:
            result["foreign_keys"] += 1
            continue
        version, key = split
        family = family_of(key)
        if version != current:
            # Another version of the app's prefix. Without a prefix (':N:'), any Django site on
            # this database writes such keys: only the app's own families count as its keys.
            if prefix or family is not None:
                result["other_versions"][version] += 1
                result["stale"].append((raw, f"version {version}"))
            else:
                result["foreign_keys"] += 1
            continue
        result["app_keys"] += 1
        name_of_family = family.name if family else "unknown"
        result["by_family"][name_of_family] += 1
        if family is None:
            if len(result["unknown_samples"]) < 5:
                result["unknown_samples"].append(key)
        elif family.expires:
            candidates.append((raw, family))
    if candidates:
        pipe = client.pipeline(transaction=False)
        for raw, _family in candidates:
            pipe.ttl(raw)
        for (raw, family), ttl in zip(candidates, pipe.execute(), strict=True):
            if ttl == -1:  # exists, no timeout: it would stay forever
                result["without_ttl"][family.name] += 1
                result["stale"].append((raw, f"{family.name} without a timeout"))
    return result


def _keyspace(info: dict[str, Any]) -> dict[str, dict[str, int]]:
    databases = {}
    for name, value in info.items():
        if re.fullmatch(r"db\d+", name) and isinstance(value, dict):
            databases[name] = {
                "keys": int(value.get("keys", 0)),
                "expires": int(value.get("expires", 0)),
            }
    return databases


def _redis_db(client: Any) -> int:
    return int(client.connection_pool.connection_kwargs.get("db", 0) or 0)


def _analyze_redis(
    report: Report, cache: Any, alias: str, progress: Callable[..., Any] | None
) -> None:
    try:
        client = _redis_client(cache)
        info = client.info()
    except Exception as exc:
        report.fail("redis", f"does not answer: {first_line(exc)}")
        return
    hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
    lookups = hits + misses
    rate = round(100 * hits / lookups, 1) if lookups else None
    db = _redis_db(client)
    keys = scan_app_keys(cache, client, progress)
    data = report.data
    data.update(
        {
            "server": {
                "version": info.get("redis_version"),
                "uptime_seconds": info.get("uptime_in_seconds"),
                "db": db,
            },
            "hits": hits,
            "misses": misses,
            "hit_rate_percent": rate,
            "used_memory": int(info.get("used_memory", 0)),
            "used_memory_peak": int(info.get("used_memory_peak", 0)),
            "maxmemory": int(info.get("maxmemory", 0)),
            "maxmemory_policy": info.get("maxmemory_policy"),
            "evicted_keys": int(info.get("evicted_keys", 0)),
            "expired_keys": int(info.get("expired_keys", 0)),
            "keyspace": _keyspace(info),
            "app_keys": keys["app_keys"],
            "app_keys_by_family": dict(sorted(keys["by_family"].items())),
            "app_keys_without_ttl": dict(sorted(keys["without_ttl"].items())),
            "unknown_key_samples": keys["unknown_samples"],
            "other_versions": {
                str(version): count for version, count in sorted(keys["other_versions"].items())
            },
            "stale_keys": len(keys["stale"]),
            "other_keys_in_db": keys["foreign_keys"],
        }
    )
    report.ok(
        "redis",
        f"{info.get('redis_version')} at {redacted(cache._servers[0])}, "
        f"up {int(info.get('uptime_in_seconds', 0)) // 3600} h",
    )
    if rate is None:
        report.ok("hit rate", "no lookups since the server started")
    else:
        report.ok(
            "hit rate",
            f"{rate}% ({hits} hits, {misses} misses since the server started, "
            f"every database and client of the server)",
        )
    limit = data["maxmemory"]
    memory = f"{human_size(data['used_memory'])} used (peak {human_size(data['used_memory_peak'])})"
    if limit:
        share = 100 * data["used_memory"] / limit
        status = "WARN" if share >= 90 else "OK"
        report.add(
            status,
            "memory",
            f"{memory}, {share:.0f}% of maxmemory {human_size(limit)} ({data['maxmemory_policy']})",
        )
    else:
        report.ok("memory", f"{memory}, no maxmemory limit")
    if data["evicted_keys"]:
        report.warn(
            "evictions",
            f"{data['evicted_keys']} keys evicted for memory since the "
            f"server started: raise maxmemory, or rate limits reset early",
        )
    else:
        report.ok("evictions", "none")
    families = ", ".join(f"{name} {count}" for name, count in data["app_keys_by_family"].items())
    report.ok(
        "app keys",
        f"{keys['app_keys']} in db{db} under '{_namespace(cache)}'"
        + (f": {families}" if families else ""),
    )
    if keys["stale"]:
        report.warn(
            "stale keys",
            f"{len(keys['stale'])} (other versions "
            f"{data['other_versions'] or 'none'}, without a timeout "
            f"{data['app_keys_without_ttl'] or 'none'}): "
            f"python manage.py optimize_cache --clear-stale",
        )
    else:
        report.ok("stale keys", "none")
    if keys["foreign_keys"]:
        detail = f"{keys['foreign_keys']} keys in db{db} are not the app's"
        if not cache.key_prefix:
            report.warn(
                "key prefix",
                f"{detail}, and KEY_PREFIX is empty: another Django site "
                f"on this database shares the namespace; set one "
                f"(CACHE_URL=redis://HOST:6379/1?key_prefix=carshop)",
            )
        else:
            report.ok("shared database", detail)
    report.ok(
        "keyspace",
        ", ".join(
            f"{name} {item['keys']} keys ({item['expires']} expiring)"
            for name, item in data["keyspace"].items()
        )
        or "empty",
    )


# ---------------------------------------------------------------------------------------------
# The other backends: what can be known from a command's process
# ---------------------------------------------------------------------------------------------

PER_PROCESS = (
    "each process (each gunicorn worker) has its own cache in its own memory; this "
    "command runs in another process and sees only its own"
)
NO_COUNTERS = (
    "not counted: hit and miss counters would live in each worker's memory, out of "
    "this command's reach (Redis counts them: CACHE_URL=redis://...)"
)


def _analyze_locmem(report: Report, cache: Any) -> None:
    entries = len(cache._cache)
    report.data.update(
        {
            "entries_in_this_process": entries,
            "max_entries": cache._max_entries,
            "hit_rate_percent": None,
        }
    )
    report.ok("locmem", f"{PER_PROCESS}: {entries} entries here (at most {cache._max_entries})")
    report.ok("hit rate", NO_COUNTERS)
    if getattr(settings, "SERVER_ENVIRONMENT", False):
        report.warn(
            "shared cache",
            "API rate limits are counted per worker: with several "
            "workers or hosts, use Redis (CACHE_URL=redis://...)",
        )


def _analyze_dummy(report: Report, cache: BaseCache) -> None:
    report.data.update({"hit_rate_percent": None})
    report.warn("dummy", "nothing is cached, so the API rate limits never trigger")


def _db_cache_rows(cache: Any) -> tuple[int, int]:
    from django.db import connections, router
    from django.utils import timezone

    db = router.db_for_read(cache.cache_model_class)
    connection = connections[db]
    table = connection.ops.quote_name(cache._table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - the cache's own table
        rows = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT COUNT(*) FROM {table} WHERE expires < %s",  # noqa: S608
            [timezone.now().replace(microsecond=0)],
        )
        expired = cursor.fetchone()[0]
    return rows, expired


def _analyze_db(report: Report, cache: Any) -> None:
    try:
        rows, expired = _db_cache_rows(cache)
    except Exception as exc:
        report.fail(
            "database cache",
            f"table {cache._table} cannot be read: {first_line(exc)} "
            f"(python manage.py createcachetable)",
        )
        return
    report.data.update({"entries": rows, "expired_entries": expired, "hit_rate_percent": None})
    report.ok(
        "database cache",
        f"{rows} rows in {cache._table}, {expired} expired (at most {cache._max_entries})",
    )
    report.ok("hit rate", "not counted by Django's database cache")


def _analyze_file(report: Report, cache: Any) -> None:
    files = (
        list(Path(cache._dir).glob(f"*{cache.cache_suffix}")) if os.path.isdir(cache._dir) else []
    )
    size = sum(path.stat().st_size for path in files)
    report.data.update({"entries": len(files), "bytes": size, "hit_rate_percent": None})
    report.ok("file cache", f"{len(files)} files, {human_size(size)} in {cache._dir}")
    report.ok("hit rate", "not counted by Django's file cache")


def analyze_cache(alias: str = "default", progress: Callable[..., Any] | None = None) -> Report:
    cache = _cache(alias)
    config = settings.CACHES[alias]
    kind = cache_kind(config["BACKEND"])
    report = Report("cache" if alias == "default" else f"cache {alias}")
    report.data.update(
        {
            "alias": alias,
            "backend": config["BACKEND"],
            "kind": kind,
            "location": redacted(config.get("LOCATION", "")),
            "key_prefix": cache.key_prefix,
            "version": cache.version,
            "families": [
                {"name": family.name, "pattern": family.pattern, "what": family.what}
                for family in CACHE_FAMILIES
            ],
        }
    )
    if kind == "redis":
        _analyze_redis(report, cache, alias, progress)
    elif kind == "locmem":
        _analyze_locmem(report, cache)
    elif kind == "dummy":
        _analyze_dummy(report, cache)
    elif kind == "db":
        _analyze_db(report, cache)
    elif kind == "file":
        _analyze_file(report, cache)
    else:
        report.ok(kind, f"{config['BACKEND']}: hit rates and keys are not read for this backend")
    return report


# ---------------------------------------------------------------------------------------------
# optimize_cache
# ---------------------------------------------------------------------------------------------

DELETE_BATCH = 500


def warm_cache(cache: Any, dry_run: bool = False) -> list[dict[str, Any]]:
    """Run each family's warmer; report why the others are not warmed."""
    actions = []
    for family in CACHE_FAMILIES:
        if family.warmer is None:
            actions.append(
                {"family": family.name, "action": "not warmed", "keys": 0, "note": family.warm_note}
            )
        else:
            actions.append(
                {
                    "family": family.name,
                    "action": "would warm" if dry_run else "warmed",
                    "keys": 0 if dry_run else family.warmer(cache),
                    "note": family.what,
                }
            )
    return actions


def _clear_stale_redis(
    cache: Any, dry_run: bool, progress: Callable[..., Any] | None
) -> dict[str, Any]:
    client = _redis_client(cache)
    keys = scan_app_keys(cache, client, progress)
    stale = keys["stale"]
    reasons = Counter(reason for _name, reason in stale)
    deleted = 0
    if not dry_run:
        for start in range(0, len(stale), DELETE_BATCH):
            batch = [name for name, _reason in stale[start : start + DELETE_BATCH]]
            deleted += client.unlink(*batch)
    return {
        "stale": len(stale),
        "deleted": deleted,
        "reasons": dict(sorted(reasons.items())),
        "kept_app_keys": keys["app_keys"] - sum(keys["without_ttl"].values()),
        "kept_other_keys": keys["foreign_keys"],
        "note": f"only keys under '{cache.key_prefix}:' (the app's prefix) or of the app's "
        f"families are considered; the other {keys['foreign_keys']} keys of the "
        f"database are not the app's and are kept",
    }


def _clear_stale_db(cache: Any, dry_run: bool) -> dict[str, Any]:
    from django.db import connections, router
    from django.utils import timezone

    _rows, expired = _db_cache_rows(cache)
    deleted = 0
    if not dry_run and expired:
        db = router.db_for_write(cache.cache_model_class)
        connection = connections[db]
        table = connection.ops.quote_name(cache._table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE expires < %s",  # noqa: S608
                [timezone.now().replace(microsecond=0)],
            )
            deleted = cursor.rowcount
    return {
        "stale": expired,
        "deleted": deleted,
        "reasons": {"expired": expired},
        "note": "expired rows of the database cache",
    }


def optimize_cache(
    alias: str = "default",
    warm: bool = True,
    clear_stale: bool = True,
    dry_run: bool = False,
    progress: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    cache = _cache(alias)
    config = settings.CACHES[alias]
    kind = cache_kind(config["BACKEND"])
    result = {
        "alias": alias,
        "backend": config["BACKEND"],
        "kind": kind,
        "dry_run": dry_run,
        "key_prefix": cache.key_prefix,
        "version": cache.version,
        "warm": None,
        "clear_stale": None,
        "notes": [],
    }
    if _custom_key_function(alias):
        raise CommandError(
            f"CACHES[{alias!r}] has its own KEY_FUNCTION: the app's keys cannot "
            f"be told from others, nothing was changed"
        )
    if warm:
        result["warm"] = warm_cache(cache, dry_run)
    if clear_stale:
        if kind == "redis":
            try:
                result["clear_stale"] = _clear_stale_redis(cache, dry_run, progress)
            except CommandError:
                raise
            except Exception as exc:
                raise CommandError(f"Redis does not answer: {first_line(exc)}") from None
        elif kind == "db":
            result["clear_stale"] = _clear_stale_db(cache, dry_run)
        elif kind == "locmem":
            result["notes"].append(
                f"locmem: {PER_PROCESS}; its expired entries go when read or "
                f"culled at MAX_ENTRIES; restarting the workers empties it"
            )
        elif kind == "dummy":
            result["notes"].append("dummy: nothing is cached, nothing is stale")
        else:
            result["notes"].append(
                f"{kind}: Django removes expired entries when they are read "
                f"and culls at MAX_ENTRIES; nothing to clear from here"
            )
    return result
