"""The pgBackRest engine (BACKUP_ENGINE=pgbackrest, PostgreSQL only): physical backups of the
whole server and continuous WAL archiving, so that a restore can reach any moment the archive
covers and nothing sits on the write path (no change-capture trigger on any table).

What the commands do with it (docs/backups.md):
- backup: `pgbackrest backup` of the stanza: full, incremental (incr) or, for pre-update, a
  differential (diff), annotated with the type so that `restore --source latest-pre-update`
  finds it. WAL is archived continuously by PostgreSQL's archive_command.
- restore: latest (every archived change), a named backup (its label) or a moment (--to).
  All-or-nothing, and nothing is touched before the restore is known to work:
  1. the archive is checked for a gap in the WAL from the chosen backup on;
  2. a safety backup of the current server is taken (when it runs);
  3. pgBackRest restores into a staged folder beside the data directory (it checks every file
     against the backup's checksums: a damaged backup fails here);
  4. a private server on the staged folder replays the WAL up to the target and is promoted
     (a damaged or missing segment, or a target the archive does not reach, fails here);
  5. only then: the live server is stopped, its data directory set aside, the staged one put in
     its place, the server started. A run killed in step 5 is finished or undone by the next
     `restore` (recover_interrupted); until the new server is up, the old directory is kept.
- test_recovery: steps 3 and 4 into a drill folder on the scratch port; every table is read.
- prune_backups: `pgbackrest expire` (the repository's retention settings).
- health_check: WAL archiving failing or falling behind (BACKUP_WAL_MAX_LAG_SECONDS).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pwd
import re
import shlex
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from carshop.ops.backups.errors import BackupError
from carshop.ops.backups.util import pause_point
from carshop.ops.toolkit import Progress, no_progress

KIND = {"full": "full", "incremental": "incr", "pre-update": "diff", "safety": "incr"}
SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(?:-[0-9a-f]{40})?(?:\.\w+)?$")
SEGMENTS_PER_LOG = 0x100  # 16 MB segments: 256 per 4 GB "log" file number
STAGED_SUFFIX = ".restoring"
PREVIOUS_SUFFIX = ".previous"


def selected() -> bool:
    """Whether backups of this installation use pgBackRest."""
    engine = str(getattr(settings, "BACKUP_ENGINE", "logical") or "logical").lower()
    if engine not in ("logical", "pgbackrest"):
        raise BackupError(f"BACKUP_ENGINE is {engine!r}: use logical or pgbackrest")
    if engine == "pgbackrest":
        from django.db import connections

        if connections["default"].vendor != "postgresql":
            raise BackupError("BACKUP_ENGINE=pgbackrest needs PostgreSQL; SQLite uses logical")
        return True
    return False


# --- set-up: which stanza, which server, as whom -----------------------------------------------


@dataclasses.dataclass(frozen=True)
class Setup:
    stanza: str
    config: str
    user: str
    pgdata: str
    start_command: str
    stop_command: str
    bin_dir: str
    scratch_port: int
    database: dict[str, Any]

    @classmethod
    def from_settings(cls) -> Setup:
        from django.db import connections

        database = dict(connections["default"].settings_dict)
        pgdata = settings.BACKUP_PG_DATA or _ask_data_directory(database)
        return cls(
            stanza=settings.BACKUP_PGBACKREST_STANZA,
            config=settings.BACKUP_PGBACKREST_CONFIG,
            user=settings.BACKUP_PGBACKREST_USER,
            pgdata=pgdata.rstrip("/"),
            start_command=settings.BACKUP_PG_START_COMMAND,
            stop_command=settings.BACKUP_PG_STOP_COMMAND,
            bin_dir=settings.BACKUP_PG_BIN_DIR,
            scratch_port=settings.BACKUP_PGBACKREST_SCRATCH_PORT,
            database=database,
        )

    @property
    def staged(self) -> str:
        return self.pgdata + STAGED_SUFFIX

    @property
    def previous(self) -> str:
        return self.pgdata + PREVIOUS_SUFFIX

    @property
    def drill(self) -> str:
        return self.pgdata + ".drill"

    def pg_ctl(self) -> str:
        return os.path.join(self.bin_dir, "pg_ctl") if self.bin_dir else "pg_ctl"

    def as_owner(self, argv: list[str]) -> list[str]:
        """argv run as the data directory's owner (BACKUP_PGBACKREST_USER)."""
        me = pwd.getpwuid(os.geteuid()).pw_name
        if not self.user or self.user == me:
            return argv
        if os.geteuid() == 0:
            return ["runuser", "-u", self.user, "--", *argv]
        return ["sudo", "-n", "-u", self.user, *argv]

    def command(self, template: str, default: list[str]) -> list[str]:
        if not template:
            return self.as_owner(default)
        return self.as_owner(shlex.split(template.replace("{pgdata}", self.pgdata)))


def _ask_data_directory(database: dict[str, Any]) -> str:
    from carshop.ops.backups import postgres

    try:
        conn = postgres.connect(database)
    except BackupError:
        raise BackupError(
            "the server is down and BACKUP_PG_DATA is not set: set it to the data directory"
        ) from None
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            return str(cursor.fetchone()[0])
    finally:
        conn.close()


def run(setup: Setup, *args: str, timeout: float | None = None) -> str:
    """Run pgbackrest as the data directory's owner; its error as one line on failure."""
    argv = ["pgbackrest", f"--stanza={setup.stanza}"]
    if setup.config:
        argv.append(f"--config={setup.config}")
    try:
        result = subprocess.run(
            setup.as_owner([*argv, *args]),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            cwd="/",
        )
    except FileNotFoundError:
        raise BackupError(
            "pgbackrest is not installed (Debian: apt-get install pgbackrest)"
        ) from None
    if result.returncode != 0:
        raise BackupError(f"pgbackrest {args[0]} failed: {_error_line(result)}")
    return result.stdout


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    first = next((n for n, line in enumerate(lines) if "ERROR:" in line), None)
    if first is None:
        errors = [line for line in lines if "error" in line.lower()]
        return (errors or lines or [f"exit status {result.returncode}"])[-1]
    # pgBackRest's error and the lines that go with it (HINT:, the cause).
    text = " ".join(lines[first : first + 4])
    return re.sub(r"^.*?(ERROR: )", r"\1", text)[:600]


def info(setup: Setup) -> dict[str, Any]:
    stanzas = json.loads(run(setup, "info", "--output=json") or "[]")
    if not stanzas:
        raise BackupError(f"pgBackRest knows no stanza {setup.stanza}")
    return stanzas[0]


def backups(setup: Setup) -> list[dict[str, Any]]:
    """The stanza's backups, oldest first, each with `carshop_type` (its annotation)."""
    found = []
    for entry in info(setup).get("backup", []):
        annotation = entry.get("annotation") or {}
        entry["carshop_type"] = annotation.get("carshop-type") or {
            "full": "full",
            "incr": "incremental",
            "diff": "pre-update",
        }.get(entry["type"], entry["type"])
        found.append(entry)
    return found


def _moment(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


# --- server control ----------------------------------------------------------------------------


def server_running(setup: Setup) -> bool:
    from carshop.ops.backups import postgres

    try:
        conn = postgres.connect(setup.database, "postgres")
    except BackupError:
        return False
    conn.close()
    return True


def _control(setup: Setup, action: str) -> None:
    if action == "start":
        command = setup.command(
            setup.start_command,
            [setup.pg_ctl(), "-D", setup.pgdata, "-w", "-t", "3600", "-l",
             os.path.join(setup.pgdata, "startup.log"), "start"],
        )  # fmt: skip
    else:
        command = setup.command(
            setup.stop_command, [setup.pg_ctl(), "-D", setup.pgdata, "-w", "-m", "fast", "stop"]
        )
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
    if result.returncode != 0:
        raise BackupError(f"could not {action} the PostgreSQL server: {_error_line(result)}")


def _files_argv(setup: Setup, verb: str, *paths: str) -> list[str]:
    """The file operations on the data directory and the directories beside it run as its
    owner through one program (BACKUP_PGDATA_FILES, carshop/ops/backups/pgdata-files), which
    refuses any other path: the sudoers rule names it with the data directory fixed."""
    return setup.as_owner([settings.BACKUP_PGDATA_FILES, setup.pgdata, verb, *paths])


def _files(setup: Setup, verb: str, *paths: str) -> None:
    result = subprocess.run(
        _files_argv(setup, verb, *paths), capture_output=True, text=True, check=False, cwd="/"
    )
    if result.returncode != 0:
        raise BackupError(f"{verb} {' '.join(paths)} failed: {_error_line(result)}")


def _exists(setup: Setup, path: str) -> bool:
    # The data directory's parent may not be readable by this user: ask as its owner.
    result = subprocess.run(
        _files_argv(setup, "exists", path), capture_output=True, check=False, cwd="/"
    )
    return result.returncode == 0


# --- backup ------------------------------------------------------------------------------------


def create_backup(kind: str, now: datetime | None = None, progress: Progress = no_progress) -> dict:
    """A pgBackRest backup of the stanza; returns what the backup command reports."""
    setup = Setup.from_settings()
    recover_interrupted(setup)
    if kind not in KIND:
        raise BackupError(f"unknown backup type {kind}")
    started = time.monotonic()
    now = now or timezone.now()
    _drop_capture(setup)
    progress(f"pgBackRest {KIND[kind]} backup of stanza {setup.stanza}")
    before = {b["label"] for b in backups(setup)}
    try:
        run(setup, "backup", f"--type={KIND[kind]}", f"--annotation=carshop-type={kind}")
    except BackupError as exc:
        problem = None
        with contextlib.suppress(Exception):
            problem = archiving_problem(setup.database, now_too=True)
        raise BackupError(f"{exc}{'; ' + problem if problem else ''}") from None
    made = [b for b in backups(setup) if b["label"] not in before]
    if not made:
        raise BackupError("pgbackrest backup reported success but no new backup is listed")
    entry = made[-1]
    report = {
        "id": entry["label"],
        "type": kind,
        "kind": entry["type"],
        "engine": "pgbackrest",
        "stanza": setup.stanza,
        "parent": entry.get("prior"),
        "created_at": _moment(entry["timestamp"]["stop"]).isoformat(),
        "started_at": now.isoformat(),
        "finished_at": timezone.now().isoformat(),
        "duration_seconds": round(time.monotonic() - started, 3),
        "size": entry["info"]["repository"]["delta"],
        "database_size": entry["info"]["size"],
        "wal": entry["archive"],
    }
    if kind != "safety":
        from carshop.ops.backups import status

        status.update(
            last_backup={
                "id": report["id"],
                "type": kind,
                "kind": report["kind"],
                "finished_at": report["finished_at"],
                "location": f"pgbackrest:{setup.stanza}",
                "size": report["size"],
                "duration_seconds": report["duration_seconds"],
            }
        )
    return report


def _drop_capture(setup: Setup) -> None:
    """With pgBackRest chosen, no change-capture trigger sits on any table."""
    from carshop.ops.backups import capture, postgres

    conn = postgres.connect(setup.database)
    try:
        with conn, conn.cursor() as cursor:
            if capture.is_installed(cursor, "postgresql"):
                capture.uninstall(cursor, "postgresql")
    finally:
        conn.close()


# --- choosing and checking what to restore -----------------------------------------------------


def parse_moment(value: str) -> datetime:
    """--to: an ISO date and time; without a zone, the installation's TIME_ZONE."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BackupError(
            f'--to {value!r} is not a date and time: use "YYYY-MM-DD HH:MM:SS"'
        ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


def choose(setup: Setup, source: str, to: datetime | None) -> dict[str, Any]:
    """The backup a restore starts from."""
    found = [b for b in backups(setup) if not b.get("error")]
    if not found:
        raise BackupError(f"pgBackRest stanza {setup.stanza} has no backup to restore")
    if to is not None:
        if to > timezone.now():
            raise BackupError(f"--to {to.isoformat()} is in the future")
        before = [b for b in found if _moment(b["timestamp"]["stop"]) <= to]
        if source not in ("latest", "", None):
            before = [b for b in before if b["label"] == source]
        if not before:
            oldest = _moment(found[0]["timestamp"]["stop"]).isoformat()
            raise BackupError(
                f"no backup finished before {to.isoformat()}: the oldest restorable moment "
                f"is {oldest}"
            )
        return before[-1]
    if source in ("latest", "", None):
        return found[-1]
    if source == "latest-pre-update":
        pre = [b for b in found if b["carshop_type"] == "pre-update"]
        if not pre:
            raise BackupError("no pre-update backup in the pgBackRest repository")
        return pre[-1]
    for entry in found:
        if entry["label"] == source:
            return entry
    labels = ", ".join(b["label"] for b in found[-5:])
    raise BackupError(f"no pgBackRest backup {source} (the newest: {labels})")


def _segment_number(name: str) -> tuple[int, int] | None:
    match = SEGMENT.match(name)
    if not match:
        return None
    timeline, log, seg = (int(part, 16) for part in match.groups())
    return timeline, log * SEGMENTS_PER_LOG + seg


def check_wal(setup: Setup, backup: dict[str, Any]) -> int:
    """Refuse a restore whose WAL has a gap: every segment from the backup's first on must be in
    the archive (on the backup's timeline or a later one). Returns the newest segment number."""
    listing = json.loads(
        run(setup, "repo-ls", f"archive/{setup.stanza}", "--recurse", "--output=json") or "{}"
    )
    start = _segment_number(backup["archive"]["start"])
    if start is None:
        raise BackupError(f"backup {backup['label']} names no WAL segment")
    present: set[int] = set()
    for path, entry in listing.items():
        if entry.get("type") != "file":
            continue
        number = _segment_number(os.path.basename(path))
        if number and number[0] >= start[0] and "." not in os.path.basename(path).split("-")[0]:
            present.add(number[1])
    newest = max(present, default=start[1])
    missing = [n for n in range(start[1], newest + 1) if n not in present]
    if missing:
        first = missing[0]
        name = f"{start[0]:08X}{first // SEGMENTS_PER_LOG:08X}{first % SEGMENTS_PER_LOG:08X}"
        raise BackupError(
            f"the WAL archive has a gap after backup {backup['label']}: segment {name} "
            f"({len(missing)} segments in all) is missing, so no restore past it is possible; "
            "nothing was changed (take a full backup now)"
        )
    return newest


# --- restore -----------------------------------------------------------------------------------


def recover_interrupted(setup: Setup) -> str | None:
    """Finish or undo a restore killed while it swapped data directories. Until the restored
    server has started, the set-aside directory is the database: put it back."""
    if _exists(setup, setup.previous):
        if _exists(setup, setup.pgdata):
            # The swap was done; the restore is complete once its server started.
            if server_running(setup):
                _files(setup, "remove", setup.previous)
                return "completed"
            _files(setup, "remove", setup.pgdata + ".failed")
            _files(setup, "move", setup.pgdata, setup.pgdata + ".failed")
        _files(setup, "move", setup.previous, setup.pgdata)
        _files(setup, "remove", setup.pgdata + ".failed")
        return "undone"
    if _exists(setup, setup.staged):
        _files(setup, "remove", setup.staged)
    return None


def restore(
    source: str = "latest",
    to: str | None = None,
    dry_run: bool = False,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    setup = Setup.from_settings()
    interrupted = recover_interrupted(setup)
    moment = parse_moment(to) if to else None
    chosen = choose(setup, source, moment)
    started = time.monotonic()
    check_wal(setup, chosen)
    report: dict[str, Any] = {
        "engine": "pgbackrest",
        "source": chosen["label"],
        "chain": [*(chosen.get("reference") or []), chosen["label"]],
        "target": f"PostgreSQL server {setup.pgdata}",
        "to": moment.isoformat() if moment else ("latest" if source == "latest" else "backup"),
        "backup_created_at": _moment(chosen["timestamp"]["stop"]).isoformat(),
        "dry_run": dry_run,
        "safety_backup": None,
        "interrupted_restore": interrupted,
    }
    if dry_run:
        report["verified_seconds"] = round(time.monotonic() - started, 3)
        return report
    pause_point("verified")
    running = server_running(setup)
    if running:
        safety = create_backup("safety", progress=progress)
        report["safety_backup"] = safety["id"]
        report["safety_backup_destination"] = f"pgbackrest:{setup.stanza}"
    pause_point("safety-backup-taken")
    recovery = ["--type=default"]
    if moment is not None:
        target = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        recovery = ["--type=time", f"--target={target}", "--target-action=promote"]
    elif source not in ("latest", "", None):
        recovery = ["--type=immediate", "--target-action=promote"]
    restore_started = time.monotonic()
    try:
        progress(f"restoring backup {chosen['label']} into {setup.staged}")
        _restore_staged(setup, setup.staged, chosen, recovery, copy_wal=not running)
        pause_point("staged")
        replay = _replay(setup, setup.staged, archive=True, progress=progress)
        report["recovered_to"] = replay["last_transaction_at"]
        _files(setup, "remove", setup.staged + ".log")
        if moment is None and source in ("latest", "", None):
            _check_reached_end(setup, replay, chosen)
        if running:
            progress("stopping the server")
            _control(setup, "stop")
            # The WAL written since the safety backup, which the archive may not hold yet.
            _copy_wal(setup, setup.pgdata, setup.staged)
        pause_point("server-stopped")
        _files(setup, "move", setup.pgdata, setup.previous)
        pause_point("set-aside")
        _files(setup, "move", setup.staged, setup.pgdata)
        pause_point("swapped")
        try:
            _control(setup, "start")
        except BackupError:
            recover_interrupted(setup)
            with contextlib.suppress(BackupError):
                _control(setup, "start")
            raise
        if running:
            _files(setup, "remove", setup.previous)
        else:
            # The server was down (a crash): its old directory is the only copy of its state.
            kept = f"{setup.pgdata}.before-restore-{timezone.now():%Y%m%d-%H%M%S}"
            _files(setup, "move", setup.previous, kept)
            report["safety_backup"] = kept
            report["safety_backup_destination"] = "the previous data directory, set aside"
    except BaseException:
        if _exists(setup, setup.staged):
            with contextlib.suppress(BackupError):
                _stop_private(setup, setup.staged)
                _files(setup, "remove", setup.staged)
        raise
    report["restore_seconds"] = round(time.monotonic() - restore_started, 3)
    report["total_seconds"] = round(time.monotonic() - started, 3)
    from carshop.ops.backups import status

    status.update(
        last_restore={
            "id": chosen["label"],
            "target": report["target"],
            "to": report["to"],
            "finished_at": timezone.now().isoformat(),
            "seconds": report["total_seconds"],
        }
    )
    return report


def _restore_staged(
    setup: Setup, folder: str, chosen: dict[str, Any], recovery: list[str], copy_wal: bool
) -> None:
    _files(setup, "remove", folder)
    _files(setup, "make-dir", folder)
    try:
        run(setup, "restore", f"--pg1-path={folder}", f"--set={chosen['label']}", *recovery)
    except BackupError as exc:
        raise BackupError(
            f"backup {chosen['label']} cannot be restored ({exc}); nothing was changed"
        ) from None
    if copy_wal and _exists(setup, setup.pgdata):
        _copy_wal(setup, setup.pgdata, folder)


def _copy_wal(setup: Setup, source: str, folder: str) -> None:
    """WAL segments of `source` that may not be archived yet (the last one of a crashed
    server above all): PostgreSQL replays them after the archive's."""
    _files(setup, "copy-wal", source, folder)


def _private_options(setup: Setup, folder: str, archive: bool) -> str:
    socket_dir = folder
    options = [
        "-c listen_addresses=''",
        f"-c unix_socket_directories='{socket_dir}'",
        f"-c port={setup.scratch_port}",
        "-c hot_standby=off",
    ]
    if not archive:
        options.append("-c archive_mode=off")
    return " ".join(options)


def _replay(
    setup: Setup, folder: str, archive: bool, progress: Progress = no_progress
) -> dict[str, Any]:
    """Start a private server on `folder`, let it replay the WAL and be promoted, stop it."""
    log = folder + ".log"
    _files(setup, "remove", log)
    progress("replaying the archived WAL")
    result = subprocess.run(
        setup.as_owner(
            [
                setup.pg_ctl(),
                "-D",
                folder,
                "-w",
                "-t",
                "3600",
                "-l",
                log,
                "-o",
                _private_options(setup, folder, archive),
                "start",
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    text = _read_log(setup, log)
    if result.returncode != 0:
        _stop_private(setup, folder)
        fatal = [line for line in text.splitlines() if "FATAL" in line or "PANIC" in line]
        reason = fatal[-1].split(":  ", 1)[-1] if fatal else _error_line(result)
        raise BackupError(f"the restored copy could not recover: {reason}; nothing was changed")
    # pg_ctl -w returns once connections are accepted: wait for the end of recovery.
    deadline = time.monotonic() + 3600
    while "database system is ready to accept connections" not in text:
        if time.monotonic() > deadline:
            raise BackupError("the restored copy did not finish its recovery in an hour")
        time.sleep(0.2)
        text = _read_log(setup, log)
    _stop_private(setup, folder)
    last = re.findall(r"last completed transaction was at log time (.+)", text)
    end = re.findall(r"redo done at ([0-9A-F]+/[0-9A-F]+)", text)
    return {
        "last_transaction_at": last[-1].strip() if last else None,
        "redo_done_at": end[-1] if end else None,
        "log": text,
    }


def _stop_private(setup: Setup, folder: str) -> None:
    subprocess.run(
        setup.as_owner([setup.pg_ctl(), "-D", folder, "-w", "-m", "fast", "stop"]),
        capture_output=True,
        check=False,
        cwd="/",
    )


def _read_log(setup: Setup, path: str) -> str:
    result = subprocess.run(
        _files_argv(setup, "read", path), capture_output=True, text=True, check=False, cwd="/"
    )
    return result.stdout


def _check_reached_end(setup: Setup, replay: dict[str, Any], chosen: dict[str, Any]) -> None:
    """A restore to the latest state must replay every archived segment: recovery that stops
    early (a damaged segment) would silently lose what follows."""
    newest = check_wal(setup, chosen)
    if not replay["redo_done_at"]:
        return
    high, low = (int(part, 16) for part in replay["redo_done_at"].split("/"))
    reached = ((high << 32) | low) // (16 * 1024 * 1024)
    if reached < newest:
        name = f"{reached // SEGMENTS_PER_LOG:08X}{reached % SEGMENTS_PER_LOG:08X}"
        raise BackupError(
            f"recovery stopped in WAL segment …{name} but the archive holds later ones: a "
            "segment is damaged or unreadable; nothing was changed"
        )


# --- drills ------------------------------------------------------------------------------------


def test_recovery(source: str = "latest", progress: Progress = no_progress) -> dict[str, Any]:
    """Restore `source` and every archived change into the drill folder, replay, read every
    table on a private server; the live server is not touched."""
    from carshop.ops.backups import status

    setup = Setup.from_settings()
    chosen = choose(setup, source, None)
    drill_started = timezone.now()
    started = time.monotonic()
    check_wal(setup, chosen)
    recovery = (
        ["--type=default"]
        if source in ("latest", "")
        else ["--type=immediate", "--target-action=promote"]
    )
    _restore_staged(setup, setup.drill, chosen, recovery, False)
    replay = _replay(setup, setup.drill, archive=False, progress=progress)
    if source in ("latest", ""):
        _check_reached_end(setup, replay, chosen)
    restore_seconds = round(time.monotonic() - started, 3)
    tables = _read_tables(setup, setup.drill)
    last = replay["last_transaction_at"]
    recovered_to = datetime.fromisoformat(last) if last else _moment(chosen["timestamp"]["stop"])
    drill = {
        "at": timezone.now().isoformat(),
        "engine": "pgbackrest",
        "source": chosen["label"],
        "chain": [*(chosen.get("reference") or []), chosen["label"]],
        "target": f"drill copy {setup.drill}",
        "target_name": setup.drill,
        "restore_seconds": restore_seconds,
        # RPO: the changes a restore now would lose, those after the newest archived commit.
        "backup_age_seconds": round(max((drill_started - recovered_to).total_seconds(), 0), 1),
        "recovered_to": recovered_to.isoformat(),
        "tables": len(tables),
        "rows": sum(t["rows"] for t in tables.values()),
        "table_checksums": tables,
        "validated": True,
        "mismatches": [],
        "capture_bypassed": None,
    }
    status.update(last_drill=drill)
    return drill


def _read_tables(setup: Setup, folder: str) -> dict[str, Any]:
    """Start the drill copy privately and read every table (row counts and checksums)."""
    from carshop.ops.backups import postgres

    subprocess.run(
        setup.as_owner(
            [
                setup.pg_ctl(),
                "-D",
                folder,
                "-w",
                "-l",
                folder + ".log",
                "-o",
                _private_options(setup, folder, False),
                "start",
            ]
        ),
        capture_output=True,
        check=True,
        cwd="/",
    )
    try:
        scratch = {**setup.database, "HOST": folder, "PORT": str(setup.scratch_port)}
        return postgres.compare(scratch, setup.database["NAME"])
    finally:
        _stop_private(setup, folder)


def validate_restoration() -> dict[str, Any]:
    """Read the drill copy again and compare it with what the last drill read."""
    from carshop.ops.backups import status

    setup = Setup.from_settings()
    drill = status.load().get("last_drill") or {}
    if drill.get("engine") != "pgbackrest" or not _exists(setup, setup.drill):
        raise BackupError("no pgBackRest drill copy: run test_recovery first")
    found = _read_tables(setup, setup.drill)
    expected = drill["table_checksums"]
    mismatches = [
        {"table": name, "expected": expected.get(name), "found": found.get(name)}
        for name in sorted(set(found) | set(expected))
        if expected.get(name) != found.get(name)
    ]
    result = {
        "target": drill["target"],
        "source": drill["source"],
        "tables": len(expected),
        "validated": not mismatches,
        "mismatches": mismatches,
        "at": timezone.now().isoformat(),
    }
    status.update(last_drill={**drill, "validated": not mismatches, "mismatches": mismatches})
    return result


# --- retention and health ----------------------------------------------------------------------


def prune(dry_run: bool = False) -> dict[str, Any]:
    setup = Setup.from_settings()
    before = backups(setup)
    args = ["expire", *(["--dry-run"] if dry_run else [])]
    output = run(setup, *args, "--log-level-console=info")
    if dry_run:
        gone = set(
            re.findall(r"expire (?:full|diff|incr)? ?backup (?:set: )?([0-9A-Z_-]+)", output)
        )
        gone |= {label for line in output.splitlines() if "expire" in line
                 for label in re.findall(r"\d{8}-\d{6}F(?:_\d{8}-\d{6}[DI])?", line)}  # fmt: skip
    else:
        after = {b["label"] for b in backups(setup)}
        gone = {b["label"] for b in before} - after
    deleted = [
        {
            "id": b["label"],
            "type": b["carshop_type"],
            "created_at": _moment(b["timestamp"]["stop"]).isoformat(),
            "size": b["info"]["repository"]["delta"],
            "location": f"pgbackrest:{setup.stanza}",
        }
        for b in before
        if b["label"] in gone
    ]
    return {
        "destination": f"pgBackRest stanza {setup.stanza}",
        "folders": [],
        "kept": [
            {"id": b["label"], "type": b["carshop_type"], "reason": "pgBackRest retention"}
            for b in before
            if b["label"] not in gone
        ],
        "deleted": deleted,
        "stray_files_deleted": [],
        "freed_bytes": sum(d["size"] for d in deleted),
        "dry_run": dry_run,
    }


def archiving_problem(database: dict[str, Any] | None = None, now_too: bool = False) -> str | None:
    """Why WAL archiving is failing or falling behind (None when it keeps up)."""
    from django.db import connections

    from carshop.ops.backups import postgres

    conn = postgres.connect(database or dict(connections["default"].settings_dict))
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('archive_mode'), last_archived_time, last_failed_time,"
                " last_failed_wal, now() FROM pg_stat_archiver"
            )
            mode, archived, failed_at, failed_wal, now = cursor.fetchone()
            if mode == "off":
                return "WAL archiving is off (archive_mode): no point-in-time restore is possible"
            cursor.execute(
                "SELECT count(*), min(modification) FROM pg_ls_archive_statusdir()"
                " WHERE name LIKE '%.ready'"
            )
            waiting, oldest = cursor.fetchone()
    finally:
        conn.close()
    limit = settings.BACKUP_WAL_MAX_LAG_SECONDS
    if failed_at and (archived is None or failed_at > archived) and waiting:
        return f"WAL archiving is failing (segment {failed_wal}, {failed_at:%Y-%m-%d %H:%M:%S})"
    if waiting and oldest and ((now - oldest).total_seconds() > limit or now_too):
        return (
            f"WAL archiving is falling behind: {waiting} segments wait, the oldest for "
            f"{(now - oldest).total_seconds():.0f}s (over {limit}s)"
        )
    return None
