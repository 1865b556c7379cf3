"""The JSON import on PostgreSQL: rows streamed through COPY, checked in bulk.

The checks are those of the row-by-row import (carshop/ops/data/transfer.py), made where they are
cheapest, and the row-by-row import stays the judge of every row in doubt:

- in Python, as each row is turned into a line of COPY text, the checks the database cannot
  make: a required value left blank, a value outside the field's choices, a text longer than its
  field, a decimal with more digits than its field keeps (PostgreSQL would round it), a value of
  the wrong JSON type, the fields' own validators (e-mail, VIN, ...) and the model's clean();
- in PostgreSQL, as COPY writes the rows: types, NOT NULL, primary keys, unique and check
  constraints (those stay in place during the load);
- in SQL once every table is loaded: foreign keys, by adding back the foreign keys dropped for
  the load (one join each), and when one fails, the same LEFT JOINs as the row-by-row import to
  name every row that points to nothing.

A row that fails a Python check is not copied: it is handed to the row-by-row import after its
table, which reports it with its line and the model's own message (or loads it, if the model
accepts it after all). When COPY refuses a table, the table is rolled back to its savepoint and
read again row by row, which names every bad row. So the messages are the same on both paths.

Secondary indexes and foreign keys of the tables are dropped for the load and built again at the
end (carshop.ops.testenv.bulkload.BulkLoadSchema), all inside the import's one transaction: a
failed or interrupted import leaves the database as it was.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, cast

from django.core import validators as django_validators
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, models, transaction

from carshop.ops.data import tables as table_registry
from carshop.ops.testenv.bulkload import BulkLoadSchema, copy_text

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator

    from django.db.models import Model

    from carshop.ops.data.tables import Table
    from carshop.ops.data.transfer import ExportFile, ImportReport, _Deserializer, _Loader

NULL = "\\N"
EMPTY_VALUES: tuple[Any, ...] = (None, "", [], (), {})
READ_SIZE = 1 << 16


class _Doubt(Exception):
    """A row the Python checks do not pass: the row-by-row import decides."""


def _integer(value: Any) -> str:
    if type(value) is int:
        return str(value)
    if value is None:
        return NULL
    raise _Doubt


def _boolean(value: Any) -> str:
    if value is True:
        return "t"
    if value is False:
        return "f"
    if value is None:
        return NULL
    raise _Doubt


def _text(value: Any) -> str:
    if type(value) is str:
        if "\x00" in value:  # COPY refuses it: named row by row (transfer.NUL_IN_VALUE)
            raise _Doubt
        return copy_text(value)
    if value is None:
        return NULL
    raise _Doubt


def _json(value: Any) -> str:
    if value is None:
        return NULL
    return copy_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _decimal(field: models.DecimalField[Any, Any]) -> Callable[[Any], str]:
    whole = (field.max_digits or 0) - (field.decimal_places or 0)
    places = field.decimal_places or 0
    pattern = re.compile(
        rf"-?[0-9]{{1,{max(whole, 1)}}}" + (rf"(\.[0-9]{{0,{places}}})?" if places else "")
    )
    if whole <= 0:  # only a fraction: the row-by-row import decides
        pattern = re.compile(r"(?!)")
    fullmatch = pattern.fullmatch

    def decimal(value: Any) -> str:
        if type(value) is str and fullmatch(value):
            return value
        if value is None:
            return NULL
        raise _Doubt

    return decimal


_INTEGER_TYPES = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}
_TEXT_TYPES = {
    "CharField",
    "TextField",
    "SlugField",
    "EmailField",
    "URLField",
    "FileField",
    "ImageField",
    "FilePathField",
    "GenericIPAddressField",
    "UUIDField",
    "DateField",
    "DateTimeField",
    "TimeField",
}


def _formatter(field: Any) -> Callable[[Any], str]:
    """COPY text for a field's value as exported; _Doubt for a value of an unexpected kind."""
    if field.is_relation:
        return _formatter(field.target_field)
    kind = field.get_internal_type()
    if kind in _INTEGER_TYPES:
        return _integer
    if kind == "BooleanField":
        return _boolean
    if kind == "DecimalField":
        return _decimal(field)
    if kind == "JSONField":
        return _json
    if kind in _TEXT_TYPES:
        return _text

    def other(value: Any) -> str:  # a field type this module does not know: never guessed
        raise _Doubt

    return other


def _own_validators(field: Any) -> list[Any]:
    """The field's validators the database does not apply itself: the declared ones and the
    type's (e-mail, URL, ...), without the length, range and digits ones COPY enforces or
    _decimal and the length check cover."""
    found = []
    for validator in [*field.default_validators, *field._validators]:
        if isinstance(
            validator, django_validators.MaxLengthValidator | django_validators.DecimalValidator
        ):
            continue
        found.append(validator)
    return found


class CopyPlan:
    """How one model's rows become COPY lines, and the Python checks on the way."""

    def __init__(self, model: type[Model], natural: dict[str, dict[Any, Any]]) -> None:
        from carshop.ops.data.transfer import _NOT_VALIDATED, NATURAL_REFERENCES

        meta: Any = model._meta  # the stubs type a field's related model as optional
        self.model = model
        self.label = meta.label_lower
        self.natural = natural
        qn = connections["default"].ops.quote_name
        fields = [field for field in meta.local_concrete_fields if field is not meta.pk]
        self.columns = [meta.pk.column] + [field.column for field in fields]
        self.copy_sql = (
            f"COPY {qn(meta.db_table)} ({', '.join(qn(column) for column in self.columns)}) "
            "FROM STDIN"
        )
        self.pk_format = _formatter(meta.pk)
        self.formats: list[tuple[str, Callable[[Any], str], Callable[[], Any]]] = []
        for field in fields:
            target = field.related_model._meta.label_lower if field.is_relation else None
            if target in NATURAL_REFERENCES:
                fmt = self._natural_formatter(target, _formatter(field))
            else:
                fmt = _formatter(field)
            self.formats.append((field.name, fmt, field.get_default))
        # The secrets an export may leave out are filled by the row-by-row import.
        self.required = {
            "accounts.user": "password",
            "accounts.partnerkey": "hashed_key",
            "accounts.webhooksubscription": "secret",
        }.get(self.label)
        # Python checks: only for the Carshop apps' models, as the row-by-row import.
        self.checks: list[tuple[str, Callable[[Any], bool]]] = []
        self.clean_fields: list[Any] = []
        self.cleans = False
        if meta.app_label in table_registry.CARSHOP_APPS:
            exempt = _NOT_VALIDATED.get(self.label, ())
            for field in fields:
                if field.is_relation or field.name in exempt:
                    continue
                check = self._check(field)
                if check is not None:
                    self.checks.append((field.name, check))
            self.cleans = model.clean is not models.Model.clean
            self.clean_fields = [field for field in meta.concrete_fields if field is not meta.pk]
        self.m2m: list[tuple[str, str, Callable[[Any], str]]] = []
        for field in meta.many_to_many:
            through = field.remote_field.through
            if not through._meta.auto_created:
                continue
            source = through._meta.get_field(field.m2m_field_name()).column
            target_field = through._meta.get_field(field.m2m_reverse_field_name())
            sql = (
                f"COPY {qn(through._meta.db_table)} ({qn(source)}, {qn(target_field.column)}) "
                "FROM STDIN"
            )
            target = field.related_model._meta.label_lower
            fmt = _formatter(target_field)
            if target in NATURAL_REFERENCES:
                fmt = self._natural_formatter(target, fmt)
            self.m2m.append((field.name, sql, fmt))

    def _natural_formatter(self, label: str, by_id: Callable[[Any], str]) -> Callable[[Any], str]:
        keys = self.natural.setdefault(label, {})

        def natural(value: Any) -> str:
            if type(value) is list:
                found = keys.get(tuple(value))
                if found is None:
                    raise _Doubt
                return str(found)
            return by_id(value)

        return natural

    @staticmethod
    def _check(field: Any) -> Callable[[Any], bool] | None:
        """A function telling whether a value passes the field's own rules (clean_fields
        without the type conversion, which COPY does), or None when it has none."""
        required = not field.blank
        choices = frozenset(value for value, _label in field.flatchoices) if field.choices else None
        max_length = field.max_length if isinstance(field.max_length, int) else None
        own = _own_validators(field)
        if field.blank and choices is None and max_length is None and not own:
            return None
        to_python = field.to_python

        def check(value: Any) -> bool:
            if value in EMPTY_VALUES:
                return not required
            if choices is not None and value not in choices:
                return False
            if max_length is not None and type(value) is str and len(value) > max_length:
                return False
            if own:
                converted = to_python(value)
                for validator in own:
                    validator(converted)
            return True

        return check

    def line(self, pk: Any, fields: dict[str, Any]) -> str:
        """The COPY line of a row; _Doubt when a Python check fails."""
        if self.required is not None and self.required not in fields:
            raise _Doubt
        try:
            for name, check in self.checks:
                if not check(fields.get(name)):
                    raise _Doubt
            if self.cleans:
                self._clean(pk, fields)
            values = [self.pk_format(pk)]
            for name, fmt, default in self.formats:
                value = fields.get(name, _MISSING)
                values.append(fmt(default() if value is _MISSING else value))
        except (ValidationError, TypeError, ValueError, KeyError, AttributeError):
            raise _Doubt from None
        return "\t".join(values) + "\n"

    def _clean(self, pk: Any, fields: dict[str, Any]) -> None:
        """The model's clean() on an instance holding the row's values."""
        values = {}
        for field in self.clean_fields:
            value = fields.get(field.name, _MISSING)
            if value is _MISSING:
                value = field.get_default()
            values[field.attname] = (
                None
                if value is None
                else field.target_field.to_python(value)
                if field.is_relation
                else field.to_python(value)
            )
        obj = self.model(pk=pk, **values)
        obj.clean()

    def links(self, pk: Any, fields: dict[str, Any]) -> list[tuple[str, str]]:
        """(COPY statement, line) of each many-to-many link of the row."""
        found = []
        own = self.pk_format(pk)
        for name, sql, fmt in self.m2m:
            values = fields.get(name, ())
            if type(values) is not list:
                raise _Doubt
            for value in values:
                found.append((sql, f"{own}\t{fmt(value)}\n"))
        return found


_MISSING = object()


class _Feed:
    """A file-like view of COPY lines made on demand, for cursor.copy_expert()."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines

    def read(self, size: int = -1) -> str:
        chunk: list[str] = []
        length = 0
        for line in self.lines:
            chunk.append(line)
            length += len(line)
            if length >= size > 0:
                break
        return "".join(chunk)

    readline = read


class _Rows:
    """The file's rows with one of look-ahead, so a table's COPY stops at the next table."""

    def __init__(self, rows: Iterator[tuple[int, Any]]) -> None:
        self.rows = rows
        self.pending: tuple[int, Any] | None = None
        self.done = False

    def peek(self) -> tuple[int, Any] | None:
        if self.pending is None and not self.done:
            try:
                self.pending = next(self.rows)
            except StopIteration:
                self.done = True
        return self.pending

    def take(self) -> tuple[int, Any]:
        item = self.peek()
        self.pending = None
        return cast("tuple[int, Any]", item)  # peek() found one: the caller asked first


class PostgresLoad:
    """Loads the file's rows of the wanted models with COPY (see the module's docstring)."""

    def __init__(
        self,
        export: ExportFile,
        models_wanted: list[type[Model]],
        report: ImportReport,
        using: str,
        deserializer: _Deserializer,
        loader: _Loader,
    ) -> None:
        self.export = export
        self.report = report
        self.using = using
        self.connection = connections[using]
        self.deserializer = deserializer
        self.loader = loader
        self.models = models_wanted
        self.plans: dict[str, CopyPlan] = {}
        self.natural = self._natural_keys()
        self.copied: dict[type[Model], int] = {}
        fields: list[Any] = [field for model in models_wanted for field in model._meta.many_to_many]
        throughs = [
            field.remote_field.through
            for field in fields
            if field.remote_field.through._meta.auto_created
        ]
        self.schema = BulkLoadSchema(self.connection, [*models_wanted, *throughs], keep_unique=True)

    def _natural_keys(self) -> dict[str, dict[Any, Any]]:
        from django.contrib.auth.models import Permission
        from django.contrib.contenttypes.models import ContentType

        kinds = ContentType.objects.db_manager(self.using).all()
        permissions = Permission.objects.db_manager(self.using).select_related("content_type").all()
        return {
            "contenttypes.contenttype": {tuple(kind.natural_key()): kind.pk for kind in kinds},
            "auth.permission": {tuple(perm.natural_key()): perm.pk for perm in permissions},
            "auth.group": {},  # the roles of the file, as they are loaded
        }

    def plan(self, label: str) -> CopyPlan:
        if label not in self.plans:
            table = cast("Table", table_registry.for_label(label))  # wanted: a known table
            self.plans[label] = CopyPlan(table.model, self.natural)
        return self.plans[label]

    def run(self, rows: Iterator[tuple[int, Any]], wanted: set[str]) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            # Checks still pending (the rows migrate made, just deleted) run before the drop.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            self.schema.drop()
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        stream = _Rows(rows)
        unit = self.export.unit
        while (item := stream.peek()) is not None:
            number, record = item
            if not isinstance(record, dict) or not isinstance(record.get("fields"), dict):
                stream.take()
                self.report.add(
                    f"{unit} {number}", "not a row (an object with model, pk and fields)"
                )
                continue
            label = str(record.get("model", "")).lower()
            if label not in wanted:
                stream.take()
                continue
            self._table(self.plan(label), stream)

    def _table(self, plan: CopyPlan, stream: _Rows) -> None:
        """COPY one run of a table's rows; the doubtful ones after it, row by row."""
        doubtful: list[tuple[str, Any]] = []
        links: dict[str, list[str]] = {}
        span = [0, 0]
        count = 0
        unit = self.export.unit
        label = plan.label
        groups = self.natural["auth.group"] if label == "auth.group" else None

        def lines() -> Iterator[str]:
            nonlocal count
            while (item := stream.peek()) is not None:
                number, record = item
                if (
                    not isinstance(record, dict)
                    or not isinstance(record.get("fields"), dict)
                    or str(record.get("model", "")).lower() != label
                ):
                    return
                stream.take()
                span[1] = number
                if not span[0]:
                    span[0] = number
                fields = record["fields"]
                pk = record.get("pk")
                try:
                    text = plan.line(pk, fields)
                    extra = plan.links(pk, fields) if plan.m2m else ()
                except _Doubt:
                    doubtful.append((f"{unit} {number}", record))
                    continue
                for sql, link in extra:
                    links.setdefault(sql, []).append(link)
                if groups is not None and type(fields.get("name")) is str:
                    groups[(fields["name"],)] = pk
                count += 1
                yield text

        savepoint = transaction.savepoint(using=self.using)
        try:
            with self.connection.cursor() as cursor:
                cursor.copy_expert(plan.copy_sql, _Feed(lines()), READ_SIZE)
                for sql, link_lines in links.items():
                    cursor.copy_expert(sql, _Feed(iter(link_lines)), READ_SIZE)
        except (DatabaseError, self.connection.Database.Error):  # type: ignore[attr-defined]  # COPY's errors come unwrapped
            transaction.savepoint_rollback(savepoint, using=self.using)
            for _ in lines():  # the rest of the table's rows, if COPY stopped early
                pass
            if groups is not None:
                groups.clear()
            self._row_by_row(self.export.numbered(first=span[0], last=span[1]))
            return
        transaction.savepoint_commit(savepoint, using=self.using)
        self.copied[plan.model] = self.copied.get(plan.model, 0) + count
        if doubtful:
            self._row_by_row(
                ((int(where.split()[1]), record) for where, record in doubtful),
            )

    def _row_by_row(self, rows: Iterator[tuple[int, Any]]) -> None:
        from carshop.ops.data.transfer import _fill_secrets, _validate, error_reason

        unit = self.export.unit
        for number, record in rows:
            where = f"{unit} {number}"
            label = str(record.get("model", "")).lower() if isinstance(record, dict) else ""
            if label not in self.plans:
                continue
            try:
                deserialized = self.deserializer.one(record)
            except Exception as exc:  # a value that does not convert, an unknown natural key
                self.report.add(where, error_reason(exc))
                self.loader.rejected.add((label, str(record.get("pk"))))
                continue
            _fill_secrets(deserialized.object, record["fields"])
            bad = False
            try:
                _validate(deserialized.object)
            except ValidationError as exc:
                self.report.add(where, f"{label} {record.get('pk')}: {error_reason(exc)}")
                bad = True
            self.loader.add(where, deserialized, bad)
            if label == "auth.group" and not bad:
                group: Any = deserialized.object
                self.natural["auth.group"][(group.name,)] = group.pk
        self.loader.flush()

    def inserted(self, model: type[Model]) -> int:
        return self.copied.get(model, 0) + self.loader.inserted.get(model, 0)

    def finish(self) -> bool:
        """Indexes and foreign keys back (checking every foreign key); False if one fails, the
        database then as before the attempt, for the caller to name the rows."""
        savepoint = transaction.savepoint(using=self.using)
        try:
            self.schema.restore()
        except DatabaseError:
            transaction.savepoint_rollback(savepoint, using=self.using)
            return False
        transaction.savepoint_commit(savepoint, using=self.using)
        return True


# --- export ------------------------------------------------------------------------------------

# JSON of a row of content types, permissions and roles by natural key, from its id (`{}`).
_NATURAL_SQL = {
    "contenttypes.contenttype": (
        "(SELECT json_build_array(c.app_label, c.model) FROM django_content_type c WHERE c.id = {})"
    ),
    "auth.permission": (
        "(SELECT json_build_array(p.codename, c.app_label, c.model) FROM auth_permission p "
        "JOIN django_content_type c ON c.id = p.content_type_id WHERE p.id = {})"
    ),
    "auth.group": "(SELECT json_build_array(g.name) FROM auth_group g WHERE g.id = {})",
}
# COPY's CSV form with a delimiter and a quote that JSON text never holds unescaped: each row's
# JSON comes out exactly as PostgreSQL made it, one line each.
_COPY_OUT = "COPY ({}) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_sql(model: type[Model], secret_fields: Collection[str], using: str) -> str:
    """A SELECT giving each row of the model as the line the JSON export writes for it: the
    object Django's serializer makes (times in ISO 8601 with their offset), then a comma. Rows
    come in the order they are stored, as a plain COPY gives them."""
    from carshop.ops.data.transfer import NATURAL_REFERENCES

    qn = connections[using].ops.quote_name
    meta: Any = model._meta  # the stubs type a field's related model as optional
    pairs = []
    for field in meta.local_fields:
        if not field.serialize or field.name in secret_fields:
            continue
        column = f"t.{qn(field.column)}"
        if field.is_relation:
            target = field.related_model._meta.label_lower
            expression = (
                _NATURAL_SQL[target].format(column) if target in NATURAL_REFERENCES else column
            )
        elif field.get_internal_type() == "DecimalField":
            expression = f"{column}::text"  # as Django writes a Decimal: a string, every place
        else:
            expression = column
        pairs.append((field.name, expression))
    for field in meta.local_many_to_many:
        through = field.remote_field.through
        if not field.serialize or not through._meta.auto_created:
            continue
        source = qn(through._meta.get_field(field.m2m_field_name()).column)
        target_column = f"x.{qn(through._meta.get_field(field.m2m_reverse_field_name()).column)}"
        label = field.related_model._meta.label_lower
        value = (
            _NATURAL_SQL[label].format(target_column)
            if label in NATURAL_REFERENCES
            else target_column
        )
        pairs.append(
            (
                field.name,
                f"(SELECT coalesce(json_agg({value} ORDER BY {target_column}), '[]'::json) "  # noqa: S608
                f"FROM {qn(through._meta.db_table)} x WHERE x.{source} = t.{qn(meta.pk.column)})",
            )
        )
    pk = f"t.{qn(meta.pk.column)}"
    if meta.pk.get_internal_type() not in _INTEGER_TYPES:
        pk = f"to_json({pk})"
    columns = ", ".join(f"{expression} AS {qn(name)}" for name, expression in pairs)
    # row_to_json of the row of named values: Django's field names as keys, in its order.
    # Identifiers are the models' own, quoted; the literal is the model's label.
    head = json.dumps({"model": meta.label_lower}, separators=(",", ":"))[:-1] + ',"pk":'
    return (
        f"SELECT {_literal(head)} || {pk} || ',\"fields\":' || row_to_json(r)::text || '}},' "  # noqa: S608
        f"FROM {qn(meta.db_table)} t, LATERAL (SELECT {columns}) r"
    )


def read_in_parallel(workers: int, using: str) -> None:
    """Let each table's export be read by up to `workers` parallel workers of PostgreSQL (a
    parallel sequential scan: the rows, and the JSON made of each, are worked out by several
    processes while the export's own connection sends them). Only in the export's transaction
    (SET LOCAL); tables too small for a parallel scan (min_parallel_table_scan_size) are read
    by one process as before. Rows then come in the order the workers read them, not always
    the order they are stored in: a file holds the same rows, and loads to the same database."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT set_config('max_parallel_workers_per_gather', %s, true)", [str(workers)]
        )
        if workers:
            # The planner weighs handing rows from the workers against one process making
            # them; a table's export is what they are for, so the hand-over is counted free.
            cursor.execute("SET LOCAL parallel_setup_cost = 0")
            cursor.execute("SET LOCAL parallel_tuple_cost = 0")


def copy_rows_out(sql: str, handle: Any, using: str) -> int:
    """Write the SELECT's rows, one a line, to the binary file `handle`; the number of rows."""
    with connections[using].cursor() as cursor:
        cursor.copy_expert(_COPY_OUT.format(sql), handle, READ_SIZE)
        return int(cursor.rowcount)
