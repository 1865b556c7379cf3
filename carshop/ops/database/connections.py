"""The database as operators see it: can we connect, how fast, which server, how big, migrations,
and who holds its connections. PostgreSQL and SQLite each answer what applies to them.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from carshop.ops.toolkit import Report, first_line, threshold_status

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

# A database on the same host or network answers SELECT 1 in about a millisecond.
SLOW_ROUND_TRIP_MS = 50
# A transaction left open this long holds locks and keeps VACUUM from cleaning up.
IDLE_IN_TRANSACTION_WARN_SECONDS = 300


def connection_for(alias: str) -> BaseDatabaseWrapper:
    if alias not in connections:
        known = ", ".join(connections)
        raise CommandError(f"no database {alias!r} in DATABASES; databases: {known}")
    return connections[alias]


def server_version(connection: BaseDatabaseWrapper) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sqlite_version()")
            return f"SQLite {cursor.fetchone()[0]}"
    return connection.display_name


def sqlite_files(connection: BaseDatabaseWrapper) -> tuple[Path, Path] | tuple[None, None]:
    """(database file, WAL file) of an SQLite connection; None for an in-memory database."""
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:"):
        return None, None
    path = Path(name)
    return path, Path(f"{path}-wal")


def database_size(connection: BaseDatabaseWrapper) -> int | None:
    """Bytes the database takes: pg_database_size, or the SQLite file plus its WAL."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0]
    if connection.vendor == "sqlite":
        path, wal = sqlite_files(connection)
        if path is None:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA page_count")
                pages = cursor.fetchone()[0]
                cursor.execute("PRAGMA page_size")
                return pages * cursor.fetchone()[0]
        files = cast("tuple[Path, Path]", (path, wal))  # wal is None only with path
        return sum(file.stat().st_size for file in files if file.exists())
    return None


def unapplied_migrations(connection: BaseDatabaseWrapper) -> list[str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [
        f"{migration.app_label}.{migration.name}" for migration, backwards in plan if not backwards
    ]


def megabytes(size: float | None) -> float | None:
    return None if size is None else round(size / (1024 * 1024), 1)


def check_connection(alias: str = "default", round_trips: int = 5) -> Report:
    """Connect afresh (not through the connection this process already holds) and measure."""
    if round_trips < 1:
        raise CommandError(f"--round-trips must be 1 or more, got {round_trips}")
    connection_for(alias)
    report = Report("database connection")
    connection = connections.create_connection(alias)
    report.data["alias"] = alias
    report.data["vendor"] = connection.vendor
    report.data["name"] = str(connection.settings_dict.get("NAME"))
    try:
        started = time.perf_counter()
        try:
            connection.ensure_connection()
        except Exception as exc:
            report.fail("connect", f"cannot connect to database {alias!r}: {first_line(exc)}")
            return report
        connect_ms = (time.perf_counter() - started) * 1000
        report.data["connect_ms"] = round(connect_ms, 2)
        report.ok("connect", f"{connection.vendor} {report.data['name']} in {connect_ms:.1f} ms")

        timings = []
        with connection.cursor() as cursor:
            for _ in range(round_trips):
                started = time.perf_counter()
                cursor.execute("SELECT 1")
                cursor.fetchone()
                timings.append((time.perf_counter() - started) * 1000)
        latency = {
            "round_trips": round_trips,
            "min_ms": round(min(timings), 3),
            "median_ms": round(statistics.median(timings), 3),
            "max_ms": round(max(timings), 3),
        }
        report.data["latency"] = latency
        detail = (
            f"{round_trips} round trips: min {latency['min_ms']:.2f} ms, median "
            f"{latency['median_ms']:.2f} ms, max {latency['max_ms']:.2f} ms"
        )
        if latency["median_ms"] >= SLOW_ROUND_TRIP_MS:
            report.warn("latency", f"{detail} (slow: expected about 1 ms)")
        else:
            report.ok("latency", detail)

        version = server_version(connection)
        report.data["server_version"] = version
        report.ok("server version", version)

        size = database_size(connection)
        report.data["size_bytes"] = size
        report.ok("database size", f"{megabytes(size)} MB")

        pending = unapplied_migrations(connection)
        report.data["unapplied_migrations"] = pending
        if pending:
            shown = ", ".join(pending[:10]) + (" ..." if len(pending) > 10 else "")
            report.warn(
                "migrations", f"{len(pending)} unapplied: {shown} (python manage.py migrate)"
            )
        else:
            report.ok("migrations", "all applied")
    finally:
        connection.close()
    return report


# --- connections --------------------------------------------------------------------------


def connection_usage(alias: str = "default", limit: int = 5) -> Report:
    """Who holds the database's connections now, against what the server allows."""
    if limit < 1:
        raise CommandError(f"--limit must be 1 or more, got {limit}")
    connection = connection_for(alias)
    if connection.vendor == "postgresql":
        return _postgresql_usage(connection, limit)
    if connection.vendor == "sqlite":
        return _sqlite_usage(connection)
    report = Report("database connections")
    report.ok("vendor", f"{connection.vendor}: no connection figures for this database")
    return report


def _postgresql_usage(connection: BaseDatabaseWrapper, limit: int) -> Report:
    report = Report("database connections")
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        max_connections = int(cursor.fetchone()[0])
        cursor.execute("SHOW superuser_reserved_connections")
        reserved = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 1"
        )
        by_state = dict(cursor.fetchall())
        cursor.execute(
            "SELECT coalesce(datname, '-'), count(*) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        by_database = dict(cursor.fetchall())
        cursor.execute(
            "SELECT pid, coalesce(usename, '-'), coalesce(datname, '-'), application_name, "
            "coalesce(host(client_addr), 'local'), state, "
            "extract(epoch FROM now() - coalesce(xact_start, query_start)), "
            "left(query, 200) "
            "FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND state IS DISTINCT FROM 'idle' AND pid <> pg_backend_pid() "
            "ORDER BY coalesce(xact_start, query_start) NULLS LAST LIMIT %s",
            [limit],
        )
        longest = [
            {
                "pid": pid,
                "user": user,
                "database": database,
                "application": application,
                "client": client,
                "state": state,
                "seconds": round(float(seconds), 1) if seconds is not None else None,
                "query": " ".join((query or "").split()),
            }
            for pid, user, database, application, client, state, seconds, query in cursor.fetchall()
        ]
    usable = max_connections - reserved
    in_use = sum(by_state.values())
    percent = round(100 * in_use / usable, 1) if usable > 0 else 100.0
    report.data.update(
        {
            "max_connections": max_connections,
            "superuser_reserved_connections": reserved,
            "in_use": in_use,
            "percent_in_use": percent,
            "by_state": by_state,
            "by_database": by_database,
            "longest_running": longest,
            "conn_max_age": connection.settings_dict.get("CONN_MAX_AGE"),
        }
    )
    status = threshold_status(
        percent,
        settings.MONITOR_DB_CONNECTIONS_WARN_PERCENT,
        settings.MONITOR_DB_CONNECTIONS_FAIL_PERCENT,
    )
    report.add(
        status,
        "connections in use",
        f"{in_use} of {usable} ({percent}%; max_connections {max_connections}, "
        f"{reserved} reserved for superusers)",
    )
    states = ", ".join(f"{state} {count}" for state, count in by_state.items())
    report.ok("by state", states or "none")
    stuck = [
        row
        for row in longest
        if row["state"] == "idle in transaction"
        and (row["seconds"] or 0) >= IDLE_IN_TRANSACTION_WARN_SECONDS
    ]
    if stuck:
        pids = ", ".join(f"pid {row['pid']} ({row['seconds']:.0f} s)" for row in stuck)
        report.warn("idle in transaction", f"{pids}: open transactions hold locks and block VACUUM")
    return report


def _sqlite_usage(connection: BaseDatabaseWrapper) -> Report:
    report = Report("database connections")
    path, wal = sqlite_files(connection)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal_mode = cursor.fetchone()[0]
        cursor.execute("PRAGMA busy_timeout")
        busy_timeout_ms = cursor.fetchone()[0]
    size = path.stat().st_size if path and path.exists() else None
    wal_size = wal.stat().st_size if wal and wal.exists() else 0
    report.data.update(
        {
            "file": str(path) if path else ":memory:",
            "size_bytes": size,
            "wal_bytes": wal_size,
            "journal_mode": journal_mode,
            "busy_timeout_ms": busy_timeout_ms,
        }
    )
    report.ok(
        "server",
        "SQLite has no connection server: each process opens the file; writers queue for one lock",
    )
    report.ok("file", f"{report.data['file']}, {megabytes(size)} MB")
    if journal_mode.lower() == "wal":
        report.ok("journal mode", f"wal; WAL file {megabytes(wal_size)} MB")
    else:
        report.warn("journal mode", f"{journal_mode}: readers wait for writers (settings set WAL)")
    report.ok("busy timeout", f"{busy_timeout_ms} ms before 'database is locked'")
    return report
