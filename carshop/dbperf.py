"""Database performance: indexes (missing, unused, duplicate, bloated) and slow queries.

Indexes
- *Declared* indexes are those the code asks for: each model's Meta.indexes, db_index fields
  (with PostgreSQL's `_like` twin for text columns), unique fields, unique_together and
  UniqueConstraints, and the trigram indexes that migrations create through
  accounts.migration_operations.trigram_index (PostgreSQL). Their SQL comes from Django's schema
  editor, so a recreated index is the one a migration would have made. A declared index is
  present when the database has an index of that name, or (fields and unique fields, whose names
  vary with how the table was built) a plain index on the same columns.
- Only declared-but-missing indexes are ever created (`CREATE INDEX CONCURRENTLY` on PostgreSQL,
  outside any transaction, after dropping an INVALID leftover of the same name), and bloated ones
  reindexed on request (`REINDEX INDEX CONCURRENTLY`). Nothing is dropped automatically: unused
  and duplicate indexes and unindexed foreign keys come back as suggestions with the statement to
  review.

Queries
- Slow statements come from pg_stat_statements (when the extension is installed and readable)
  and from db.log (carshop.dblog writes every query slower than SLOW_QUERY_MS), read through
  carshop.ops.logs; queries running now from pg_stat_activity.
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
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.apps import apps
from django.core.management.base import CommandError
from django.db import DatabaseError, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.models import UniqueConstraint
from django.utils import timezone

from accounts.migration_operations import TrigramIndexSQL
from carshop.dblog import MASKED
from carshop.ops.findings import first_line
from carshop.ops.logs import LogReader, latency_summary, normalize_sql

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterable, Iterator, Sequence

    from django.db.backends.base.base import BaseDatabaseWrapper


T = TypeVar("T")

# pgstatindex: a B-tree packs leaves to 90% (its default fillfactor); under half full is bloat.
BLOATED_LEAF_DENSITY = 50
# Indexes smaller than this are not worth measuring or rebuilding.
BLOAT_MIN_BYTES = 1024 * 1024
# Statistics older than this, on a table that changed since, are stale.
STALE_STATISTICS = timedelta(days=7)
# EXPLAIN of a logged statement never runs longer than this.
EXPLAIN_TIMEOUT_MS = 5000

ENABLE_PG_STAT_STATEMENTS = (
    "to enable it: add pg_stat_statements to shared_preload_libraries in postgresql.conf, "
    "restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements; in the database"
)


def _identity(iterable: Iterable[T], total: int | None = None,
              label: str | None = None) -> Iterable[T]:
    return iterable


def _vendor_check(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor not in ("postgresql", "sqlite"):
        raise CommandError(f"supported databases are PostgreSQL and SQLite, not "
                           f"{connection.vendor}")


def _pg_version(connection):
    connection.ensure_connection()
    return connection.pg_version


# ---------------------------------------------------------------------------------------------
# The indexes the database has
# ---------------------------------------------------------------------------------------------


@dataclass
class DbIndex:
    name: str
    table: str
    method: str = "btree"
    columns: tuple = ()  # key columns; None where the key is an expression
    expressions: str | None = None
    predicate: str | None = None
    opclasses: tuple = ()
    options: tuple = ()
    unique: bool = False
    primary: bool = False
    constraint: bool = False  # backs a primary key, unique or exclusion constraint
    valid: bool = True
    size: int | None = None
    scans: int | None = None
    definition: str = ""
    oid: int | None = field(default=None, repr=False)

    @property
    def signature(self) -> tuple[Any, ...]:
        return (self.table, self.method, self.columns, self.expressions, self.predicate,
                self.opclasses, self.options)

    @property
    def plain(self) -> bool:
        """A plain column index: no expression, no predicate, default operator classes."""
        return (self.expressions is None and self.predicate is None
                and "pattern_ops" not in self.definition)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("oid")
        data["columns"] = list(self.columns)
        data["opclasses"] = list(self.opclasses)
        data["options"] = list(self.options)
        return data


_PG_INDEXES = """
SELECT ic.relname, c.relname, am.amname,
       ARRAY(SELECT a.attname
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.ord <= i.indnkeyatts ORDER BY k.ord),
       pg_get_expr(i.indexprs, i.indrelid), pg_get_expr(i.indpred, i.indrelid),
       i.indclass::oid[], i.indoption::int2[], i.indisunique, i.indisprimary,
       EXISTS (SELECT 1 FROM pg_constraint con
               WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')),
       i.indisvalid, pg_relation_size(i.indexrelid), s.idx_scan, pg_get_indexdef(i.indexrelid),
       i.indexrelid
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm', 'p')
ORDER BY c.relname, ic.relname
"""


def database_indexes(connection: BaseDatabaseWrapper) -> list[DbIndex]:
    """Every index of the database's tables, as DbIndex, by table then name."""
    _vendor_check(connection)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_INDEXES)
            return [
                DbIndex(name=name, table=table, method=method, columns=tuple(columns),
                        expressions=expressions, predicate=predicate,
                        opclasses=tuple(opclasses), options=tuple(options), unique=unique,
                        primary=primary, constraint=constraint, valid=valid, size=size,
                        scans=scans, definition=definition, oid=oid)
                for (name, table, method, columns, expressions, predicate, opclasses, options,
                     unique, primary, constraint, valid, size, scans, definition, oid)
                in cursor.fetchall()
            ]
    return _sqlite_indexes(connection)


_SQLITE_INDEX_SQL = re.compile(
    r"\bON\s+(\"[^\"]+\"|\S+)\s*\((?P<key>.*?)\)\s*(?:WHERE\s+(?P<where>.*))?$",
    re.IGNORECASE | re.DOTALL)


def _sqlite_indexes(connection: BaseDatabaseWrapper) -> list[DbIndex]:
    quote = connection.ops.quote_name
    result = []
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"PRAGMA index_list({quote(table)})")
            for _seq, name, unique, origin, partial in cursor.fetchall():
                cursor.execute(f"PRAGMA index_xinfo({quote(name)})")
                key = [row for row in cursor.fetchall() if row[5]]
                cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s",
                               [name])
                row = cursor.fetchone()
                sql = (row[0] if row else None) or ""
                match = _SQLITE_INDEX_SQL.search(sql)
                columns = tuple(None if cid == -2 else column
                                for _seqno, cid, column, _desc, _coll, _key in key)
                expressions = None
                predicate = None
                if match:
                    if None in columns:
                        expressions = " ".join(match.group("key").split())
                    if partial and match.group("where"):
                        predicate = " ".join(match.group("where").split())
                result.append(DbIndex(
                    name=name, table=table, columns=columns, expressions=expressions,
                    predicate=predicate, opclasses=tuple(row[4] for row in key),
                    options=tuple(row[3] for row in key), unique=bool(unique),
                    primary=origin == "pk", constraint=origin in ("u", "pk"),
                    definition=sql or f"({origin}) {name} ON {table} "
                                      f"({', '.join(map(str, columns))})",
                ))
    return result


# ---------------------------------------------------------------------------------------------
# The indexes the code declares
# ---------------------------------------------------------------------------------------------


@dataclass
class DeclaredIndex:
    name: str
    table: str
    kind: str  # index, field index, like index, unique, unique constraint, trigram
    source: str
    statements: list
    columns: tuple | None = None  # set when any plain index on these columns will do
    unique: bool = False
    like: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?!CONCURRENTLY)", re.IGNORECASE)


def _concurrently(sql: str) -> str:
    return _CREATE_INDEX.sub(lambda m: f"CREATE {m.group(1) or ''}INDEX CONCURRENTLY ", str(sql),
                             count=1)


def _unique_statements(
    connection: BaseDatabaseWrapper, editor, table, name: str, columns
) -> list[str]:
    """A plain unique constraint, built without locking the table for writes on PostgreSQL (a
    unique index, then the constraint on it); a unique index on SQLite, which cannot add a
    constraint to an existing table."""
    quote = connection.ops.quote_name
    cols = ", ".join(quote(column) for column in columns)
    if connection.vendor == "postgresql":
        return [f"CREATE UNIQUE INDEX CONCURRENTLY {quote(name)} ON {quote(table)} ({cols})",
                f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} UNIQUE USING INDEX "
                f"{quote(name)}"]
    return [f"CREATE UNIQUE INDEX {quote(name)} ON {quote(table)} ({cols})"]


def _plain_unique(constraint):
    return (constraint.fields and not constraint.condition and not constraint.expressions
            and not constraint.include and not constraint.opclasses
            and constraint.deferrable is None
            and getattr(constraint, "nulls_distinct", None) is None)


def declared_indexes(connection, tables=None):
    """The indexes the models and the migrations' trigram operations ask for, on the tables the
    database has (or those named)."""
    _vendor_check(connection)
    existing = set(connection.introspection.table_names())
    if tables is not None:
        existing &= set(tables)
    editor = connection.SchemaEditorClass(connection, collect_sql=True, atomic=False)
    postgres = connection.vendor == "postgresql"

    def sql(statement):
        return _concurrently(statement) if postgres else str(statement)

    declared = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if not meta.managed or meta.proxy or meta.swapped or meta.db_table not in existing:
            continue
        table = meta.db_table
        for model_field in meta.local_fields:
            if not model_field.concrete or model_field.primary_key:
                continue
            where = f"{meta.label}.{model_field.name}"
            if model_field.db_index and not model_field.unique:
                for statement in editor._field_indexes_sql(model, model_field):
                    like = "pattern_ops" in str(statement)
                    declared.append(DeclaredIndex(
                        name=editor._create_index_name(table, [model_field.column],
                                                       suffix="_like" if like else ""),
                        table=table, kind="like index" if like else "field index",
                        source=f"{where} (db_index)", statements=[sql(statement)],
                        columns=(model_field.column,), like=like))
            elif model_field.unique:
                name = editor._create_index_name(table, [model_field.column], suffix="_uniq")
                declared.append(DeclaredIndex(
                    name=name, table=table, kind="unique", source=f"{where} (unique)",
                    statements=_unique_statements(connection, editor, table, name,
                                                  [model_field.column]),
                    columns=(model_field.column,), unique=True))
                like = editor._create_like_index_sql(model, model_field) if postgres else None
                if like is not None:
                    declared.append(DeclaredIndex(
                        name=editor._create_index_name(table, [model_field.column],
                                                       suffix="_like"),
                        table=table, kind="like index", source=f"{where} (unique)",
                        statements=[sql(like)], columns=(model_field.column,), like=True))
        for names in meta.unique_together:
            columns = [meta.get_field(name).column for name in names]
            name = editor._create_index_name(table, columns, suffix="_uniq")
            declared.append(DeclaredIndex(
                name=name, table=table, kind="unique", source=f"{meta.label} unique_together",
                statements=_unique_statements(connection, editor, table, name, columns),
                columns=tuple(columns), unique=True))
        for index in meta.indexes:
            declared.append(DeclaredIndex(
                name=index.name, table=table, kind="index", source=f"{meta.label} Meta.indexes",
                statements=[sql(index.create_sql(model, editor))]))
        for constraint in meta.constraints:
            if not isinstance(constraint, UniqueConstraint):
                continue
            if _plain_unique(constraint):
                columns = [meta.get_field(name).column for name in constraint.fields]
                statements = _unique_statements(connection, editor, table, constraint.name,
                                                columns)
            else:
                statement = constraint.create_sql(model, editor)
                if statement is None:  # a feature this database lacks
                    continue
                statements = [sql(statement)]
            declared.append(DeclaredIndex(
                name=constraint.name, table=table, kind="unique constraint",
                source=f"{meta.label} Meta.constraints", statements=statements, unique=True))
    if postgres:
        for migration, operation in _trigram_operations(connection):
            if operation.table in existing:
                declared.append(DeclaredIndex(
                    name=operation.index_name, table=operation.table, kind="trigram",
                    source=f"migration {migration}",
                    statements=[operation.create_sql(concurrently=True)]))
    return declared


def _trigram_operations(connection: BaseDatabaseWrapper) -> Iterator:
    """(migration, TrigramIndexSQL) of the applied migrations."""
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    for key, migration in sorted(loader.disk_migrations.items()):
        if key not in loader.applied_migrations:
            continue
        for operation in migration.operations:
            if isinstance(operation, TrigramIndexSQL):
                yield f"{key[0]}.{key[1]}", operation


def _constraint_names(connection: BaseDatabaseWrapper, tables) -> defaultdict:
    names = defaultdict(set)
    with connection.cursor() as cursor:
        for table in tables:
            names[table] = set(connection.introspection.get_constraints(cursor, table))
    return names


def _present(item, indexes_by_table, names) -> str:
    """'present', 'invalid' (PostgreSQL: an index left INVALID by a failed concurrent build)
    or 'missing'."""
    by_name = {index.name: index for index in indexes_by_table.get(item.table, [])}
    if item.name in by_name:
        return "present" if by_name[item.name].valid else "invalid"
    if item.name in names.get(item.table, ()):
        return "present"
    if item.columns is not None:
        for index in indexes_by_table.get(item.table, []):
            if (index.valid and index.columns == item.columns and index.expressions is None
                    and index.predicate is None and (index.unique or not item.unique)
                    and ("pattern_ops" in index.definition) == item.like):
                return "present"
    return "missing"


# ---------------------------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------------------------


def _drop_statement(connection: BaseDatabaseWrapper, index: DbIndex) -> str:
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        return f"DROP INDEX CONCURRENTLY IF EXISTS {quote(index.name)};"
    return f"DROP INDEX IF EXISTS {quote(index.name)};"


def duplicate_indexes(indexes: Iterable[DbIndex], declared: Container[tuple[str, str]] = (),
                      ) -> list[tuple[DbIndex, DbIndex, str]]:
    """(redundant, kept, reason) for indexes that repeat another: the same table, method,
    columns, expressions, predicate and operator classes; or a B-tree whose columns lead another
    B-tree's (a non-unique one: a unique index enforces something). A constraint's index is
    never the redundant one, and of two the same a declared one ((table, name) in `declared`)
    is kept."""
    found = []
    seen = set()
    groups = defaultdict(list)
    for index in indexes:
        if index.valid:
            groups[index.signature].append(index)
    for group in groups.values():
        if len(group) < 2:
            continue
        # Keep the one that does most: primary key, constraint, unique, declared, first name.
        group = sorted(group, key=lambda i: (not i.primary, not i.constraint, not i.unique,
                                             (i.table, i.name) not in declared, i.name))
        kept = group[0]
        for other in group[1:]:
            if other.constraint:
                continue
            found.append((other, kept, "same definition as"))
            seen.add(other.name)
    for shorter in indexes:
        if (shorter.name in seen or not shorter.valid or shorter.method != "btree"
                or shorter.unique or shorter.constraint or shorter.expressions is not None
                or None in shorter.columns):
            continue
        size = len(shorter.columns)
        for longer in indexes:
            if (longer is shorter or not longer.valid or longer.table != shorter.table
                    or longer.method != "btree" or longer.predicate != shorter.predicate
                    or len(longer.columns) <= size or longer.columns[:size] != shorter.columns
                    or longer.opclasses[:size] != shorter.opclasses
                    or (size > 1 and longer.options[:size] != shorter.options)):
                continue
            found.append((shorter, longer, "columns lead"))
            seen.add(shorter.name)
            break
    return found


def analyze_indexes(
    connection: BaseDatabaseWrapper,
    *,
    min_rows: int = 10000,
    progress: Callable[..., Any] = _identity,
) -> dict[str, Any]:
    """What the database lacks and what it could do without. Returns a dict (see the keys)."""
    _vendor_check(connection)
    if min_rows < 0:
        raise CommandError(f"--min-rows must be 0 or more, got {min_rows}")
    postgres = connection.vendor == "postgresql"
    indexes = database_indexes(connection)
    by_table = defaultdict(list)
    for index in indexes:
        by_table[index.table].append(index)
    declared = declared_indexes(connection)
    names = _constraint_names(connection, sorted({item.table for item in declared}))

    missing, invalid = [], []
    declared_names = {}
    for item in progress(declared, total=len(declared), label="declared indexes"):
        state = _present(item, by_table, names)
        declared_names[(item.table, item.name)] = item.source
        if state == "missing":
            missing.append(item)
        elif state == "invalid":
            invalid.append(item)

    unindexed = _unindexed_foreign_keys(connection, by_table)
    duplicates = [
        {"index": index.name, "table": index.table, "duplicate_of": kept.name, "reason": reason,
         "definition": index.definition, "size_bytes": index.size,
         "declared": declared_names.get((index.table, index.name)),
         "drop": _drop_statement(connection, index)}
        for index, kept, reason in duplicate_indexes(indexes, declared_names)
    ]
    result = {
        "database": connection.vendor,
        "name": str(connection.settings_dict["NAME"]),
        "indexes": len(indexes),
        "declared": len(declared),
        "missing": [item.as_dict() for item in missing],
        "invalid": [item.as_dict() for item in invalid],
        "invalid_other": [
            {"index": index.name, "table": index.table, "definition": index.definition,
             "drop": _drop_statement(connection, index)}
            for index in indexes
            if not index.valid and (index.table, index.name) not in declared_names
        ],
        "unindexed_foreign_keys": unindexed,
        "duplicates": duplicates,
    }
    if postgres:
        result["sequential_scans"] = _sequential_scans(connection, min_rows)
        result["min_rows"] = min_rows
        result["unused"], result["statistics_since"] = _unused_indexes(connection, indexes,
                                                                       declared_names)
        result["bloat"] = measure_bloat(connection, indexes)
    else:
        result["sequential_scans"] = None
        result["unused"] = None
        result["bloat"] = {"measured": False, "indexes": [],
                           "note": "SQLite keeps no index bloat or usage figures; "
                                   "vacuum_database rebuilds the whole file"}
    return result


def _unindexed_foreign_keys(connection, by_table):
    """Foreign keys no index leads with and that no declared index covers (db_index=False):
    joins and deletes of the parent read the whole table."""
    quote = connection.ops.quote_name
    concurrently = "CONCURRENTLY " if connection.vendor == "postgresql" else ""
    existing = set(by_table) | set(connection.introspection.table_names())
    found = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if not meta.managed or meta.proxy or meta.swapped or meta.db_table not in existing:
            continue
        for model_field in meta.local_fields:
            if not model_field.is_relation or not model_field.concrete:
                continue
            if model_field.db_index or model_field.unique:
                continue  # declared: reported as missing when absent
            column = model_field.column
            if any(index.valid and index.predicate is None and index.columns[:1] == (column,)
                   for index in by_table.get(meta.db_table, [])):
                continue
            name = f"{meta.db_table}_{column}_idx"
            found.append({
                "table": meta.db_table, "column": column,
                "field": f"{meta.label}.{model_field.name}",
                "references": model_field.related_model._meta.db_table,
                "create": f"CREATE INDEX {concurrently}{quote(name)} ON {quote(meta.db_table)} "
                          f"({quote(column)});",
            })
    return found


def _sequential_scans(connection: BaseDatabaseWrapper, min_rows: int) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_live_tup, seq_scan, seq_tup_read, coalesce(idx_scan, 0) "
            "FROM pg_stat_user_tables WHERE schemaname = current_schema() "
            "AND n_live_tup >= %s AND seq_scan > 0 AND seq_scan > coalesce(idx_scan, 0) "
            "ORDER BY seq_tup_read DESC", [min_rows])
        return [
            {"table": table, "rows": rows, "seq_scan": seq_scan, "seq_tup_read": read,
             "idx_scan": idx_scan, "rows_per_seq_scan": round(read / seq_scan)}
            for table, rows, seq_scan, read, idx_scan in cursor.fetchall()
        ]


def _unused_indexes(connection: BaseDatabaseWrapper, indexes, declared_names) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute("SELECT stats_reset FROM pg_stat_database WHERE datname = "
                       "current_database()")
        row = cursor.fetchone()
    since = row[0] if row else None
    unused = [
        {"index": index.name, "table": index.table, "size_bytes": index.size,
         "definition": index.definition,
         "declared": declared_names.get((index.table, index.name)),
         "drop": _drop_statement(connection, index)}
        for index in indexes
        if index.valid and index.scans == 0 and not (index.unique or index.primary
                                                     or index.constraint)
    ]
    unused.sort(key=lambda row: (-(row["size_bytes"] or 0), row["index"]))
    return unused, since


def measure_bloat(connection: BaseDatabaseWrapper, indexes: Iterable[DbIndex],
                  min_bytes: int = BLOAT_MIN_BYTES) -> dict[str, Any]:
    """B-tree leaf density from pgstattuple's pgstatindex, for indexes of min_bytes or more."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pgstattuple'")
        if cursor.fetchone() is None:
            return {"measured": False, "indexes": [],
                    "note": "not measured: the pgstattuple extension is not installed "
                            "(CREATE EXTENSION pgstattuple; as a superuser)"}
    bloated = []
    measured = 0
    for index in indexes:
        if index.method != "btree" or not index.valid or (index.size or 0) < min_bytes:
            continue
        try:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                cursor.execute("SELECT avg_leaf_density, leaf_fragmentation "
                               "FROM pgstatindex(%s::regclass)", [index.oid])
                density, fragmentation = cursor.fetchone()
        except DatabaseError as exc:
            return {"measured": False, "indexes": [],
                    "note": f"not measured: pgstatindex failed: {first_line(exc)}"}
        measured += 1
        if density == density and density < BLOATED_LEAF_DENSITY:  # NaN for empty indexes
            bloated.append({
                "index": index.name, "table": index.table, "size_bytes": index.size,
                "leaf_density": round(density, 1),
                "leaf_fragmentation": round(fragmentation, 1),
                "wasted_bytes": int(index.size * (1 - density / 90)),
                "reindex": f"REINDEX INDEX CONCURRENTLY {connection.ops.quote_name(index.name)};",
            })
    return {"measured": True, "measured_indexes": measured, "min_bytes": min_bytes,
            "indexes": bloated, "note": f"{measured} B-tree indexes of "
                                        f"{min_bytes // 1024} KB or more measured"}


# ---------------------------------------------------------------------------------------------
# Changes: only declared-but-missing indexes, and reindexing of bloated ones
# ---------------------------------------------------------------------------------------------


def create_missing_indexes(
    connection: BaseDatabaseWrapper,
    *,
    dry_run: bool = False,
    reindex_bloated: bool = False,
    progress: Callable[..., Any] = _identity,
) -> dict[str, Any]:
    """Create every declared index the database lacks (dropping an INVALID leftover of the same
    name first) and, when asked, rebuild bloated ones. Returns the analysis and what was done;
    an index that fails is reported, and the others still go ahead."""
    _vendor_check(connection)
    postgres = connection.vendor == "postgresql"
    if postgres and not dry_run and connection.in_atomic_block:
        raise CommandError("CREATE INDEX CONCURRENTLY cannot run inside a transaction; run the "
                           "command on its own")
    analysis = analyze_indexes(connection)
    quote = connection.ops.quote_name
    plan = []
    for item in analysis["invalid"]:
        plan.append((item, [f"DROP INDEX CONCURRENTLY IF EXISTS {quote(item['name'])}",
                            *item["statements"]]))
    for item in analysis["missing"]:
        plan.append((item, list(item["statements"])))
    if reindex_bloated and postgres:
        for row in analysis["bloat"]["indexes"]:
            plan.append(({"name": row["index"], "table": row["table"], "kind": "reindex",
                          "source": f"leaf density {row['leaf_density']}%"},
                         [row["reindex"].rstrip(";")]))
    actions = []
    for item, statements in progress(plan, total=len(plan), label="indexes"):
        action = {"index": item["name"], "table": item["table"], "kind": item["kind"],
                  "source": item["source"], "statements": statements,
                  "status": "planned" if dry_run else "done"}
        if not dry_run:
            try:
                with connection.cursor() as cursor:
                    for statement in statements:
                        cursor.execute(statement)
            except DatabaseError as exc:
                action["status"] = "failed"
                action["error"] = first_line(exc)
                _drop_invalid_leftover(connection, item["name"])
        actions.append(action)
    return {"database": connection.vendor, "name": str(connection.settings_dict["NAME"]),
            "dry_run": dry_run, "actions": actions, "analysis": analysis}


def _drop_invalid_leftover(connection: BaseDatabaseWrapper, name: str) -> None:
    """A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind: remove it."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                       "JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE c.relname = %s AND n.nspname = current_schema() "
                       "AND NOT i.indisvalid", [name])
        if cursor.fetchone():
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {connection.ops.quote_name(name)}")


# ---------------------------------------------------------------------------------------------
# Slow queries
# ---------------------------------------------------------------------------------------------


def log_slow_queries(reader, threshold_ms) -> dict[str, Any]:
    """db.log statements at or over threshold_ms, grouped with their literals replaced; each
    with latency figures and its slowest occurrence as written (for EXPLAIN)."""
    groups = defaultdict(list)
    for entry in reader:
        duration = entry.get("duration_ms")
        if not isinstance(duration, (int, float)) or duration < threshold_ms:
            continue
        sql = entry.get("sql") or ""
        groups[normalize_sql(sql)].append((float(duration), sql, entry.get("database"),
                                           entry["time"], entry.get("params")))
    statements = []
    for normalized, occurrences in groups.items():
        slowest = max(occurrences, key=lambda item: item[0])
        statements.append({
            "source": "db.log", "sql": normalized, "example": slowest[1],
            "example_params": slowest[4],
            "database": slowest[2], "last_seen": max(item[3] for item in occurrences),
            **latency_summary([item[0] for item in occurrences]),
        })
    statements.sort(key=lambda row: (-row["max_ms"], -row["count"], row["sql"]))
    return {"count": sum(len(items) for items in groups.values()), "statements": statements}


def statement_statistics(connection, threshold_ms, top):
    """The slowest statements of pg_stat_statements in this database (mean or max at or over
    threshold_ms), or why there are none to read."""
    result = {"available": False, "statements": [], "note": ""}
    if connection.vendor != "postgresql":
        result["note"] = "SQLite has no pg_stat_statements: db.log only"
        return result
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        installed = cursor.fetchone() is not None
    if not installed:
        result["note"] = (f"pg_stat_statements is not installed in database {database}; "
                          f"{ENABLE_PG_STAT_STATEMENTS}")
        return result
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(
                "SELECT queryid, query, calls, total_exec_time, mean_exec_time, max_exec_time, "
                "rows FROM pg_stat_statements "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND (mean_exec_time >= %s OR max_exec_time >= %s) "
                "ORDER BY mean_exec_time DESC LIMIT %s", [threshold_ms, threshold_ms, top])
            rows = cursor.fetchall()
    except DatabaseError as exc:
        result["note"] = (f"pg_stat_statements is installed but cannot be read: "
                          f"{first_line(exc)}; {ENABLE_PG_STAT_STATEMENTS}")
        return result
    result["available"] = True
    hidden = 0
    for queryid, query, calls, total, mean, maximum, rows_returned in rows:
        if query == "<insufficient privilege>":
            hidden += 1
        result["statements"].append({
            "source": "pg_stat_statements", "queryid": queryid, "sql": query,
            "example": query, "count": calls, "total_ms": round(total, 1),
            "mean_ms": round(mean, 1), "max_ms": round(maximum, 1), "rows": rows_returned,
        })
    result["note"] = f"{len(rows)} statements at or over the threshold"
    if hidden:
        result["note"] += (f"; {hidden} of other users hidden (grant pg_read_all_stats to see "
                           f"their text)")
    return result


def running_queries(connection: BaseDatabaseWrapper,
                    threshold_seconds: float) -> list[dict[str, Any]]:
    """Queries running now for threshold_seconds or longer (PostgreSQL's pg_stat_activity)."""
    if connection.vendor != "postgresql":
        raise CommandError(f"--running needs PostgreSQL: SQLite has no list of running queries "
                           f"(the database is {connection.settings_dict['NAME']})")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, coalesce(usename, '-'), coalesce(datname, '-'), "
            "coalesce(application_name, ''), state, wait_event_type, wait_event, "
            "extract(epoch FROM now() - query_start), left(query, 2000) "
            "FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = 'active' "
            "AND pid <> pg_backend_pid() AND now() - query_start >= %s * interval '1 second' "
            "ORDER BY query_start", [threshold_seconds])
        return [
            {"pid": pid, "user": user, "database": database, "application": application,
             "state": state, "waiting": f"{wait_type}:{wait}" if wait_type else None,
             "seconds": round(float(seconds), 1), "query": " ".join((query or "").split())}
            for pid, user, database, application, state, wait_type, wait, seconds, query
            in cursor.fetchall()
        ]


def slow_queries(
    connection: BaseDatabaseWrapper,
    *,
    threshold_seconds,
    since,
    until,
    log_dir,
    top: int,
    progress: Callable[..., Any] = _identity,
) -> tuple:
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
        "db_log": {**reader.summary(), "count": logged["count"],
                   "statements": logged["statements"],
                   "total_statements": len(logged["statements"])},
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


def _columns_in(text, columns) -> list:
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


def _logged_values(text: str, params, values) -> tuple | tuple[None, str]:
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
    connection: BaseDatabaseWrapper, sql: str, *, min_rows: int = 10000,
    params: Sequence[Any] | None = None
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
    params,
    min_rows: int,
    values=None,
    values_note: str = "",
) -> dict[str, Any]:
    version = _pg_version(connection)
    note = values_note
    if values is not None:
        statement = f"EXPLAIN (FORMAT JSON) {text}"
    elif params:
        if version < 160000:
            return {"status": "skipped", "suggestions": [],
                    "note": f"has {params} parameters whose values were not logged; generic plans "
                            f"(EXPLAIN (GENERIC_PLAN)) need PostgreSQL 16 or later, the server "
                            f"is {version // 10000}"}
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
        return {"status": "skipped", "note": f"EXPLAIN failed: {first_line(exc)}",
                "suggestions": []}
    if isinstance(plan, str):
        import json

        plan = json.loads(plan)
    root = plan[0]["Plan"]
    suggestions = _pg_suggestions(connection, root, min_rows)
    return {"status": "explained", "note": note, "plan": _plan_lines(root),
            "estimated_cost": root.get("Total Cost"), "suggestions": suggestions}


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
        lines.append(f"{'  ' * depth}{what} (rows {node.get('Plan Rows')}, cost "
                     f"{node.get('Total Cost')}){extra}")
    return lines


def _table_facts(connection: BaseDatabaseWrapper, table):
    """(estimated rows, columns, statistics) of a PostgreSQL table."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.reltuples, s.n_live_tup, s.n_mod_since_analyze, s.last_analyze, "
            "s.last_autoanalyze FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE c.relname = %s AND n.nspname = current_schema()", [table])
        row = cursor.fetchone()
        columns = {column.name for column in
                   connection.introspection.get_table_description(cursor, table)}
    if row is None:
        return None
    reltuples, live, modified, last_analyze, last_autoanalyze = row
    rows = int(reltuples) if reltuples and reltuples > 0 else int(live or 0)
    return {"rows": rows, "columns": columns, "live": live or 0, "modified": modified or 0,
            "analyzed": max(filter(None, [last_analyze, last_autoanalyze]), default=None)}


def _index_sql(connection: BaseDatabaseWrapper, table, columns) -> str:
    quote = connection.ops.quote_name
    how = "CONCURRENTLY " if connection.vendor == "postgresql" else ""
    name = f"{table}_{'_'.join(columns)}_idx"[:63]
    return (f"CREATE INDEX {how}{quote(name)} ON {quote(table)} "
            f"({', '.join(quote(column) for column in columns)});")


def _pg_suggestions(connection: BaseDatabaseWrapper, root, min_rows: int) -> list:
    suggestions = []
    facts = {}

    def facts_of(table):
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
                    suggestions.append({
                        "kind": "index", "table": table, "columns": columns,
                        "detail": f"sequential scan of {table} (about {info['rows']} rows) "
                                  f"filtering on {', '.join(columns)}: an index on "
                                  f"{table}({', '.join(columns)}) reads only the matching rows",
                        "sql": _index_sql(connection, table, columns)})
                else:
                    suggestions.append({
                        "kind": "full scan", "table": table,
                        "detail": f"sequential scan of all of {table} (about {info['rows']} "
                                  f"rows) with no filter: add a WHERE or LIMIT if the page "
                                  f"does not need every row"})
        elif kind in ("Sort", "Incremental Sort") and (node.get("Plan Rows") or 0) >= min_rows:
            keys = ", ".join(node.get("Sort Key", []))
            suggestions.append({
                "kind": "sort", "detail": f"sort of about {node['Plan Rows']} rows on {keys} "
                                          f"without an index: an index on the sort key (with the "
                                          f"filter's columns first) returns rows in order"})
        elif kind == "Nested Loop":
            outer = (node.get("Plans") or [{}])[0]
            if (outer.get("Plan Rows") or 0) >= min_rows:
                suggestions.append({
                    "kind": "nested loop",
                    "detail": f"nested loop over about {outer['Plan Rows']} outer rows: index "
                              f"the inner side's join column, or refresh statistics if the "
                              f"estimate is wrong"})
    now = timezone.now()
    for table, info in facts.items():
        if info is None:
            continue
        stale = info["analyzed"] is None or (
            info["modified"] > 0.1 * info["live"] + 50
            or (info["modified"] > 0 and now - info["analyzed"] > STALE_STATISTICS))
        if stale:
            when = (f"last analyzed {info['analyzed']:%Y-%m-%d %H:%M}" if info["analyzed"]
                    else "never analyzed")
            suggestions.append({
                "kind": "statistics", "table": table,
                "detail": f"statistics of {table} are stale ({when}, {info['modified']} rows "
                          f"changed since): python manage.py vacuum_database --analyze-only "
                          f"--tables={table}"})
    return suggestions


_SQLITE_SCAN = re.compile(r"^SCAN (?:TABLE )?(\"?)(?P<table>\w+)\1(?: AS (?P<alias>\w+))?$")
_WHERE = re.compile(r"\bWHERE\b(?P<where>.*?)(?:\bGROUP BY\b|\bORDER BY\b|\bLIMIT\b|$)",
                    re.IGNORECASE | re.DOTALL)


def _explain_sqlite(
    connection: BaseDatabaseWrapper,
    text: str,
    params,
    min_rows: int,
    values=None,
    values_note: str = "",
) -> Any:
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
        return {"status": "skipped", "note": f"EXPLAIN failed: {first_line(exc)}",
                "suggestions": []}
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
                columns = {column.name for column in
                           connection.introspection.get_table_description(cursor, table)}
            if rows_in_table < min_rows:
                continue
            filtered = _columns_in(where.group("where"), columns) if where else []
            if filtered:
                suggestions.append({
                    "kind": "index", "table": table, "columns": filtered,
                    "detail": f"full scan of {table} ({rows_in_table} rows) filtering on "
                              f"{', '.join(filtered)}: an index on {table}({', '.join(filtered)}) "
                              f"reads only the matching rows",
                    "sql": _index_sql(connection, table, filtered)})
            else:
                suggestions.append({
                    "kind": "full scan", "table": table,
                    "detail": f"full scan of {table} ({rows_in_table} rows)"})
        elif "TEMP B-TREE FOR ORDER BY" in detail:
            suggestions.append({"kind": "sort", "detail": "sort without an index (temporary "
                                                          "B-tree for ORDER BY): an index on "
                                                          "the ORDER BY columns returns rows "
                                                          "in order"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        analyzed = cursor.fetchone() is not None
    if not analyzed:
        suggestions.append({"kind": "statistics",
                            "detail": "the database was never analyzed (no sqlite_stat1): "
                                      "python manage.py vacuum_database --analyze-only"})
    return {"status": "explained", "note": note, "plan": plan, "suggestions": suggestions}


def optimize_queries(connection, report, *, min_rows: int = 10000, progress=_identity) -> list:
    """EXPLAIN the statements of a slow_queries report with suggestions: SELECTs first (the
    only ones explained), slowest first."""
    candidates = [*report["db_log"]["statements"],
                  *report["pg_stat_statements"]["statements"]]
    candidates.sort(key=lambda row: (_explainable(row["example"])[2] is not None,
                                     -(row.get("max_ms") or 0)))
    results = []
    for row in progress(candidates, total=len(candidates), label="explaining"):
        outcome = explain(connection, row["example"], min_rows=min_rows,
                          params=row.get("example_params"))
        results.append({"source": row["source"], "sql": row["sql"], "count": row["count"],
                        "max_ms": row.get("max_ms"), "mean_ms": row.get("mean_ms"), **outcome})
    return results
