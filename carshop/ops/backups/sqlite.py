"""SQLite: full backups with the online backup API, incremental backups from the change log, and a
restore that never writes over the live file.

Full backup: SQLite's backup API copies every page of one consistent state of the database
(readers and writers may go on meanwhile) into the destination. At the same time, other
connections that read that very state (their read transactions start together with the copy's,
under a write lock held for milliseconds) compute every table's row count and checksum, in
one process per core, so that this CPU work runs beside the copy instead of after it; the
copy's SHA-256 is computed while it is flushed to disk. The change-log position is read from
the copy: the manifest describes exactly what was saved. The copy is switched to
rollback-journal mode so that it is one self-contained file.

Incremental backup: a small SQLite file holding, per changed table, the keys touched since the
parent backup and the current version of those rows (untyped columns, so every value keeps its
exact storage class), and the AUTOINCREMENT counters.

Restore: the full backup is copied beside the live file, the incrementals are applied to the
copy, the copy is checked (integrity, foreign keys, row counts, checksums), and only then is it
renamed over the live file, which is atomic. Before the rename the live database is switched out
of WAL mode, which checkpoints and removes its -wal and -shm files and fails if any other process
still has the database open (stop the application first): no stale WAL can be replayed onto the
restored file. Killed at any moment, the path names either the old database or the new one.
"""

from __future__ import annotations

import contextlib
import multiprocessing.connection
import os
import shutil
import socket
import sqlite3
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

from carshop.ops.backups import capture
from carshop.ops.backups.errors import BackupError
from carshop.ops.backups.introspect import (
    applied_migrations,
    qi,
    ql,
    schema_fingerprint,
    sqlite_tables,
)
from carshop.ops.backups.util import (
    CHUNK,
    checksum_hex,
    fsync_dir,
    fsync_file,
    open_maybe_gzip,
    pause_point,
    remove_quietly,
    row_hash,
    row_hash_sum,
    sha256_file,
    spawn,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator

    from carshop.ops.backups.introspect import Table
    from carshop.ops.toolkit import Progress

VENDOR = "sqlite"
FILE_MAGIC = b"SQLite format 3\x00"
CHECKSUM_SCHEME = capture.SQLITE_CHECKSUM_SCHEME
CHECKSUM_SCHEMES = capture.SQLITE_CHECKSUM_SCHEMES


class NeedsFull(Exception):
    """An incremental backup is not possible now; the reason says why."""


def connect(path: str, **options: Any) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, timeout=30, **options)


def server_version() -> str:
    return sqlite3.sqlite_version


def _fetch(conn: sqlite3.Connection) -> Callable[[str], list[Any]]:
    return lambda sql: conn.execute(sql).fetchall()


def scan_checksum(
    conn: sqlite3.Connection, table: Table, schema: str = "main", scheme: int | None = None
) -> dict[str, Any]:
    """The table's row count and checksum; `scheme`: how rows are hashed (None: the current
    scheme)."""
    scheme = scheme or CHECKSUM_SCHEME
    conn.text_factory = bytes
    try:
        count = 0
        total = 0
        cursor = conn.execute(
            f"SELECT {capture.sqlite_row_text(table, scheme=scheme)} "
            f"FROM {qi(schema)}.{qi(table.name)}"
        )
        while rows := cursor.fetchmany(4096):
            total += row_hash_sum(rows, scheme)
            count += len(rows)
    finally:
        conn.text_factory = str
    return {"rows": count, "checksum": checksum_hex(total)}


def table_checksums(
    conn: sqlite3.Connection, tables: list[Table], only: Collection[str] | None = None
) -> dict[str, Any]:
    return {t.name: scan_checksum(conn, t) for t in tables if only is None or t.name in only}


def checksum_workers() -> int:
    from django.conf import settings

    return max(1, int(getattr(settings, "BACKUP_CHECKSUM_WORKERS", 0) or os.cpu_count() or 1))


@contextlib.contextmanager
def _writers_held_off(path: str) -> Iterator:
    """While inside, no writer can commit: read transactions started inside all see one state.
    Held for as long as they take to start (milliseconds)."""
    writer = connect(path)
    try:
        writer.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            writer.execute("ROLLBACK")
    finally:
        writer.close()


def _begin_read(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the read starts here


class _Scanners:
    """Processes computing table checksums of one database file, each on its own connection, one
    per core: turning rows into text and hashing them is CPU work, which threads of one process
    would not share out (they would take Python's global lock at every row). New interpreters,
    not forks: no SQLite state of this process (its connections to the same file) is carried
    into them, and the caller's main module is not run again (as multiprocessing's spawn
    would). Each one is told when to start its read transaction, so that a caller can start them
    all in one state (see full_backup); they then take tables, biggest first, until none are
    left. They die with this process."""

    def __init__(self, path: str, count: int, scheme: int) -> None:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        self.pipes, self.processes = [], []
        try:
            for _ in range(count):
                mine, theirs = socket.socketpair()
                with theirs:
                    self.processes.append(
                        spawn(
                            [
                                sys.executable,
                                "-c",
                                "from carshop.ops.backups import sqlite; sqlite._scanner_main()",
                                str(theirs.fileno()),
                                path,
                                str(scheme),
                            ],
                            pass_fds=[theirs.fileno()],
                            env=env,
                        )
                    )
                self.pipes.append(multiprocessing.connection.Connection(mine.detach()))
            for pipe in self.pipes:
                self._receive(pipe)  # connected
        except BaseException:
            self.stop()
            raise

    def begin(self) -> None:
        for pipe in self.pipes:
            pipe.send("begin")
        for pipe in self.pipes:
            self._receive(pipe)  # reading

    def checksums(
        self, tables: list[Table], sizes: dict[str, int], progress: Progress | None = None
    ) -> dict[str, Any]:
        from carshop.ops.toolkit import no_progress  # not at the top: scanners do not need it

        progress = progress or no_progress
        results = dict(progress(self._scan(tables, sizes), total=len(tables), label="tables"))
        return {t.name: results[t.name] for t in tables}

    def _scan(self, tables: list[Table], sizes: dict[str, int]) -> Iterator[tuple[str, Any]]:
        """(table name, checksum) of each table, as each is done."""
        pending = sorted(tables, key=lambda t: sizes[t.name])  # popped from the end
        busy = list(self.pipes)
        while busy:
            ready = multiprocessing.connection.wait(busy)  # some of self.pipes
            for pipe in cast("list[multiprocessing.connection.Connection]", ready):
                done = self._receive(pipe)  # what it did; it asks for more
                if pending:
                    pipe.send(pending.pop())
                else:
                    pipe.send(None)
                    busy.remove(pipe)
                yield from done.items()

    def _receive(self, pipe: Any) -> Any:
        try:
            message = pipe.recv()
        except EOFError:
            raise BackupError("a checksum process ended before its work was done") from None
        if isinstance(message, BaseException):
            raise message
        return message

    def kill(self) -> Any:
        for process in self.processes:
            if process.poll() is None:
                process.kill()

    def stop(self) -> None:
        self.kill()
        for process in self.processes:
            process.wait()
        for pipe in self.pipes:
            pipe.close()


def _scanner_main() -> None:
    """A _Scanners process: python -c ... FD PATH SCHEME."""
    fd, path, scheme = sys.argv[1:4]
    _scanner(multiprocessing.connection.Connection(int(fd)), path, int(scheme))


def _scanner(pipe: Any, path: str, scheme: int) -> None:
    try:
        conn = connect(path)
        pipe.send("connected")
        pipe.recv()
        _begin_read(conn)
        pipe.send("reading")
        done: dict[Any, Any] = {}
        while True:
            pipe.send(done)
            table = pipe.recv()
            if table is None:
                break
            done = {table.name: scan_checksum(conn, table, scheme=scheme)}
        conn.close()
    except (BrokenPipeError, EOFError):
        pass  # the backup was stopped
    except BaseException as exc:
        pipe.send(exc)


def _sizes(conn: sqlite3.Connection, tables: list[Table]) -> dict[str, int]:
    """How much work each table is, roughly: rows times columns."""
    return {
        t.name: conn.execute(f"SELECT count(*) FROM {qi(t.name)}").fetchone()[0] * len(t.columns)
        for t in tables
    }


def file_checksums(
    path: str,
    tables: list[Table],
    progress: Progress | None = None,
    scheme: int | None = None,
) -> dict[str, Any]:
    """Checksums of a database file nobody writes to (a restored scratch file)."""
    scanners = _Scanners(
        path, min(checksum_workers(), max(1, len(tables))), scheme or CHECKSUM_SCHEME
    )
    try:
        scanners.begin()
        conn = connect(path)
        try:
            sizes = _sizes(conn, tables)
        finally:
            conn.close()
        results = scanners.checksums(tables, sizes, progress)
    finally:
        scanners.stop()
    return results


def describe(path: str) -> tuple[list[Table], list[list[str]], str]:
    conn = connect(path)
    try:
        tables = sqlite_tables(conn)
        migrations = applied_migrations(_fetch(conn), tables)
        return tables, migrations, schema_fingerprint(tables, migrations)
    finally:
        conn.close()


def has_tables(path: str) -> bool:
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return False
    conn = connect(path)
    try:
        return bool(sqlite_tables(conn))
    finally:
        conn.close()


# --- change capture ----------------------------------------------------------------------------


def prepare_capture(path: str) -> tuple[dict | None, list, list]:
    """Install or refresh change capture: (state before, tables whose triggers were made, []).
    The chain state is only written once a backup is safely stored (confirm_backup)."""
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.cursor()
            state = capture.read_state(cur, VENDOR)
            changed = capture.install(cur, VENDOR)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return state, changed, []
    finally:
        conn.close()


def confirm_backup(path: str, backup_id: str, watermark: int) -> None:
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.cursor()
        capture.write_state(
            cur, VENDOR, backup_id=backup_id, watermark=int(watermark), needs_full=False
        )
        cur.execute(f"DELETE FROM {capture.CHANGE_TABLE} WHERE id <= {int(watermark)}")
        conn.execute("COMMIT")
    finally:
        conn.close()


def _watermark(conn: sqlite3.Connection, schema: str = "main") -> int:
    exists = conn.execute(
        f"SELECT count(*) FROM {qi(schema)}.sqlite_master WHERE type = 'table' "
        f"AND name = {ql(capture.CHANGE_TABLE)}"
    ).fetchone()[0]
    if not exists:
        return 0
    return conn.execute(
        f"SELECT coalesce(max(id), 0) FROM {qi(schema)}.{capture.CHANGE_TABLE}"
    ).fetchone()[0]


# --- full backup -------------------------------------------------------------------------------


def full_backup(
    path: str, out_path: str, progress: Progress | None = None, digest: bool = False
) -> dict[str, Any]:
    """Copy the database to `out_path` with the backup API; compute the row counts and checksums
    of the same state at the same time, from the live file. With `digest` (`out_path` is the file
    that will be stored, not one to compress), the copy's SHA-256 (info["sha256"]) is computed
    and the copy flushed to disk while the checksums are."""
    scanners = _Scanners(path, checksum_workers(), CHECKSUM_SCHEME)
    source = None
    try:
        source = connect(path, check_same_thread=False)  # the copy runs in another thread
        with _writers_held_off(path):
            scanners.begin()
            _begin_read(source)
            snapshot_at = _utc_now()
        tables = sqlite_tables(source)
        sizes = _sizes(source, tables)
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=1) as pool:
            copy = pool.submit(_copy, source, out_path, stop, digest)
            # A failed copy (a full disk) stops the checksums at once.
            copy.add_done_callback(lambda done: done.exception() and scanners.kill())
            try:
                checksums = scanners.checksums(tables, sizes, progress)
            except BaseException:
                if copy.done() and copy.exception() is not None:
                    # Not None: the line above checked it.
                    raise copy.exception() from None  # type: ignore[misc]
                stop.set()
                raise
            migrations, watermark, sha256 = copy.result()
    finally:
        scanners.stop()
        if source is not None:
            source.close()
    return {
        "tables": checksums,
        "migrations": migrations,
        "schema_fingerprint": schema_fingerprint(tables, migrations),
        "capture": {"watermark": watermark},
        "server_version": server_version(),
        "format": "sqlite",
        "checksum_scheme": CHECKSUM_SCHEME,
        "sha256": sha256,
        "snapshot_at": snapshot_at,
    }


def _utc_now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def _copy(
    source: sqlite3.Connection, out_path: str, stop: threading.Event, digest: bool
) -> tuple[list[list[str]], int, str | None]:
    """The backup API's copy of the state `source` reads (its transaction is open), in steps so
    that `stop` can end it; then the figures the manifest takes from the copy, and with `digest`
    its SHA-256 while it is flushed to disk (one fsync at the end: none while it is written, a
    copy cut short is never used)."""

    def step(status: int, remaining: int, total: int) -> None:
        if stop.is_set():
            raise BackupError("backup stopped")

    target = sqlite3.connect(out_path, isolation_level=None)
    try:
        target.execute("PRAGMA synchronous=OFF")
        try:
            source.backup(target, pages=16384, progress=step)
        except sqlite3.OperationalError as exc:
            raise OSError(28 if "full" in str(exc) else 5, str(exc)) from None
        target.execute("PRAGMA journal_mode=DELETE")
        tables = sqlite_tables(target)
        migrations, watermark = applied_migrations(_fetch(target), tables), _watermark(target)
    finally:
        target.close()
    if not digest:
        return migrations, watermark, None
    with ThreadPoolExecutor(max_workers=1) as pool:
        flushed = pool.submit(fsync_file, out_path)
        sha256 = sha256_file(out_path)
        flushed.result()
    return migrations, watermark, sha256


# --- incremental backup ------------------------------------------------------------------------


def incremental_backup(
    path: str,
    out_path: str,
    parent: dict[str, Any],
    progress: Progress | None = None,
    full_check: bool = False,
) -> dict:
    """Write the changes since `parent` (a manifest) into a new SQLite file at `out_path`.
    Raises NeedsFull when the chain cannot be continued, CaptureBypassed when the tables are not
    what the chain and the change log say; `full_check`: compare every table's checksum too,
    not only its row count."""
    conn = connect(path)
    try:
        conn.execute(f"ATTACH DATABASE {ql(out_path)} AS inc")
        conn.execute("BEGIN")  # deferred: reads main in one snapshot, writes only to inc
        try:
            result = _write_incremental(conn, parent, progress, full_check)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("DETACH DATABASE inc")
    except sqlite3.OperationalError as exc:
        if "full" in str(exc) or "disk" in str(exc):
            raise OSError(28, str(exc)) from None
        raise
    finally:
        conn.close()
    return result


def _write_incremental(
    conn: sqlite3.Connection,
    parent: dict[str, Any],
    progress: Progress | None,
    full_check: bool = False,
) -> dict[str, Any]:
    watermark = _watermark(conn)
    snapshot_at = _utc_now()
    state = capture.read_state(conn.cursor(), VENDOR)
    if state is None:
        raise NeedsFull("change capture is not installed yet")
    if state["needs_full"]:
        raise NeedsFull("migrations ran or the database was restored since the last backup")
    if state["backup_id"] != parent["id"]:
        raise NeedsFull(
            f"the database last matched backup {state['backup_id']}, not {parent['id']}"
        )
    if parent.get("checksum_scheme", 1) != CHECKSUM_SCHEME:
        # The parent's checksums cannot be carried on with rows hashed another way.
        raise NeedsFull("the previous backup's checksums are of an older scheme")
    tables = sqlite_tables(conn)
    migrations = applied_migrations(_fetch(conn), tables)
    fingerprint = schema_fingerprint(tables, migrations)
    if fingerprint != parent["schema_fingerprint"]:
        raise NeedsFull("the schema changed since the previous backup")
    low = int(parent["capture"]["watermark"])
    window = f"c.id > {low} AND c.id <= {int(watermark)}"
    change = f"main.{capture.CHANGE_TABLE}"
    changed = {
        tbl: bool(whole)
        for tbl, whole in conn.execute(
            f"SELECT c.tbl, max(c.op = 'T') FROM {change} c WHERE {window} GROUP BY c.tbl"
        ).fetchall()
    }
    by_name = {t.name: t for t in tables}
    unknown = sorted(set(changed) - set(by_name))
    if unknown:
        raise NeedsFull(f"changes logged for tables that are gone: {', '.join(unknown)}")
    conn.execute("CREATE TABLE inc.carshop_meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute(
        "CREATE TABLE inc.carshop_tables (idx INTEGER PRIMARY KEY, name TEXT, "
        "whole INTEGER, columns TEXT)"
    )
    from carshop.ops.toolkit import no_progress  # not at the top: scanners do not need it

    progress = progress or no_progress
    checksums = {}
    changes = sorted(by_name.items())
    for index, (name, table) in enumerate(progress(changes, total=len(changes), label="tables")):
        base = parent["tables"].get(name)
        if base is None:
            raise NeedsFull(f"table {name} is not in the previous backup")
        if name not in changed:
            checksums[name] = dict(base)
            continue
        whole = changed[name] or not table.pk
        columns = ", ".join(qi(c) for c in table.columns)
        conn.execute(
            "INSERT INTO inc.carshop_tables VALUES (?, ?, ?, ?)",
            [index, name, int(whole), ",".join(table.columns)],
        )
        conn.execute(f"CREATE TABLE inc.{qi(f'r{index}')} ({columns})")  # untyped: exact values
        source = f"main.{qi(name)}"
        if whole:
            conn.execute(f"INSERT INTO inc.{qi(f'r{index}')} SELECT {columns} FROM {source}")
            checksums[name] = scan_checksum(conn, table)
        else:
            keys = f"inc.{qi(f'k{index}')}"
            conn.execute(f"CREATE TABLE {keys} (k)")
            conn.execute(
                f"INSERT INTO {keys} SELECT DISTINCT c.pk FROM {change} c "
                f"WHERE c.tbl = ? AND {window}",
                [name],
            )
            key_source = f"SELECT k FROM {keys}"
            match = capture.sqlite_key_match(table, key_source)
            conn.execute(
                f"INSERT INTO inc.{qi(f'r{index}')} SELECT {columns} FROM {source} WHERE {match}"
            )
            checksums[name] = _delta_checksum(conn, table, base, window, match)
    _check_capture(conn, by_name, checksums, full_check)
    has_sequence = conn.execute(
        "SELECT count(*) FROM main.sqlite_master WHERE name = 'sqlite_sequence'"
    ).fetchone()[0]
    conn.execute("CREATE TABLE inc.carshop_sequence (name, seq)")
    if has_sequence:
        conn.execute(
            "INSERT INTO inc.carshop_sequence SELECT name, seq FROM main.sqlite_sequence "
            f"WHERE substr(name, 1, 15) <> {ql('carshop_backup_')}"
        )
    conn.execute("INSERT INTO inc.carshop_meta VALUES ('format', 'carshop-sqlite-incremental-1')")
    return {
        "tables": checksums,
        "changed_tables": sorted(changed),
        "migrations": migrations,
        "schema_fingerprint": fingerprint,
        "capture": {"watermark": watermark},
        "server_version": server_version(),
        "format": "sqlite-incremental",
        "checksum_scheme": CHECKSUM_SCHEME,
        "snapshot_at": snapshot_at,
        "capture_checked": full_check,
    }


class CaptureBypassed(NeedsFull):
    """The tables differ from what the chain and the change log say: changes were made that the
    capture triggers did not see (triggers dropped for a while)."""


def _check_capture(
    conn: sqlite3.Connection, tables: dict[str, Table], expected: dict[str, Any], full_check: bool
) -> None:
    differ = []
    for name, table in tables.items():
        if full_check:
            found = scan_checksum(conn, table, schema="main")
        else:
            rows = conn.execute(f"SELECT count(*) FROM main.{qi(name)}").fetchone()[0]
            found = {"rows": rows, "checksum": expected[name]["checksum"]}
        if found != expected[name]:
            differ.append((name, found, expected[name]))
    if differ:
        raise CaptureBypassed(capture.bypass_message(differ))


def _delta_checksum(
    conn: sqlite3.Connection, table: Table, base: dict[str, Any], window: Any, match: Any
) -> dict[str, Any]:
    """The table's checksum now, from the parent's and the rows that changed: minus each touched
    row as it was at the parent (the old text kept by the first change after it), plus each
    touched row as it is now (the parent is of the current checksum scheme, and so are the
    triggers that kept the old text)."""
    scheme = CHECKSUM_SCHEME
    count = base["rows"]
    total = int(base["checksum"], 16)
    conn.text_factory = bytes
    try:
        first_changes = conn.execute(
            f"SELECT c.op, c.old FROM main.{capture.CHANGE_TABLE} c JOIN ("
            f"SELECT min(c.id) AS id FROM main.{capture.CHANGE_TABLE} c "
            f"WHERE c.tbl = ? AND {window} GROUP BY c.pk) f ON f.id = c.id",
            [table.name],
        )
        for op, old in first_changes:
            if op in (b"U", b"D", "U", "D"):
                total -= row_hash(old, scheme)
                count -= 1
        for (text,) in conn.execute(
            f"SELECT {capture.sqlite_row_text(table, scheme=scheme)} FROM main.{qi(table.name)} "
            f"WHERE {match}"
        ):
            total += row_hash(text, scheme)
            count += 1
    finally:
        conn.text_factory = str
    return {"rows": count, "checksum": checksum_hex(total)}


# --- restore -----------------------------------------------------------------------------------


def beside_path(live_path: str) -> str:
    return live_path + ".restoring"


def clear_beside(live_path: str) -> None:
    beside = beside_path(live_path)
    remove_quietly(beside, beside + "-journal", beside + "-wal", beside + "-shm")


def restore(
    live_path: str,
    chain: list[tuple[dict[str, Any], str]],
    progress: Progress | None = None,
) -> None:
    """Build the restored database beside the live one, check it, then rename it into place."""
    last = chain[-1][0]
    beside = beside_path(live_path)
    clear_beside(live_path)
    folder = os.path.dirname(os.path.abspath(live_path))
    os.makedirs(folder, exist_ok=True)
    try:
        from carshop.ops.toolkit import no_progress  # not at the top: scanners do not need it

        backups = iter((progress or no_progress)(chain, total=len(chain), label="backups"))
        full_manifest, full_path = next(backups)
        _copy_verified(full_manifest, full_path, beside)
        pause_point("full-restored")
        conn = connect(beside)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA foreign_keys=OFF")  # checked as a whole below
            for _manifest, path in backups:
                _apply_incremental(conn, path)
            pause_point("incrementals-applied")
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.cursor()
            if capture.is_installed(cur, VENDOR):
                cur.execute(f"DELETE FROM {capture.CHANGE_TABLE}")
                capture.write_state(
                    cur, VENDOR, backup_id=last["id"], watermark=None, needs_full=True
                )
            conn.execute("COMMIT")
            # Every table's checksum, not only those an incremental touched: the manifest's
            # figures are checked against what was restored, whatever the files are.
            _verify(conn, last, set(last["tables"]), deep=len(chain) > 1)
        finally:
            conn.close()
        fsync_file(beside)
        pause_point("before-swap")
        _swap(live_path, beside)
        pause_point("after-swap")
    except BaseException:
        clear_beside(live_path)
        raise


def _apply_incremental(conn: sqlite3.Connection, path: str) -> None:
    local = path
    temporary = None
    with open(path, "rb") as handle:
        if handle.read(2) == b"\x1f\x8b":
            temporary = path + ".unpacked"
            with open_maybe_gzip(path) as src, open(temporary, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
            local = temporary
    try:
        conn.execute(f"ATTACH DATABASE {ql(os.path.abspath(local))} AS inc")
        try:
            tables = {t.name: t for t in sqlite_tables(conn)}
            conn.execute("BEGIN IMMEDIATE")
            for index, name, whole, columns in conn.execute(
                "SELECT idx, name, whole, columns FROM inc.carshop_tables ORDER BY idx"
            ).fetchall():
                column_list = ", ".join(qi(c) for c in columns.split(","))
                target = f"main.{qi(name)}"
                if whole:
                    conn.execute(f"DELETE FROM {target}")
                else:
                    table = tables[name]
                    match = capture.sqlite_key_match(table, f"SELECT k FROM inc.{qi(f'k{index}')}")
                    conn.execute(f"DELETE FROM {target} WHERE {match}")
                conn.execute(
                    f"INSERT INTO {target} ({column_list}) "
                    f"SELECT {column_list} FROM inc.{qi(f'r{index}')}"
                )
            has_sequence = conn.execute(
                "SELECT count(*) FROM main.sqlite_master WHERE name = 'sqlite_sequence'"
            ).fetchone()[0]
            if has_sequence:
                conn.execute(
                    "DELETE FROM main.sqlite_sequence WHERE name IN "
                    "(SELECT name FROM inc.carshop_sequence)"
                )
                conn.execute(
                    "INSERT INTO main.sqlite_sequence (name, seq) "
                    "SELECT name, seq FROM inc.carshop_sequence"
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.execute("DETACH DATABASE inc")
    finally:
        if temporary:
            remove_quietly(temporary)


def _copy_verified(manifest: dict[str, Any], source: str, target: str) -> None:
    """Copy the full backup beside the live file, checking the SHA-256 of what is read as it is
    written: the copy is then known to be the verified backup, byte for byte."""
    import hashlib

    digest = hashlib.sha256()
    with open(source, "rb") as raw, open(target, "wb") as dst:
        if manifest["file"].get("compressed"):
            while block := raw.read(CHUNK):
                digest.update(block)
            with open_maybe_gzip(source) as src:
                shutil.copyfileobj(src, dst, CHUNK)
        else:
            while block := raw.read(CHUNK):
                digest.update(block)
                dst.write(block)
    if digest.hexdigest() != manifest["file"]["sha256"]:
        raise BackupError(
            f"backup file {manifest['file']['name']} changed while it was "
            "restored: its SHA-256 does not match the manifest any more"
        )


def _verify(
    conn: sqlite3.Connection, last: dict[str, Any], checked: Collection[str], deep: bool
) -> None:
    """Row counts of every table; and where incrementals were applied, integrity, foreign keys
    and the checksum of every table they touched (a full backup alone is checked byte for byte
    as it is copied)."""
    if deep:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise BackupError(f"restore check failed: the restored file is damaged ({problems[0]})")
    violations = conn.execute("PRAGMA foreign_key_check").fetchall() if deep else []
    if violations:
        table, rowid, parent, _ = violations[0]
        raise BackupError(
            f"restore check failed: {len(violations)} broken foreign keys "
            f"(first: {table} row {rowid} -> {parent})"
        )
    tables = sqlite_tables(conn)
    names = sorted(t.name for t in tables)
    if names != sorted(last["tables"]):
        raise BackupError("restore check failed: the tables differ from the backup's")
    scheme = last.get("checksum_scheme", 1)
    for table in tables:
        expected = last["tables"][table.name]
        if table.name in checked:
            found = scan_checksum(conn, table, scheme=scheme)
        else:
            rows = conn.execute(f"SELECT count(*) FROM {qi(table.name)}").fetchone()[0]
            found = {"rows": rows, "checksum": expected["checksum"]}
        if found != expected:
            raise BackupError(
                f"restore check failed: table {table.name} has {found['rows']} "
                f"rows (checksum {found['checksum']}), the backup has "
                f"{expected['rows']} ({expected['checksum']})"
            )


def _swap(live_path: str, beside: str) -> None:
    """Rename the checked copy over the live database: atomic, and safe against a stale WAL."""
    if os.path.exists(live_path):
        conn = connect(live_path)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            try:
                mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
            except sqlite3.OperationalError as exc:
                raise BackupError(
                    f"the database is in use by another process ({exc}): stop the application "
                    "and retry; nothing was changed"
                ) from None
            if mode != "delete":
                raise BackupError(
                    "the database is in use by another process: stop the "
                    "application and retry; nothing was changed"
                )
        finally:
            conn.close()
        for leftover in (live_path + "-wal", live_path + "-journal"):
            if os.path.exists(leftover) and os.path.getsize(leftover) > 0:
                raise BackupError(
                    f"{leftover} still holds changes: stop the application and "
                    "retry; nothing was changed"
                )
        remove_quietly(live_path + "-wal", live_path + "-shm")
    os.replace(beside, live_path)
    fsync_dir(os.path.dirname(os.path.abspath(live_path)))


def compare(path: str, scheme: int | None = None) -> dict[str, Any]:
    """Every table's row count and checksum (of a database nobody else writes to), computed as
    `scheme` says (the manifest's; None: the current one)."""
    conn = connect(path)
    try:
        tables = sqlite_tables(conn)
    finally:
        conn.close()
    return file_checksums(path, tables, scheme=scheme)


def copy_database(source_path: str, target_path: str) -> None:
    """A consistent copy (backup API) of an SQLite database, for recovery drills."""
    source = connect(source_path)
    try:
        target = sqlite3.connect(target_path)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
