"""What is in a database, found by introspection: every table, its columns and its primary key.

Backups cover every table of the database (model tables, many-to-many tables, tables made by
RunSQL, third-party tables), never a list written down today: other apps add models all the time.
The backup machinery's own tables (`carshop_backup_*`) are left out of row counts and checksums.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence


OWN_PREFIX = "carshop_backup_"


@dataclasses.dataclass(frozen=True)
class Table:
    """One table: its columns in storage order (generated columns left out) and primary key."""

    name: str
    columns: tuple
    types: tuple
    pk: tuple
    pk_types: tuple

    def describe(self) -> list[Any]:
        return [self.name, list(zip(self.columns, self.types, strict=True)), list(self.pk)]


def qi(name: str) -> str:
    """Quote an identifier (the same rule for PostgreSQL and SQLite)."""
    return '"' + str(name).replace('"', '""') + '"'


def ql(value: object) -> str:
    """Quote a string literal."""
    return "'" + str(value).replace("'", "''") + "'"


# --- PostgreSQL ------------------------------------------------------------------------------


def pg_schema(cursor: Any) -> str:
    cursor.execute("SELECT current_schema()")
    return cursor.fetchone()[0]


def pg_tables(cursor: Any) -> list[Table]:
    """Every ordinary table of the current schema, except the backup machinery's own."""
    cursor.execute(
        """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
               coalesce((SELECT k.ord FROM unnest(pk.indkey) WITH ORDINALITY k(att, ord)
                         WHERE k.att = a.attnum), 0) AS pkpos
        FROM pg_class c
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                           AND a.attgenerated = ''
        LEFT JOIN pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary
        WHERE c.relnamespace = current_schema()::regnamespace
          AND c.relkind = 'r' AND NOT c.relispartition
          AND left(c.relname, %s) <> %s
        ORDER BY c.relname, a.attnum
        """,
        [len(OWN_PREFIX), OWN_PREFIX],
    )
    return _assemble(cursor.fetchall())


def pg_sequences(cursor: Any) -> list[str]:
    cursor.execute(
        """
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'S'
          AND left(c.relname, %s) <> %s
        ORDER BY c.relname
        """,
        [len(OWN_PREFIX), OWN_PREFIX],
    )
    return [row[0] for row in cursor.fetchall()]


# --- SQLite ----------------------------------------------------------------------------------


def sqlite_tables(conn: Any, schema: str = "main") -> list[Table]:
    """Every table of an SQLite database, except SQLite's and the backup machinery's own.
    `conn`: an sqlite3 connection or cursor (or Django's cursor over one)."""
    names = [
        row[0]
        for row in conn.execute(
            f"SELECT name FROM {qi(schema)}.sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            f"AND substr(name, 1, {len(OWN_PREFIX)}) <> {ql(OWN_PREFIX)} ORDER BY name"
        ).fetchall()
    ]
    rows = []
    for name in names:
        # table_xinfo: hidden 0 is a stored column; 2 and 3 are generated columns.
        for _cid, col, coltype, _nn, _dflt, pkpos, hidden in conn.execute(
            f"PRAGMA {qi(schema)}.table_xinfo({qi(name)})"
        ).fetchall():
            if hidden == 0:
                rows.append((name, col, (coltype or "").lower(), pkpos))
    return _assemble(rows)


def _assemble(rows: Iterable[Sequence[Any]]) -> list[Table]:
    tables: dict[Any, Any] = {}
    for name, column, coltype, pkpos in rows:
        entry = tables.setdefault(name, {"columns": [], "types": [], "pk": {}})
        entry["columns"].append(column)
        entry["types"].append(coltype)
        if pkpos:
            entry["pk"][pkpos] = (column, coltype)
    result = []
    for name in sorted(tables):
        entry = tables[name]
        pk = [entry["pk"][pos] for pos in sorted(entry["pk"])]
        result.append(
            Table(
                name=name,
                columns=tuple(entry["columns"]),
                types=tuple(entry["types"]),
                pk=tuple(col for col, _ in pk),
                pk_types=tuple(t for _, t in pk),
            )
        )
    return result


def applied_migrations(
    execute: Callable[[str], Iterable[Sequence[Any]]], tables: Iterable[Table]
) -> list[list[str]]:
    """[app, name] of every applied migration; `execute(sql)` returns rows."""
    if "django_migrations" not in {t.name for t in tables}:
        return []  # not a Django database yet
    rows = execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    return [[app, name] for app, name in rows]


def schema_fingerprint(tables: Iterable[Table], migrations: Iterable[list[str]]) -> str:
    """Changes when a table, column, type or applied migration changes: an incremental backup
    can only continue a chain whose schema is the same."""
    payload = json.dumps([[t.describe() for t in tables], migrations], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
