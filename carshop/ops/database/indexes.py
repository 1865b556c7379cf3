"""Database indexes: missing, unused, duplicate and bloated (`analyze_indexes`,
`optimize_indexes`, `create_indexes`).

Indexes
- *Declared* indexes are those the code asks for: each model's Meta.indexes, db_index fields
  (with PostgreSQL's `_like` twin for text columns), unique fields, unique_together and
  UniqueConstraints, and the trigram indexes that migrations create through
  core.migration_operations.trigram_index (PostgreSQL). Their SQL comes from Django's schema
  editor, so a recreated index is the one a migration would have made. A declared index is
  present when the database has an index of that name, or (fields and unique fields, whose names
  vary with how the table was built) a plain index on the same columns.
- Only declared-but-missing indexes are ever created (`CREATE INDEX CONCURRENTLY` on PostgreSQL,
  outside any transaction, after dropping an INVALID leftover of the same name), and bloated ones
  reindexed on request (`REINDEX INDEX CONCURRENTLY`). Nothing is dropped automatically: unused
  and duplicate indexes and unindexed foreign keys come back as suggestions with the statement to
  review.

Functions return plain data (dicts and lists) that the commands print as text or JSON.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from django.apps import apps
from django.core.management.base import CommandError
from django.db import DatabaseError, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.models import UniqueConstraint

from carshop.ops.toolkit import first_line, no_progress
from core.migration_operations import TrigramIndexSQL

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterable, Iterator, Mapping

    from django.db.backends.base.base import BaseDatabaseWrapper


T = TypeVar("T")

# pgstatindex: a B-tree packs leaves to 90% (its default fillfactor); under half full is bloat.
BLOATED_LEAF_DENSITY = 50
# Indexes smaller than this are not worth measuring or rebuilding.
BLOAT_MIN_BYTES = 1024 * 1024


def _vendor_check(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor not in ("postgresql", "sqlite"):
        raise CommandError(
            f"supported databases are PostgreSQL and SQLite, not {connection.vendor}"
        )


def _pg_version(connection: Any) -> int:
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
        return (
            self.table,
            self.method,
            self.columns,
            self.expressions,
            self.predicate,
            self.opclasses,
            self.options,
        )

    @property
    def plain(self) -> bool:
        """A plain column index: no expression, no predicate, default operator classes."""
        return (
            self.expressions is None
            and self.predicate is None
            and "pattern_ops" not in self.definition
        )

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
                DbIndex(
                    name=name,
                    table=table,
                    method=method,
                    columns=tuple(columns),
                    expressions=expressions,
                    predicate=predicate,
                    opclasses=tuple(opclasses),
                    options=tuple(options),
                    unique=unique,
                    primary=primary,
                    constraint=constraint,
                    valid=valid,
                    size=size,
                    scans=scans,
                    definition=definition,
                    oid=oid,
                )
                for (
                    name,
                    table,
                    method,
                    columns,
                    expressions,
                    predicate,
                    opclasses,
                    options,
                    unique,
                    primary,
                    constraint,
                    valid,
                    size,
                    scans,
                    definition,
                    oid,
                ) in cursor.fetchall()
            ]
    return _sqlite_indexes(connection)


_SQLITE_INDEX_SQL = re.compile(
    r"\bON\s+(\"[^\"]+\"|\S+)\s*\((?P<key>.*?)\)\s*(?:WHERE\s+(?P<where>.*))?$",
    re.IGNORECASE | re.DOTALL,
)


def _sqlite_indexes(connection: BaseDatabaseWrapper) -> list[DbIndex]:
    quote = connection.ops.quote_name
    result = []
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"PRAGMA index_list({quote(table)})")
            for _seq, name, unique, origin, partial in cursor.fetchall():
                cursor.execute(f"PRAGMA index_xinfo({quote(name)})")
                key = [row for row in cursor.fetchall() if row[5]]
                cursor.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s", [name]
                )
                row = cursor.fetchone()
                sql = (row[0] if row else None) or ""
                match = _SQLITE_INDEX_SQL.search(sql)
                columns = tuple(
                    None if cid == -2 else column for _seqno, cid, column, _desc, _coll, _key in key
                )
                expressions = None
                predicate = None
                if match:
                    if None in columns:
                        expressions = " ".join(match.group("key").split())
                    if partial and match.group("where"):
                        predicate = " ".join(match.group("where").split())
                result.append(
                    DbIndex(
                        name=name,
                        table=table,
                        columns=columns,
                        expressions=expressions,
                        predicate=predicate,
                        opclasses=tuple(row[4] for row in key),
                        options=tuple(row[3] for row in key),
                        unique=bool(unique),
                        primary=origin == "pk",
                        constraint=origin in ("u", "pk"),
                        definition=sql
                        or f"({origin}) {name} ON {table} ({', '.join(map(str, columns))})",
                    )
                )
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
    return _CREATE_INDEX.sub(
        lambda m: f"CREATE {m.group(1) or ''}INDEX CONCURRENTLY ", str(sql), count=1
    )


def _unique_statements(
    connection: BaseDatabaseWrapper,
    editor: Any,
    table: str,
    name: str,
    columns: Iterable[str],
) -> list[str]:
    """A plain unique constraint, built without locking the table for writes on PostgreSQL (a
    unique index, then the constraint on it); a unique index on SQLite, which cannot add a
    constraint to an existing table."""
    quote = connection.ops.quote_name
    cols = ", ".join(quote(column) for column in columns)
    if connection.vendor == "postgresql":
        return [
            f"CREATE UNIQUE INDEX CONCURRENTLY {quote(name)} ON {quote(table)} ({cols})",
            f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} UNIQUE USING INDEX "
            f"{quote(name)}",
        ]
    return [f"CREATE UNIQUE INDEX {quote(name)} ON {quote(table)} ({cols})"]


def _plain_unique(constraint: Any) -> bool:
    return (
        constraint.fields
        and not constraint.condition
        and not constraint.expressions
        and not constraint.include
        and not constraint.opclasses
        and constraint.deferrable is None
        and getattr(constraint, "nulls_distinct", None) is None
    )


def declared_indexes(
    connection: BaseDatabaseWrapper, tables: Iterable[str] | None = None
) -> list[DeclaredIndex]:
    """The indexes the models and the migrations' trigram operations ask for, on the tables the
    database has (or those named)."""
    _vendor_check(connection)
    existing = set(connection.introspection.table_names())
    if tables is not None:
        existing &= set(tables)
    # The schema editor's index helpers used here are private API, absent from the stubs.
    editor: Any = connection.SchemaEditorClass(connection, collect_sql=True, atomic=False)
    postgres = connection.vendor == "postgresql"

    def sql(statement: Any) -> str:
        return _concurrently(statement) if postgres else str(statement)

    declared = []
    for model in apps.get_models(include_auto_created=True):
        # Any: the stubs' fields lack db_index, and get_field() may give a relation.
        meta: Any = model._meta
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
                    declared.append(
                        DeclaredIndex(
                            name=editor._create_index_name(
                                table, [model_field.column], suffix="_like" if like else ""
                            ),
                            table=table,
                            kind="like index" if like else "field index",
                            source=f"{where} (db_index)",
                            statements=[sql(statement)],
                            columns=(model_field.column,),
                            like=like,
                        )
                    )
            elif model_field.unique:
                name = editor._create_index_name(table, [model_field.column], suffix="_uniq")
                declared.append(
                    DeclaredIndex(
                        name=name,
                        table=table,
                        kind="unique",
                        source=f"{where} (unique)",
                        statements=_unique_statements(
                            connection, editor, table, name, [model_field.column]
                        ),
                        columns=(model_field.column,),
                        unique=True,
                    )
                )
                like_sql = editor._create_like_index_sql(model, model_field) if postgres else None
                if like_sql is not None:
                    declared.append(
                        DeclaredIndex(
                            name=editor._create_index_name(
                                table, [model_field.column], suffix="_like"
                            ),
                            table=table,
                            kind="like index",
                            source=f"{where} (unique)",
                            statements=[sql(like_sql)],
                            columns=(model_field.column,),
                            like=True,
                        )
                    )
        for names in meta.unique_together:
            columns = [meta.get_field(name).column for name in names]
            name = editor._create_index_name(table, columns, suffix="_uniq")
            declared.append(
                DeclaredIndex(
                    name=name,
                    table=table,
                    kind="unique",
                    source=f"{meta.label} unique_together",
                    statements=_unique_statements(connection, editor, table, name, columns),
                    columns=tuple(columns),
                    unique=True,
                )
            )
        for index in meta.indexes:
            declared.append(
                DeclaredIndex(
                    name=index.name,
                    table=table,
                    kind="index",
                    source=f"{meta.label} Meta.indexes",
                    statements=[sql(index.create_sql(model, editor))],
                )
            )
        for constraint in meta.constraints:
            if not isinstance(constraint, UniqueConstraint):
                continue
            if _plain_unique(constraint):
                columns = [meta.get_field(name).column for name in constraint.fields]
                statements = _unique_statements(connection, editor, table, constraint.name, columns)
            else:
                statement = constraint.create_sql(model, editor)
                if statement is None:  # a feature this database lacks
                    continue
                statements = [sql(statement)]
            declared.append(
                DeclaredIndex(
                    name=constraint.name,
                    table=table,
                    kind="unique constraint",
                    source=f"{meta.label} Meta.constraints",
                    statements=statements,
                    unique=True,
                )
            )
    if postgres:
        for migration, operation in _trigram_operations(connection):
            if operation.table in existing:
                declared.append(
                    DeclaredIndex(
                        name=operation.index_name,
                        table=operation.table,
                        kind="trigram",
                        source=f"migration {migration}",
                        statements=[operation.create_sql(concurrently=True)],
                    )
                )
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


def _constraint_names(
    connection: BaseDatabaseWrapper, tables: Iterable[str]
) -> defaultdict[str, set[str]]:
    names = defaultdict(set)
    with connection.cursor() as cursor:
        for table in tables:
            names[table] = set(connection.introspection.get_constraints(cursor, table))
    return names


def _present(
    item: DeclaredIndex, indexes_by_table: dict[str, list[DbIndex]], names: dict[str, set[str]]
) -> str:
    """'present', 'invalid' (PostgreSQL: an index left INVALID by a failed concurrent build)
    or 'missing'."""
    by_name = {index.name: index for index in indexes_by_table.get(item.table, [])}
    if item.name in by_name:
        return "present" if by_name[item.name].valid else "invalid"
    if item.name in names.get(item.table, ()):
        return "present"
    if item.columns is not None:
        for index in indexes_by_table.get(item.table, []):
            if (
                index.valid
                and index.columns == item.columns
                and index.expressions is None
                and index.predicate is None
                and (index.unique or not item.unique)
                and ("pattern_ops" in index.definition) == item.like
            ):
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


def duplicate_indexes(
    indexes: Iterable[DbIndex],
    declared: Container[tuple[str, str]] = (),
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
        group = sorted(
            group,
            key=lambda i: (
                not i.primary,
                not i.constraint,
                not i.unique,
                (i.table, i.name) not in declared,
                i.name,
            ),
        )
        kept = group[0]
        for other in group[1:]:
            if other.constraint:
                continue
            found.append((other, kept, "same definition as"))
            seen.add(other.name)
    for shorter in indexes:
        if (
            shorter.name in seen
            or not shorter.valid
            or shorter.method != "btree"
            or shorter.unique
            or shorter.constraint
            or shorter.expressions is not None
            or None in shorter.columns
        ):
            continue
        size = len(shorter.columns)
        for longer in indexes:
            if (
                longer is shorter
                or not longer.valid
                or longer.table != shorter.table
                or longer.method != "btree"
                or longer.predicate != shorter.predicate
                or len(longer.columns) <= size
                or longer.columns[:size] != shorter.columns
                or longer.opclasses[:size] != shorter.opclasses
                or (size > 1 and longer.options[:size] != shorter.options)
            ):
                continue
            found.append((shorter, longer, "columns lead"))
            seen.add(shorter.name)
            break
    return found


def analyze_indexes(
    connection: BaseDatabaseWrapper,
    *,
    min_rows: int = 10000,
    progress: Callable[..., Any] = no_progress,
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
        {
            "index": index.name,
            "table": index.table,
            "duplicate_of": kept.name,
            "reason": reason,
            "definition": index.definition,
            "size_bytes": index.size,
            "declared": declared_names.get((index.table, index.name)),
            "drop": _drop_statement(connection, index),
        }
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
            {
                "index": index.name,
                "table": index.table,
                "definition": index.definition,
                "drop": _drop_statement(connection, index),
            }
            for index in indexes
            if not index.valid and (index.table, index.name) not in declared_names
        ],
        "unindexed_foreign_keys": unindexed,
        "duplicates": duplicates,
    }
    if postgres:
        result["sequential_scans"] = _sequential_scans(connection, min_rows)
        result["min_rows"] = min_rows
        result["unused"], result["statistics_since"] = _unused_indexes(
            connection, indexes, declared_names
        )
        result["bloat"] = measure_bloat(connection, indexes)
    else:
        result["sequential_scans"] = None
        result["unused"] = None
        result["bloat"] = {
            "measured": False,
            "indexes": [],
            "note": "SQLite keeps no index bloat or usage figures; "
            "vacuum_database rebuilds the whole file",
        }
    return result


def _unindexed_foreign_keys(
    connection: BaseDatabaseWrapper, by_table: Mapping[str, list[DbIndex]]
) -> list[dict[str, str]]:
    """Foreign keys no index leads with and that no declared index covers (db_index=False):
    joins and deletes of the parent read the whole table."""
    quote = connection.ops.quote_name
    concurrently = "CONCURRENTLY " if connection.vendor == "postgresql" else ""
    existing = set(by_table) | set(connection.introspection.table_names())
    found = []
    for model in apps.get_models(include_auto_created=True):
        meta: Any = model._meta  # as in declared_indexes
        if not meta.managed or meta.proxy or meta.swapped or meta.db_table not in existing:
            continue
        for model_field in meta.local_fields:
            if not model_field.is_relation or not model_field.concrete:
                continue
            if model_field.db_index or model_field.unique:
                continue  # declared: reported as missing when absent
            column = model_field.column
            if any(
                index.valid and index.predicate is None and index.columns[:1] == (column,)
                for index in by_table.get(meta.db_table, [])
            ):
                continue
            name = f"{meta.db_table}_{column}_idx"
            found.append(
                {
                    "table": meta.db_table,
                    "column": column,
                    "field": f"{meta.label}.{model_field.name}",
                    "references": model_field.related_model._meta.db_table,
                    "create": f"CREATE INDEX {concurrently}{quote(name)} ON {quote(meta.db_table)} "
                    f"({quote(column)});",
                }
            )
    return found


def _sequential_scans(connection: BaseDatabaseWrapper, min_rows: int) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_live_tup, seq_scan, seq_tup_read, coalesce(idx_scan, 0) "
            "FROM pg_stat_user_tables WHERE schemaname = current_schema() "
            "AND n_live_tup >= %s AND seq_scan > 0 AND seq_scan > coalesce(idx_scan, 0) "
            "ORDER BY seq_tup_read DESC",
            [min_rows],
        )
        return [
            {
                "table": table,
                "rows": rows,
                "seq_scan": seq_scan,
                "seq_tup_read": read,
                "idx_scan": idx_scan,
                "rows_per_seq_scan": round(read / seq_scan),
            }
            for table, rows, seq_scan, read, idx_scan in cursor.fetchall()
        ]


def _unused_indexes(
    connection: BaseDatabaseWrapper, indexes: list[DbIndex], declared_names: Any
) -> tuple[Any, Any]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()"
        )
        row = cursor.fetchone()
    since = row[0] if row else None
    unused = [
        {
            "index": index.name,
            "table": index.table,
            "size_bytes": index.size,
            "definition": index.definition,
            "declared": declared_names.get((index.table, index.name)),
            "drop": _drop_statement(connection, index),
        }
        for index in indexes
        if index.valid
        and index.scans == 0
        and not (index.unique or index.primary or index.constraint)
    ]
    unused.sort(key=lambda row: (-(row["size_bytes"] or 0), row["index"]))
    return unused, since


def measure_bloat(
    connection: BaseDatabaseWrapper, indexes: Iterable[DbIndex], min_bytes: int = BLOAT_MIN_BYTES
) -> dict[str, Any]:
    """B-tree leaf density from pgstattuple's pgstatindex, for indexes of min_bytes or more."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pgstattuple'")
        if cursor.fetchone() is None:
            return {
                "measured": False,
                "indexes": [],
                "note": "not measured: the pgstattuple extension is not installed "
                "(CREATE EXTENSION pgstattuple; as a superuser)",
            }
    bloated = []
    measured = 0
    for index in indexes:
        if index.method != "btree" or not index.valid or (index.size or 0) < min_bytes:
            continue
        try:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT avg_leaf_density, leaf_fragmentation FROM pgstatindex(%s::regclass)",
                    [index.oid],
                )
                density, fragmentation = cursor.fetchone()
        except DatabaseError as exc:
            return {
                "measured": False,
                "indexes": [],
                "note": f"not measured: pgstatindex failed: {first_line(exc)}",
            }
        measured += 1
        if density == density and density < BLOATED_LEAF_DENSITY:  # NaN for empty indexes
            bloated.append(
                {
                    "index": index.name,
                    "table": index.table,
                    "size_bytes": index.size,
                    "leaf_density": round(density, 1),
                    "leaf_fragmentation": round(fragmentation, 1),
                    "wasted_bytes": int(index.size * (1 - density / 90)),
                    "reindex": (
                        f"REINDEX INDEX CONCURRENTLY {connection.ops.quote_name(index.name)};"
                    ),
                }
            )
    return {
        "measured": True,
        "measured_indexes": measured,
        "min_bytes": min_bytes,
        "indexes": bloated,
        "note": f"{measured} B-tree indexes of {min_bytes // 1024} KB or more measured",
    }


# ---------------------------------------------------------------------------------------------
# Changes: only declared-but-missing indexes, and reindexing of bloated ones
# ---------------------------------------------------------------------------------------------


def create_missing_indexes(
    connection: BaseDatabaseWrapper,
    *,
    dry_run: bool = False,
    reindex_bloated: bool = False,
    progress: Callable[..., Any] = no_progress,
) -> dict[str, Any]:
    """Create every declared index the database lacks (dropping an INVALID leftover of the same
    name first) and, when asked, rebuild bloated ones. Returns the analysis and what was done;
    an index that fails is reported, and the others still go ahead."""
    _vendor_check(connection)
    postgres = connection.vendor == "postgresql"
    if postgres and not dry_run and connection.in_atomic_block:
        raise CommandError(
            "CREATE INDEX CONCURRENTLY cannot run inside a transaction; run the command on its own"
        )
    analysis = analyze_indexes(connection)
    quote = connection.ops.quote_name
    plan = []
    for item in analysis["invalid"]:
        plan.append(
            (
                item,
                [f"DROP INDEX CONCURRENTLY IF EXISTS {quote(item['name'])}", *item["statements"]],
            )
        )
    for item in analysis["missing"]:
        plan.append((item, list(item["statements"])))
    if reindex_bloated and postgres:
        for row in analysis["bloat"]["indexes"]:
            plan.append(
                (
                    {
                        "name": row["index"],
                        "table": row["table"],
                        "kind": "reindex",
                        "source": f"leaf density {row['leaf_density']}%",
                    },
                    [row["reindex"].rstrip(";")],
                )
            )
    actions = []
    for item, statements in progress(plan, total=len(plan), label="indexes"):
        action = {
            "index": item["name"],
            "table": item["table"],
            "kind": item["kind"],
            "source": item["source"],
            "statements": statements,
            "status": "planned" if dry_run else "done",
        }
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
    return {
        "database": connection.vendor,
        "name": str(connection.settings_dict["NAME"]),
        "dry_run": dry_run,
        "actions": actions,
        "analysis": analysis,
    }


def _drop_invalid_leftover(connection: BaseDatabaseWrapper, name: str) -> None:
    """A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind: remove it."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND n.nspname = current_schema() "
            "AND NOT i.indisvalid",
            [name],
        )
        if cursor.fetchone():
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {connection.ops.quote_name(name)}")
