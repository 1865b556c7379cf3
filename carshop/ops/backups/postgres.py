"""PostgreSQL: full backups with pg_dump, incremental backups from the change log, checksums, and
a restore that is one transaction.

Full backup: one connection opens a REPEATABLE READ transaction and exports its snapshot;
`pg_dump --format=custom --snapshot=...` dumps exactly that snapshot while the same connection
computes every table's row count and checksum in it, at the same time (pg_dump compresses on
one core, the checksums run in the server on the other). The manifest's figures are therefore
those of the dump, to the row.

Incremental backup: a psql script holding, per changed table, the keys of the rows touched since
the parent backup's snapshot and the current version of those rows (COPY format, lossless for
every type), then every sequence's position.

Restore: `pg_restore --file=-` turns the dump into SQL that is piped into one psql session,
inside a transaction the script opens itself (BEGIN), together with the incremental scripts and a
final check of row counts and checksums; COMMIT is the very last thing sent, in one piece. Nothing
is committed unless everything, the check included, succeeded: a failure, the command being
killed (psql's input ends without COMMIT), psql being killed or its connection cut, all leave the
old database as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from types import SimpleNamespace
from typing import IO, TYPE_CHECKING, Any, cast

from carshop.ops.backups import capture
from carshop.ops.backups.errors import BackupError
from carshop.ops.backups.introspect import (
    applied_migrations,
    pg_schema,
    pg_sequences,
    pg_tables,
    qi,
    ql,
    schema_fingerprint,
)
from carshop.ops.backups.util import (
    CHUNK,
    MOD64,
    checksum_hex,
    last_error_line,
    open_maybe_gzip,
    pause_point,
    spawn,
)
from carshop.ops.toolkit import Progress, no_progress

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable

    from _typeshed import SupportsWrite

    from carshop.ops.backups.introspect import Table

VENDOR = "postgresql"
DUMP_MAGIC = b"PGDMP"
CHECKSUM_SCHEME = 1  # hashtextextended(row::text, 0), the only one so far
CHECKSUM_SCHEMES = (1,)


class NeedsFull(Exception):
    """An incremental backup is not possible now; the reason says why."""


# --- connections -------------------------------------------------------------------------------


def connect(
    settings_dict: dict[str, Any], dbname: str | None = None, autocommit: bool = False
) -> Any:
    import psycopg2
    from django.db.backends.postgresql.base import DatabaseWrapper

    wrapper = DatabaseWrapper({**settings_dict, "NAME": dbname or settings_dict["NAME"]})
    params = wrapper.get_connection_params()
    params.pop("cursor_factory", None)
    try:
        conn = psycopg2.connect(**params)
    except psycopg2.OperationalError as exc:
        message = str(exc).strip().splitlines()[0]
        raise BackupError(
            f"cannot connect to PostgreSQL database {dbname or settings_dict['NAME']!r}: {message}"
        ) from None
    conn.autocommit = autocommit
    return conn


def cli_args(settings_dict: dict[str, Any], dbname: str | None = None) -> tuple:
    """`--dbname=URI` and environment for pg_dump, pg_restore and psql, built by django-dbbackup
    (it knows how to pass passwords, TLS options and socket paths to libpq)."""
    from dbbackup.db.postgresql import parse_postgres_settings

    connector = SimpleNamespace(settings={**settings_dict, "NAME": dbname or settings_dict["NAME"]})
    dbname_arg, env = parse_postgres_settings(connector)
    args = dbname_arg.split()
    return args, {**os.environ, **env}


def tool(name: str) -> str:
    from django.conf import settings

    folder = getattr(settings, "BACKUP_PG_BIN_DIR", "")
    path = os.path.join(folder, name) if folder else shutil.which(name)
    if not path or not os.path.exists(path):
        raise BackupError(
            f"{name} not found: install the PostgreSQL client tools "
            "(Debian: apt-get install postgresql-client) or set BACKUP_PG_BIN_DIR"
        )
    return path


def hash_settings(cursor: Any) -> None:
    for key, value in capture.PG_HASH_SETTINGS.items():
        cursor.execute(f"SET LOCAL {key} = {ql(value)}")


def server_facts(cursor: Any) -> dict[str, Any]:
    cursor.execute(
        "SELECT current_setting('server_version'), "
        "(SELECT system_identifier FROM pg_control_system())::text"
    )
    version, system_identifier = cursor.fetchone()
    return {"server_version": version, "system_identifier": system_identifier}


def _scan_checksum(cursor: Any, schema: str, table: Table) -> dict[str, Any]:
    cursor.execute(
        f"SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text "
        f"FROM {qi(schema)}.{qi(table.name)} t"
    )
    rows, total = cursor.fetchone()
    return {"rows": rows, "checksum": checksum_hex(int(total))}


def table_checksums(
    cursor: Any, schema: str, tables: list[Table], only: Collection[str] | None = None
) -> dict[str, Any]:
    return {
        t.name: _scan_checksum(cursor, schema, t) for t in tables if only is None or t.name in only
    }


def describe(
    settings_dict: dict[str, Any], dbname: str | None = None
) -> tuple[list[Table], list[list[str]], str]:
    """Tables, migrations and schema fingerprint of a database."""
    conn = connect(settings_dict, dbname)
    try:
        with conn.cursor() as cur:
            tables = pg_tables(cur)
            migrations = applied_migrations(_fetch(cur), tables)
            return tables, migrations, schema_fingerprint(tables, migrations)
    finally:
        conn.close()


def _fetch(cur: Any) -> Callable[[str], list[Any]]:
    def execute(sql: str) -> list[Any]:
        cur.execute(sql)
        return cur.fetchall()

    return execute


def database_exists(settings_dict: dict[str, Any], dbname: str) -> bool:
    conn = connect(settings_dict, "postgres", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname])
            return cur.fetchone() is not None
    finally:
        conn.close()


def has_tables(settings_dict: dict[str, Any]) -> bool:
    conn = connect(settings_dict)
    try:
        with conn.cursor() as cur:
            return bool(pg_tables(cur))
    finally:
        conn.close()


def create_database(settings_dict: dict[str, Any], dbname: str) -> None:
    conn = connect(settings_dict, "postgres", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {qi(dbname)}")
    finally:
        conn.close()


def drop_database(settings_dict: dict[str, Any], dbname: str) -> None:
    conn = connect(settings_dict, "postgres", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {qi(dbname)} WITH (FORCE)")
    finally:
        conn.close()


# --- change capture ----------------------------------------------------------------------------


def lock_timeout_ms() -> int:
    from django.conf import settings

    return int(getattr(settings, "BACKUP_LOCK_TIMEOUT_MS", 500))


def prepare_capture(settings_dict: dict[str, Any]) -> tuple[dict | None, list, list]:
    """Install or refresh change capture. Returns the state before, the tables whose triggers had
    to be made, and the tables whose triggers had been disabled.

    The chain state is not touched here: a full backup becomes the chain's base only once it is
    safely stored (confirm_backup), so a backup that fails leaves the chain where it was.

    A backup must never hold up the application's writes: the DDL that may run here waits at most
    BACKUP_LOCK_TIMEOUT_MS for its locks (writers queue behind a waiting lock request), and then
    the backup stops and names the session in the way."""
    import psycopg2.errors

    conn = connect(settings_dict)
    try:
        try:
            with conn, conn.cursor() as cur:
                # No application session takes this lock: waiting for it holds nobody up.
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('carshop_backup'))")
                cur.execute(f"SET LOCAL lock_timeout = '{lock_timeout_ms()}ms'")
                state = capture.read_state(cur, VENDOR)
                disabled = capture.pg_disabled_triggers(cur) if state is not None else []
                changed = capture.install(cur, VENDOR)
        except psycopg2.errors.LockNotAvailable:
            raise BackupError(_blocked_message(conn, "change capture")) from None
        return state, changed, disabled
    finally:
        conn.close()


def _blocked_message(conn: Any, what: str) -> str:
    """One line naming the session whose open transaction holds the locks a backup needed."""
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT a.pid, coalesce(nullif(a.application_name, ''), '?'), a.state, "
            "extract(epoch FROM now() - a.xact_start)::int, a.usename "
            "FROM pg_stat_activity a WHERE a.datname = current_database() "
            "AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL AND EXISTS ("
            "  SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "  WHERE l.pid = a.pid AND l.granted "
            "  AND c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' "
            "  AND l.mode <> 'AccessShareLock') "
            "ORDER BY a.xact_start LIMIT 1"
        )
        row = cur.fetchone()
    conn.rollback()
    limit = lock_timeout_ms()
    if row is None:
        return (
            f"backup stopped: {what} needs a lock that another session held for over "
            f"{limit} ms (it has ended since); the application's writes were not held up: "
            "run the backup again"
        )
    pid, application, state, age, user = row
    return (
        f"backup stopped: {what} needs a lock held by pid {pid} (application "
        f"{application!r}, user {user}, {state}, transaction open for {age} s); waited "
        f"{limit} ms rather than hold up the application's writes: end that transaction "
        f"(SELECT pg_terminate_backend({pid})) or run the backup again later"
    )


def confirm_backup(
    settings_dict: dict[str, Any],
    backup_id: str,
    snapshot: Any,
    system_identifier: Any,
) -> None:
    """After a backup is safely stored: the chain continues from it, and the change log entries
    it holds are no longer needed."""
    conn = connect(settings_dict)
    try:
        with conn, conn.cursor() as cur:
            capture.write_state(
                cur,
                VENDOR,
                backup_id=backup_id,
                snapshot=snapshot,
                system_identifier=system_identifier,
                needs_full=False,
            )
            cur.execute(
                f"DELETE FROM {capture.CHANGE_TABLE} "
                f"WHERE pg_visible_in_snapshot(xid, %s::pg_snapshot)",
                [snapshot],
            )
    finally:
        conn.close()


# --- full backup -------------------------------------------------------------------------------


def full_backup(
    settings_dict: dict[str, Any],
    out_path: str,
    compress: bool,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """pg_dump (custom format) of one snapshot, and that snapshot's row counts and checksums."""
    conn = connect(settings_dict)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_export_snapshot(), pg_current_snapshot()::text, "
                "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
            )
            exported, snapshot, snapshot_at = cur.fetchone()
            facts = server_facts(cur)
            schema = pg_schema(cur)
            args, env = cli_args(settings_dict)
            command = [
                tool("pg_dump"),
                *args,
                "--format=custom",
                f"--snapshot={exported}",
                f"--file={out_path}",
                f"--exclude-table-data={capture.CHANGE_TABLE}",
            ]
            if compress:
                command.append("--compress=9")
            dump = spawn(command, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
            stderr_reader = _drain(dump.stderr)
            try:
                hash_settings(cur)
                tables = pg_tables(cur)
                migrations = applied_migrations(_fetch(cur), tables)
                checksums = {}
                for table in progress(tables, total=len(tables), label="tables"):
                    checksums[table.name] = _scan_checksum(cur, schema, table)
            except BaseException:
                dump.kill()
                dump.wait()
                raise
            code = dump.wait()
            stderr_reader.join()
            if code != 0:
                raise BackupError(
                    "pg_dump failed: " + last_error_line(stderr_reader.data, f"exit status {code}")
                )
        conn.rollback()
    finally:
        conn.close()
    return {
        "tables": checksums,
        "migrations": migrations,
        "schema_fingerprint": schema_fingerprint(tables, migrations),
        "capture": {"snapshot": snapshot, "system_identifier": facts["system_identifier"]},
        "server_version": facts["server_version"],
        "format": "pg_dump-custom",
        "snapshot_at": snapshot_at + "+00:00",
    }


class _Drain(threading.Thread):
    """Read a child's stderr in the background, so a chatty child never blocks on a full pipe."""

    def __init__(self, stream: Any) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.data = b""

    def run(self) -> None:
        self.data = self.stream.read()


def _drain(stream: Any) -> _Drain:
    reader = _Drain(stream)
    reader.start()
    return reader


# --- incremental backup ------------------------------------------------------------------------


def incremental_backup(
    settings_dict: dict[str, Any],
    out_handle: SupportsWrite[bytes],
    parent: dict[str, Any],
    progress: Progress = no_progress,
    full_check: bool = False,
) -> dict[str, Any]:
    """Write the incremental psql script to `out_handle` (binary). `parent`: the parent manifest.
    Raises NeedsFull when the chain cannot be continued, and CaptureBypassed when the tables
    are not what the chain and the change log say (changes were made with the triggers off).
    `full_check`: compare every table's checksum too, not only its row count."""
    conn = connect(settings_dict)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_current_snapshot()::text, "
                "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
            )
            snapshot, snapshot_at = cur.fetchone()
            facts = server_facts(cur)
            state = capture.read_state(cur, VENDOR)
            _check_chain(state, parent, facts)
            schema = pg_schema(cur)
            tables = pg_tables(cur)
            migrations = applied_migrations(_fetch(cur), tables)
            fingerprint = schema_fingerprint(tables, migrations)
            if fingerprint != parent["schema_fingerprint"]:
                raise NeedsFull("the schema changed since the previous backup")
            hash_settings(cur)
            parent_snapshot = parent["capture"]["snapshot"]
            new = f"NOT pg_visible_in_snapshot(c.xid, {ql(parent_snapshot)}::pg_snapshot)"
            cur.execute(
                f"SELECT c.tbl, bool_or(c.op = 'T'), coalesce(sum(c.nrows), 0), "
                f"coalesce(sum(c.hash), 0)::text FROM {qi(schema)}.{capture.CHANGE_TABLE} c "
                f"WHERE {new} GROUP BY c.tbl ORDER BY c.tbl"
            )
            changes = {
                tbl: (whole, int(nrows), int(total)) for tbl, whole, nrows, total in cur.fetchall()
            }
            by_name = {t.name: t for t in tables}
            unknown = sorted(set(changes) - set(by_name))
            if unknown:
                raise NeedsFull(f"changes logged for tables that are gone: {', '.join(unknown)}")

            write = out_handle.write
            write(
                b"-- Carshop incremental backup: a psql script, applied inside restore's "
                b"single transaction after the full backup and any earlier incrementals.\n"
            )
            write(b"SET client_encoding = 'UTF8';\nSET CONSTRAINTS ALL DEFERRED;\n")
            write(b"CREATE TEMP TABLE IF NOT EXISTS carshop_backup_keys (k text) ON COMMIT DROP;\n")
            checksums = {}
            for name, table in progress(by_name.items(), total=len(by_name), label="tables"):
                base = parent["tables"].get(name)
                if base is None:
                    raise NeedsFull(f"table {name} is not in the previous backup")
                if name not in changes:
                    checksums[name] = dict(base)
                    continue
                whole, nrows, total = changes[name]
                target = f"{qi(schema)}.{qi(name)}"
                columns = ", ".join(qi(c) for c in table.columns)
                if whole or not table.pk:
                    write(
                        f"DELETE FROM {target};\nCOPY {target} ({columns}) FROM stdin;\n".encode()
                    )
                    cur.copy_expert(f"COPY (SELECT {columns} FROM {target}) TO STDOUT", out_handle)
                    write(b"\\.\n")
                    checksums[name] = _scan_checksum(cur, schema, table)
                else:
                    keys = (
                        f"SELECT DISTINCT c.pk FROM {qi(schema)}.{capture.CHANGE_TABLE} c "
                        f"WHERE c.tbl = {ql(name)} AND c.op = 'K' AND {new}"
                    )
                    write(
                        b"TRUNCATE pg_temp.carshop_backup_keys;\n"
                        b"COPY pg_temp.carshop_backup_keys (k) FROM stdin;\n"
                    )
                    cur.copy_expert(f"COPY ({keys}) TO STDOUT", out_handle)
                    write(b"\\.\nANALYZE pg_temp.carshop_backup_keys;\n")
                    match = capture.pg_key_match(table, "t", "k.k")
                    write(
                        f"DELETE FROM {target} t USING pg_temp.carshop_backup_keys k "
                        f"WHERE {match};\nCOPY {target} ({columns}) FROM stdin;\n".encode()
                    )
                    select_columns = ", ".join(f"t.{qi(c)}" for c in table.columns)
                    row_match = capture.pg_key_match(table, "t", "k.pk")
                    cur.copy_expert(
                        f"COPY (SELECT {select_columns} FROM {target} t WHERE EXISTS "
                        f"(SELECT 1 FROM ({keys}) k WHERE {row_match})) TO STDOUT",
                        out_handle,
                    )
                    write(b"\\.\n")
                    checksums[name] = {
                        "rows": base["rows"] + nrows,
                        "checksum": checksum_hex(int(base["checksum"], 16) + total),
                    }
            _check_capture(cur, schema, by_name, checksums, full_check)
            for sequence in pg_sequences(cur):
                cur.execute(f"SELECT last_value, is_called FROM {qi(schema)}.{qi(sequence)}")
                value, called = cur.fetchone()
                write(
                    f"SELECT pg_catalog.setval({ql(qi(schema) + '.' + qi(sequence))}, "
                    f"{int(value)}, {'true' if called else 'false'});\n".encode()
                )
        conn.rollback()
    finally:
        conn.close()
    return {
        "tables": checksums,
        "changed_tables": sorted(changes),
        "migrations": migrations,
        "schema_fingerprint": fingerprint,
        "capture": {"snapshot": snapshot, "system_identifier": facts["system_identifier"]},
        "server_version": facts["server_version"],
        "format": "psql-incremental",
        "snapshot_at": snapshot_at + "+00:00",
        "capture_checked": full_check,
    }


class CaptureBypassed(NeedsFull):
    """The tables differ from what the chain and the change log say: changes were made that the
    capture triggers did not see (session_replication_role = replica, triggers disabled or
    dropped for a while)."""


def _check_capture(
    cur: Any, schema: str, tables: dict[str, Table], expected: dict[str, Any], full_check: bool
) -> None:
    """Every table's row count (and with `full_check` its checksum) in this snapshot against
    what the chain says it is."""
    differ = []
    for name, table in tables.items():
        if full_check:
            found = _scan_checksum(cur, schema, table)
        else:
            cur.execute(f"SELECT count(*) FROM {qi(schema)}.{qi(name)}")
            found = {"rows": cur.fetchone()[0], "checksum": expected[name]["checksum"]}
        if found != expected[name]:
            differ.append((name, found, expected[name]))
    if differ:
        raise CaptureBypassed(capture.bypass_message(differ))


def _check_chain(
    state: dict[str, Any] | None, parent: dict[str, Any], facts: dict[str, Any]
) -> None:
    if state is None:
        raise NeedsFull("change capture is not installed yet")
    if state["needs_full"]:
        raise NeedsFull("migrations ran or the database was restored since the last backup")
    if state["backup_id"] != parent["id"]:
        raise NeedsFull(
            f"the database last matched backup {state['backup_id']}, not {parent['id']}"
        )
    if parent["capture"].get("system_identifier") != facts["system_identifier"]:
        raise NeedsFull("the previous backup was taken on another PostgreSQL server")


# --- restore -----------------------------------------------------------------------------------

_DROP_EVERYTHING = r"""
DO $carshop$
DECLARE
  statements text[];
  statement text;
BEGIN
  -- Everything of the schema that is not part of an extension: the backup recreates it all,
  -- and objects made after the backup (tables of newer migrations) must not survive.
  SELECT coalesce(array_agg(format('DROP %s IF EXISTS %I.%I CASCADE',
           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                          WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                          ELSE 'TABLE' END, n.nspname, c.relname)
           ORDER BY c.relkind DESC), '{}')
    INTO statements
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                     AND d.objid = c.oid AND d.deptype = 'e');
  FOREACH statement IN ARRAY statements LOOP EXECUTE statement; END LOOP;
  SELECT coalesce(array_agg(format('DROP %s IF EXISTS %s CASCADE',
           CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
                          ELSE 'FUNCTION' END, p.oid::regprocedure::text)), '{}')
    INTO statements
    FROM pg_proc p
   WHERE p.pronamespace = current_schema()::regnamespace
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                     AND d.objid = p.oid AND d.deptype = 'e');
  FOREACH statement IN ARRAY statements LOOP EXECUTE statement; END LOOP;
  SELECT coalesce(array_agg(format('DROP %s IF EXISTS %s CASCADE',
           CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype::text)), '{}')
    INTO statements
    FROM pg_type t
   WHERE t.typnamespace = current_schema()::regnamespace AND t.typtype IN ('e', 'd', 'r', 'c')
     AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                     AND d.objid = t.oid AND d.deptype = 'e');
  FOREACH statement IN ARRAY statements LOOP EXECUTE statement; END LOOP;
END
$carshop$;
"""


def _epilogue(
    last: dict[str, Any],
    restored_tables: Iterable[str],
    checked_tables: Iterable[str],
    restored_id: str,
    token: str,
) -> bytes:
    """SQL run last in the restore transaction: reset change capture (the next backup must be
    full) and check every table's row count, and the checksum of every table an incremental
    touched, against the manifest. Any difference raises, and nothing is committed."""
    settings = "".join(f"SET {k} = {ql(v)};\n" for k, v in capture.PG_HASH_SETTINGS.items())
    lines = [
        "RESET search_path;",
        settings,
        "DO $carshop$ BEGIN",
        f"  IF to_regclass({ql(capture.CHANGE_TABLE)}) IS NOT NULL THEN",
        f"    TRUNCATE {capture.CHANGE_TABLE};",
        f"    UPDATE {capture.STATE_TABLE} SET backup_id = {ql(restored_id)}, "
        f"snapshot = {ql(token)},",
        "      needs_full = TRUE, updated_at = now();",
        "  END IF;",
        "END $carshop$;",
        "DO $carshop$",
        "DECLARE n bigint; h numeric; found_tables text;",
        "BEGIN",
        "  SELECT string_agg(relname, ',' ORDER BY relname) INTO found_tables FROM pg_class",
        "   WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'",
        "     AND NOT relispartition",
        f"     AND left(relname, {len('carshop_backup_')}) <> 'carshop_backup_';",
        f"  IF found_tables IS DISTINCT FROM {ql(','.join(sorted(restored_tables)))} THEN",
        "    RAISE EXCEPTION 'restore check failed: the tables differ from the backup''s';",
        "  END IF;",
    ]
    for name in sorted(last["tables"]):
        expected = last["tables"][name]
        target = qi(name)
        if name in checked_tables:
            lines += [
                f"  SELECT count(*), coalesce(sum(hashtextextended(x::text, 0)), 0) INTO n, h "
                f"FROM {target} x;",
                f"  h := mod(mod(h, {MOD64}) + {MOD64}, {MOD64});",
                f"  IF h <> {int(expected['checksum'], 16)} THEN",
                "    RAISE EXCEPTION 'restore check failed: table % checksum differs from the "
                f"backup''s', {ql(name)};",
                "  END IF;",
            ]
        else:
            lines.append(f"  SELECT count(*) INTO n FROM {target};")
        lines += [
            f"  IF n <> {int(expected['rows'])} THEN",
            f"    RAISE EXCEPTION 'restore check failed: table % has % rows, the backup has %', "
            f"{ql(name)}, n, {int(expected['rows'])};",
            "  END IF;",
        ]
    lines += ["END $carshop$;", ""]
    return "\n".join(lines).encode()


# The only statement that commits a restore, written to psql in one write(2) of fewer than
# PIPE_BUF bytes: psql reads either all of it or none of it. psql executes an unterminated last
# statement when its input ends (a "COMMIT" cut before its semicolon would still commit), so the
# marker must never arrive in pieces.
_COMMIT = b"\nCOMMIT;\n"


def psql_command(settings_dict: dict[str, Any], dbname: str) -> list:
    """psql reading a script on stdin, stopping at the first error. Its transaction is the
    script's own (BEGIN ... COMMIT), never --single-transaction (see restore)."""
    args, _ = cli_args(settings_dict, dbname)
    return [tool("psql"), "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", *args, "--file=-"]


def restore(
    settings_dict: dict[str, Any],
    dbname: str,
    chain: list[tuple[dict[str, Any], str]],
    progress: Progress = no_progress,
) -> None:
    """Replace the database `dbname` by the chain [(manifest, local file), ...] (a full backup
    then its incrementals, in order), in one transaction.

    Why not `psql --single-transaction`: psql takes the end of its input for the end of the
    script and then COMMITs, so a restore killed half-way (its pipe to psql closes) would
    commit whatever it had sent. Here the script opens its own transaction with BEGIN and the
    only COMMIT is sent last, after every file was fed and the check ran: if the input ends
    before it (this process killed), psql disconnects with the transaction open and the server
    rolls it back; if psql or its server connection dies, the server rolls back too."""
    last = chain[-1][0]
    # Every table's checksum is checked, not only those an incremental touched: the manifest's
    # figures are checked against what was restored, whatever the files are.
    checked = set(last["tables"])
    token = f"restored:{last['id']}:{os.getpid()}:{time.time_ns()}"
    _, env = cli_args(settings_dict, dbname)
    refuse_large_objects(chain[0][1])
    psql = spawn(
        psql_command(settings_dict, dbname),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    stdin = cast("IO[bytes]", psql.stdin)  # stdin=PIPE: never None
    psql_errors = _drain(psql.stderr)
    try:
        try:
            stdin.write(b"SET client_encoding = 'UTF8';\nBEGIN;\n")
            stdin.write(_DROP_EVERYTHING.encode())
            stdin.flush()
            backups = iter(progress(chain, total=len(chain), label="backups"))
            _full, full_path = next(backups)
            pg_restore = spawn(
                [tool("pg_restore"), "--no-owner", "--no-privileges", "--file=-", full_path],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdin,
                stderr=subprocess.PIPE,
            )
            restore_errors = _drain(pg_restore.stderr)
            code = pg_restore.wait()
            restore_errors.join()
            if code != 0:
                raise BackupError(
                    "pg_restore failed: "
                    + last_error_line(restore_errors.data, f"exit status {code}")
                )
            pause_point("full-restored")
            stdin.write(b"\nRESET search_path;\n")
            for _manifest, path in backups:
                with open_maybe_gzip(path) as handle:
                    while block := handle.read(CHUNK):
                        stdin.write(block)
            pause_point("incrementals-applied")
            stdin.write(_epilogue(last, last["tables"].keys(), checked, last["id"], token))
            stdin.flush()
            pause_point("before-commit")
            os.write(stdin.fileno(), _COMMIT)
            stdin.close()
        except BrokenPipeError:
            pass  # psql stopped on an error: its message is read below
        code = psql.wait()
        psql_errors.join()
        # A psql that died after the server committed (killed on its way out) did restore.
        if code != 0 and not _committed(settings_dict, dbname, token):
            raise BackupError(
                "restore failed, nothing was changed: "
                + last_error_line(psql_errors.data, f"psql exit status {code}")
            )
    finally:
        if psql.poll() is None:
            psql.kill()
            psql.wait()
        with contextlib.suppress(Exception):
            stdin.close()
    pause_point("after-commit")


def refuse_large_objects(dump_path: str) -> None:
    """pg_restore writes large objects between its own BEGIN and COMMIT, which would commit the
    restore's transaction half-way: a dump that holds any is refused (Carshop makes none)."""
    import re

    listing = subprocess.run(
        [tool("pg_restore"), "--list", dump_path], capture_output=True, timeout=300, check=False
    )
    if listing.returncode != 0:
        raise BackupError(
            "pg_restore cannot read the dump: "
            + last_error_line(listing.stderr, f"exit status {listing.returncode}")
        )
    if re.search(rb"^[^;\n]*;[^\n]*\b(BLOBS?|LARGE OBJECTS?)\b", listing.stdout, re.MULTILINE):
        raise BackupError(
            "the full backup holds large objects, which cannot be restored in one "
            "transaction: restore it with pg_restore by hand"
        )


def _committed(settings_dict: dict[str, Any], dbname: str, token: str) -> bool:
    """Whether the restore that wrote `token` into the change-capture state was committed."""
    try:
        conn = connect(settings_dict, dbname)
    except BackupError:
        return False
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT to_regclass({ql(capture.STATE_TABLE)}) IS NOT NULL")
            if not cur.fetchone()[0]:
                return False
            cur.execute(f"SELECT snapshot FROM {capture.STATE_TABLE} WHERE id = 1")
            row = cur.fetchone()
            return bool(row) and row[0] == token
    finally:
        conn.close()


# --- validation --------------------------------------------------------------------------------


def compare(settings_dict: dict[str, Any], dbname: str) -> dict[str, Any]:
    """Every table's row count and checksum in `dbname`, in one snapshot."""
    conn = connect(settings_dict, dbname)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            hash_settings(cur)
            schema = pg_schema(cur)
            tables = pg_tables(cur)
            found = table_checksums(cur, schema, tables)
        conn.rollback()
    finally:
        conn.close()
    return found
