"""The recovery metrics history (RTO, RPO, validated) of docs/backups.md, kept honest.

A drill that fails before it can compare anything (a damaged backup, a missing chain, a scratch
database that cannot be made) leaves no `last_drill` behind (carshop.ops.backups.service only writes
one for a drill that restored), so `test_recovery` records the failure as `last_drill_failure`.
`record_recovery_metrics` then records the newest of the two: a failed drill is an entry that did
not validate, never the previous successful drill again; and a drill already in the history is
not recorded twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone

from carshop.ops.backups import status
from carshop.ops.backups.errors import BackupError

if TYPE_CHECKING:
    from datetime import datetime


def record_failure(
    source: str, target: str, error: str, now: datetime | None = None
) -> dict[str, str]:
    """What `test_recovery` writes when the drill stopped before a comparison."""
    failure = {
        "at": (now or timezone.now()).isoformat(),
        "source": source,
        "target": target,
        "error": error,
    }
    status.update(last_drill_failure=failure)
    return failure


def _newest_drill(data: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    drill, failure = data.get("last_drill"), data.get("last_drill_failure")
    # Every recorded drill and failure has its time ("at"): parse_time gives no None here.
    if failure and (not drill or status.parse_time(failure["at"]) > status.parse_time(drill["at"])):  # type: ignore[operator]
        return failure, True
    return drill, False


def record_recovery_metrics() -> dict:
    data = status.load()
    drill, failed = _newest_drill(data)
    if not drill:
        raise BackupError("no recovery drill recorded: run test_recovery first")
    if any(entry.get("drill_at") == drill["at"] for entry in data.get("recovery_metrics", [])):
        raise BackupError(
            f"the recovery drill of {drill['at']} is already recorded: run "
            "test_recovery for a new one"
        )
    age = status.last_backup_age()
    entry = {
        "recorded_at": timezone.now().isoformat(),
        "drill_at": drill["at"],
        "source": drill.get("source"),
        "rto_seconds": None if failed else drill["restore_seconds"],
        "rpo_seconds": None if failed else drill["backup_age_seconds"],
        "validated": False if failed else drill["validated"],
        "error": drill["error"]
        if failed
        else (
            None
            if drill["validated"]
            else f"{len(drill.get('mismatches') or [])} tables differ from the backup"
        ),
        "last_backup_age_seconds": round(age.total_seconds(), 1) if age else None,
    }
    status.update(recovery_metrics=entry)
    return entry
