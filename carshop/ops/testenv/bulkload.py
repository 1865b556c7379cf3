"""Writing millions of rows fast: PostgreSQL COPY, batched INSERTs elsewhere (SQLite, for tests).

Rows are plain tuples in the order of a `Table`'s fields, with Python values (int, str, bool,
None, Decimal, date, datetime, dict for JSON). No model instance is built and no signal fires, so
nothing here writes an audit entry: generated data is not anyone's change.

On PostgreSQL, `BulkLoadSchema` drops the secondary indexes and the foreign keys of the tables
being filled and puts them back at the end, inside the same transaction: building an index once
from sorted data is many times quicker than updating it row by row, and re-adding a foreign key
checks every row in one join. Primary keys, unique and check constraints stay in place, so a
duplicate number or an impossible amount fails the load right away. If the load fails, the
transaction rolls back and the schema is as it was.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import queue
import threading
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.management.color import no_style

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import Field, Model


def copy_text(value: str) -> str:
    """A text as COPY's text format writes it (backslash, tab and line breaks escaped)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def _copy_json(value: Any) -> str:
    return copy_text(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


# COPY's text format, by Python type (looked up by exact type: bool before int matters).
_COPY_FORMAT: dict[type, Callable[[Any], str]] = {
    int: str,
    str: copy_text,
    type(None): lambda value: "\\N",
    bool: lambda value: "t" if value else "f",
    Decimal: str,
    datetime.datetime: datetime.datetime.isoformat,
    datetime.date: datetime.date.isoformat,
    datetime.time: datetime.time.isoformat,
    dict: _copy_json,
    list: _copy_json,
    float: repr,
}


class Table:
    """A model and the fields a generator gives, in row order.

    Concrete fields the generator does not give are filled per row: timestamps kept by Django
    (auto_now, auto_now_add) take the row's value of `stamp`, other fields their default or
    NULL. So a column added by a later migration does not break the generator.
    """

    def __init__(
        self, model: type[Model], fields: Sequence[str], *, stamp: str | None = None
    ) -> None:
        self.model = model
        meta = model._meta
        self.fields: list[Any] = [meta.get_field(name) for name in fields]
        given = {field.name for field in self.fields}
        self.extra: list[tuple[Field[Any, Any], str, Any]] = []
        for field in meta.concrete_fields:
            if field.name in given or getattr(field, "db_returning", False):
                continue  # given, or an id the database numbers
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                if stamp is None:
                    raise ValueError(f"{meta.label}.{field.name} needs a `stamp` field")
                self.extra.append((field, "stamp", fields.index(stamp)))
            elif field.has_default():
                self.extra.append((field, "value", field.get_default()))
            elif field.null:
                self.extra.append((field, "value", None))
            elif field.blank and field.get_internal_type() in ("CharField", "TextField"):
                self.extra.append((field, "value", ""))
            else:
                raise ValueError(f"{meta.label}.{field.name} is required: give it")
        self.all_fields = self.fields + [field for field, _kind, _value in self.extra]
        self.columns = [field.column for field in self.all_fields]

    def complete(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not self.extra:
            return rows
        fill = [(kind == "stamp", value) for _field, kind, value in self.extra]
        return [(*row, *[row[value] if stamp else value for stamp, value in fill]) for row in rows]

    @property
    def db_table(self) -> str:
        return self.model._meta.db_table


class BulkWriter:
    """Writes rows with COPY on PostgreSQL, executemany() elsewhere. Counts what it wrote.

    On PostgreSQL the COPY runs in a background thread on the same connection while the caller
    builds the next rows (the server parses one batch while Python makes the next); `drain()`
    waits for it, and must be called before the connection is used for anything else.
    """

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.postgresql = connection.vendor == "postgresql"
        self.counts: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        # Made on the first COPY (PostgreSQL only).
        self._queue: Any = None
        self._thread: threading.Thread | None = None
        self._error: Exception | None = None

    def _copier(self, cursor: Any) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._error is None:
                    statement, buffer = item
                    cursor.copy_expert(statement, buffer)
            except Exception as exc:  # handed to the caller by drain()
                self._error = exc
            finally:
                self._queue.task_done()

    def _send(self, statement: str, buffer: io.StringIO) -> None:
        if self._thread is None:
            # The driver's connection, taken here: Django's connection handle is per thread.
            self.connection.ensure_connection()
            cursor = self.connection.connection.cursor()
            self._queue = queue.Queue(maxsize=3)
            self._thread = threading.Thread(
                target=self._copier, args=(cursor,), name="bulk-copy", daemon=True
            )
            self._thread.start()
        if self._error is not None:
            self.drain()
        self._queue.put((statement, buffer))

    def drain(self) -> None:
        """Wait until every COPY sent has finished; raise the first one's error, if any."""
        if self._thread is not None:
            self._queue.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self.drain()

    def write(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        started = time.monotonic()
        rows = table.complete(rows)
        quote = self.connection.ops.quote_name
        columns = ", ".join(quote(column) for column in table.columns)
        with contextlib.nullcontext() if self.postgresql else self.connection.cursor() as cursor:
            if self.postgresql:
                fmt = _COPY_FORMAT
                buffer = io.StringIO()
                buffer.writelines(
                    "\t".join([fmt[type(value)](value) for value in row]) + "\n" for row in rows
                )
                buffer.seek(0)
                self._send(f"COPY {quote(table.db_table)} ({columns}) FROM STDIN", buffer)
            else:
                fields = table.all_fields
                prepared = [
                    tuple(
                        field.get_db_prep_save(value, self.connection)
                        for field, value in zip(fields, row, strict=True)
                    )
                    for row in rows
                ]
                marks = ", ".join(["%s"] * len(fields))
                # Table and column names come from the models, values are parameters.
                insert = f"INSERT INTO {quote(table.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
                # Not None: off PostgreSQL the `with` opened a cursor.
                cursor.executemany(insert, prepared)  # type: ignore[union-attr]
        label = table.model._meta.label
        self.counts[label] = self.counts.get(label, 0) + len(rows)
        self.seconds[label] = self.seconds.get(label, 0) + time.monotonic() - started

    def reset_sequences(self, model_list: list[type[Model]]) -> None:
        self.drain()
        statements = self.connection.ops.sequence_reset_sql(no_style(), model_list)
        with self.connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


class BulkLoadSchema:
    """Secondary indexes and foreign keys of `model_list`, dropped for the load and put back.

    PostgreSQL only; elsewhere both steps do nothing. Use inside one transaction.
    """

    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        model_list: Iterable[type[Model]],
        *,
        keep_unique: bool = False,
    ) -> None:
        self.connection = connection
        self.tables = [model._meta.db_table for model in model_list]
        # keep_unique: unique indexes stay too, so a duplicate fails the load at its row.
        self.keep_unique = keep_unique
        self.indexes: list[tuple[str, str]] = []
        self.foreign_keys: list[tuple[str, str, str]] = []

    def drop(self) -> None:
        if self.connection.vendor != "postgresql":
            return
        with self.connection.cursor() as cursor:
            # Indexes that no constraint owns (plain and partial unique indexes): rebuilt after.
            cursor.execute(
                """
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                FROM pg_index i
                WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                  AND NOT (%s AND i.indisunique)
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                  WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
                ORDER BY 1
                """,
                [self.tables, self.keep_unique],
            )
            self.indexes = cursor.fetchall()
            cursor.execute(
                """
                SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                FROM pg_constraint
                WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])
                ORDER BY 1, 2
                """,
                [self.tables],
            )
            self.foreign_keys = cursor.fetchall()
            quote = self.connection.ops.quote_name
            for table, name, _definition in self.foreign_keys:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
            for name, _definition in self.indexes:
                cursor.execute(f"DROP INDEX {name}")

    def restore(self, log: Callable[[str], Any] | None = None) -> None:
        """Build the indexes and foreign keys again; `log` is told the slow ones and a total."""
        if self.connection.vendor != "postgresql":
            return
        quote = self.connection.ops.quote_name
        statements = [(name, definition) for name, definition in self.indexes] + [
            (name, f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
            for table, name, definition in self.foreign_keys
        ]
        with self.connection.cursor() as cursor:
            for name, statement in statements:
                started = time.monotonic()
                cursor.execute(statement)
                elapsed = time.monotonic() - started
                if log and elapsed >= 1:
                    log(f"  {name}: {elapsed:.1f} s")
        if log:
            log(
                f"  {len(self.indexes)} indexes built, {len(self.foreign_keys)} foreign keys "
                "checked"
            )
