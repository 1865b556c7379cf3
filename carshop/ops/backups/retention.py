"""Backup retention over every folder the product writes backups to.

The scheduled backups (deploy/scheduled-backup.sh, the guide's Backup Procedures) write each run
into a folder of its own: `BACKUP_DIR/daily/YYYYMMDD`, `BACKUP_DIR/weekly/YYYYMMDD` and
`BACKUP_DIR/monthly/YYYYMM`; pre-update and safety backups go to `BACKUP_DIR` itself. An
incremental in a daily folder continues a chain whose full backup is in a weekly folder, so the
policy (carshop.ops.backups.service.retention_plan) must judge all of them together: judged
folder by folder, every folder holds one backup, which is always "the newest" and never deleted,
and a chain that crosses folders is invisible.

Only these folders are read: a backup tree may hold other trees (staging's
`/var/backups/carapp/staging` sits inside production's), which are not this database's backups.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.utils import timezone

from carshop.ops.backups import destination as destinations
from carshop.ops.backups import service
from carshop.ops.backups.destination import MANIFEST_SUFFIX

if TYPE_CHECKING:
    from datetime import datetime

    from carshop.ops.backups.destination import LocalDestination, StorageDestination

    Destination = LocalDestination | StorageDestination

# The folders of BACKUP_DIR that deploy/scheduled-backup.sh writes into, one sub-folder per run.
SCHEDULED_FOLDERS = ("daily", "weekly", "monthly")


def places(root: Destination) -> list[Destination]:
    """The root destination and every per-run folder of the scheduled backups under it."""
    found = [root]
    if isinstance(root, destinations.LocalDestination):
        for kind in SCHEDULED_FOLDERS:
            folder = root.path / kind
            if folder.is_dir():
                found += [
                    destinations.LocalDestination(folder / name)
                    for name in sorted(os.listdir(folder))
                    if (folder / name).is_dir()
                ]
    return found


def tree_root(destination: LocalDestination) -> LocalDestination:
    """The backup tree a destination belongs to: `ROOT/daily/20261201` belongs to ROOT."""
    if isinstance(destination, destinations.LocalDestination):
        parent = destination.path.parent
        if parent.name in SCHEDULED_FOLDERS:
            return destinations.LocalDestination(parent.parent)
    return destination


def _live_backup_id() -> Any:
    try:
        state = service._peek_state(service.Target.live())
    except Exception:  # no database yet, no capture tables: no live chain to protect
        return None
    return state and state.get("backup_id")


def prune(
    root: Destination | None = None, dry_run: bool = False, now: datetime | None = None
) -> dict[str, Any]:
    """Apply the retention policy to every backup of the tree at `root` (default: BACKUP_DIR).
    Deletes a backup's manifest before its data (a crash leaves a stray file, never a manifest
    pointing at nothing), removes per-run folders left empty, and leftovers of interrupted
    backups older than a day."""
    root = root or destinations.default_destination()
    now = now or timezone.now()
    folders = places(root)
    where = {}
    manifests = []
    for place in folders:
        for manifest in service.list_manifests(place):
            if manifest["id"] in where:  # the same backup copied into two folders: judge once
                continue
            where[manifest["id"]] = place
            manifests.append(manifest)
    manifests.sort(key=lambda m: (m["created_at"], m["id"]))
    keep, reasons = service.retention_plan(
        manifests,
        now,
        settings.BACKUP_KEEP_DAILY,
        settings.BACKUP_KEEP_WEEKLY,
        settings.BACKUP_KEEP_MONTHLY,
        _live_backup_id(),
    )
    deleted = []
    for manifest in manifests:
        if manifest["id"] in keep:
            continue
        place = where[manifest["id"]]
        deleted.append(
            {
                "id": manifest["id"],
                "type": manifest["type"],
                "created_at": manifest["created_at"],
                "location": place.label,
                "size": manifest["file"].get("size", 0),
            }
        )
        if not dry_run:
            place.delete(manifest["id"] + MANIFEST_SUFFIX)
            place.delete(manifest["file"]["name"])
    stray = []
    for place in folders:
        in_place = [m for m in manifests if where[m["id"]] is place]
        names = service._stray_files(place, in_place, now)
        stray += [_label(place, root, name) for name in names]
        if not dry_run:
            for name in names:
                place.delete(name)
    removed_folders = [] if dry_run else _remove_empty_run_folders(folders[1:])
    return {
        "destination": root.label,
        "folders": [place.label for place in folders],
        "kept": [
            {
                "id": m["id"],
                "type": m["type"],
                "location": where[m["id"]].label,
                "reason": reasons[m["id"]],
            }
            for m in manifests
            if m["id"] in keep
        ],
        "deleted": deleted,
        "stray_files_deleted": stray,
        "empty_folders_removed": removed_folders,
        "freed_bytes": sum(d["size"] for d in deleted),
        "dry_run": dry_run,
    }


def _label(place: Destination, root: Destination, name: str) -> str:
    if isinstance(place, destinations.LocalDestination) and place is not root:
        return str(Path(place.label) / name)
    return name


def _remove_empty_run_folders(run_folders: list[Destination]) -> list[str]:
    removed = []
    for place in run_folders:
        if not place.names():
            try:
                cast("LocalDestination", place).path.rmdir()  # run folders are local
            except OSError:  # a backup is being written into it right now
                continue
            removed.append(place.label)
    return removed
