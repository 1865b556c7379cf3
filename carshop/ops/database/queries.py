"""Slow queries: which statements are slow and their plans (`analyze_queries`,
`optimize_queries`).

- Slow statements come from pg_stat_statements (when the extension is installed and readable)
  and from db.log (carshop.dblog writes every query slower than SLOW_QUERY_MS), read through
  carshop.ops.logs.reading; queries running now from pg_stat_activity.
- Plans: plain EXPLAIN (never ANALYZE: nothing is executed) of SELECT statements only, one
  statement at a time, in a transaction that is rolled back. db.log keeps each statement's
  parameters (secrets masked, see carshop.dblog), so its statements are planned with the values
  they ran with, on any PostgreSQL. Statements whose parameter values are not known ($1 in
  pg_stat_statements, db.log entries written without them) are planned generically:
  EXPLAIN (GENERIC_PLAN) on PostgreSQL 16+, NULLs bound on SQLite; on older PostgreSQL they are
  skipped with a note.

Functions return plain data (dicts and lists) that the commands print as text or JSON.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError
from django.db import DatabaseError, transaction
from django.utils import timezone

from carshop.dblog import MASKED
from carshop.ops.logs.reading import LogReader, latency_summary, normalize_sql
from carshop.ops.toolkit import first_line, no_progress

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
    from datetime import datetime
    from pathlib import Path

    from django.db.backends.base.base import BaseDatabaseWrapper

# Statistics older than this, on a table that changed since, are stale.
STALE_STATISTICS = timedelta(days=7)
# EXPLAIN of a logged statement never runs longer than this.
EXPLAIN_TIMEOUT_MS = 5000

ENABLE_PG_STAT_STATEMENTS = (
    "to enable it: add pg_stat_statements to shared_preload_libraries in postgresql.conf, "
    "restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements; in the database"
)


def _vendor_check(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor not in ("postgresql", "sqlite"):
        raise CommandError(
            f"supported databases are PostgreSQL and SQLite, not {connection.vendor}"
        )


def _pg_version(connection: Any) -> int:
    connection.ensure_connection()
    return connection.pg_version


# ---------------------------------------------------------------------------------------------
# Slow queries
# ---------------------------------------------------------------------------------------------


def log_slow_queries(reader: Iterable[Any], threshold_ms: float) -> dict[str, Any]:
    """db.log statements at or over threshold_ms, grouped with their literals replaced; each
    with latency figures and its slowest occurrence as written (for EXPLAIN)."""
    groups = defaultdict(list)
    for entry in reader:
        duration = entry.get("duration_ms")
        if not isinstance(duration, (int, float)) or duration < threshold_ms:
            continue
        sql = entry.get("sql") or ""
        groups[normalize_sql(sql)].append(
            (float(duration), sql, entry.get("database"), entry["time"], entry.get("params"))
        )
    statements = []
    for normalized, occurrences in groups.items():
        slowest = max(occurrences, key=lambda item: item[0])
        statements.append(
            {
                "source": "db.log",
                "sql": normalized,
                "example": slowest[1],
                "example_params": slowest[4],
                "database": slowest[2],
                "last_seen": max(item[3] for item in occurrences),
                **latency_summary([item[0] for item in occurrences]),
            }
        )
    statements.sort(key=lambda row: (-row["max_ms"], -row["count"], row["sql"]))
    return {"count": sum(len(items) for items in groups.values()), "statements": statements}


def statement_statistics(
    connection: BaseDatabaseWrapper, threshold_ms: float, top: int
) -> dict[str, Any]:
    """The slowest statements of pg_stat_statements in this database (mean or max at or over
    threshold_ms), or why there are none to read."""
    result: dict[str, Any] = {"available": False, "statements": [], "note": ""}
    if connection.vendor != "postgresql":
        result["note"] = "SQLite has no pg_stat_statements: db.log only"
        return result
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        installed = cursor.fetchone() is not None
    if not installed:
        result["note"] = (
            f"pg_stat_statements is not installed in database {database}; "
            f"{ENABLE_PG_STAT_STATEMENTS}"
        )
        return result
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(
                "SELECT queryid, query, calls, total_exec_time, mean_exec_time, max_exec_time, "
                "rows FROM pg_stat_statements "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND (mean_exec_time >= %s OR max_exec_time >= %s) "
                "ORDER BY mean_exec_time DESC LIMIT %s",
                [threshold_ms, threshold_ms, top],
            )
            rows = cursor.fetchall()
    except DatabaseError as exc:
        result["note"] = (
            f"pg_stat_statements is installed but cannot be read: "
            f"{first_line(exc)}; {ENABLE_PG_STAT_STATEMENTS}"
        )
        return result
    result["available"] = True
    hidden = 0
    for queryid, query, calls, total, mean, maximum, rows_returned in rows:
        if query == "<insufficient privilege>":
            hidden += 1
        result["statements"].append(
            {
                "source": "pg_stat_statements",
                "queryid": queryid,
                "sql": query,
                "example": query,
                "count": calls,
                "total_ms": round(total, 1),
                "mean_ms": round(mean, 1),
                "max_ms": round(maximum, 1),
                "rows": rows_returned,
            }
        )
    result["note"] = f"{len(rows)} statements at or over the threshold"
    if hidden:
        result["note"] += (
            f"; {hidden} of other users hidden (grant pg_read_all_stats to see their text)"
        )
    return result


def running_queries(
    connection: BaseDatabaseWrapper, threshold_seconds: float
) -> list[dict[str, Any]]:
    """Queries running now for threshold_seconds or longer (PostgreSQL's pg_stat_activity)."""
    if connection.vendor != "postgresql":
        raise CommandError(
            f"--running needs PostgreSQL: SQLite has no list of running queries "
            f"(the database is {connection.settings_dict['NAME']})"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, coalesce(usename, '-'), coalesce(datname, '-'), "
            "coalesce(application_name, ''), state, wait_event_type, wait_event, "
            "extract(epoch FROM now() - query_start), left(query, 2000) "
            "FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = 'active' "
            "AND pid <> pg_backend_pid() AND now() - query_start >= %s * interval '1 second' "
            "ORDER BY query_start",
            [threshold_seconds],
        )
        return [
            {
                "pid": pid,
                "user": user,
                "database": database,
                "application": application,
                "state": state,
                "waiting": f"{wait_type}:{wait}" if wait_type else None,
                "seconds": round(float(seconds), 1),
                "query": " ".join((query or "").split()),
            }
            for (
                pid,
                user,
                database,
                application,
                state,
                wait_type,
                wait,
                seconds,
                query,
            ) in cursor.fetchall()
        ]


def slow_queries(
    connection: BaseDatabaseWrapper,
    *,
    threshold_seconds: float,
    since: datetime | None,
    until: datetime | None,
    log_dir: Path | None,
    top: int,
    progress: Callable[..., Any] = no_progress,
) -> tuple[dict[str, Any], LogReader]:
    """pg_stat_statements (its `top` slowest) and db.log (every statement), for the period.
    Returns (report dict, the LogReader)."""
    _vendor_check(connection)
    if threshold_seconds <= 0:
        raise CommandError(f"--threshold must be more than 0 seconds, got {threshold_seconds:g}")
    if top < 1:
        raise CommandError(f"--top must be 1 or more, got {top}")
    threshold_ms = threshold_seconds * 1000
    reader = LogReader("db.log", since=since, until=until, log_dir=log_dir)
    logged = log_slow_queries(progress(reader, label="reading db.log"), threshold_ms)
    stats = statement_statistics(connection, threshold_ms, top)
    return {
        "threshold_seconds": threshold_seconds,
        "since": since,
        "database": connection.vendor,
        "pg_stat_statements": stats,
        "db_log": {
            **reader.summary(),
            "count": logged["count"],
            "statements": logged["statements"],
            "total_statements": len(logged["statements"]),
        },
    }, reader


# ---------------------------------------------------------------------------------------------
# Plans and suggestions
# ---------------------------------------------------------------------------------------------

_LITERAL = re.compile(r"'(?:[^']|'')*'")
_IDENTIFIER = re.compile(r'"?\b([A-Za-z_][A-Za-z0-9_]*)\b"?')
_PG_PARAM = re.compile(r"\$\d+")
_PLACEHOLDER = re.compile(r"%%|%s")  # %% is a literal per cent sign


def _strip_literals(text: str) -> str:
    return _LITERAL.sub("''", text or "")


def _columns_in(text: Any, columns: Collection[str]) -> list[str]:
    """Columns of a table named in a filter or WHERE clause, in order of appearance, once."""
    found = []
    for match in _IDENTIFIER.finditer(_strip_literals(text)):
        name = match.group(1)
        if name in columns and name not in found:
            found.append(name)
    return found


def _explainable(sql: str) -> tuple[Any, ...]:
    """(statement to explain, parameter count, reason it cannot be) for a logged statement."""
    text = (sql or "").strip().rstrip(";").strip()
    if not re.match(r"^\(?\s*SELECT\b", text, re.IGNORECASE):
        keyword = text.split(None, 1)[0].upper() if text else "empty"
        return None, 0, f"{keyword} statement: EXPLAIN runs on SELECT statements only"
    if ";" in _strip_literals(text):
        return None, 0, "more than one statement: not explained"
    if len(text) >= 4000:
        return None, 0, "the log keeps only the first 4000 characters: not explained"
    params = _PLACEHOLDER.findall(text).count("%s") + len(_PG_PARAM.findall(text))
    return text, params, None


def _logged_values(text: str, params: int, values: Any) -> tuple[Any, str]:
    """The logged parameter values to plan with, and a note, or (None, "") when they do not fit
    the statement (not kept, or $1 placeholders). Masked values are planned with the mask as a
    stand-in string."""
    if not params or not isinstance(values, list) or len(values) != params or "%s" not in text:
        return None, ""
    masked = sum(1 for value in values if value == MASKED)
    note = "planned with the logged parameter values"
    if masked:
        note += f" ({masked} masked, planned with a stand-in)"
    return values, note


def explain(
    connection: BaseDatabaseWrapper,
    sql: str,
    *,
    min_rows: int = 10000,
    params: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """Plan one statement and derive suggestions. Returns {"status": explained|skipped, ...}.
    params: the values logged with the statement in db.log, if any."""
    text, count, reason = _explainable(sql)
    if reason:
        return {"status": "skipped", "note": reason, "suggestions": []}
    values, note = _logged_values(text, count, params)
    if connection.vendor == "postgresql":
        return _explain_postgresql(connection, text, count, min_rows, values, note)
    return _explain_sqlite(connection, text, count, min_rows, values, note)


def _explain_postgresql(
    connection: BaseDatabaseWrapper,
    text: str,
    params: int,
    min_rows: int,
    values: Any = None,
    values_note: str = "",
) -> dict[str, Any]:
    version = _pg_version(connection)
    note = values_note
    if values is not None:
        statement = f"EXPLAIN (FORMAT JSON) {text}"
    elif params:
        if version < 160000:
            return {
                "status": "skipped",
                "suggestions": [],
                "note": f"has {params} parameters whose values were not logged; generic plans "
                f"(EXPLAIN (GENERIC_PLAN)) need PostgreSQL 16 or later, the server "
                f"is {version // 10000}",
            }
        counter = iter(range(1, params + 1))
        text = re.sub(r"%s", lambda m: f"${next(counter)}", text).replace("%%", "%")
        statement = f"EXPLAIN (GENERIC_PLAN, FORMAT JSON) {text}"
        note = "generic plan (parameter values unknown)"
    else:
        statement = f"EXPLAIN (FORMAT JSON) {text}"
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {EXPLAIN_TIMEOUT_MS}")
            cursor.execute(statement, values)
            plan = cursor.fetchone()[0]
            transaction.set_rollback(True, using=connection.alias)
    except DatabaseError as exc:
        return {
            "status": "skipped",
            "note": f"EXPLAIN failed: {first_line(exc)}",
            "suggestions": [],
        }
    if isinstance(plan, str):
        import json

        plan = json.loads(plan)
    root = plan[0]["Plan"]
    suggestions = _pg_suggestions(connection, root, min_rows)
    return {
        "status": "explained",
        "note": note,
        "plan": _plan_lines(root),
        "estimated_cost": root.get("Total Cost"),
        "suggestions": suggestions,
    }


def _nodes(node: dict[str, Any], depth: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    yield node, depth
    for child in node.get("Plans", []):
        yield from _nodes(child, depth + 1)


def _plan_lines(root: dict[str, Any]) -> list[str]:
    lines = []
    for node, depth in _nodes(root):
        what = node["Node Type"]
        if node.get("Relation Name"):
            what += f" on {node['Relation Name']}"
        if node.get("Index Name"):
            what += f" using {node['Index Name']}"
        extra = ""
        for key in ("Filter", "Index Cond", "Sort Key", "Hash Cond", "Join Filter"):
            if node.get(key):
                value = node[key]
                extra += f" {key.lower()}: {', '.join(value) if isinstance(value, list) else value}"
        lines.append(
            f"{'  ' * depth}{what} (rows {node.get('Plan Rows')}, cost "
            f"{node.get('Total Cost')}){extra}"
        )
    return lines


def _table_facts(connection: BaseDatabaseWrapper, table: str) -> dict[str, Any] | None:
    """(estimated rows, columns, statistics) of a PostgreSQL table."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.reltuples, s.n_live_tup, s.n_mod_since_analyze, s.last_analyze, "
            "s.last_autoanalyze FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE c.relname = %s AND n.nspname = current_schema()",
            [table],
        )
        row = cursor.fetchone()
        columns = {
            column.name for column in connection.introspection.get_table_description(cursor, table)
        }
    if row is None:
        return None
    reltuples, live, modified, last_analyze, last_autoanalyze = row
    rows = int(reltuples) if reltuples and reltuples > 0 else int(live or 0)
    return {
        "rows": rows,
        "columns": columns,
        "live": live or 0,
        "modified": modified or 0,
        "analyzed": max(filter(None, [last_analyze, last_autoanalyze]), default=None),
    }


def _index_sql(connection: BaseDatabaseWrapper, table: str, columns: Iterable[str]) -> str:
    quote = connection.ops.quote_name
    how = "CONCURRENTLY " if connection.vendor == "postgresql" else ""
    name = f"{table}_{'_'.join(columns)}_idx"[:63]
    return (
        f"CREATE INDEX {how}{quote(name)} ON {quote(table)} "
        f"({', '.join(quote(column) for column in columns)});"
    )


def _pg_suggestions(
    connection: BaseDatabaseWrapper, root: dict[str, Any], min_rows: int
) -> list[dict[str, Any]]:
    suggestions = []
    facts = {}

    def facts_of(table: str) -> dict[str, Any] | None:
        if table not in facts:
            facts[table] = _table_facts(connection, table)
        return facts[table]

    for node, _depth in _nodes(root):
        kind = node["Node Type"]
        table = node.get("Relation Name")
        if kind == "Seq Scan" and table:
            info = facts_of(table)
            if info and info["rows"] >= min_rows:
                columns = _columns_in(node.get("Filter"), info["columns"])
                if columns:
                    suggestions.append(
                        {
                            "kind": "index",
                            "table": table,
                            "columns": columns,
                            "detail": f"sequential scan of {table} (about {info['rows']} rows) "
                            f"filtering on {', '.join(columns)}: an index on "
                            f"{table}({', '.join(columns)}) reads only the matching rows",
                            "sql": _index_sql(connection, table, columns),
                        }
                    )
                else:
                    suggestions.append(
                        {
                            "kind": "full scan",
                            "table": table,
                            "detail": f"sequential scan of all of {table} (about {info['rows']} "
                            f"rows) with no filter: add a WHERE or LIMIT if the page "
                            f"does not need every row",
                        }
                    )
        elif kind in ("Sort", "Incremental Sort") and (node.get("Plan Rows") or 0) >= min_rows:
            keys = ", ".join(node.get("Sort Key", []))
            suggestions.append(
                {
                    "kind": "sort",
                    "detail": f"sort of about {node['Plan Rows']} rows on {keys} "
                    f"without an index: an index on the sort key (with the "
                    f"filter's columns first) returns rows in order",
                }
            )
        elif kind == "Nested Loop":
            outer = (node.get("Plans") or [{}])[0]
            if (outer.get("Plan Rows") or 0) >= min_rows:
                suggestions.append(
                    {
                        "kind": "nested loop",
                        "detail": f"nested loop over about {outer['Plan Rows']} outer rows: index "
                        f"the inner side's join column, or refresh statistics if the "
                        f"estimate is wrong",
                    }
                )
    now = timezone.now()
    for table, info in facts.items():
        if info is None:
            continue
        stale = info["analyzed"] is None or (
            info["modified"] > 0.1 * info["live"] + 50
            or (info["modified"] > 0 and now - info["analyzed"] > STALE_STATISTICS)
        )
        if stale:
            when = (
                f"last analyzed {info['analyzed']:%Y-%m-%d %H:%M}"
                if info["analyzed"]
                else "never analyzed"
            )
            suggestions.append(
                {
                    "kind": "statistics",
                    "table": table,
                    "detail": f"statistics of {table} are stale ({when}, {info['modified']} rows "
                    f"changed since): python manage.py vacuum_database --analyze-only "
                    f"--tables={table}",
                }
            )
    return suggestions


_SQLITE_SCAN = re.compile(r"^SCAN (?:TABLE )?(\"?)(?P<table>\w+)\1(?: AS (?P<alias>\w+))?$")
_WHERE = re.compile(
    r"\bWHERE\b(?P<where>.*?)(?:\bGROUP BY\b|\bORDER BY\b|\bLIMIT\b|$)", re.IGNORECASE | re.DOTALL
)


def _explain_sqlite(
    connection: BaseDatabaseWrapper,
    text: str,
    params: int,
    min_rows: int,
    values: Any = None,
    values_note: str = "",
) -> dict[str, Any]:
    if values is None:
        values = [None] * params if params else None
        note = "parameters bound to NULL for the plan" if params else ""
    else:
        note = values_note
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {text}", values)
            rows = cursor.fetchall()
    except DatabaseError as exc:
        return {
            "status": "skipped",
            "note": f"EXPLAIN failed: {first_line(exc)}",
            "suggestions": [],
        }
    plan = [detail for _id, _parent, _unused, detail in rows]
    suggestions = []
    where = _WHERE.search(_strip_literals(text))
    for detail in plan:
        match = _SQLITE_SCAN.match(detail)
        if match:
            table = match.group("table")
            with connection.cursor() as cursor:
                try:
                    cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
                except DatabaseError:
                    continue
                rows_in_table = cursor.fetchone()[0]
                columns = {
                    column.name
                    for column in connection.introspection.get_table_description(cursor, table)
                }
            if rows_in_table < min_rows:
                continue
            filtered = _columns_in(where.group("where"), columns) if where else []
            if filtered:
                suggestions.append(
                    {
                        "kind": "index",
                        "table": table,
                        "columns": filtered,
                        "detail": f"full scan of {table} ({rows_in_table} rows) filtering on "
                        f"{', '.join(filtered)}: an index on {table}({', '.join(filtered)}) "
                        f"reads only the matching rows",
                        "sql": _index_sql(connection, table, filtered),
                    }
                )
            else:
                suggestions.append(
                    {
                        "kind": "full scan",
                        "table": table,
                        "detail": f"full scan of {table} ({rows_in_table} rows)",
                    }
                )
        elif "TEMP B-TREE FOR ORDER BY" in detail:
            suggestions.append(
                {
                    "kind": "sort",
                    "detail": "sort without an index (temporary "
                    "B-tree for ORDER BY): an index on "
                    "the ORDER BY columns returns rows "
                    "in order",
                }
            )
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        analyzed = cursor.fetchone() is not None
    if not analyzed:
        suggestions.append(
            {
                "kind": "statistics",
                "detail": "the database was never analyzed (no sqlite_stat1): "
                "python manage.py vacuum_database --analyze-only",
            }
        )
    return {"status": "explained", "note": note, "plan": plan, "suggestions": suggestions}


def optimize_queries(
    connection: BaseDatabaseWrapper,
    report: dict[str, Any],
    *,
    min_rows: int = 10000,
    progress: Callable[..., Any] = no_progress,
) -> list[dict[str, Any]]:
    """EXPLAIN the statements of a slow_queries report with suggestions: SELECTs first (the
    only ones explained), slowest first."""
    candidates = [*report["db_log"]["statements"], *report["pg_stat_statements"]["statements"]]
    candidates.sort(
        key=lambda row: (_explainable(row["example"])[2] is not None, -(row.get("max_ms") or 0))
    )
    results = []
    for row in progress(candidates, total=len(candidates), label="explaining"):
        outcome = explain(
            connection, row["example"], min_rows=min_rows, params=row.get("example_params")
        )
        results.append(
            {
                "source": row["source"],
                "sql": row["sql"],
                "count": row["count"],
                "max_ms": row.get("max_ms"),
                "mean_ms": row.get("mean_ms"),
                **outcome,
            }
        )
    return results
