"""Backup, restore, recovery drills and retention: what the management commands call.

Every function takes and returns plain data (manifests are dicts, as stored) and raises
BackupError with one line for the operator when something is wrong.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import itertools
import logging
import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import connections
from django.utils import timezone

from carshop.ops.backups import destination as destinations
from carshop.ops.backups import postgres, sqlite, status
from carshop.ops.backups.destination import MANIFEST_SUFFIX
from carshop.ops.backups.errors import BackupError
from carshop.ops.backups.util import (
    disk_error,
    gzip_file,
    pause_point,
    read_magic,
    remove_quietly,
    sha256_file,
)
from carshop.ops.toolkit import Progress, no_progress

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from types import ModuleType

    from carshop.ops.backups.destination import Destination


logger = logging.getLogger("carshop.backups")

TYPES = ("full", "incremental", "pre-update")
ENGINE_NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
MANIFEST_FORMAT = 1
INCREMENTAL_GZIP_LEVEL = 1


# --- the database a command works on -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Target:
    """A database: the live one (settings), or a scratch copy for a recovery drill."""

    vendor: str
    settings: dict

    @classmethod
    def live(cls, alias: str = "default") -> Target:
        connection = connections[alias]
        vendor = connection.vendor
        if vendor not in ENGINE_NAMES:
            raise BackupError(f"backups support PostgreSQL and SQLite, not {vendor}")
        return cls(vendor, dict(connection.settings_dict))

    @property
    def name(self) -> str:
        return str(self.settings["NAME"])

    @property
    def engine(self) -> ModuleType:
        return postgres if self.vendor == "postgresql" else sqlite

    def with_name(self, name: str) -> Target:
        return Target(self.vendor, {**self.settings, "NAME": name})

    def identity(self) -> tuple[str, ...]:
        if self.vendor == "sqlite":
            return ("sqlite", os.path.realpath(self.name))
        s = self.settings
        return ("postgresql", s.get("HOST") or "localhost", str(s.get("PORT") or 5432), self.name)

    def label(self) -> str:
        if self.vendor == "sqlite":
            return self.name
        return f"PostgreSQL database {self.name}"

    def has_tables(self) -> bool:
        if self.vendor == "sqlite":
            return sqlite.has_tables(self.name)
        return postgres.has_tables(self.settings)


def app_version() -> str:
    import subprocess
    import tomllib

    version = "unknown"
    root = settings.BASE_DIR
    try:
        with open(os.path.join(root, "pyproject.toml"), "rb") as handle:
            version = tomllib.load(handle)["project"]["version"]
    except (OSError, KeyError, ValueError):
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if commit.returncode == 0 and commit.stdout.strip():
            version += "+" + commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def new_backup_id(kind: str, now: datetime) -> str:
    return f"carshop-{now.astimezone(UTC):%Y%m%d-%H%M%S-%f}-{kind}"


def _data_name(backup_id: str, vendor: str, base_kind: str | None, compress: bool) -> str:
    if vendor == "postgresql":
        name = f"{backup_id}.dump" if base_kind == "full" else f"{backup_id}.inc.sql"
        return name + (".gz" if compress and base_kind != "full" else "")
    name = f"{backup_id}.sqlite3" if base_kind == "full" else f"{backup_id}.inc.sqlite3"
    return name + (".gz" if compress else "")


# --- finding backups ---------------------------------------------------------------------------


def read_manifest(place: Destination, name: str) -> dict[str, Any]:
    """A manifest, or a one-line BackupError naming the damaged file."""
    try:
        manifest = place.read_manifest(name)
    except FileNotFoundError:
        raise BackupError(f"the manifest {name} is missing from {place.label}") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise BackupError(f"the manifest {name} in {place.label} is damaged ({first})") from None
    if not (
        isinstance(manifest, dict)
        and manifest.get("id")
        and manifest.get("file")
        and manifest.get("created_at")
        and manifest.get("kind")
    ):
        raise BackupError(f"the manifest {name} in {place.label} is damaged (fields missing)")
    return manifest


_DATA_SUFFIXES = (
    ".dump",
    ".inc.sql",
    ".inc.sql.gz",
    ".sqlite3",
    ".sqlite3.gz",
    ".inc.sqlite3",
    ".inc.sqlite3.gz",
)


def _id_of_data_file(name: str) -> str | None:
    for suffix in sorted(_DATA_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _id_time(backup_id: str) -> str:
    """The time part of a backup id (carshop-YYYYmmdd-HHMMSS-ffffff-...): ids sort by it."""
    return backup_id[: len("carshop-20250101-000000-000000")]


def list_manifests(
    destination: Destination, problems: list[tuple[str, str]] | None = None
) -> list[dict[str, Any]]:
    """Every backup in a destination, oldest first. Manifests that cannot be read are left out;
    with `problems` (a list), each one, and each data file whose manifest is missing, is
    appended to it as (backup id, what is wrong)."""
    found = []
    names = destination.names()
    manifest_ids = set()
    for name in names:
        if not name.endswith(MANIFEST_SUFFIX):
            continue
        backup_id = name[: -len(MANIFEST_SUFFIX)]
        manifest_ids.add(backup_id)
        try:
            manifest = read_manifest(destination, name)
        except BackupError as exc:
            logger.warning("unreadable manifest", extra={"manifest": name, "error": str(exc)})
            if problems is not None:
                problems.append((backup_id, str(exc)))
            continue
        found.append(manifest)
    if problems is not None:
        for name in names:
            data_id = _id_of_data_file(name)
            if data_id and name.startswith("carshop-") and data_id not in manifest_ids:
                problems.append(
                    (data_id, f"the manifest of {name} is missing from {destination.label}")
                )
    return sorted(found, key=lambda m: (m["created_at"], m["id"]))


def _search_places(destination: Destination, hint: str | None = None) -> list:
    places = [destination]
    for extra in (
        destinations.from_hint(hint),
        destinations.default_destination(),
        destinations.from_hint((status.load().get("last_backup") or {}).get("location")),
    ):
        if extra is not None and extra.label not in {p.label for p in places}:
            places.append(extra)
    return places


def find_backup(
    backup_id: str, destination: Destination, hint: str | None = None
) -> tuple[None, None] | tuple:
    """(manifest, place) of a backup, or (None, None) when no place has it. A manifest that is
    there but damaged raises BackupError naming it."""
    for place in _search_places(destination, hint):
        name = backup_id + MANIFEST_SUFFIX
        if place.exists(name):
            return read_manifest(place, name), place
    return None, None


def resolve_source(source: str, destination: Destination | None = None) -> tuple:
    """`latest`, `latest-pre-update`, a folder (its newest backup), FOLDER/latest, a manifest or
    a backup file: the manifest and where it lives."""
    source = (source or "").strip()
    if source in ("latest", "latest-pre-update"):
        place = destination or destinations.default_destination()
        return _newest(place, pre_update_only=source == "latest-pre-update"), place
    path = os.path.abspath(os.path.expanduser(source))
    if os.path.basename(path) == "latest" and not os.path.exists(path):
        path = os.path.dirname(path)
    if os.path.isdir(path):
        place = destinations.LocalDestination(path)
        return _newest(place), place
    if not os.path.isfile(path):
        raise BackupError(
            f"no backup at {source}: give a manifest, a backup file, a folder or 'latest'"
        )
    place = destinations.LocalDestination(os.path.dirname(path))
    name = os.path.basename(path)
    if name.endswith(MANIFEST_SUFFIX):
        return read_manifest(place, name), place
    backup_id = _id_of_data_file(name)
    if backup_id and place.exists(backup_id + MANIFEST_SUFFIX):
        return read_manifest(place, backup_id + MANIFEST_SUFFIX), place
    for manifest in list_manifests(place):
        if manifest["file"]["name"] == name:
            return manifest, place
    raise BackupError(
        f"{source} has no manifest beside it: it cannot be verified, so it is not restored"
    )


def _newest(place: Destination, pre_update_only: bool = False) -> dict[str, Any]:
    """The newest backup of a place. Never quietly an older one: when a newer backup is there
    but damaged (its manifest unreadable or missing, or the last backup recorded is gone), this
    refuses, names it, and names the backup an operator can choose instead."""
    problems: list[Any] = []
    manifests = list_manifests(place, problems)
    candidates = [
        m
        for m in manifests
        if m["type"] != "safety" and (not pre_update_only or m["type"] == "pre-update")
    ]
    last = status.load().get("last_backup") or {}
    if (
        last.get("id")
        and last.get("location") == place.hint()
        and not any(m["id"] == last["id"] for m in manifests)
        and not any(backup_id == last["id"] for backup_id, _ in problems)
    ):
        problems.append(
            (
                last["id"],
                f"the last backup recorded ({last['id']}, finished "
                f"{last.get('finished_at')}) is missing from {place.label}",
            )
        )
    newest_time = _id_time(candidates[-1]["id"]) if candidates else ""
    newer = sorted(
        (
            p
            for p in problems
            if _id_time(p[0]) > newest_time
            and ("safety" not in p[0])
            and (not pre_update_only or "pre-update" in p[0])
        ),
        key=lambda p: _id_time(p[0]),
    )
    if newer:
        backup_id, what = newer[-1]
        raise BackupError(
            f"the newest backup {backup_id} is damaged: {what}; 'latest' will not "
            f"quietly mean an older backup: {_alternative(place, candidates)}"
        )
    if not candidates:
        what = "pre-update backup" if pre_update_only else "backup"
        raise BackupError(f"no {what} found in {place.label}")
    return candidates[-1]


def _alternative(
    place: Destination, candidates: list[dict[str, Any]], before: str | None = None
) -> str:
    """What the operator can choose instead of a damaged backup: an older one, by path."""
    older = [m for m in candidates if before is None or _id_time(m["id"]) < _id_time(before)]
    if not older:
        return (
            "no older backup is there to restore instead; repair the manifest or restore "
            "another folder's backup with --source PATH"
        )
    choice = older[-1]
    where = (
        os.path.join(place.label, choice["id"] + MANIFEST_SUFFIX)
        if isinstance(place, destinations.LocalDestination)
        else choice["id"]
    )
    return (
        f"to restore the older backup {choice['id']} ({choice['created_at']}) instead, "
        f"give it explicitly: --source {where}"
    )


def _chain_alternative(broken_id: str, place: Destination) -> str:
    """An older backup, before the broken link, that can be restored instead."""
    try:
        candidates = [m for m in list_manifests(place) if m["type"] != "safety"]
    except (OSError, BackupError):
        candidates = []
    return _alternative(place, candidates, before=broken_id)


def resolve_chain(manifest: dict[str, Any], place: Destination) -> list:
    """The full backup and the incrementals leading to `manifest`, oldest first."""
    chain = [(manifest, place)]
    seen = {manifest["id"]}
    while chain[0][0].get("parent"):
        child, child_place = chain[0]
        try:
            parent, parent_place = find_backup(
                child["parent"], child_place, child.get("parent_hint")
            )
        except BackupError as exc:
            raise BackupError(
                f"backup {manifest['id']} cannot be restored: {exc}; "
                f"{_chain_alternative(child['parent'], place)}"
            ) from None
        if parent is None:
            raise BackupError(
                f"backup {child['id']} needs {child['parent']}, whose manifest is "
                f"missing; {_chain_alternative(child['parent'], place)}"
            )
        if parent["id"] in seen:
            raise BackupError(f"backup chain of {manifest['id']} loops at {parent['id']}")
        seen.add(parent["id"])
        chain.insert(0, (parent, parent_place))
    if chain[0][0]["kind"] != "full":
        raise BackupError(f"backup chain of {manifest['id']} does not start with a full backup")
    return chain


# --- backup ------------------------------------------------------------------------------------

_HELD: set[tuple[str, ...]] = set()


@contextlib.contextmanager
def exclusive(target: Target) -> Iterator:
    """One backup or restore of a database at a time (cron runs that overlap, a restore during a
    backup): the second one stops with a clear message instead of interleaving."""
    key = target.identity()
    if key in _HELD:  # already ours (the safety backup inside a restore)
        yield
        return
    busy = BackupError(
        "another backup or restore of this database is running: try again when it has finished"
    )
    if target.vendor == "postgresql":
        conn = postgres.connect(target.settings, autocommit=True)
        try:
            with conn.cursor() as cursor:
                # A few seconds' grace: the session of a run that was just killed may take a
                # moment to end on the server.
                deadline = time.monotonic() + settings.BACKUP_LOCK_WAIT_SECONDS
                while True:
                    cursor.execute("SELECT pg_try_advisory_lock(hashtext('carshop_backup_run'))")
                    if cursor.fetchone()[0]:
                        break
                    if time.monotonic() >= deadline:
                        raise busy
                    time.sleep(0.2)
            _HELD.add(key)
            try:
                yield
            finally:
                _HELD.discard(key)
        finally:
            conn.close()  # ends the session, which releases the lock
        return
    import fcntl

    with open(target.name + ".backup-lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            fcntl.flock(lock, fcntl.LOCK_UN)


def create_backup(
    kind: str = "full",
    destination: Destination | None = None,
    compress: bool = False,
    now: datetime | None = None,
    target: Target | None = None,
    progress: Progress = no_progress,
    dry_run: bool = False,
    full_because: str | None = None,
) -> dict[str, Any]:
    """Take a backup; returns its manifest. kind: full, incremental, pre-update, or safety (a full
    backup taken before a restore, which leaves the incremental chain alone)."""
    target = target or Target.live()
    if dry_run:
        return _create_backup(
            kind, destination, compress, now, target, progress, True, full_because
        )
    with exclusive(target):
        return _create_backup(
            kind, destination, compress, now, target, progress, False, full_because
        )


def _create_backup(
    kind: str,
    destination: Destination | None,
    compress: bool,
    now: datetime | None,
    target: Target,
    progress: Progress,
    dry_run: bool,
    full_because: str | None,
) -> dict[str, Any]:
    destination = destination or destinations.default_destination()
    started = time.monotonic()
    # A caller that names the moment (scheduled runs replayed, drills) dates the backup by it.
    dated_by_caller = now is not None
    now = now or timezone.now()
    chain_backup = kind != "safety"
    # With the pgBackRest engine chosen, a logical backup is a copy of one database (a test
    # environment, a move): full, and it puts no change-capture trigger on any table.
    copy_only = target.vendor == "postgresql" and _pgbackrest_chosen()
    if copy_only and kind == "incremental":
        raise BackupError(
            "BACKUP_ENGINE is pgbackrest: incremental backups are pgBackRest's (backup "
            "--type=incremental); a logical copy of the database is always full"
        )
    base_kind = "incremental" if kind == "incremental" else "full"
    backup_id = new_backup_id(kind, now)
    engine = target.engine
    location = target.settings if target.vendor == "postgresql" else target.name

    parent = parent_place = None
    promoted = full_because
    if promoted:
        base_kind = "full"
        backup_id = new_backup_id("full", now)
    if base_kind == "incremental":
        parent, parent_place, promoted = _incremental_parent(
            target, destination, backup_id, dry_run
        )
        if promoted:
            base_kind = "full"
            backup_id = new_backup_id("full", now)
    full_check = parent is not None and _capture_check_due(parent, now)
    if dry_run:
        return {
            "id": backup_id,
            "type": kind,
            "kind": base_kind,
            "dry_run": True,
            "promoted_reason": promoted,
            "parent": parent["id"] if parent else None,
            "destination": destination.label,
            "engine": target.vendor,
        }

    destination.ensure()
    if chain_backup and base_kind == "full" and not copy_only:
        # Capture is installed before the snapshot, so that the chain can continue from this
        # backup; the database records this backup as its base only once it is stored.
        engine.prepare_capture(location)
    data_name = _data_name(backup_id, target.vendor, base_kind, compress)
    staged = destination.staging_path(data_name)
    raw = staged + ".raw"
    try:
        if base_kind == "full":
            if target.vendor == "postgresql":
                info = postgres.full_backup(target.settings, staged, compress, progress)
            else:
                info = sqlite.full_backup(
                    target.name, raw if compress else staged, progress, digest=not compress
                )
                if compress:
                    gzip_file(raw, staged)
                    remove_quietly(raw)
        elif target.vendor == "postgresql":
            # Incrementals are small and frequent: the fastest gzip level (a few percent bigger).
            options: dict[str, Any] = {"compresslevel": INCREMENTAL_GZIP_LEVEL} if compress else {}
            with (gzip.open if compress else open)(staged, "wb", **options) as handle:
                # An incremental has its parent (else _incremental_parent made it full).
                info = postgres.incremental_backup(
                    target.settings, handle, cast("dict[str, Any]", parent), progress, full_check
                )
        else:
            info = sqlite.incremental_backup(
                target.name,
                raw if compress else staged,
                cast("dict[str, Any]", parent),  # as above
                progress,
                full_check,
            )
            if compress:
                gzip_file(raw, staged, level=INCREMENTAL_GZIP_LEVEL)
                remove_quietly(raw)
        size = os.path.getsize(staged)
        digest = info.get("sha256") or sha256_file(staged)
        pause_point("backup-written")
        destination.commit(staged, data_name)
    except (postgres.NeedsFull, sqlite.NeedsFull) as reason:
        _remove_partial(staged, raw)
        if isinstance(reason, (postgres.CaptureBypassed, sqlite.CaptureBypassed)):
            # Loud: the chain's incrementals since the last full check may lack these changes.
            logger.warning(
                "changes bypassed change capture: incremental promoted to full",
                extra={"reason": str(reason)},
            )
        else:
            # The chain could not be continued after all (it changed while we looked).
            logger.info("incremental promoted to full", extra={"reason": str(reason)})
        return _create_backup(
            kind, destination, compress, None, target, progress, False, str(reason)
        )
    except OSError as exc:
        _remove_partial(staged, raw)
        raise disk_error(exc, destination.label) from None
    except BaseException:
        _remove_partial(staged, raw)
        raise

    finished = timezone.now()
    manifest = {
        "format": MANIFEST_FORMAT,
        "id": backup_id,
        "type": "full" if (promoted and kind == "incremental") else kind,
        "kind": base_kind,
        "requested_type": kind,
        "promoted_reason": promoted,
        "parent": parent["id"] if parent else None,
        "parent_hint": parent_place.hint() if parent_place else None,
        "chain": parent["chain"] if parent else backup_id,
        # The moment the backup's data is of (its snapshot), not when the command started: any
        # wait for a lock or another backup would otherwise be missing from the RPO.
        "created_at": (
            now.isoformat() if dated_by_caller else info.get("snapshot_at") or now.isoformat()
        ),
        "started_at": now.isoformat(),
        "finished_at": finished.isoformat(),
        "duration_seconds": round(time.monotonic() - started, 3),
        "engine": target.vendor,
        "server_version": info["server_version"],
        "database": os.path.basename(target.name) if target.vendor == "sqlite" else target.name,
        "app_version": app_version(),
        "migrations": info["migrations"],
        "schema_fingerprint": info["schema_fingerprint"],
        "tables": info["tables"],
        "checksum_scheme": engine.CHECKSUM_SCHEME,
        "changed_tables": info.get("changed_tables"),
        "capture": info["capture"],
        "capture_checked_at": _capture_checked_at(info, parent),
        "file": {
            "name": data_name,
            "size": size,
            "sha256": digest,
            "format": info["format"],
            "compressed": bool(compress),
        },
    }
    try:
        destination.write_manifest(manifest)
    except BackupError:
        destination.delete(data_name)
        raise
    if chain_backup and not copy_only:
        if target.vendor == "postgresql":
            postgres.confirm_backup(
                target.settings,
                backup_id,
                info["capture"]["snapshot"],
                info["capture"]["system_identifier"],
            )
        else:
            sqlite.confirm_backup(target.name, backup_id, info["capture"]["watermark"])
        status.update(
            last_backup={
                "id": backup_id,
                "type": manifest["type"],
                "kind": base_kind,
                "finished_at": manifest["finished_at"],
                "location": destination.hint(),
                "size": size,
                "duration_seconds": manifest["duration_seconds"],
            }
        )
    logger.info(
        "backup written",
        extra={"backup": backup_id, "size": size, "destination": destination.label},
    )
    return manifest


def _pgbackrest_chosen() -> bool:
    return str(getattr(settings, "BACKUP_ENGINE", "logical")).lower() == "pgbackrest"


def _capture_check_due(parent: Any, now: datetime) -> bool:
    """Whether this incremental compares every table's checksum with the chain's (a row count
    check is made every time): when the chain's last such check is BACKUP_CAPTURE_CHECK_HOURS
    old. It catches updates made with the capture triggers off, which leave counts alone."""
    hours = float(getattr(settings, "BACKUP_CAPTURE_CHECK_HOURS", 24))
    last = parent.get("capture_checked_at") or parent.get("created_at")
    try:
        checked = datetime.fromisoformat(last)
    except (TypeError, ValueError):
        return True
    return (now - checked).total_seconds() >= hours * 3600


def _capture_checked_at(info: dict[str, Any], parent: dict[str, Any] | None) -> str | None:
    if parent is None or info.get("capture_checked"):
        # A full backup's checksums are computed from the tables themselves.
        return info.get("snapshot_at")
    return parent.get("capture_checked_at") or parent.get("created_at")


def _remove_partial(*paths: str) -> None:
    """A failed backup's files, SQLite's journal of a copy cut short included."""
    for path in paths:
        remove_quietly(path, path + "-journal", path + "-wal", path + "-shm")


def _incremental_parent(
    target: Target, destination: Destination, backup_id: str, dry_run: bool
) -> tuple | tuple[None, None, str]:
    """(parent manifest, its place, None) or (None, None, why the backup must be full)."""
    location = target.settings if target.vendor == "postgresql" else target.name
    if dry_run:
        state = _peek_state(target)
        changed = disabled = []
    else:
        state, changed, disabled = target.engine.prepare_capture(location)
    if state is None:
        return None, None, "first backup of this database: change capture starts now"
    if not dry_run and disabled:
        shown = ", ".join(disabled[:3]) + (" ..." if len(disabled) > 3 else "")
        reason = (
            f"changes bypassed change capture: its triggers were disabled on "
            f"{len(disabled)} tables ({shown}); they are enabled again"
        )
        logger.warning(
            "changes bypassed change capture: incremental promoted to full",
            extra={"reason": reason},
        )
        return None, None, reason
    if changed:
        parent = None
        if state["backup_id"]:
            with contextlib.suppress(OSError, ValueError, BackupError):
                parent, _ = find_backup(state["backup_id"], destination)
        if parent is not None and _new_scheme(parent, target):
            # The triggers were re-made because they now keep the old rows' text as the new
            # scheme writes it: say so, rather than that they were missing.
            return None, None, _new_scheme(parent, target)
        return None, None, f"change capture was missing on {len(changed)} tables"
    if state["needs_full"]:
        return None, None, "migrations ran or the database was restored since the last backup"
    if not state["backup_id"]:
        return None, None, "no previous backup"
    try:
        parent, place = find_backup(state["backup_id"], destination)
    except BackupError as exc:
        return None, None, f"the previous backup cannot be continued: {exc}"
    if parent is None:
        return None, None, f"the previous backup {state['backup_id']} is not found"
    if parent.get("engine") != target.vendor:
        return None, None, "the previous backup is of another database engine"
    if _new_scheme(parent, target):
        return None, None, _new_scheme(parent, target)
    return parent, place, None


def _new_scheme(parent: dict[str, Any], target: Target) -> str | None:
    """Why `parent`'s checksums cannot be carried on (computed another way), or None."""
    if checksum_scheme(parent) == target.engine.CHECKSUM_SCHEME:
        return None
    return (
        f"table checksums are computed a new way (scheme {target.engine.CHECKSUM_SCHEME}; "
        f"the previous backup has scheme {checksum_scheme(parent)})"
    )


def checksum_scheme(manifest: dict[str, Any]) -> int:
    """How the manifest's table checksums were computed (see capture.sqlite_row_text); manifests
    written before there was a choice have none: scheme 1."""
    return manifest.get("checksum_scheme", 1)


def _peek_state(target: Target) -> dict | None:
    from carshop.ops.backups import capture

    if target.vendor == "postgresql":
        conn = postgres.connect(target.settings)
        try:
            with conn.cursor() as cur:
                return capture.read_state(cur, "postgresql")
        finally:
            conn.close()
    if not os.path.exists(target.name):
        return None
    conn = sqlite.connect(target.name)
    try:
        return capture.read_state(conn.cursor(), "sqlite")
    finally:
        conn.close()


# --- verification ------------------------------------------------------------------------------


def verify_chain(
    chain: list[tuple[dict[str, Any], Destination]], target: Target
) -> list[tuple[dict[str, Any], str, Destination]]:
    """Check everything before touching anything: engine, schema age, links, and every file's
    size and SHA-256. Returns [(manifest, local file)], local copies for remote storages."""
    last = chain[-1][0]
    engine_name = ENGINE_NAMES.get(target.vendor, target.vendor)
    for manifest, _ in chain:
        if manifest.get("engine") != target.vendor:
            # A manifest without an engine is named by its None.
            backup_engine = ENGINE_NAMES.get(manifest.get("engine"), manifest.get("engine"))  # type: ignore[arg-type]
            raise BackupError(
                f"backup {manifest['id']} is of a {backup_engine} database; this "
                f"database is {engine_name}: restore it on {backup_engine}"
            )
        if manifest.get("format", 0) > MANIFEST_FORMAT:
            raise BackupError(f"backup {manifest['id']} was written by a newer Carshop")
        _check_scheme(manifest, target)
    unknown = _unknown_migrations(last)
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise BackupError(
            f"backup {last['id']} has a newer schema than this code "
            f"({len(unknown)} unknown migrations: {shown}): deploy the release "
            "that made it, then restore"
        )
    for previous, current in itertools.pairwise(chain):
        if (
            current[0].get("parent") != previous[0]["id"]
            or current[0].get("chain") != chain[0][0]["id"]
        ):
            raise BackupError(f"backup {current[0]['id']} does not follow {previous[0]['id']}")
    local_files = []
    try:
        for manifest, place in chain:
            name = manifest["file"]["name"]
            if not place.exists(name):
                raise BackupError(f"backup file {name} is missing from {place.label}")
            local = place.local_file(name)
            local_files.append((manifest, local, place))
            size = os.path.getsize(local)
            if size != manifest["file"]["size"]:
                raise BackupError(
                    f"backup file {name} is damaged: {size} bytes, the manifest "
                    f"says {manifest['file']['size']} (truncated?)"
                )
            if sha256_file(local) != manifest["file"]["sha256"]:
                raise BackupError(
                    f"backup file {name} is damaged: its SHA-256 does not match the manifest"
                )
            _check_magic(manifest, local, target)
    except BaseException:
        release(local_files)
        raise
    return local_files


def _check_scheme(manifest: dict[str, Any], target: Target) -> None:
    if checksum_scheme(manifest) not in target.engine.CHECKSUM_SCHEMES:
        raise BackupError(
            f"backup {manifest['id']} has table checksums of a kind this code does "
            f"not know (scheme {checksum_scheme(manifest)}): it was written by a "
            "newer Carshop"
        )


def release(local_files: Iterable[tuple[dict[str, Any], str, Destination]]) -> None:
    for _manifest, local, place in local_files:
        place.release(local)


def _check_magic(manifest: dict[str, Any], local: str, target: Target) -> None:
    magic = read_magic(local)
    if manifest["kind"] == "full":
        expected = postgres.DUMP_MAGIC if target.vendor == "postgresql" else sqlite.FILE_MAGIC
        other = sqlite.FILE_MAGIC if target.vendor == "postgresql" else postgres.DUMP_MAGIC
        if magic.startswith(other):
            other_name = "SQLite" if target.vendor == "postgresql" else "PostgreSQL"
            raise BackupError(
                f"backup file {manifest['file']['name']} is a {other_name} "
                f"database; this database is {ENGINE_NAMES[target.vendor]}"
            )
        if not magic.startswith(expected):
            raise BackupError(
                f"backup file {manifest['file']['name']} is not a "
                f"{ENGINE_NAMES[target.vendor]} backup"
            )
        if target.vendor == "postgresql":
            postgres.refuse_large_objects(local)


def _unknown_migrations(manifest: dict[str, Any]) -> list:
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = {f"{app}.{name}" for app, name in loader.disk_migrations}
    return [
        f"{app}.{name}"
        for app, name in manifest.get("migrations", [])
        if f"{app}.{name}" not in known
    ]


# --- restore -----------------------------------------------------------------------------------


def plan_restore(
    source: str,
    destination: Destination | None = None,
    target: Target | None = None,
) -> tuple[Target, list[tuple[dict[str, Any], Destination]]]:
    target = target or Target.live()
    manifest, place = resolve_source(source, destination)
    chain = resolve_chain(manifest, place)
    return target, chain


def restore(
    source: str,
    destination: Destination | None = None,
    target: Target | None = None,
    safety_destination: Destination | None = None,
    dry_run: bool = False,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Verify the chain, take a safety backup of the current database, then restore the chain
    all-or-nothing. Returns a report."""
    target, chain = plan_restore(source, destination, target)
    started = time.monotonic()
    local_files = verify_chain(chain, target)
    report = {
        "source": chain[-1][0]["id"],
        "chain": [m["id"] for m, _ in chain],
        "target": target.label(),
        "backup_created_at": chain[-1][0]["created_at"],
        "verified_seconds": round(time.monotonic() - started, 3),
        "dry_run": dry_run,
        "safety_backup": None,
    }
    try:
        if dry_run:
            return report
        with exclusive(target):
            _safety_then_restore(target, local_files, report, safety_destination, progress)
    finally:
        release(local_files)
    report["total_seconds"] = round(time.monotonic() - started, 3)
    status.update(
        last_restore={
            "id": report["source"],
            "target": report["target"],
            "finished_at": timezone.now().isoformat(),
            "seconds": report["total_seconds"],
        }
    )
    logger.info("database restored", extra={"backup": report["source"], "target": report["target"]})
    return report


def _safety_then_restore(
    target: Target,
    local_files: list[Any],
    report: dict[str, Any],
    safety_destination: Destination | None,
    progress: Progress,
) -> None:
    pause_point("verified")
    connections.close_all()
    if target.has_tables():
        safety = create_backup("safety", safety_destination, target=target)
        report["safety_backup"] = safety["id"]
        report["safety_backup_destination"] = (
            safety_destination or destinations.default_destination()
        ).label
    pause_point("safety-backup-taken")
    restore_started = time.monotonic()
    connections.close_all()
    _restore_into(target, [(m, local) for m, local, _ in local_files], progress)
    report["restore_seconds"] = round(time.monotonic() - restore_started, 3)


def _restore_into(
    target: Target,
    chain: list[tuple[dict[str, Any], str]],
    progress: Progress = no_progress,
) -> None:
    if target.vendor == "postgresql":
        postgres.restore(target.settings, target.name, chain, progress)
    else:
        sqlite.restore(target.name, chain, progress)


# --- recovery drills ---------------------------------------------------------------------------


def scratch_target(value: str = "scratch", live: Target | None = None) -> Target:
    """The database a drill restores into: never the live one."""
    live = live or Target.live()
    value = (value or "scratch").strip()
    if value in ("scratch", "temp-server"):
        configured = getattr(settings, "BACKUP_SCRATCH_DATABASE", "")
        if live.vendor == "postgresql":
            target = live.with_name(configured or f"{live.name}_recovery")
        else:
            base, ext = os.path.splitext(live.name)
            target = live.with_name(configured or f"{base}.recovery{ext or '.sqlite3'}")
    else:
        from carshop.settings.env import db_url_config

        try:
            config = db_url_config(value, "CARSHOP_BACKUP_TARGET_URL")
        except Exception as exc:
            raise BackupError(f"--target: {exc}") from None
        vendor = (
            "sqlite"
            if config["ENGINE"].endswith("sqlite3")
            else ("postgresql" if "postgresql" in config["ENGINE"] else config["ENGINE"])
        )
        if vendor != live.vendor:
            raise BackupError(
                f"--target is {vendor}; backups of this database restore on "
                f"{ENGINE_NAMES[live.vendor]}"
            )
        target = Target(vendor, {**live.settings, **{k: v for k, v in config.items() if v}})
    if same_database(target, live):
        raise BackupError(
            "the recovery target is the live database: a drill never restores "
            "over it; name a scratch database"
        )
    return target


def same_database(one: Target, other: Target) -> bool:
    """Whether two targets are the same database, asking PostgreSQL servers when their names
    differ (also used by the test environments, which must never touch the live database)."""
    if one.identity() == other.identity():
        return True
    if one.vendor != "postgresql":
        return False
    # Host names differ (localhost, 127.0.0.1, a DNS alias): ask the servers themselves.
    facts = []
    for target in (one, other):
        try:
            conn = postgres.connect(target.settings)
        except BackupError:
            return False  # the target does not exist yet, so it is not the live database
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT (SELECT system_identifier FROM pg_control_system()), current_database()"
                )
                facts.append(cursor.fetchone())
        finally:
            conn.close()
    return facts[0] == facts[1]


def test_recovery(
    target_value: str = "scratch",
    source: str = "latest",
    destination: Destination | None = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Restore the newest chain into a scratch database and compare it with its manifest."""
    live = Target.live()
    target = scratch_target(target_value, live)
    manifest, place = resolve_source(source, destination)
    chain = resolve_chain(manifest, place)
    started = time.monotonic()
    local_files = verify_chain(chain, target)
    try:
        if target.vendor == "postgresql":
            # An existing scratch database is emptied by the restore itself (it drops every
            # object first), which is quicker than dropping and creating the database.
            if not postgres.database_exists(target.settings, target.name):
                postgres.create_database(target.settings, target.name)
        else:
            sqlite.clear_beside(target.name)
            remove_quietly(
                target.name, target.name + "-wal", target.name + "-shm", target.name + "-journal"
            )
        _restore_into(target, [(m, local) for m, local, _ in local_files], progress)
    finally:
        release(local_files)
    restore_seconds = round(time.monotonic() - started, 3)
    mismatches = compare(target, chain[-1][0])
    bypass = check_capture(live, destination)
    created = datetime.fromisoformat(chain[-1][0]["created_at"])
    drill = {
        "at": timezone.now().isoformat(),
        "source": chain[-1][0]["id"],
        "source_hint": place.hint(),
        "chain": [m["id"] for m, _ in chain],
        "target": target.label(),
        "target_name": target.name,
        "restore_seconds": restore_seconds,
        "backup_age_seconds": round((timezone.now() - created).total_seconds(), 1),
        "tables": len(chain[-1][0]["tables"]),
        "rows": sum(t["rows"] for t in chain[-1][0]["tables"].values()),
        "validated": not mismatches and not bypass,
        "mismatches": mismatches,
        "capture_bypassed": bypass,
    }
    status.update(last_drill=drill)
    return drill


def check_capture(live: Target, destination: Destination | None = None) -> str | None:
    """Whether the live database still is what its backup chain and change log say: disabled
    capture triggers, and every table's row count and checksum against the chain (changes made
    with session_replication_role = replica or with triggers off are in no backup). When not,
    the next backup is made full, and the reason is returned (None when all is well, or when
    there is nothing to check: no chain, or the next backup is full anyway)."""
    from carshop.ops.backups import capture

    state = _peek_state(live)
    if state is None or state["needs_full"] or not state["backup_id"]:
        return None
    try:
        parent, _ = find_backup(
            state["backup_id"], destination or destinations.default_destination()
        )
    except BackupError:
        return None
    if parent is None or _new_scheme(parent, live):
        return None
    reason = None
    if live.vendor == "postgresql":
        conn = postgres.connect(live.settings)
        try:
            with conn.cursor() as cur:
                disabled = capture.pg_disabled_triggers(cur)
        finally:
            conn.close()
        if disabled:
            reason = (
                f"changes bypassed change capture: its triggers are disabled on "
                f"{len(disabled)} tables ({', '.join(disabled[:3])})"
            )
        else:
            try:
                postgres.incremental_backup(live.settings, _Discard(), parent, full_check=True)
            except postgres.CaptureBypassed as exc:
                reason = str(exc)
            except postgres.NeedsFull:
                return None
    else:
        import tempfile

        folder = tempfile.mkdtemp(prefix="carshop-capture-check-")
        try:
            sqlite.incremental_backup(
                live.name, os.path.join(folder, "check.sqlite3"), parent, full_check=True
            )
        except sqlite.CaptureBypassed as exc:
            reason = str(exc)
        except sqlite.NeedsFull:
            return None
        finally:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    if reason:
        logger.warning(
            "changes bypassed change capture: the next backup will be full",
            extra={"reason": reason},
        )
        _mark_needs_full(live, reason)
    return reason


class _Discard:
    """A file that forgets what is written to it."""

    def write(self, data: bytes) -> int:
        return len(data)


def _mark_needs_full(target: Target, reason: str) -> None:
    from carshop.ops.backups import capture

    if target.vendor == "postgresql":
        conn = postgres.connect(target.settings)
        try:
            with conn, conn.cursor() as cur:
                capture.mark_needs_full(cur, "postgresql", reason)
        finally:
            conn.close()
        return
    conn = sqlite.connect(target.name)
    try:
        capture.mark_needs_full(conn.cursor(), "sqlite", reason)
    finally:
        conn.close()


def compare(target: Target, manifest: dict[str, Any]) -> list:
    """Row counts and checksums of every table of `target` against the manifest."""
    _check_scheme(manifest, target)
    if target.vendor == "postgresql":
        found = postgres.compare(target.settings, target.name)
    else:
        if not os.path.exists(target.name):
            raise BackupError(f"{target.name} does not exist: run test_recovery first")
        found = sqlite.compare(target.name, checksum_scheme(manifest))
    mismatches = []
    for name in sorted(set(found) | set(manifest["tables"])):
        expected, actual = manifest["tables"].get(name), found.get(name)
        if expected != actual:
            mismatches.append({"table": name, "expected": expected, "found": actual})
    return mismatches


def validate_restoration(
    target_value: str = "scratch", source: str | None = None, destination: Destination | None = None
) -> dict:
    live = Target.live()
    target = scratch_target(target_value, live)
    if target.vendor == "postgresql" and not postgres.database_exists(target.settings, target.name):
        raise BackupError(f"{target.label()} does not exist: run test_recovery first")
    drill = status.load().get("last_drill") or {}
    if source:
        manifest, _ = resolve_source(source, destination)
    elif drill.get("source") and drill.get("target_name") == target.name:
        manifest, _ = find_backup(
            drill["source"],
            destination or destinations.default_destination(),
            drill.get("source_hint"),
        )
        if manifest is None:
            raise BackupError(f"backup {drill['source']} of the last drill is gone")
    else:
        manifest, _ = resolve_source("latest", destination)
    mismatches = compare(target, manifest)
    result = {
        "target": target.label(),
        "source": manifest["id"],
        "tables": len(manifest["tables"]),
        "validated": not mismatches,
        "mismatches": mismatches,
        "at": timezone.now().isoformat(),
    }
    if drill.get("source") == manifest["id"] and drill.get("target_name") == target.name:
        status.update(
            last_drill={
                **drill,
                "validated": not mismatches,
                "mismatches": mismatches,
                "validated_at": result["at"],
            }
        )
    return result


def record_recovery_metrics() -> dict:
    data = status.load()
    drill = data.get("last_drill")
    if not drill:
        raise BackupError("no recovery drill recorded: run test_recovery first")
    age = status.last_backup_age()
    entry = {
        "recorded_at": timezone.now().isoformat(),
        "drill_at": drill["at"],
        "source": drill["source"],
        "rto_seconds": drill["restore_seconds"],
        "rpo_seconds": drill["backup_age_seconds"],
        "validated": drill["validated"],
        "last_backup_age_seconds": round(age.total_seconds(), 1) if age else None,
    }
    status.update(recovery_metrics=entry)
    return entry


# --- retention ---------------------------------------------------------------------------------


def retention_plan(
    manifests: list[dict[str, Any]],
    now: datetime,
    daily: int,
    weekly: int,
    monthly: int,
    live_backup_id: Any = None,
) -> tuple[set[str], dict[str, list[str]]]:
    """Which backups to keep: the newest restore point of each of the last `daily` days,
    `weekly` ISO weeks and `monthly` months that have backups; the whole newest chain; the chain
    the database continues (live_backup_id); the newest pre-update and safety backups; and every
    ancestor of what is kept. Returns (keep ids, {id: reason})."""
    by_id = {m["id"]: m for m in manifests}
    points = sorted(
        (m for m in manifests if m["type"] != "safety"),
        key=lambda m: (m["created_at"], m["id"]),
        reverse=True,
    )
    tz = timezone.get_current_timezone()
    reasons: dict[Any, Any] = {}

    def local(m: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(m["created_at"]).astimezone(tz)

    for label, count, key in (
        ("daily", daily, lambda d: d.date()),
        ("weekly", weekly, lambda d: d.isocalendar()[:2]),
        ("monthly", monthly, lambda d: (d.year, d.month)),
    ):
        periods: list[Any] = []
        for manifest in points:
            period = key(local(manifest))
            if period in periods:
                continue
            if len(periods) >= count:
                break
            periods.append(period)
            reasons.setdefault(manifest["id"], f"{label} {period}")
    if points:
        newest_chain = points[0]["chain"]
        for manifest in manifests:
            if manifest["chain"] == newest_chain:
                reasons.setdefault(manifest["id"], "newest chain")
    if live_backup_id and live_backup_id in by_id:
        live_chain = by_id[live_backup_id]["chain"]
        for manifest in manifests:
            if (
                manifest["chain"] == live_chain
                and manifest["created_at"] <= by_id[live_backup_id]["created_at"]
            ):
                reasons.setdefault(manifest["id"], "chain the database continues")
    for kind in ("pre-update", "safety"):
        newest = [m for m in manifests if m["type"] == kind]
        if newest:
            latest = max(newest, key=lambda m: (m["created_at"], m["id"]))
            reasons.setdefault(latest["id"], f"newest {kind} backup")
    for backup_id in list(reasons):
        parent = by_id[backup_id].get("parent")
        while parent and parent in by_id:
            reasons.setdefault(parent, f"needed by {backup_id}")
            parent = by_id[parent].get("parent")
    return set(reasons), reasons


def prune(
    destination: Destination | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    destination = destination or destinations.default_destination()
    now = now or timezone.now()
    manifests = list_manifests(destination)
    live_id = None
    try:
        state = _peek_state(Target.live())
        live_id = state and state.get("backup_id")
    except Exception:
        live_id = None
    keep, reasons = retention_plan(
        manifests,
        now,
        settings.BACKUP_KEEP_DAILY,
        settings.BACKUP_KEEP_WEEKLY,
        settings.BACKUP_KEEP_MONTHLY,
        live_id,
    )
    deleted = []
    for manifest in manifests:
        if manifest["id"] in keep:
            continue
        deleted.append(
            {
                "id": manifest["id"],
                "type": manifest["type"],
                "created_at": manifest["created_at"],
                "size": manifest["file"].get("size", 0),
            }
        )
        if not dry_run:
            # Manifest first: a crash in between leaves a stray data file, never a manifest
            # that points at nothing.
            destination.delete(manifest["id"] + MANIFEST_SUFFIX)
            destination.delete(manifest["file"]["name"])
    stray = _stray_files(destination, manifests, now)
    if not dry_run:
        for name in stray:
            destination.delete(name)
    return {
        "destination": destination.label,
        "kept": [
            {"id": m["id"], "type": m["type"], "reason": reasons[m["id"]]}
            for m in manifests
            if m["id"] in keep
        ],
        "deleted": deleted,
        "stray_files_deleted": stray,
        "freed_bytes": sum(d["size"] for d in deleted),
        "dry_run": dry_run,
    }


def _stray_files(destination: Destination, manifests: list[dict[str, Any]], now: datetime) -> list:
    """Leftovers of interrupted backups, a day old or more: data files no manifest names."""
    named = {m["file"]["name"] for m in manifests} | {m["id"] + MANIFEST_SUFFIX for m in manifests}
    cutoff = now.timestamp() - 86400
    stray = []
    for name in destination.names():
        if name in named or not name.startswith("carshop-"):
            continue
        if destination.modified(name) and destination.modified(name) < cutoff:
            stray.append(name)
    return stray
