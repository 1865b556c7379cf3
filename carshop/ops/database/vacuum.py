"""vacuum_database: VACUUM (and ANALYZE) on PostgreSQL and SQLite, with the space reclaimed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from django.apps import apps
from django.core.management.base import CommandError

from carshop.ops import facts
from carshop.ops.data import tables
from carshop.ops.toolkit import no_progress

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger("carshop.commands")

# ---------------------------------------------------------------------------------------------
# Friendly table names (`--tables=sessions,audit`)
# ---------------------------------------------------------------------------------------------


def resolve_tables(value: str | None, connection: BaseDatabaseWrapper) -> list[str]:
    """`--tables` (friendly names of carshop.ops.data.tables, sessions, tasks, logins, or the
    database's own table names) -> sorted table names. An unknown name raises CommandError
    listing them."""
    system_tables = facts.system_tables()  # outside the Carshop apps, the project names them
    existing = set(connection.introspection.table_names())
    names = [name.strip() for name in str(value or "").split(",") if name.strip()]
    if not names:
        raise CommandError("--tables is empty: give friendly names such as sessions,audit")
    chosen: set[str] = set()
    for name in names:
        key = name.lower()
        if key in system_tables:
            chosen.update(apps.get_model(label)._meta.db_table for label in system_tables[key])
        elif name in existing:
            chosen.add(name)
        else:
            try:
                chosen.add(tables.get(name).model._meta.db_table)
            except CommandError:
                raise CommandError(
                    f"unknown table {name!r}; tables: {tables.valid_names()}, "
                    f"{', '.join(system_tables)} (or a table name of the database)"
                ) from None
    return sorted(table for table in chosen if table in existing)


# ---------------------------------------------------------------------------------------------
# vacuum_database
# ---------------------------------------------------------------------------------------------


def vacuum(
    connection: BaseDatabaseWrapper,
    *,
    tables: list[str] | None = None,
    analyze_only: bool = False,
    full: bool = False,
    progress: Callable[..., Any] = no_progress,
) -> dict[str, Any]:
    """VACUUM (and ANALYZE) the database, or ANALYZE only. Returns a report with sizes before and
    after. Must run outside a transaction (VACUUM cannot run inside one)."""
    if analyze_only and full:
        raise CommandError("--full and --analyze-only exclude each other")
    if connection.in_atomic_block:
        raise CommandError("VACUUM cannot run inside a transaction; run the command on its own")
    if connection.vendor == "postgresql":
        return _vacuum_postgresql(connection, tables, analyze_only, full, progress)
    if connection.vendor == "sqlite":
        return _vacuum_sqlite(connection, tables, analyze_only, full)
    raise CommandError(f"vacuum_database supports PostgreSQL and SQLite, not {connection.vendor}")


def _pg_table_stats(cursor: Any, tables: list[str]) -> dict[str, Any]:
    cursor.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid), COALESCE(s.n_dead_tup, 0) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
        "WHERE c.relkind IN ('r', 'm') AND n.nspname = current_schema() "
        "AND c.relname = ANY(%s)",
        [list(tables)],
    )
    return {name: (size, dead) for name, size, dead in cursor.fetchall()}


def _vacuum_postgresql(
    connection: BaseDatabaseWrapper,
    tables: list[str] | None,
    analyze_only: bool,
    full: bool,
    progress: Callable[..., Any],
) -> dict:
    connection.ensure_connection()
    if tables is None:
        tables = sorted(connection.introspection.table_names())
    quote = connection.ops.quote_name
    if analyze_only:
        statement = "ANALYZE {}"
    elif full:
        statement = "VACUUM (FULL, ANALYZE) {}"
    else:
        statement = "VACUUM (ANALYZE) {}"
    rows = []
    with connection.cursor() as cursor:
        before = _pg_table_stats(cursor, tables)
        for table in progress(tables, total=len(tables), label="tables"):
            if table not in before:
                continue
            cursor.execute(statement.format(quote(table)))
        after = _pg_table_stats(cursor, tables)
    for table in tables:
        if table not in before:
            continue
        size_before, dead = before[table]
        size_after = after.get(table, (size_before, 0))[0]
        rows.append(
            {
                "table": table,
                "bytes_before": size_before,
                "bytes_after": size_after,
                "reclaimed_bytes": size_before - size_after,
                "dead_rows_before": dead,
            }
        )
    return _vacuum_report(connection, "ANALYZE" if analyze_only else statement.split(" {")[0], rows)


def _sqlite_pages(cursor: Any) -> tuple[Any, Any, Any]:
    cursor.execute("PRAGMA page_count")
    pages = cursor.fetchone()[0]
    cursor.execute("PRAGMA freelist_count")
    free = cursor.fetchone()[0]
    cursor.execute("PRAGMA page_size")
    return pages, free, cursor.fetchone()[0]


def _sqlite_file_size(connection: BaseDatabaseWrapper) -> Any:
    from carshop.ops.database.connections import sqlite_files

    path, wal = sqlite_files(connection)
    if path is None:
        return None
    files = cast("tuple[Path, Path]", (path, wal))  # wal is None only with path
    return sum(file.stat().st_size for file in files if file.exists())


def _vacuum_sqlite(
    connection: BaseDatabaseWrapper, tables: list[str] | None, analyze_only: bool, full: bool
) -> dict[str, Any]:
    if tables is not None and not analyze_only:
        raise CommandError(
            "SQLite vacuums the whole file: leave out --tables, or add "
            "--analyze-only to analyze only those tables"
        )
    connection.ensure_connection()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Write the WAL back first, so the sizes compare the file with itself.
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages_before, free_before, page_size = _sqlite_pages(cursor)
        size_before = _sqlite_file_size(connection)
        if analyze_only:
            targets: list[str | None] = [*tables] if tables else [None]
            for table in targets:
                cursor.execute("ANALYZE" if table is None else f"ANALYZE {quote(table)}")
        else:
            # ANALYZE first: rewriting its statistics leaves free pages, which VACUUM then
            # gives back (VACUUM keeps the statistics).
            cursor.execute("ANALYZE")
            cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages_after, free_after, _ = _sqlite_pages(cursor)
        size_after = _sqlite_file_size(connection)
    if size_before is None:  # in memory
        size_before, size_after = pages_before * page_size, pages_after * page_size
    rows = [
        {
            "table": "(database file)",
            "bytes_before": size_before,
            "bytes_after": size_after,
            "reclaimed_bytes": size_before - size_after,
            "free_pages_before": free_before,
            "free_pages_after": free_after,
        }
    ]
    return _vacuum_report(connection, "ANALYZE" if analyze_only else "ANALYZE; VACUUM", rows)


def _vacuum_report(connection: BaseDatabaseWrapper, statement: str, rows: Any) -> dict[str, Any]:
    report = {
        "database": connection.vendor,
        "name": str(connection.settings_dict["NAME"]),
        "statement": statement,
        "tables": rows,
        "bytes_before": sum(row["bytes_before"] for row in rows),
        "bytes_after": sum(row["bytes_after"] for row in rows),
    }
    report["reclaimed_bytes"] = report["bytes_before"] - report["bytes_after"]
    logger.info(
        "database vacuumed",
        extra={"statement": statement, "reclaimed_bytes": report["reclaimed_bytes"]},
    )
    return report
