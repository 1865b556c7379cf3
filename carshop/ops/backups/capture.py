"""Change capture for incremental backups: a change log filled by database triggers.

Why triggers: an incremental backup must hold every insert, update and delete since the previous
backup, also those made outside the ORM (bulk updates, raw SQL, psql sessions). Only the database
sees all of them. Each table gets triggers that write the primary key of every row touched into
`carshop_backup_change`; the incremental backup then copies the current version of those rows (or
notes that they are gone). Its size and time follow the amount of change, not the database size.

Why not a migration: the first full backup installs the change log (the backup command owns it),
so databases that are never backed up, such as test databases, carry no triggers at all. After
that, `migrate` keeps it in step: before a migration runs the triggers are taken off (a migration
may drop a column they read, or rebuild a table) and the next backup is marked full; afterwards
they are put back on every table, new ones included.

PostgreSQL: statement-level triggers with transition tables (one call per statement, not per
row). Each change row carries the id of the transaction that wrote it, so a backup can take
exactly the changes that its snapshot sees and the previous backup's snapshot did not, whatever
order transactions commit in. The triggers also add up each statement's change to the table's
row count and checksum, so an incremental backup knows every table's checksum without reading
the table (see postgres.py).

SQLite: row-level triggers; writers are serialised, so the change log's ids are in commit order
and a backup is "every change row after id N". The update and delete triggers keep the old row as
text (`sqlite_row_text`, the text its checksum is computed from), from which the incremental
backup computes checksums without reading whole tables.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from carshop.ops.backups.introspect import OWN_PREFIX, pg_schema, pg_tables, qi, ql, sqlite_tables

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from carshop.ops.backups.introspect import Table

logger = logging.getLogger("carshop.backups")

CHANGE_TABLE = OWN_PREFIX + "change"
STATE_TABLE = OWN_PREFIX + "state"
PG_FUNCTION = OWN_PREFIX + "capture"
PG_TRIGGERS = ("ins", "upd", "del", "trunc")
SQLITE_TRIGGERS = ("i", "u", "d")

# The text a row is hashed from must not depend on the session: fix every setting that changes
# how a value is written out. Used by the trigger function and by every checksum query.
PG_HASH_SETTINGS = {
    "timezone": "UTC",
    "datestyle": "ISO, MDY",
    "intervalstyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
}


# --- shared ------------------------------------------------------------------------------------


def _run(cursor: Any, statements: Iterable[str]) -> None:
    for statement in statements:
        cursor.execute(statement)


def is_installed(cursor: Any, vendor: str) -> bool:
    if vendor == "postgresql":
        cursor.execute(f"SELECT to_regclass({ql(CHANGE_TABLE)}) IS NOT NULL")
        return cursor.fetchone()[0]
    cursor.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = " + ql(CHANGE_TABLE)
    )
    return cursor.fetchone()[0] == 1


def install(cursor: Any, vendor: str) -> list[str]:
    """Create the change log and state tables if missing and put triggers on every table that
    lacks them (or has stale ones). Returns the tables whose triggers were (re)made: changes to
    those tables before now may be missing from the log."""
    if vendor == "postgresql":
        return _pg_install(cursor)
    return _sqlite_install(cursor)


def uninstall(cursor: Any, vendor: str) -> None:
    """Remove the triggers, the change log and the state: incremental backups stop."""
    drop_triggers(cursor, vendor)
    statements = [f"DROP TABLE IF EXISTS {CHANGE_TABLE}", f"DROP TABLE IF EXISTS {STATE_TABLE}"]
    if vendor == "postgresql":
        statements.append(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
    _run(cursor, statements)


def drop_triggers(cursor: Any, vendor: str) -> None:
    if vendor == "postgresql":
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal "
            f"AND t.tgname LIKE {ql(PG_FUNCTION + '%')}"
        )
        _run(
            cursor,
            [
                f"DROP TRIGGER IF EXISTS {qi(name)} ON {qi(table)}"
                for table, name in cursor.fetchall()
            ],
        )
    else:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' "
            f"AND name LIKE {ql(OWN_PREFIX + '%')}"
        )
        _run(cursor, [f"DROP TRIGGER IF EXISTS {qi(name)}" for (name,) in cursor.fetchall()])


def read_state(cursor: Any, vendor: str) -> dict[str, Any] | None:
    """The chain state kept in the database: which backup it last matched, and whether the next
    backup must be full. None when change capture is not installed."""
    if not is_installed(cursor, vendor):
        return None
    cursor.execute(
        f"SELECT backup_id, snapshot, watermark, system_identifier, needs_full "
        f"FROM {STATE_TABLE} WHERE id = 1"
    )
    row = cursor.fetchone()
    if row is None:
        return None
    keys = ("backup_id", "snapshot", "watermark", "system_identifier", "needs_full")
    state = dict(zip(keys, row, strict=True))
    state["needs_full"] = bool(state["needs_full"])
    return state


def write_state(cursor: Any, vendor: str, **values: Any) -> None:
    now = "now()" if vendor == "postgresql" else "datetime('now')"
    assignments = [f"updated_at = {now}"]
    for key, value in values.items():
        if value is None:
            literal = "NULL"
        elif isinstance(value, bool):
            literal = ("TRUE" if value else "FALSE") if vendor == "postgresql" else str(int(value))
        elif isinstance(value, int):
            literal = str(value)
        else:
            literal = ql(value)
        assignments.append(f"{key} = {literal}")
    cursor.execute(f"UPDATE {STATE_TABLE} SET {', '.join(assignments)} WHERE id = 1")


def mark_needs_full(cursor: Any, vendor: str, reason: str) -> None:
    if is_installed(cursor, vendor):
        write_state(cursor, vendor, needs_full=True)
        logger.info("next backup will be full", extra={"reason": reason})


def bypass_message(differ: Sequence[tuple[str, Any, Any]]) -> str:
    name, found, expected = differ[0]
    what = (
        f"{found['rows']} rows where the chain says {expected['rows']}"
        if found["rows"] != expected["rows"]
        else "a checksum the chain does not explain"
    )
    more = f" and {len(differ) - 1} more tables" if len(differ) > 1 else ""
    return (
        f"changes bypassed change capture (table {name} has {what}{more}; "
        "session_replication_role = replica, or triggers disabled or dropped)"
    )


# --- migrate hooks -----------------------------------------------------------------------------


def before_migrate(sender: Any, using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    from django.db import connections, transaction

    if not plan:
        return  # nothing will run: the triggers can stay
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if is_installed(cursor, connection.vendor):
            drop_triggers(cursor, connection.vendor)
            mark_needs_full(cursor, connection.vendor, "migrations ran")


def after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections, transaction

    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if is_installed(cursor, connection.vendor):
            changed = install(cursor, connection.vendor)
            if changed:
                mark_needs_full(cursor, connection.vendor, "triggers re-made after migrate")


# --- PostgreSQL --------------------------------------------------------------------------------


def pg_key_expression(table: Table, alias: str = "r") -> str:
    """SQL text of a row's key as text: the primary key, or a JSON array for a composite one.
    Empty for a table without a primary key (its changes are logged as whole-table changes)."""
    if not table.pk:
        return ""
    if len(table.pk) == 1:
        return f"{alias}.{qi(table.pk[0])}::text"
    return "json_build_array(" + ", ".join(f"{alias}.{qi(c)}" for c in table.pk) + ")::text"


def pg_key_match(table: Table, row_alias: str, key_sql: str) -> str:
    """SQL condition: the row `row_alias` has the key `key_sql` (text, as logged)."""
    if len(table.pk) == 1:
        return f"{row_alias}.{qi(table.pk[0])} = ({key_sql})::{table.pk_types[0]}"
    parts = [
        f"{row_alias}.{qi(c)} = (({key_sql})::json->>{i})::{t}"
        for i, (c, t) in enumerate(zip(table.pk, table.pk_types, strict=True))
    ]
    return " AND ".join(parts)


def _pg_function_sql(schema: str) -> str:
    change = f"{qi(schema)}.{CHANGE_TABLE}"
    settings = " ".join(f"SET {k} = {ql(v)}" for k, v in PG_HASH_SETTINGS.items())
    return f"""
CREATE OR REPLACE FUNCTION {qi(schema)}.{PG_FUNCTION}() RETURNS trigger
LANGUAGE plpgsql {settings} AS $carshop$
DECLARE
  keyexpr text := TG_ARGV[0];
  tbl text := TG_TABLE_NAME;
BEGIN
  IF TG_OP = 'TRUNCATE' OR keyexpr = '' THEN
    INSERT INTO {change} (tbl, op) VALUES (tbl, 'T');
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    EXECUTE format('INSERT INTO {change} (tbl, pk, op) SELECT %L, %s, ''K'' FROM new_rows r',
                   tbl, keyexpr);
    EXECUTE format('INSERT INTO {change} (tbl, op, nrows, hash) SELECT %L, ''S'', count(*), '
                   'coalesce(sum(hashtextextended(r::text, 0)), 0) FROM new_rows r '
                   'HAVING count(*) > 0', tbl);
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE format('INSERT INTO {change} (tbl, pk, op) SELECT %L, %s, ''K'' FROM old_rows r',
                   tbl, keyexpr);
    EXECUTE format('INSERT INTO {change} (tbl, op, nrows, hash) SELECT %L, ''S'', -count(*), '
                   '-coalesce(sum(hashtextextended(r::text, 0)), 0) FROM old_rows r '
                   'HAVING count(*) > 0', tbl);
  ELSE
    EXECUTE format('INSERT INTO {change} (tbl, pk, op) SELECT %L, k, ''K'' FROM '
                   '(SELECT %s AS k FROM old_rows r UNION SELECT %s FROM new_rows r) u',
                   tbl, keyexpr, keyexpr);
    EXECUTE format('INSERT INTO {change} (tbl, op, nrows, hash) SELECT %L, ''S'', 0, '
                   'coalesce((SELECT sum(hashtextextended(r::text, 0)) FROM new_rows r), 0) - '
                   'coalesce((SELECT sum(hashtextextended(r::text, 0)) FROM old_rows r), 0) '
                   'WHERE EXISTS (SELECT 1 FROM new_rows)', tbl);
  END IF;
  RETURN NULL;
END
$carshop$
"""


def _pg_trigger_sql(schema: str, table: Table, kind: str) -> str:
    key = ql(pg_key_expression(table))
    target = f"{qi(schema)}.{qi(table.name)}"
    function = f"{qi(schema)}.{PG_FUNCTION}({key})"
    name = qi(f"{PG_FUNCTION}_{kind}")
    event, referencing = {
        "ins": ("INSERT", "REFERENCING NEW TABLE AS new_rows"),
        "upd": ("UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        "del": ("DELETE", "REFERENCING OLD TABLE AS old_rows"),
        "trunc": ("TRUNCATE", ""),
    }[kind]
    return (
        f"CREATE TRIGGER {name} AFTER {event} ON {target} {referencing} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}"
    )


def _pg_function_body(schema: str) -> str:
    return _pg_function_sql(schema).split("$carshop$")[1]


def _pg_install(cursor: Any) -> list[str]:
    """Make what is missing, and only that. Every statement here takes a lock that the
    application's writes queue behind (CREATE INDEX: a share lock on the change log, which every
    write inserts into; CREATE TRIGGER: a lock on the table), even when "IF NOT EXISTS" turns it
    into nothing: so the catalogs are read first, and on a database that has everything no DDL
    runs at all. The caller bounds what does run with lock_timeout."""
    schema = pg_schema(cursor)
    cursor.execute(
        "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL, "
        "to_regclass(%s) IS NOT NULL, "
        "(SELECT p.prosrc FROM pg_proc p WHERE p.proname = %s "
        " AND p.pronamespace = current_schema()::regnamespace)",
        [
            f"{qi(schema)}.{CHANGE_TABLE}",
            f"{qi(schema)}.{CHANGE_TABLE}_tbl",
            f"{qi(schema)}.{STATE_TABLE}",
            PG_FUNCTION,
        ],
    )
    has_change, has_index, has_state, function_body = cursor.fetchone()
    statements = []
    if not has_change:
        statements.append(f"""CREATE TABLE IF NOT EXISTS {qi(schema)}.{CHANGE_TABLE} (
              id bigserial PRIMARY KEY,
              xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
              tbl text NOT NULL,
              pk text,
              op char(1) NOT NULL,
              nrows bigint NOT NULL DEFAULT 0,
              hash numeric NOT NULL DEFAULT 0)""")
    if not has_index:
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {CHANGE_TABLE}_tbl "
            f"ON {qi(schema)}.{CHANGE_TABLE} (tbl, id)"
        )
    if not has_state:
        statements.append(f"""CREATE TABLE IF NOT EXISTS {qi(schema)}.{STATE_TABLE} (
              id integer PRIMARY KEY CHECK (id = 1),
              backup_id text, snapshot text, watermark bigint, system_identifier text,
              needs_full boolean NOT NULL DEFAULT TRUE,
              updated_at timestamptz NOT NULL DEFAULT now())""")
    if function_body != _pg_function_body(schema):
        statements.append(_pg_function_sql(schema))
    _run(cursor, statements)
    cursor.execute(f"SELECT count(*) FROM {qi(schema)}.{STATE_TABLE} WHERE id = 1")
    if not cursor.fetchone()[0]:
        cursor.execute(
            f"INSERT INTO {qi(schema)}.{STATE_TABLE} (id) VALUES (1) ON CONFLICT DO NOTHING"
        )
    cursor.execute(
        "SELECT c.relname, t.tgname, t.tgargs, t.tgenabled FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal "
        f"AND t.tgname LIKE {ql(PG_FUNCTION + '%')}"
    )
    existing: dict[Any, Any] = {}
    for table, name, args, enabled in cursor.fetchall():
        existing.setdefault(table, {})[name] = (bytes(args), enabled)
    changed = []
    for table in pg_tables(cursor):
        expected_args = pg_key_expression(table).encode() + b"\x00"
        have = existing.get(table.name, {})
        wanted = {f"{PG_FUNCTION}_{kind}" for kind in PG_TRIGGERS}
        # 'O': fires in normal sessions; 'A': always. 'D' (ALTER TABLE ... DISABLE TRIGGER) and
        # 'R' (replica sessions only) let writes through uncaptured: re-made like missing ones.
        if set(have) == wanted and all(
            args == expected_args and enabled in ("O", "A") for args, enabled in have.values()
        ):
            continue
        statements = [
            f"DROP TRIGGER IF EXISTS {qi(name)} ON {qi(schema)}.{qi(table.name)}" for name in have
        ]
        statements += [_pg_trigger_sql(schema, table, kind) for kind in PG_TRIGGERS]
        _run(cursor, statements)
        changed.append(table.name)
    return changed


def pg_disabled_triggers(cursor: Any) -> list[str]:
    """Tables whose capture triggers exist but do not fire in ordinary sessions (disabled, or
    set to fire on replicas only): their changes since were not captured."""
    cursor.execute(
        "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal "
        f"AND t.tgname LIKE {ql(PG_FUNCTION + '%')} AND t.tgenabled NOT IN ('O', 'A') "
        "ORDER BY 1"
    )
    return [row[0] for row in cursor.fetchall()]


# --- SQLite ------------------------------------------------------------------------------------

# The text a row is hashed from, by checksum scheme (each SQLite manifest records its scheme;
# manifests without one are of scheme 1):
# 1: quote() of each column, comma-separated. Every value is written unambiguously, but each
#    quote() and each || makes a new string (|| copies the growing row for every column).
# 2: json_array() of the columns: one call that writes the whole row into one buffer, less than
#    half the cost. Still unambiguous (strings quoted and escaped, NULL as null, an integer apart
#    from a real); a blob, which JSON cannot hold, is written as a one-element array of its
#    quote(). Reals are written with 15 significant digits (as Django reads decimals back).
SQLITE_CHECKSUM_SCHEME = 2
SQLITE_CHECKSUM_SCHEMES = (1, 2)


def sqlite_row_text(table: Table, alias: str | None = None, scheme: int | None = None) -> str:
    """SQL text of a row as one string, for its checksum (see the schemes above; None: the
    current one). Used by the triggers (a changed row's old text) and by every checksum query."""
    scheme = scheme or SQLITE_CHECKSUM_SCHEME
    prefix = f"{alias}." if alias else ""
    columns = [f"{prefix}{qi(c)}" for c in table.columns]
    if scheme == 1:
        return "||','||".join(f"quote({c})" for c in columns) or "''"
    if scheme != 2:
        raise ValueError(f"unknown checksum scheme {scheme}")
    # Only a blob compares >= x'' (NULL, numbers and text sort before every blob).
    values = [f"CASE WHEN {c} >= x'' THEN json_array(quote({c})) ELSE {c} END" for c in columns]
    return f"json_array({', '.join(values)})"


def sqlite_key_expression(table: Table, alias: str) -> str:
    if not table.pk:
        return "NULL"
    if len(table.pk) == 1:
        return f"{alias}.{qi(table.pk[0])}"
    return "json_array(" + ", ".join(f"{alias}.{qi(c)}" for c in table.pk) + ")"


def sqlite_key_match(table: Table, key_sql_source: str) -> str:
    """SQL condition: the row's key is among `key_sql_source` (a SELECT of logged keys)."""
    if len(table.pk) == 1:
        return f"{qi(table.pk[0])} IN ({key_sql_source})"
    columns = ", ".join(qi(c) for c in table.pk)
    extracted = ", ".join(f"json_extract(k, '$[{i}]')" for i in range(len(table.pk)))
    return f"({columns}) IN (SELECT {extracted} FROM ({key_sql_source}))"


def _sqlite_trigger_sql(table: Table, kind: str) -> str:
    name = qi(f"{OWN_PREFIX}{kind}:{table.name}")
    tbl = ql(table.name)
    if not table.pk:
        event = {"i": "INSERT", "u": "UPDATE", "d": "DELETE"}[kind]
        body = f"INSERT INTO {CHANGE_TABLE} (tbl, op) VALUES ({tbl}, 'T');"
        return f"CREATE TRIGGER {name} AFTER {event} ON {qi(table.name)} BEGIN {body} END"
    new_key = sqlite_key_expression(table, "NEW")
    old_key = sqlite_key_expression(table, "OLD")
    old_text = sqlite_row_text(table, "OLD")
    if kind == "i":
        body = f"INSERT INTO {CHANGE_TABLE} (tbl, pk, op) VALUES ({tbl}, {new_key}, 'I');"
        event = "INSERT"
    elif kind == "d":
        body = (
            f"INSERT INTO {CHANGE_TABLE} (tbl, pk, op, old) "
            f"VALUES ({tbl}, {old_key}, 'D', {old_text});"
        )
        event = "DELETE"
    else:
        body = (
            f"INSERT INTO {CHANGE_TABLE} (tbl, pk, op, old) "
            f"VALUES ({tbl}, {old_key}, 'U', {old_text}); "
            f"INSERT INTO {CHANGE_TABLE} (tbl, pk, op) SELECT {tbl}, {new_key}, 'I' "
            f"WHERE {new_key} IS NOT {old_key};"
        )
        event = "UPDATE"
    return f"CREATE TRIGGER {name} AFTER {event} ON {qi(table.name)} BEGIN {body} END"


def _sqlite_install(cursor: Any) -> list[str]:
    _run(
        cursor,
        [
            f"""CREATE TABLE IF NOT EXISTS {CHANGE_TABLE} (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              tbl TEXT NOT NULL, pk, op TEXT NOT NULL, old TEXT)""",
            f"CREATE INDEX IF NOT EXISTS {CHANGE_TABLE}_tbl ON {CHANGE_TABLE} (tbl, id)",
            f"""CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
              id INTEGER PRIMARY KEY CHECK (id = 1),
              backup_id TEXT, snapshot TEXT, watermark INTEGER, system_identifier TEXT,
              needs_full INTEGER NOT NULL DEFAULT 1, updated_at TEXT)""",
            f"INSERT OR IGNORE INTO {STATE_TABLE} (id) VALUES (1)",
        ],
    )
    cursor.execute(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' "
        f"AND name LIKE {ql(OWN_PREFIX + '%')}"
    )
    existing: dict[Any, Any] = {}
    for name, table, sql in cursor.fetchall():
        existing.setdefault(table, {})[name] = sql
    changed = []
    for table in sqlite_tables(cursor):
        wanted = {
            f"{OWN_PREFIX}{kind}:{table.name}": _sqlite_trigger_sql(table, kind)
            for kind in SQLITE_TRIGGERS
        }
        have = existing.get(table.name, {})
        if have == wanted:
            continue
        statements = [f"DROP TRIGGER IF EXISTS {qi(name)}" for name in have]
        statements += list(wanted.values())
        _run(cursor, statements)
        changed.append(table.name)
    return changed
