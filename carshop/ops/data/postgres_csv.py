"""The CSV import on PostgreSQL: the file streamed through COPY into a staging table, checked
in bulk, written with one INSERT ... SELECT and one UPDATE ... FROM, or into an empty table
straight by COPY as each row is judged.

It keeps the meaning of the django-import-export import (carshop/ops/data/csv_files.py): a row
with the id of an existing row updates it, a row without id (or with an id no row has) is new, a
row equal to the database's is left alone; each value is read by the resource's own widget, and
each row is judged by the model's full_clean() (field rules, choices, lengths, the fields'
validators such as the VIN's, the model's clean()), with the same messages. What changes is where
each check is made:

- the file goes into a temporary staging table of texts (one column a CSV column, with the line
  each row starts on) through COPY;
- foreign keys are checked in SQL, one join per column, never a query per row;
- the widgets and full_clean() (without its unique and constraint checks, which would query the
  database for every row) run in Python over the staged rows in batches, with the existing rows
  of a batch read in one query; what the model's save() derives (a VIN's normalised form, the
  plate in capitals) is worked out by its save() with the write itself left out;
- the resulting rows go into a second temporary table, where unique fields are checked in SQL
  against the file's other rows and the table;
- then one INSERT ... SELECT for the new rows and one UPDATE ... FROM for the changed ones,
  inside the import's one transaction, and the sequence is reset by the caller.

A table that is empty when the import starts (a bulk load: every row is new, nothing to update)
skips the second temporary table: each batch of staged rows is judged while one COPY writes the
good ones straight to the table (the database writes a row while Python judges the next), the
unique values are compared in Python as the rows are made (the table has no other row), and the
keys of rows without id are the sequence's next values, counted from its state without taking
them (nextval is not undone by a rollback: a refused file would move the sequence on), so that a
good file gets the ids the other path gives; the caller resets the sequence past them when the
file is good. Meanwhile the table's other writers wait (a SHARE ROW EXCLUSIVE lock), so that no
one takes one of those values from the sequence. Rows go on being judged after a bad one (to
name every bad row) but are no longer sent, and a savepoint takes back what was sent. If the
model's own code (clean(), save(), __str__) queries the database, which it cannot while a COPY
is under way, the table is read again the other way.

The audit trail is the one the row-by-row import writes: one auditlog entry per created or
changed row, with the same changes, representation and actor (the operator), made in memory and
written through COPY in batches of 2,000 instead of one INSERT per row.

Tables whose resource or model does more than this can describe (a many-to-many column, a
resource hook, signal receivers other than the audit log's) keep the row-by-row import, and so
does a table whose write the database refuses (a check constraint): that table is read again row
by row, which names every bad row.
"""

from __future__ import annotations

import copy
import csv
import datetime
import itertools
import json
import os
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, models, transaction
from django.db.models import signals
from django.utils.encoding import smart_str
from import_export import resources as import_export_resources
from import_export import widgets as import_export_widgets

from carshop.ops.data import read_only
from carshop.ops.data.transfer import NUL_IN_VALUE, error_reason
from carshop.ops.testenv.bulkload import copy_text
from core.spreadsheets import restore_cell

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from django.db.models import Model

    from carshop.ops.data.tables import Table
    from carshop.ops.data.transfer import ImportReport

BATCH = 2000
READ_SIZE = 1 << 16
STAGE = "carshop_csv_stage"
READY = "carshop_csv_ready"

# Resource methods that, overridden, run code per row this path would not run.
_HOOKS = (
    "before_import_row",
    "after_import_row",
    "after_init_instance",
    "init_instance",
    "get_or_init_instance",
    "import_instance",
    "import_row",
    "import_field",
    "skip_row",
    "before_save_instance",
    "after_save_instance",
    "save_instance",
    "validate_instance",
    "save_m2m",
)


class Unsupported(Exception):
    """The table keeps the row-by-row import."""


# Django's integer fields, written to COPY as their digits.
_INTEGER_KINDS = (
    models.AutoField,
    models.BigAutoField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)


def _own_receivers(signal: Any, model: type[Model]) -> list[Any]:
    receivers = signal._live_receivers(model)
    if isinstance(receivers, tuple):  # Django 5: (sync, async)
        receivers = [*receivers[0], *receivers[1]]
    return [
        receiver
        for receiver in receivers
        if not getattr(receiver, "__module__", "").startswith("auditlog.")
    ]


def supports(table: Table, resource: Any) -> bool:
    """Whether this path gives the same result as the row-by-row import for the table."""
    model = table.model
    base = import_export_resources.ModelResource
    for hook in _HOOKS:
        if getattr(type(resource), hook) is not getattr(base, hook):
            return False
    for field in resource.fields.values():
        if isinstance(field.widget, import_export_widgets.ManyToManyWidget):
            return False
    if resource._meta.use_bulk or not resource._meta.clean_model_instances:
        return False
    for signal in (signals.pre_save, signals.post_save, signals.pre_init, signals.post_init):
        if _own_receivers(signal, model):
            return False
    meta: Any = model._meta
    if meta.pk.get_internal_type() not in ("AutoField", "BigAutoField"):
        return False
    return meta.parents == {}  # multi-table inheritance writes two tables


class _Columns:
    """The file's columns and the resource fields that read them."""

    def __init__(self, table: Table, resource: Any, headers: list[str]) -> None:
        meta: Any = table.model._meta
        self.model = table.model
        self.headers = headers
        self.meta = meta
        self.id_index = headers.index("id") if "id" in headers else None
        by_column = {field.column_name: field for field in resource.fields.values()}
        self.imported = [
            field
            for field in resource.get_import_fields()
            if field.attribute and field.column_name in headers and field.column_name != "id"
        ]
        self.compared = [field for field in resource.get_import_fields() if field.attribute]
        # (column index, model field if a foreign key else None, resource field), file order
        self.ordered: list[tuple[int, Any, Any]] = []
        for field in self.imported:
            index = headers.index(field.column_name)
            model_field = _model_field(meta, field.attribute)
            if model_field is not None and model_field.is_relation and model_field.many_to_one:
                self.ordered.append((index, model_field, field))
            else:
                self.ordered.append((index, None, field))
        self.foreign = [item for item in self.ordered if item[1] is not None]
        self.columns = {field.column_name: field for field in by_column.values()}
        self.concrete = [
            field for field in meta.local_concrete_fields if not getattr(field, "generated", False)
        ]


def _model_field(meta: Any, name: str) -> Any:
    try:
        return meta.get_field(name)
    except Exception:  # a resource field with no model field of that name
        return None


def stage(path: str, name: str, width: int, report: ImportReport, using: str) -> int:
    """The file's rows into the staging table (line, c0, c1, ...); rows of the wrong width are
    reported. The number of rows staged."""
    connection = connections[using]
    columns = ", ".join(f"c{index} text" for index in range(width))
    staged = 0

    def lines() -> Iterator[str]:
        nonlocal staged
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            start = reader.line_num + 1
            for row in reader:
                if not any(cell.strip() for cell in row):
                    start = reader.line_num + 1
                    continue
                if len(row) != width:
                    report.add(
                        f"{name} line {start}",
                        f"{len(row)} values, the header names {width} columns",
                    )
                elif any("\x00" in cell for cell in row):
                    report.add(f"{name} line {start}", NUL_IN_VALUE)
                else:
                    staged += 1
                    joined = "\t".join(row)
                    if (
                        joined.count("\t") == width - 1
                        and "'" not in joined
                        and "\\" not in joined
                        and "\n" not in joined
                        and "\r" not in joined
                    ):
                        # No cell to escape for COPY nor to restore (a formula's quote).
                        yield f"{start}\t{joined}\n"
                    else:
                        yield (
                            str(start)
                            + "\t"
                            + "\t".join(copy_text(restore_cell(cell)) for cell in row)
                            + "\n"
                        )
                start = reader.line_num + 1

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(f"CREATE TEMP TABLE {STAGE} (line integer, {columns}) ON COMMIT DROP")
        cursor.copy_expert(f"COPY {STAGE} FROM STDIN", _Feed(lines()), READ_SIZE)
    return staged


class _Feed:
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


def _foreign_key_problems(columns: _Columns, using: str) -> dict[int, dict[str, list[str]]]:
    """Line -> {column: [reason]} for every foreign key naming no row, one join per column."""
    connection = connections[using]
    qn = connection.ops.quote_name
    found: dict[int, dict[str, list[str]]] = {}
    for index, field, resource_field in columns.foreign:
        parent = field.related_model
        key = field.target_field
        widget_key = getattr(resource_field.widget, "field", "pk")
        if widget_key not in ("pk", key.name):
            raise Unsupported  # a foreign key by another column (a natural key)
        integer = key.get_internal_type() in ("AutoField", "BigAutoField", "IntegerField")
        column = f"btrim(s.c{index})"
        verbose = parent._meta.verbose_name
        sql = (
            f"SELECT s.line, s.c{index}, {column} ~ '^[0-9]+$' FROM {STAGE} s "  # noqa: S608
            f"WHERE {column} <> '' AND ("
            + (f"{column} !~ '^[0-9]+$' OR " if integer else "")
            + f"NOT EXISTS (SELECT 1 FROM {qn(parent._meta.db_table)} p "  # noqa: S608
            + (
                # Compared as numbers, so that the parent's key index answers (a text that
                # is no number, or too long for one, matches no row).
                f"WHERE p.{qn(key.column)} = CASE WHEN {column} ~ '^[0-9]{{1,18}}$' "
                f"THEN {column}::bigint END))"
                if integer
                else f"WHERE p.{qn(key.column)}::text = {column}))"
            )
        )
        with connection.cursor() as cursor:
            cursor.execute(sql)
            for line, value, numeric in cursor.fetchall():
                reason = (
                    f"no {verbose} with id {value}"
                    if numeric or not integer
                    else f"{value!r} is not a {verbose} id"
                )
                found.setdefault(line, {}).setdefault(resource_field.attribute, []).append(reason)
    return found


def _as_exported_sql(meta: Any, field: Any, qn: Callable[[str], str]) -> str:
    """SQL for the cell the CSV export writes for a read-only field of the stored row `t`, for
    Django's plain kinds; NULL (every row in doubt) for any other. Only a filter: the rows
    whose cell differs from it are judged again by the export's own rendering."""
    model_field = _model_field(meta, field.attribute) if field.attribute else None
    if model_field is None or not model_field.concrete or "__" in field.attribute:
        return "NULL"
    column = f"t.{qn(model_field.column)}"
    kind = type(model_field)
    if kind in (models.ForeignKey, models.OneToOneField):
        kind = type(model_field.target_field)
    if kind in (models.CharField, models.TextField, models.SlugField, models.EmailField):
        return f"coalesce({column}, '')"
    if kind in _INTEGER_KINDS or kind is models.DecimalField:
        return f"coalesce({column}::text, '')"
    if kind is models.BooleanField:
        return f"CASE WHEN {column} THEN '1' WHEN NOT {column} THEN '0' ELSE '' END"
    if kind is models.DateField:
        return f"coalesce({column}::text, '')"  # ISO, as date.isoformat()
    if kind is models.DateTimeField:
        # datetime.isoformat() in UTC; a time on a whole second, which isoformat() writes
        # without microseconds, differs here and is judged again.
        return (
            f"coalesce(to_char({column} AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), '')"
        )
    return "NULL"


def _read_only_problems(
    columns: _Columns, resource: Any, fixed: list[Any], using: str, unused: Counter[str]
) -> dict[int, list[str]]:
    """Line -> problems of the read-only columns (carshop/ops/data/read_only.py): one query
    compares the staged rows with the table's (a cell that is not what the export writes for
    the stored row); the few rows it names are judged by the export's own rendering, which
    gives the message. Another counts the new rows' read-only values into `unused`."""
    connection = connections[using]
    qn = connection.ops.quote_name
    meta = columns.meta
    headers = columns.headers
    cells = [f"s.c{headers.index(field.column_name)}" for field in fixed]
    if columns.id_index is None:
        key, join, known = "NULL::bigint", "", "true"
    else:
        text = f"btrim(s.c{columns.id_index})"
        key = f"CASE WHEN {text} ~ '^[0-9]{{1,18}}$' THEN {text}::bigint END"
        join = f"LEFT JOIN {qn(meta.db_table)} t ON t.{qn(meta.pk.column)} = {key} "
        # a row whose id the import itself refuses is named there
        known = f"({text} = '' OR {key} >= 1)"
    new = "true" if columns.id_index is None else f"t.{qn(meta.pk.column)} IS NULL"
    given = [f"btrim({cell}) <> ''" for cell in cells]
    counts = ", ".join(
        [f"count(*) FILTER (WHERE {value})" for value in given]
        + [f"count(*) FILTER (WHERE {' OR '.join(given)})"]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {counts} FROM {STAGE} s {join}WHERE {known} AND {new}"  # noqa: S608
        )
        *per_column, new_rows = cursor.fetchone()
        if new_rows:
            unused.update(
                {
                    field.column_name: count
                    for field, count in zip(fixed, per_column, strict=True)
                    if count
                }
            )
            unused[read_only.ROWS] += new_rows
        if columns.id_index is None:
            return {}
        flags = [
            f"{cell} IS DISTINCT FROM {_as_exported_sql(meta, field, qn)}"
            for cell, field in zip(cells, fixed, strict=True)
        ]
        cursor.execute(
            f"SELECT s.line, {key}, {', '.join(cells)} FROM {STAGE} s "  # noqa: S608
            f"{join}WHERE {known} AND NOT {new} AND ({' OR '.join(flags)}) ORDER BY s.line"
        )
        flagged = cursor.fetchall()
    names = [field.column_name for field in fixed]
    rows = [
        (line, {"id": str(pk), **dict(zip(names, values, strict=True))})
        for line, pk, *values in flagged
    ]
    return read_only.check(resource, fixed, columns.model, rows, using)


def _format(value: Any, field: Any, connection: Any) -> str:
    if value is None:
        return "\\N"
    prepared = field.get_db_prep_save(value, connection)
    if prepared is None:
        return "\\N"
    if isinstance(prepared, bool):
        return "t" if prepared else "f"
    adapted = getattr(prepared, "dumps", None)
    if adapted is not None and hasattr(prepared, "adapted"):  # psycopg2's Json
        return copy_text(prepared.dumps(prepared.adapted))
    if isinstance(prepared, datetime.timedelta):
        return f"{prepared.total_seconds()} seconds"
    if hasattr(prepared, "isoformat"):
        return prepared.isoformat()
    return copy_text(str(prepared))


def _formatter(field: Any, connection: Any) -> Callable[[Any], str]:
    """_format for one field, made once: a value of Django's own text, integer, boolean and
    date fields (and foreign keys to an integer key) already of the field's type, as the
    widget and full_clean() make it, is written without get_db_prep_save, which would only
    give it back; any other value or kind (a project's own field class among them) goes
    through _format."""

    kind = type(field)
    if kind is models.ForeignKey:
        kind = type(field.target_field)
    if kind in (models.CharField, models.TextField, models.SlugField, models.EmailField):

        def text(value: Any) -> str:
            if type(value) is str:
                return copy_text(value)
            return "\\N" if value is None else _format(value, field, connection)

        return text
    if kind in _INTEGER_KINDS:

        def integer(value: Any) -> str:
            if type(value) is int:
                return str(value)
            return "\\N" if value is None else _format(value, field, connection)

        return integer
    if kind is models.BooleanField:

        def boolean(value: Any) -> str:
            if type(value) is bool:
                return "t" if value else "f"
            return "\\N" if value is None else _format(value, field, connection)

        return boolean

    if kind is models.DateTimeField:

        def moment(value: Any) -> str:
            if type(value) is datetime.datetime and value.utcoffset() is not None:
                return value.isoformat()
            return _format(value, field, connection)  # naive: made aware, with its warning

        return moment
    if kind is models.DateField:

        def day(value: Any) -> str:
            if type(value) is datetime.date:
                return value.isoformat()
            return _format(value, field, connection)

        return day

    if kind is models.JSONField and field.encoder is None:

        def document(value: Any) -> str:
            # get_db_prep_save of a dict is json.dumps(value, cls=None)
            if type(value) is dict:
                return copy_text(json.dumps(value))
            return _format(value, field, connection)

        return document

    def other(value: Any) -> str:
        return _format(value, field, connection)

    return other


def _blank_maker(model: type[Model]) -> Callable[[], Any]:
    """model(), made once and copied for each row when that is the same thing: no field's
    default is worked out per row (a callable) or shared mutable, and nothing listens to the
    model's init signals."""
    from django.db.models.base import ModelState

    meta: Any = model._meta
    immutable = (type(None), str, int, float, bool, datetime.date, datetime.time, Decimal)
    if (
        signals.pre_init.has_listeners(model)
        or signals.post_init.has_listeners(model)
        or any(not isinstance(field.get_default(), immutable) for field in meta.concrete_fields)
        or any(field.has_default() and callable(field.default) for field in meta.concrete_fields)
    ):
        return model
    template = model().__dict__
    template = {key: value for key, value in template.items() if key != "_state"}
    new = model.__new__

    def blank() -> Any:
        instance = new(model)
        instance.__dict__.update(template)
        instance._state = ModelState()
        return instance

    return blank


def _reader(field: Any) -> Callable[[Any, dict[str, str]], None] | None:
    """django-import-export's Field.save(instance, row) for a plain field of the resource
    (its own Field class, one attribute deep), without its per-row lookups; None for any
    other (read through its own save())."""
    from django.db.models.fields import NOT_PROVIDED
    from import_export.fields import Field

    if type(field) is not Field or "__" in field.attribute:
        return None
    if field.readonly:
        return _skip
    column, attribute, clean = field.column_name, field.attribute, _widget_clean(field.widget)
    default, empty_values, keep_null = field.default, field.empty_values, field.saves_null_values

    def read(instance: Any, row: dict[str, str]) -> None:
        value = clean(row[column], row=row)
        if default is not NOT_PROVIDED and value in empty_values:
            value = default() if callable(default) else default
        if value is not None or keep_null:
            setattr(instance, attribute, value)

    return read


def _skip(instance: Any, row: dict[str, str]) -> None:
    return None


def _widget_clean(widget: Any) -> Callable[..., Any]:
    """The widget's clean(), with a shortcut for the texts whose answer is plain: a text widget
    gives a text back as it is, an integer widget reads plain digits as int() does (its own
    clean() goes through the locale's separators and Decimal to the same number). Any other
    text, and any other widget, goes through its own clean()."""
    clean = widget.clean
    if type(widget) is import_export_widgets.CharWidget and (
        import_export_widgets.CharWidget.clean is _CHAR_CLEAN
    ):

        def text(value: Any, row: Any = None) -> Any:
            return value if type(value) is str else clean(value, row=row)

        return text
    if type(widget) is import_export_widgets.IntegerWidget and (
        import_export_widgets.IntegerWidget.clean is _INTEGER_CLEAN
    ):

        def integer(value: Any, row: Any = None) -> Any:
            if type(value) is str and 0 < len(value) <= 18 and value.isascii() and value.isdigit():
                return int(value)
            return clean(value, row=row)

        return integer
    return clean


_CHAR_CLEAN = import_export_widgets.CharWidget.clean
_INTEGER_CLEAN = import_export_widgets.IntegerWidget.clean


def _plain_check(field: Any) -> Callable[[Any], bool] | None:
    """A test that a value passes the field's clean() unchanged, for the values it can answer
    without Django's code: a text for a text field without choices, an int for an integer
    field, each within the field's own length and range validators. False means "not known",
    and the value goes through field.clean() (which gives the error, if any). None when the
    field has no such test (a choice list, a validator of another kind)."""
    from django.core import validators

    if field.choices is not None or getattr(field, "generated", False):
        return None
    kind = type(field)
    if kind in (models.CharField, models.TextField):
        expected: type = str
    elif kind in _INTEGER_KINDS:
        expected = int
    else:
        return None
    longest = None
    low = high = None
    no_nul = False
    for validator in field.validators:
        limit = getattr(validator, "limit_value", None)
        if type(validator) is validators.MaxLengthValidator and type(limit) is int:
            longest = limit if longest is None else min(longest, limit)
        elif type(validator) is validators.MinValueValidator and type(limit) is int:
            low = limit if low is None else max(low, limit)
        elif type(validator) is validators.MaxValueValidator and type(limit) is int:
            high = limit if high is None else min(high, limit)
        elif type(validator) is validators.ProhibitNullCharactersValidator:
            no_nul = True
        else:
            return None
    blank = field.blank

    if expected is str:

        def text(value: Any) -> bool:
            return (
                type(value) is str
                and (blank or value != "")
                and (longest is None or len(value) <= longest)
                and not (no_nul and "\x00" in value)
            )

        return text

    def integer(value: Any) -> bool:
        return (
            type(value) is int and (low is None or value >= low) and (high is None or value <= high)
        )

    return integer


def _cleaner(model: type[Model]) -> Callable[[Any, set[str]], None]:
    """instance.full_clean(exclude=..., validate_unique=False, validate_constraints=False),
    made once per table: Django's own steps (clean_fields, then the model's clean(), the errors
    gathered the same way), with each field's value that _plain_check knows to be valid left as
    it is instead of going through field.clean(). A model with its own full_clean() or
    clean_fields() keeps them."""
    from django.db.models.expressions import DatabaseDefault

    if model.full_clean is not models.Model.full_clean or (
        model.clean_fields is not models.Model.clean_fields
    ):

        def own(instance: Any, exclude: set[str]) -> None:
            instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)

        return own
    meta: Any = model._meta
    checks = [
        (field, _plain_check(field))
        for field in meta.fields
        if not getattr(field, "generated", False)
    ]

    def full_clean(instance: Any, exclude: set[str]) -> None:
        found: dict[str, Any] = {}
        for field, plain in checks:
            if field.name in exclude:
                continue
            raw = getattr(instance, field.attname)
            if plain is not None and plain(raw):
                continue
            if field.blank and raw in field.empty_values:
                continue
            if isinstance(raw, DatabaseDefault):
                continue
            try:
                setattr(instance, field.attname, field.clean(raw, instance))
            except ValidationError as exc:
                found[field.name] = exc.error_list
        errors: dict[str, Any] = {}
        if found:
            errors = ValidationError(found).update_error_dict(errors)
        try:
            instance.clean()
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    return full_clean


def load(
    table: Table, resource: Any, path: str, report: ImportReport, using: str
) -> dict[str, int]:
    """Check and write one table's CSV file; the counts of new, updated and unchanged rows.
    Problems go to `report` (then nothing of the table is written)."""
    from auditlog.cid import get_cid
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    connection = connections[using]
    qn = connection.ops.quote_name
    file_name = os.path.basename(path)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        headers = [cell.strip() for cell in next(csv.reader(handle))]
    columns = _Columns(table, resource, headers)
    model = columns.model
    meta = columns.meta
    problems_before = report.problem_count
    stage(path, file_name, len(headers), report, using)
    fixed = read_only.columns(resource, headers)
    if fixed:
        unused: Counter[str] = Counter()
        found = _read_only_problems(columns, resource, fixed, using, unused)
        read_only.report(found, file_name, report, unused)
    bad_keys = _foreign_key_problems(columns, using)

    concrete = columns.concrete
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {READY}")
        cursor.execute(
            f"CREATE TEMP TABLE {READY} ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {', '.join(qn(field.column) for field in concrete)}, "
            f"0 AS carshop_line, true AS carshop_new FROM {qn(meta.db_table)} WITH NO DATA"
        )
    content_type = ContentType.objects.db_manager(using).get_for_model(model)
    use_json = getattr(settings, "AUDITLOG_STORE_JSON_CHANGES", False)
    cid = get_cid()
    entries: list[Any] = []
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    sequence_sql = "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)"
    ready_lines: list[str] = []
    width = len(headers)
    diff = _Diff(model, use_json)
    audit = _Audit(content_type, cid, using)
    serialized = _serializer(model)
    create, update = LogEntry.Action.CREATE, LogEntry.Action.UPDATE

    formatters = [(field.attname, _formatter(field, connection)) for field in concrete]
    blank = _blank_maker(model)
    readers = {
        index: reader
        for index, model_field, field in columns.ordered
        if model_field is None and (reader := _reader(field)) is not None
    }
    full_clean = _cleaner(model)
    # The columns in file order with their readers, read-only ones (read as nothing) left out.
    steps = [
        (index, model_field, field, readers.get(index))
        for index, model_field, field in columns.ordered
        if readers.get(index) is not _skip
    ]
    # Nothing to update in an empty table: no query for the rows the file's ids name.
    empty = not model._base_manager.db_manager(using).exists()

    def noop_save_base(*args: Any, **kwargs: Any) -> None:
        return None

    column_names = {field.attribute: field.column_name for field in resource.fields.values()}

    def check(row: tuple, existing: dict[int, Any]) -> tuple[int, Any, Any] | None:
        """The row read and judged: (line, instance, the row as it was or None when new), or
        None when it is bad (reported) or unchanged (counted)."""
        line = row[0]
        values = dict(zip(headers, row[1:], strict=True))
        errors: dict[str, Any] = {}
        original = None
        instance = None
        if columns.id_index is not None and values["id"].strip():
            try:
                pk = int(values["id"].strip())
                if pk < 1:  # as the row-by-row import: ids start at 1
                    raise ValueError(pk)
            except ValueError:
                report.add(f"{file_name} line {line}", f"id: {values['id']!r} is not an id")
                return None
            instance = existing.get(pk)
            if instance is not None:
                original = copy.deepcopy(instance)
            else:
                instance = blank()
                instance.pk = pk
        else:
            instance = blank()
        for index, model_field, field, read in steps:
            if model_field is None:
                try:
                    if read is None:
                        field.save(instance, values, False)
                    else:
                        read(instance, values)
                except ValueError as exc:
                    errors[field.attribute] = ValidationError(str(exc), code="invalid")
                except Exception as exc:  # as django-import-export: the row's error
                    report.add(f"{file_name} line {line}", error_reason(exc))
                    return None
                continue
            text = row[1 + index].strip()
            if line in bad_keys and field.attribute in bad_keys[line]:
                errors[field.attribute] = ValidationError(
                    bad_keys[line][field.attribute], code="invalid"
                )
            else:
                setattr(
                    instance,
                    model_field.attname,
                    model_field.target_field.to_python(text) if text else None,
                )
        # Foreign keys are checked above in SQL (full_clean would query every row).
        exclude = {*errors, *(model_field.name for _i, model_field, _f in columns.foreign)}
        try:
            full_clean(instance, exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            named = {column_names.get(key, key): value for key, value in errors.items()}
            report.add(f"{file_name} line {line}", error_reason(ValidationError(named)))
            return None
        if original is not None and all(
            field.get_value(instance) == field.get_value(original) for field in columns.compared
        ):
            counts["unchanged"] += 1
            return None
        return line, instance, original

    stamped = [
        field
        for field in concrete
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    ]

    def finish(instance: Any, adding: bool) -> list[str]:
        """What the model's save() derives, worked out (the write is done in bulk); the row's
        values as COPY text."""
        instance._state.adding = adding
        instance.save_base = noop_save_base
        instance.save(using=using)
        del instance.save_base
        for field in stamped:
            if getattr(field, "auto_now", False) or (
                adding and getattr(field, "auto_now_add", False)
            ):
                field.pre_save(instance, adding)
        counts["new" if adding else "updated"] += 1
        return [write(getattr(instance, attname)) for attname, write in formatters]

    audit_line = audit.maker(
        "object_pk", "object_id", "object_repr", "serialized_data", "action", "changes"
    )

    def entry(instance: Any, original: Any) -> str | None:
        changes = diff(original, instance)
        if not changes:
            return None
        return audit_line(
            smart_str(instance.pk),
            instance.pk,
            smart_str(instance),
            serialized(instance),
            create if original is None else update,
            changes,
        )

    if empty and _unique_in_python(columns):
        # The ids of rows without id are counted from the sequence, not taken from it (see
        # the module's docstring): no other session may take one meanwhile.
        from carshop.ops.data.transfer import lock_for_import

        lock_for_import([model], using, mode="SHARE ROW EXCLUSIVE")
        empty = not model._base_manager.db_manager(using).exists()
    if empty and _unique_in_python(columns):
        point = transaction.savepoint(using=using)
        problems, count = list(report.problems), report.problem_count
        try:
            _write_new(
                connection, columns, resource, width, file_name, report, check, finish, entry, audit
            )
        except _Queried:
            # The model's own code (clean(), save(), __str__) queries the database, which it
            # cannot while a COPY is under way: the table is read again the other way.
            transaction.savepoint_rollback(point, using=using)
            report.problems, report.problem_count = problems, count
            counts.update(new=0, updated=0, unchanged=0)
        else:
            if report.problem_count > problems_before:
                transaction.savepoint_rollback(point, using=using)
            else:
                transaction.savepoint_commit(point, using=using)
            return counts

    with connection.chunked_cursor() as staged:
        staged.execute(
            f"SELECT line, {', '.join(f'c{i}' for i in range(width))} "  # noqa: S608
            f"FROM {STAGE} ORDER BY line"
        )
        while batch := staged.fetchmany(BATCH):
            ids = set()
            if columns.id_index is not None:
                for row in batch:
                    text = row[1 + columns.id_index].strip()
                    if text.isdigit():
                        ids.add(int(text))
            existing = (
                model._base_manager.db_manager(using).in_bulk(list(ids))
                if ids and not empty
                else {}
            )
            made = [checked for row in batch if (checked := check(row, existing)) is not None]
            new_without_id = [instance for _l, instance, _o in made if instance.pk is None]
            if new_without_id:
                with connection.cursor() as cursor:
                    cursor.execute(
                        sequence_sql, [meta.db_table, meta.pk.column, len(new_without_id)]
                    )
                    for instance, (value,) in zip(new_without_id, cursor.fetchall(), strict=True):
                        instance.pk = value
            for line, instance, original in made:
                adding = original is None
                ready_lines.append(
                    "\t".join([*finish(instance, adding), str(line), "t" if adding else "f"]) + "\n"
                )
                made_entry = entry(instance, original)
                if made_entry is not None:
                    entries.append(made_entry)
            if len(ready_lines) >= BATCH:
                _copy_ready(connection, ready_lines)
                ready_lines = []
            if len(entries) >= BATCH and report.problem_count == problems_before:
                # Rolled back with the rest when a later row is bad: memory stays flat.
                audit.write(entries)
                entries = []
    _copy_ready(connection, ready_lines)
    # No ANALYZE of the ready rows: without statistics the planner sizes the temporary table
    # by its pages, which is enough for the checks and writes below (and ANALYZE cost more
    # than it saved).
    _unique_problems(columns, resource, file_name, report, using)
    if report.problem_count > problems_before:
        return counts
    names = [qn(field.column) for field in concrete]
    pk_column = qn(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(meta.db_table)} ({', '.join(names)}) "  # noqa: S608
            f"SELECT {', '.join(names)} FROM {READY} WHERE carshop_new ORDER BY carshop_line"
        )
        others = [column for column in names if column != pk_column]
        if others:
            cursor.execute(
                f"UPDATE {qn(meta.db_table)} t SET "  # noqa: S608
                + ", ".join(f"{column} = r.{column}" for column in others)
                + f" FROM {READY} r WHERE NOT r.carshop_new AND t.{pk_column} = r.{pk_column}"
            )
    audit.write(entries)
    return counts


class _Queried(Exception):
    """The model's own code queried the database while the rows were being sent by COPY."""


def _unique_in_python(columns: _Columns) -> bool:
    """Whether each unique field's values can be compared by their COPY text: texts without a
    collation of their own, and integers (a text and its stored value are then one to one)."""
    for field in columns.meta.local_concrete_fields:
        if not field.unique or field.primary_key:
            continue
        kind = type(field)
        if kind in (models.CharField, models.TextField) and field.db_collation is None:
            continue
        if kind not in _INTEGER_KINDS:
            return False
    return True


def _unique_message(columns: _Columns, resource: Any, field: Any) -> str:
    """A unique field's problem as full_clean() names it, after the file's column."""
    column_names = {field.attribute: field.column_name for field in resource.fields.values()}
    message = " ".join(columns.model().unique_error_message(columns.model, (field.name,)).messages)
    return f"{column_names.get(field.name, field.name)}: {message}"


def _write_new(
    connection: Any,
    columns: _Columns,
    resource: Any,
    width: int,
    name: str,
    report: ImportReport,
    check: Callable[[tuple, dict[int, Any]], tuple[int, Any, Any] | None],
    finish: Callable[[Any, bool], list[str]],
    entry: Callable[[Any, Any], str | None],
    audit: _Audit,
) -> None:
    """The rows of a file for a table that was empty, every one new: each batch of staged rows
    read, judged and sent straight to the table by one COPY as it is worked out (the database
    writes a row while the next is judged), then its audit entries by another. Unique values
    are compared here (the table had none before the file); a row with a value an earlier row
    of the file has is named as full_clean() names it. Nothing is sent after the first bad row;
    the caller undoes what was sent when there is one."""
    qn = connection.ops.quote_name
    meta = columns.meta
    concrete = columns.concrete
    sql = (
        f"COPY {qn(meta.db_table)} ({', '.join(qn(field.column) for field in concrete)}) FROM STDIN"
    )
    unique: list[tuple[int, str, set[Any]]] = [
        (concrete.index(field), _unique_message(columns, resource, field), set())
        for field in meta.local_concrete_fields
        if field.unique and not field.primary_key
    ]
    found: dict[int, list[str]] = {}
    problems_before = report.problem_count
    queried = []

    def refuse(*args: Any) -> None:
        queried.append(True)
        raise _Queried

    keys = _next_keys(connection, meta)
    with connection.chunked_cursor() as staged:
        staged.execute(
            f"SELECT line, {', '.join(f'c{i}' for i in range(width))} "  # noqa: S608
            f"FROM {STAGE} ORDER BY line"
        )
        while batch := staged.fetchmany(BATCH):
            written: list[Any] = []

            def rows(batch: list[tuple] = batch, written: list[Any] = written) -> Iterator[str]:
                for row in batch:
                    checked = check(row, {})
                    if checked is None:
                        continue
                    line, instance, _original = checked
                    if instance.pk is None:
                        instance.pk = next(keys)
                    values = finish(instance, True)
                    for index, message, seen in unique:
                        value = values[index]
                        if value == "\\N":
                            continue
                        if value in seen:
                            found.setdefault(line, []).append(message)
                        else:
                            seen.add(value)
                    if report.problem_count == problems_before and not found:
                        written.append(instance)
                        yield "\t".join(values) + "\n"

            def entries(written: list[Any] = written) -> Iterator[str]:
                for instance in written:
                    line = entry(instance, None)
                    if line is not None:
                        yield line

            with connection.execute_wrapper(refuse):
                try:
                    with connection.cursor() as cursor:
                        cursor.copy_expert(sql, _Feed(rows()), READ_SIZE)
                    if written:
                        audit.write(entries())
                finally:
                    if queried:
                        raise _Queried
    for line in sorted(found):
        report.add(f"{name} line {line}", "; ".join(found[line]))


def _next_keys(connection: Any, meta: Any) -> Iterator[int]:
    """The values nextval would give the table's id sequence from now on, read from its state
    without taking any (sequences ignore rollbacks)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [meta.db_table, meta.pk.column])
        (sequence,) = cursor.fetchone()
        cursor.execute(
            "SELECT s.last_value, s.is_called, q.seqincrement "  # noqa: S608
            f"FROM {sequence} s, pg_sequence q WHERE q.seqrelid = %s::regclass",
            [sequence],
        )
        last, called, step = cursor.fetchone()
    return itertools.count(last + step if called else last, step)


def _serializer(model: type[Model]) -> Callable[[Any], Any]:
    """auditlog's serialized data of a row (LogEntry.objects._get_serialized_data_or_none):
    None for every row of a model auditlog does not serialize, known once per table."""
    from auditlog.models import LogEntry
    from auditlog.registry import auditlog

    if not auditlog.contains(model) or not auditlog.get_serialize_options(model)["serialize_data"]:
        return _nothing
    return LogEntry.objects._get_serialized_data_or_none


def _nothing(instance: Any) -> None:
    return None


def _plain_audit_kinds() -> frozenset[type]:

    return frozenset(
        (
            *_INTEGER_KINDS,
            models.CharField,
            models.TextField,
            models.SlugField,
            models.EmailField,
            models.BooleanField,
            models.DateField,
            models.DecimalField,
        )
    )


_PLAIN_AUDIT = _plain_audit_kinds()
_PLAIN, _KEY, _MOMENT = "plain", "key", "moment"


def _audit_kind(field: Any, use_json: bool, masked: set[str]) -> str | None:
    """How _Diff reads a new row's field as get_field_value does without its type tests:
    _PLAIN, str() of the value (Django's plain kinds); _KEY, a foreign key's id; _MOMENT, an
    aware date and time made naive in UTC; None, through get_field_value itself (masked
    fields, JSON changes, other kinds)."""
    if use_json or field.name in masked:
        return None
    if type(field) in _PLAIN_AUDIT:
        return _PLAIN
    if (
        type(field) in (models.ForeignKey, models.OneToOneField)
        and hasattr(field, "rel_class")
        and not getattr(settings, "AUDITLOG_USE_FK_STRING_REPRESENTATION", False)
    ):
        return _KEY
    if type(field) is models.DateTimeField and settings.USE_TZ:
        return _MOMENT
    return None


class _Diff:
    """auditlog's model_instance_diff: the changes its receivers record. For a new row (no old
    one) the same comparison over the same fields, with what is the same for every row worked
    out once per table: the field list after auditlog's include, exclude and mask rules, the
    "old" values (None's defaults), and the reverse relations' text ("app.Model.None"), which
    model_instance_diff gets by making each row's related managers."""

    def __init__(self, model: type[Model], use_json: bool) -> None:
        from auditlog.diff import (
            get_field_value,
            get_fields_in_model,
            get_mask_function,
            model_instance_diff,
        )
        from auditlog.registry import auditlog

        self.use_json = use_json
        self.model_instance_diff = model_instance_diff
        self.get_field_value = get_field_value
        blank = model()
        fields = get_fields_in_model(blank)
        rules = auditlog.get_model_fields(model)
        if rules and rules["include_fields"]:
            fields = [field for field in fields if field.name in rules["include_fields"]]
        if rules and rules["exclude_fields"]:
            fields = [field for field in fields if field.name not in rules["exclude_fields"]]
        self.masked = set(rules["mask_fields"]) if rules else set()
        self.mask = get_mask_function(rules.get("mask_callable")) if rules else None
        self.fields = [field for field in fields if getattr(field, "concrete", False)]
        self.old = [get_field_value(None, field, use_json) for field in self.fields]
        # get_field_value of Django's plain field kinds without JSON changes is
        # smart_str(getattr(row, name)), which for their values is str(): worked out here
        # without its type tests, for every field but masked ones, dates with times, JSON
        # and relations (those through get_field_value itself).
        self.plain = [_audit_kind(field, use_json, self.masked) for field in self.fields]
        self.steps = [
            (field, field.name, old_value, plain)
            for field, old_value, plain in zip(self.fields, self.old, self.plain, strict=True)
        ]
        reverse = [field.name for field in fields if not getattr(field, "concrete", False)]
        self.reverse = (
            model_instance_diff(None, blank, fields_to_check=reverse, use_json_for_changes=use_json)
            if reverse
            else None
        ) or {}

    def __call__(self, old: Any, new: Any) -> dict[str, Any] | None:
        if old is not None:
            return self.model_instance_diff(old, new, use_json_for_changes=self.use_json)
        from auditlog.diff import is_primitive

        get_value, use_json = self.get_field_value, self.use_json
        changes: dict[str, Any] = {}
        for field, name, old_value, plain in self.steps:
            if plain is _PLAIN:
                new_value = str(getattr(new, name))
                if old_value != new_value:
                    changes[name] = (old_value, new_value)
                continue
            if plain is _KEY:
                # smart_str(key, strings_only=True) keeps an int or None as it is
                key = getattr(new, field.attname)
                if key is None or type(key) is int:
                    if old_value != key:
                        changes[field.name] = (smart_str(old_value), str(key))
                    continue
            elif plain is _MOMENT:
                # DateTimeField.to_python keeps a datetime; make_naive in UTC
                moment = getattr(new, field.name)
                if type(moment) is datetime.datetime and moment.tzinfo is not None:
                    naive = moment.astimezone(datetime.UTC).replace(tzinfo=None)
                    if old_value != naive:
                        changes[field.name] = (smart_str(old_value), str(naive))
                    continue
            new_value = get_value(new, field, use_json)
            if old_value == new_value:
                continue
            if field.name in self.masked:
                mask = cast("Callable[[str], str]", self.mask)
                changes[field.name] = (mask(smart_str(old_value)), mask(smart_str(new_value)))
            elif not use_json:
                changes[field.name] = (smart_str(old_value), smart_str(new_value))
            else:
                changes[field.name] = (
                    old_value if is_primitive(old_value) else smart_str(old_value),
                    new_value if is_primitive(new_value) else smart_str(new_value),
                )
        changes.update(self.reverse)
        return changes or None


def _copy_ready(connection: Any, lines: list[str]) -> None:
    if lines:
        with connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {READY} FROM STDIN", _Feed(iter(lines)), READ_SIZE)


def _unique_problems(
    columns: _Columns, resource: Any, name: str, report: ImportReport, using: str
) -> None:
    """Unique fields: a value another row of the file had first, or another row of the table
    has, named as full_clean() names it."""
    connection = connections[using]
    qn = connection.ops.quote_name
    meta = columns.meta
    pk = qn(meta.pk.column)
    found: dict[int, list[str]] = {}
    for field in meta.local_concrete_fields:
        if not field.unique or field.primary_key:
            continue
        column = qn(field.column)
        message = _unique_message(columns, resource, field)
        # The file's later rows with a value an earlier one has, and the rows with a value
        # another row of the table keeps (one not changed by the file itself).
        sql = (
            f"SELECT carshop_line FROM (SELECT carshop_line, row_number() OVER ("  # noqa: S608
            f"PARTITION BY {column} ORDER BY carshop_line) AS place FROM {READY} "
            f"WHERE {column} IS NOT NULL) d WHERE place > 1 "
            f"UNION SELECT r.carshop_line FROM {READY} r "
            f"JOIN {qn(meta.db_table)} t ON t.{column} = r.{column} "
            f"AND t.{pk} IS DISTINCT FROM r.{pk} WHERE NOT EXISTS (SELECT 1 FROM {READY} m "
            f"WHERE m.{pk} = t.{pk} AND m.{column} IS DISTINCT FROM t.{column})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql)
            for (line,) in cursor.fetchall():
                found.setdefault(line, []).append(message)
    for line in sorted(found):
        report.add(f"{name} line {line}", "; ".join(found[line]))


class _Audit:
    """The audit entries as COPY lines. The values every entry of the run shares (the content
    type, the correlation id, the time, and what the pre_save receivers on LogEntry set: the
    operator as actor, the API key) come from one entry credited as a save() credits it; each
    row adds its own id, text, action and changes."""

    def __init__(self, content_type: Any, cid: Any, using: str) -> None:
        from auditlog.models import LogEntry

        self.connection = connections[using]
        template = LogEntry(content_type=content_type, cid=cid)
        signals.pre_save.send(
            sender=LogEntry, instance=template, raw=False, using=using, update_fields=None
        )
        meta: Any = LogEntry._meta
        fields = [field for field in meta.local_concrete_fields if field is not meta.pk]
        qn = self.connection.ops.quote_name
        self.sql = (
            f"COPY {qn(meta.db_table)} ({', '.join(qn(field.column) for field in fields)}) "
            "FROM STDIN"
        )
        self.fields = fields
        self.formatters = [(field.name, _formatter(field, self.connection)) for field in fields]
        self.shared = {
            field.name: _format(getattr(template, field.attname), field, self.connection)
            for field in fields
        }

    def maker(self, *names: str) -> Callable[..., str]:
        """line() for entries that give these fields, in this order, as arguments: the shared
        values put in place once."""
        parts = [self.shared[name] for name, _write in self.formatters]
        places = [
            (index, write)
            for name in names
            for index, (field_name, write) in enumerate(self.formatters)
            if field_name == name
        ]
        if len(places) != len(names):
            raise ValueError(f"not all of {names} are fields of an audit entry")

        def line(*values: Any) -> str:
            own = parts.copy()
            for (index, write), value in zip(places, values, strict=True):
                own[index] = write(value)
            return "\t".join(own) + "\n"

        return line

    def write(self, lines: Iterable[str]) -> None:
        if isinstance(lines, list) and not lines:
            return
        with self.connection.cursor() as cursor:
            cursor.copy_expert(self.sql, _Feed(iter(lines)), READ_SIZE)


__all__ = ["Unsupported", "load", "supports"]
