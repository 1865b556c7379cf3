"""The backup status file: the last successful backup, the last recovery drill, and the recovery
metrics history (RTO: how long a restore took; RPO: how old the restored backup was).

It is a small JSON file (BACKUP_STATUS_FILE), not a database table, on purpose: a restore must
not roll back the record of the backups and drills made since. The health check and reports read
it with `load()`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

if TYPE_CHECKING:
    from collections.abc import Iterator

HISTORY = 100


def path() -> str:
    return str(settings.BACKUP_STATUS_FILE)


def load() -> dict[str, Any]:
    try:
        with open(path()) as handle:
            return json.load(handle)
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    os.makedirs(os.path.dirname(path()) or ".", exist_ok=True)
    with open(path() + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update(**changes: Any) -> dict[str, Any]:
    """Merge `changes` into the status file (atomically; safe against concurrent writers)."""
    with _locked():
        data = load()
        for key, value in changes.items():
            if key == "recovery_metrics":
                data["recovery_metrics"] = [*data.get("recovery_metrics", []), value][-HISTORY:]
            else:
                data[key] = value
        staged = path() + ".partial"
        with open(staged, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staged, path())
    return data


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def last_backup_age(now: datetime | None = None) -> timedelta | None:
    """How long ago the last successful backup finished, or None if there never was one."""
    last = load().get("last_backup") or {}
    finished = parse_time(last.get("finished_at"))
    if finished is None:
        return None
    return (now or timezone.now()) - finished


def max_age() -> timedelta:
    return timedelta(hours=settings.BACKUP_MAX_AGE_HOURS)
