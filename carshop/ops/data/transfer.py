"""Data import and export: the services behind `manage.py export` and `manage.py import`.

JSON: a whole-database export (every table of carshop/ops/data/tables.py, or those asked for) in
dependency order, which `import` loads back into an empty, migrated database identically: every
row keeps its id and every field its value (times the application sets itself included), and
sequences are reset on PostgreSQL so new rows get fresh ids. Content types, permissions and roles
are referenced by natural key (their ids differ from one database to another); every other row by
id. The export reads one consistent snapshot and is streamed: rows are read in chunks
(`.iterator(chunk_size=...)`) and written as they come, so memory does not grow with the tables.
The file is one JSON document with one row per line: a header line (format, version, time,
application version, migrations, tables), the rows, and a footer line with the row count of each
table, which tells a complete file from a cut-off one. `import` streams it the same way.

On PostgreSQL both directions go through COPY (carshop/ops/data/postgres.py): the export has the
server write each row's JSON straight into the file, and the import streams the rows into the
tables with the same checks made in bulk, the row-by-row path below judging every row in doubt.

A JSON import is a restore: rows are inserted as they were exported (bulk, without the models'
save() and signals), so it writes no audit entry per row: the audit log travels in the export
itself, and the run is in app.log with the operator.

CSV (carshop/ops/data/csv_files.py): one file per table through the apps' django-import-export
resources (accounts/resources.py and beside it), for spreadsheets and for loading master data
(customers, vehicles, parts, ...). A CSV import saves each row through the model (its save() and
the audit log, credited to the operator); tables that only the application's workflows write are
not imported from CSV.

Both imports validate every row first-class: each bad row is reported with its line and reason,
and nothing is written unless every row is good (one transaction). `dry_run` checks only.

Spreadsheet formulas: a text cell that starts with =, +, -, @, a tab or a carriage return would
be evaluated by a spreadsheet opening the file (a lead a partner named =HYPERLINK(...), OWASP's
"CSV injection"). The CSV export writes such a cell with a single quote in front, which
spreadsheets show as text; numbers of numeric columns (-2, -12.50) are written as they are, since
they are numbers to a spreadsheet too. The CSV import removes that quote again, so an export
loads back unchanged. (A text that itself starts with quotes before one of those characters gets
one quote more on export, so the round trip stays exact.)

Secrets: users' password hashes, partner API key hashes and webhook signing secrets are left out
unless `include_secrets`. Imported without them, users cannot log in until `reset_password`,
partner keys do not authenticate (issue new ones), and webhook subscriptions get a new secret
and are imported inactive (give the partner the new secret, then activate it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import importlib
import json
import logging
import os
import secrets
import time
from collections import Counter
from typing import IO, TYPE_CHECKING, Any, cast

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.core.serializers import base as serializers_base
from django.core.serializers import python as python_serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Q
from django.utils import timezone

from carshop.ops.backups.util import pause_point
from carshop.ops.data import tables as table_registry
from carshop.ops.data.postgres import copy_rows_out, export_sql, read_in_parallel
from carshop.ops.toolkit import no_progress

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence

    from _typeshed import StrPath
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import Model

    from carshop.ops.data.tables import Table


logger = logging.getLogger("carshop.commands")

FORMAT = "carshop-export"
VERSION = 1
CHUNK_SIZE = 2000
EXPORT_WORKERS = 2  # PostgreSQL's parallel workers reading a large table for the JSON export
MAX_PROBLEMS = 1000  # reported one by one; more are counted

# Rows `migrate` makes in every database, with ids that differ from one database to another:
# referenced by natural key. Content types and permissions are never exported (migrate makes
# them); roles are exported (with their permissions) and referenced by name.
NATURAL_REFERENCES = {"contenttypes.contenttype", "auth.permission", "auth.group"}

# The apps whose migrations must match between the file and the database: Django's, the audit
# log's, and every app that declares tables (messaging included), so none is left unchecked.
SCHEMA_APPS = ("contenttypes", "auth", *table_registry.CARSHOP_APPS, "auditlog")

_HEADER_END = ', "objects": ['
_FOOTER_START = '"counts": '


@dataclasses.dataclass
class Problem:
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclasses.dataclass
class ImportReport:
    format: str
    dry_run: bool
    counts: dict = dataclasses.field(default_factory=dict)  # table name -> rows
    problems: list = dataclasses.field(default_factory=list)
    problem_count: int = 0
    notes: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def add(self, where: str, reason: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(where, reason))

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "counts": self.counts,
            "problem_count": self.problem_count,
            "problems": [dataclasses.asdict(problem) for problem in self.problems],
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }


def _label(model: Any) -> str:
    return model._meta.label_lower


# --- tables ------------------------------------------------------------------------------------


def dependency_order(tables: Collection[Table]) -> list[Table]:
    """`tables` ordered so that a table comes after those its rows point to (foreign keys and
    many-to-many), ties and cycles broken by the order of carshop/ops/data/tables.py."""
    position = {table: index for index, table in enumerate(table_registry.TABLES)}
    by_model = {table.model: table for table in tables}
    needs = {}
    for table in tables:
        related = set()
        for field in table.model._meta.get_fields():
            if field.is_relation and field.concrete and field.related_model in by_model:
                related.add(by_model[field.related_model])
        related.discard(table)
        needs[table] = related
    done: set[Table]
    ordered, done = [], set()
    remaining = sorted(tables, key=lambda table: position.get(table, len(position)))
    while remaining:
        ready = [table for table in remaining if needs[table] <= done] or remaining[:1]
        table = ready[0]
        ordered.append(table)
        done.add(table)
        remaining.remove(table)
    return ordered


def _applied_migrations(using: str) -> list[list[str]]:
    recorder = MigrationRecorder(connections[using])
    return sorted([app, name] for app, name in recorder.applied_migrations() if app in SCHEMA_APPS)


@contextlib.contextmanager
def read_snapshot(using: str) -> Iterator[None]:
    """One consistent view of the database for the whole export (REPEATABLE READ on
    PostgreSQL; an SQLite read transaction is one already)."""
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


@contextlib.contextmanager
def output_file(path: StrPath, newline: str | None = None) -> Iterator[IO[str]]:
    """A file written beside `path` and moved in place only when complete."""
    with _output_file(path, "w", newline) as handle:
        yield handle


@contextlib.contextmanager
def _output_file(path: StrPath, mode: str, newline: str | None = None) -> Iterator[Any]:
    partial = f"{path}.partial"
    try:
        if "b" in mode:
            handle = open(partial, mode)  # noqa: SIM115
        else:
            handle = open(partial, mode, encoding="utf-8", newline=newline)  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        try:
            with handle:
                yield handle
            os.replace(partial, path)
        except OSError as exc:  # a full disk, a file system gone read-only
            raise CommandError(
                f"cannot write {path}: {exc.strerror or exc}; nothing was written there"
            ) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise


# --- JSON export -------------------------------------------------------------------------------


class _Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder keeps times to the millisecond; a restore keeps them to the
    microsecond."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime):
            text = o.isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text
        if isinstance(o, datetime.time):
            return o.isoformat()
        return super().default(o)


class _NaturalKeys:
    """Natural keys of content types, permissions and roles by id, read once."""

    def __init__(self) -> None:
        self._keys: dict[Any, Any] = {}

    def key(self, model: Any, pk: Any) -> list[Any]:
        label = _label(model)
        if label not in self._keys:
            queryset = model._default_manager.all()
            if label == "auth.permission":
                queryset = queryset.select_related("content_type")
            self._keys[label] = {row.pk: list(row.natural_key()) for row in queryset}
        return self._keys[label][pk]


class _RowSerializer(python_serializers.Serializer):
    """Django's serializer (the fixture format `loaddata` reads), handing each row on as soon as
    it is made instead of collecting them, and referencing only NATURAL_REFERENCES by natural
    key (every other row by id: a restore keeps ids, and a natural key would cost a query per
    row)."""

    def __init__(
        self,
        natural_keys: _NaturalKeys,
        secret_fields: Collection[str],
        sink: Callable[[dict[str, Any]], None],
    ) -> None:
        super().__init__()
        self.natural_keys = natural_keys
        self.secret_fields = secret_fields
        self.sink = sink

    def handle_fk_field(self, obj: Model, field: Any) -> None:
        model = field.remote_field.model
        if _label(model) in NATURAL_REFERENCES:
            value = getattr(obj, field.attname)
            # _current, the row being built, is typed None in the stubs.
            self._current[field.name] = (  # type: ignore[index]
                None if value is None else self.natural_keys.key(model, value)
            )
        else:
            super().handle_fk_field(obj, field)

    def handle_m2m_field(self, obj: Model, field: Any) -> None:
        if not field.remote_field.through._meta.auto_created:
            return
        model = field.remote_field.model
        ids = list(getattr(obj, field.name).order_by("pk").values_list("pk", flat=True))
        if _label(model) in NATURAL_REFERENCES:
            ids = [self.natural_keys.key(model, pk) for pk in ids]
        self._current[field.name] = ids  # type: ignore[index]  # as in handle_fk_field

    def end_object(self, obj: Model) -> None:
        record = self.get_dump_object(obj)
        for name in self.secret_fields:
            record["fields"].pop(name, None)
        self.sink(record)
        self._current = None


def export_json(
    path: StrPath,
    tables: Sequence[Table] | None = None,
    *,
    include_secrets: bool = False,
    using: str = "default",
    progress: Callable[..., Any] | None = None,
    chunk_size: int = CHUNK_SIZE,
    workers: int = EXPORT_WORKERS,
) -> dict[str, Any]:
    """Write the tables (default: all) to `path`; returns a summary. On PostgreSQL a large
    table is read by up to `workers` parallel workers (0: the export's connection alone)."""
    progress = progress or no_progress
    started = time.monotonic()
    selected = dependency_order(tables or list(table_registry.TABLES))
    natural_keys = _NaturalKeys()
    counts = {}
    postgresql = connections[using].vendor == "postgresql"
    with read_snapshot(using), _output_file(path, "wb") as handle:
        if postgresql:
            read_in_parallel(workers, using)
        header = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": timezone.now().isoformat(),
            "app_version": _app_version(),
            "database": connections[using].vendor,
            "include_secrets": include_secrets,
            "whole_database": tables is None,
            "tables": [table.name for table in selected],
            "models": [_label(table.model) for table in selected],
            "migrations": _applied_migrations(using),
        }
        handle.write((json.dumps(header, ensure_ascii=False)[:-1] + _HEADER_END + "\n").encode())
        # Every row is written followed by ",\n"; the last comma is taken back at the end.
        written = 0
        for table in progress(selected, label="export"):
            secret_fields = () if include_secrets else table.secret_fields
            if postgresql:
                count = copy_rows_out(export_sql(table.model, secret_fields, using), handle, using)
            else:
                count = _serialize_rows(
                    table, secret_fields, natural_keys, handle, using, chunk_size
                )
            counts[_label(table.model)] = count
            written += count
        if written:
            handle.seek(-2, os.SEEK_CUR)
            handle.truncate()
        handle.write(("\n],\n" + _FOOTER_START + json.dumps(counts) + "}\n").encode())
    size = os.path.getsize(path)
    by_name = {table.name: counts[_label(table.model)] for table in selected}
    logger.info("data exported", extra={"format": "json", "path": str(path), "rows": by_name})
    return {
        "format": "json",
        "path": str(path),
        "bytes": size,
        "tables": by_name,
        "rows": sum(by_name.values()),
        "include_secrets": include_secrets,
        "seconds": round(time.monotonic() - started, 3),
    }


def _serialize_rows(
    table: Table,
    secret_fields: Collection[str],
    natural_keys: _NaturalKeys,
    handle: IO[bytes],
    using: str,
    chunk_size: int,
) -> int:
    """The table's rows through Django's serializer, each as a line and a comma (SQLite)."""
    count = 0

    def write(record: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        text = json.dumps(record, cls=_Encoder, ensure_ascii=False, separators=(",", ":"))
        handle.write((text + ",\n").encode())

    rows = table.model._base_manager.using(using).order_by("pk").iterator(chunk_size=chunk_size)
    # Closed on an error too (a full disk): its cursor then goes while the database is open.
    try:
        _RowSerializer(natural_keys, secret_fields, write).serialize(
            rows, use_natural_primary_keys=False
        )
    finally:
        rows.close()  # type: ignore[attr-defined]  # a generator, typed as an Iterator
    return count


def _app_version() -> str:
    from carshop.ops.backups.service import app_version

    return app_version()


# --- JSON files --------------------------------------------------------------------------------


class ExportFile:
    """A JSON export to read: the header, then its rows one at a time (`records()`, which can be
    called again for a second pass). A file of another layout (a `dumpdata` fixture, an export
    re-indented by an editor) is read whole instead."""

    def __init__(self, path: StrPath) -> None:
        self.path = str(path)
        if not os.path.isfile(self.path):
            raise CommandError(f"no file {self.path}")
        try:
            with open(self.path, "rb") as handle:
                compressed = handle.read(2) == b"\x1f\x8b"
        except OSError as exc:
            raise CommandError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        if compressed:
            raise CommandError(
                f"{self.path} is compressed (gzip): uncompress it first (gunzip {self.path})"
            )
        try:
            with open(self.path, encoding="utf-8") as handle:
                first = handle.readline().rstrip("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {self.path}: {exc}") from None
        self.streamed = first.startswith("{") and first.endswith(_HEADER_END)
        self._whole: Any = None  # the rows, when the file is read whole
        if self.streamed:
            try:
                self.header = json.loads(first[: -len(_HEADER_END)] + "}")
            except ValueError:
                self.streamed = False
        if not self.streamed:
            self._read_whole()
        if self.header.get("format", FORMAT) != FORMAT:
            raise CommandError(
                f"{self.path} is not a Carshop export (format {self.header.get('format')!r})"
            )
        self._check_header()
        version = self.header.get("version", VERSION)
        if version > VERSION:
            raise CommandError(
                f"{self.path} is an export of version {version}; "
                f"this Carshop reads version {VERSION} and older"
            )
        # Rows of a model the header does not list: an edited or damaged file.
        self._listed = {label.lower() for label in self.header.get("models", ())} or None

    def _check_header(self) -> None:
        """The header's values as an export writes them (a file edited by hand, or damaged,
        is refused with what is wrong instead of failing half-way)."""
        header = self.header
        wrong = []
        if not isinstance(header.get("version", VERSION), int) or isinstance(
            header.get("version"), bool
        ):
            wrong.append(f"version {header.get('version')!r} is not a number")
        models = header.get("models", [])
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            wrong.append("models is not a list of model names")
        migrations = header.get("migrations", [])
        if not isinstance(migrations, list) or not all(
            isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
            for item in migrations
        ):
            wrong.append("migrations is not a list of [app, migration] pairs")
        if wrong:
            raise CommandError(f"{self.path} has a damaged header: {'; '.join(wrong)}")

    def _read_whole(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {self.path}: {exc}") from None
        except ValueError as exc:
            raise CommandError(f"{self.path} is not JSON: {exc}") from None
        if isinstance(data, list):  # a dumpdata fixture
            self.header, self._whole, self.footer = {}, data, None
        elif isinstance(data, dict) and isinstance(data.get("objects"), list):
            self._whole = data.pop("objects")
            self.footer = data.pop("counts", None)
            self.header = data
        else:
            raise CommandError(f"{self.path} is not a Carshop export: no list of rows")

    @property
    def unit(self) -> str:
        """What a row's number counts: lines of a streamed file, rows of one read whole."""
        return "line" if self.streamed else "record"

    def records(self, problems: ImportReport | None = None) -> Iterator[tuple[str, Any]]:
        """Yield (where, record). Damage (a cut-off file, a line that is not JSON) is added to
        `problems` (an ImportReport) when given."""
        unit = self.unit
        for number, record in self.numbered(problems):
            yield f"{unit} {number}", record

    def numbered(
        self,
        problems: ImportReport | None = None,
        first: int = 0,
        last: int | None = None,
    ) -> Iterator[tuple[int, Any]]:
        """Yield (line or record number, record); only those from `first` to `last` when given
        (a second look at part of the file: then the file is not checked again)."""
        partial = first > 0 or last is not None
        if not self.streamed:
            for number, record in enumerate(self._whole, start=1):
                if number < first:
                    continue
                if last is not None and number > last:
                    return
                if problems is not None and self._listed and isinstance(record, dict):
                    label = str(record.get("model", "")).lower()
                    if label not in self._listed:
                        problems.add(f"record {number}", self._unlisted(label))
                yield number, record
            if problems is not None and not partial:
                self._check_counts(
                    Counter(
                        str(record.get("model", "")).lower()
                        for record in self._whole
                        if isinstance(record, dict)
                    ),
                    self.footer,
                    problems,
                )
            return
        seen: Counter[str] = Counter()
        footer = None
        loads = json.loads
        with open(self.path, encoding="utf-8") as handle:
            handle.readline()
            line_number = 1
            in_rows = True
            for line in handle:
                line_number += 1
                if partial:
                    if line_number < first:
                        continue
                    if last is not None and line_number > last:
                        return
                if in_rows and line[0] == "{":  # a row, the common case
                    text = line.rstrip()
                    if text[-1] == ",":
                        text = text[:-1]
                else:
                    text = line.strip()
                    if not text:
                        continue
                    if in_rows and text.startswith("]"):
                        in_rows = False
                        continue
                    if not in_rows:
                        if text.startswith(_FOOTER_START) and text.endswith("}"):
                            try:
                                footer = loads(text[len(_FOOTER_START) : -1])
                            except ValueError:
                                footer = None
                        continue
                    text = text.rstrip(",")
                try:
                    record = loads(text)
                except ValueError as exc:
                    if problems is not None:
                        problems.add(f"line {line_number}", f"not a JSON row: {exc}")
                    continue
                if isinstance(record, dict):
                    label = str(record.get("model", "")).lower()
                    seen[label] += 1
                    if problems is not None and self._listed and label not in self._listed:
                        problems.add(f"line {line_number}", self._unlisted(label))
                yield line_number, record
        if problems is not None and not partial:
            if footer is None:
                problems.add(
                    f"line {line_number}",
                    "the file ends before its footer: it is incomplete (cut off?)",
                )
            else:
                self._check_counts(seen, footer, problems)

    def _unlisted(self, label: str) -> str:
        return (
            f"a row of {label or 'no model'}, which the file's header does not list: the file "
            "was edited or is damaged"
        )

    def _check_counts(
        self, seen: Mapping[str, int], footer: dict[str, int] | None, problems: ImportReport
    ) -> None:
        if footer is None:
            return
        for label, count in footer.items():
            if seen.get(label, 0) != count:
                problems.add(
                    "footer",
                    f"{count} rows of {label} were exported, the file has "
                    f"{seen.get(label, 0)}: the file is damaged",
                )

    def models(self) -> list[str]:
        """Labels of the models the file holds (from the header, or from the rows)."""
        if "models" in self.header:
            return [label.lower() for label in self.header["models"]]
        return list(
            dict.fromkeys(
                str(record.get("model", "")).lower()
                for record in self._whole
                if isinstance(record, dict)
            )
        )


# --- JSON import -------------------------------------------------------------------------------


class _Deserializer(python_serializers.Deserializer):
    """Django's deserializer, one row at a time, with content types and permissions looked up
    once instead of once per row."""

    def __init__(self, using: str) -> None:
        super().__init__([], using=using, handle_forward_references=False)
        self._natural: dict[Any, Any] = {}

    def one(self, record: dict[str, Any]) -> serializers_base.DeserializedObject:
        # _handle_object: the Deserializer's private step for one row, absent from the stubs.
        return next(iter(self._handle_object(record)))  # type: ignore[attr-defined]

    def _handle_fk_field_node(self, field: Any, field_value: Any) -> Any:
        model = field.remote_field.model
        label = _label(model)
        if label in ("contenttypes.contenttype", "auth.permission") and isinstance(
            field_value, list
        ):
            cache = self._natural.setdefault(label, {})
            key = tuple(field_value)
            if key not in cache:
                cache[key] = super()._handle_fk_field_node(field, field_value)  # type: ignore[misc]
            return cache[key]
        # _handle_fk_field_node: private to Django's Deserializer, absent from the stubs.
        return super()._handle_fk_field_node(field, field_value)  # type: ignore[misc]


# Fields the application itself fills beyond what a form allows: partners' service accounts
# are named "partner:<slug>" (accounts.services), which the sign-up validator refuses.
_NOT_VALIDATED = {"accounts.user": ("username",)}


# A text value no database field stores: PostgreSQL refuses it, SQLite would keep a value
# that no copy into PostgreSQL takes.
NUL_IN_VALUE = "a value holds a NUL character (code 0), which no field can store"


def _validate(obj: Model) -> None:
    """The model's own rules for one row of a Carshop table (field rules and clean()), without
    changing it. Foreign keys are checked after loading, all at once (_dangling). Roles and the
    audit log are records of other apps, kept as they are (the database's constraints still
    apply); no row of any table holds a NUL character."""
    nul = {
        field.name: NUL_IN_VALUE
        for field in obj._meta.concrete_fields
        if isinstance(value := getattr(obj, field.attname), str) and "\x00" in value
    }
    if nul:
        raise ValidationError(nul)
    if obj._meta.app_label not in table_registry.CARSHOP_APPS:
        return
    fields = obj._meta.concrete_fields
    kept = [(field.attname, getattr(obj, field.attname)) for field in fields]
    exempt = _NOT_VALIDATED.get(_label(type(obj)), ())
    try:
        obj.clean_fields(
            exclude=[field.name for field in fields if field.is_relation or field.name in exempt]
        )
        obj.clean()
    finally:
        for attname, value in kept:
            setattr(obj, attname, value)


def error_reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(
                f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
                for field, messages in exc.message_dict.items()
            )
        return " ".join(exc.messages)
    if isinstance(exc, serializers_base.DeserializationError):
        text = str(exc)
        # "Problem installing fixture: ...: (accounts.customer:pk=3) field_value was 'x'"
        return text.splitlines()[0] if text else type(exc).__name__
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _fill_secrets(obj: Any, fields_in_record: Collection[str]) -> None:
    """Safe values for secrets an export left out (see the module's docstring)."""
    label = _label(type(obj))
    if label == "accounts.user" and "password" not in fields_in_record:
        obj.password = make_password(None)
    elif label == "accounts.partnerkey" and "hashed_key" not in fields_in_record:
        obj.hashed_key = make_password(None)
    elif label == "accounts.webhooksubscription" and "secret" not in fields_in_record:
        obj.secret = secrets.token_urlsafe(32)
        obj.is_active = False


# A row the database refuses: its error, or the driver's before sending it (psycopg2 raises
# ValueError for a text holding NUL).
REFUSED = (DatabaseError, ValueError)


class _Loader:
    """Inserts deserialized rows of one model at a time in chunks, as they were exported (raw:
    no save(), no signals, times kept). A chunk that the database refuses is retried row by row
    to name the bad rows."""

    def __init__(self, using: str, report: ImportReport, chunk_size: int) -> None:
        self.using = using
        self.connection = connections[using]
        self.report = report
        self.chunk_size = chunk_size
        self.rows: list[Any] = []
        self.model: type[Model] | None = None
        self.inserted: Counter[Any] = Counter()
        self.rejected: set[Any] = set()  # (label, pk) of rows not loaded
        # (label, pk, its Problem) of a row with an id an earlier row of the file has
        self.duplicates: list[tuple[str, Any, Problem | None]] = []

    def add(
        self, where: str, deserialized: serializers_base.DeserializedObject, already_bad: bool
    ) -> None:
        model = type(deserialized.object)
        if model is not self.model or len(self.rows) >= self.chunk_size:
            self.flush()
            self.model = model
        self.rows.append((where, deserialized, already_bad))

    def flush(self) -> None:
        rows, self.rows = self.rows, []
        if not rows:
            return
        savepoint = transaction.savepoint(using=self.using)
        try:
            self._insert([deserialized for _, deserialized, _ in rows])
        except REFUSED:
            transaction.savepoint_rollback(savepoint, using=self.using)
            for where, deserialized, already_bad in rows:
                one = transaction.savepoint(using=self.using)
                try:
                    self._insert([deserialized])
                except REFUSED as exc:
                    transaction.savepoint_rollback(one, using=self.using)
                    self.rejected.add((_label(self.model), str(deserialized.object.pk)))
                    if self._loaded_already(deserialized.object):
                        # The file's own row with that id: one message on every database (not
                        # the database's own text), naming the earlier row once it is found.
                        label, pk = _label(self.model), deserialized.object.pk
                        listed = len(self.report.problems)
                        self.report.add(where, f"{label}: id {pk} is also on an earlier row")
                        problem = (
                            self.report.problems[-1] if len(self.report.problems) > listed else None
                        )
                        self.duplicates.append((label, pk, problem))
                    elif not already_bad:
                        self.report.add(where, error_reason(exc))
                else:
                    transaction.savepoint_commit(one, using=self.using)
                    self.inserted[self.model] += 1
        else:
            transaction.savepoint_commit(savepoint, using=self.using)
            self.inserted[self.model] += len(rows)

    def _loaded_already(self, obj: Model) -> bool:
        """Whether a row with this one's id is in the table: the import loads into empty
        tables, so it is a row of the file."""
        if obj.pk is None:
            return False
        model = cast("type[Model]", self.model)
        return model._base_manager.db_manager(self.using).filter(pk=obj.pk).exists()

    def _insert(self, deserialized_rows: list[serializers_base.DeserializedObject]) -> None:
        model = cast("type[Model]", self.model)  # set by add() before any row
        fields = model._meta.local_concrete_fields
        objs = [deserialized.object for deserialized in deserialized_rows]
        batch = self.connection.ops.bulk_batch_size(fields, objs) or len(objs)
        manager = model._base_manager.db_manager(self.using)
        for start in range(0, len(objs), batch):
            # raw=True: the values as exported (auto_now fields keep their times), as loaddata.
            # Manager._insert: private API (as loaddata uses it), absent from the stubs.
            manager._insert(objs[start : start + batch], fields=fields, using=self.using, raw=True)  # type: ignore[attr-defined]
        for field in model._meta.many_to_many:
            through = cast("type[Model]", field.remote_field.through)  # set on every m2m field
            if not through._meta.auto_created:
                continue
            source, target = f"{field.m2m_field_name()}_id", f"{field.m2m_reverse_field_name()}_id"
            links = [
                through(**{source: deserialized.object.pk, target: value})
                for deserialized in deserialized_rows
                for value in deserialized.m2m_data.get(field.name, ())  # type: ignore[union-attr]
            ]
            if links:
                through._base_manager.db_manager(self.using).bulk_create(links, batch_size=500)


def _migrate_rows(model: type[Model], using: str) -> Any:
    """Rows `migrate` itself puts into an empty database (accounts migration 0002: the roles,
    the inactive `system` account; accounts migration 0010: the default location and its shop
    settings row; inventory migration 0008: the stock number series; repairs migration 0010: the
    canned inspection checklists; messaging migration 0002: the message templates; and the audit
    entries about them), which a JSON import replaces with the file's."""
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import Location, ShopSettings, User
    from accounts.roles import ROLES
    from carshop.audit import SYSTEM_USERNAME

    manager = model._base_manager.db_manager(using)
    label = _label(model)
    if label == "auth.group":
        return manager.filter(name__in=list(ROLES))
    if label == "accounts.user":
        return manager.filter(username=SYSTEM_USERNAME)
    if label in ("accounts.shopsettings", "accounts.location", "inventory.stocknumberseries"):
        # A migrated, empty database has one location (with its settings), the stock number
        # series (inventory migration 0008), and nothing else.
        return manager.all() if manager.count() <= 1 else manager.none()
    if label in ("repairs.inspectiontemplate", "repairs.inspectiontemplatepoint"):
        # repairs migration 0010: the canned checklists, while no inspection used them.
        from repairs.models import Inspection, InspectionTemplate

        canned = importlib.import_module("repairs.migrations.0010_inspection_checklists")
        seeded = (
            InspectionTemplate._base_manager.db_manager(using)
            .filter(name__in=list(canned.CHECKLISTS))
            .exclude(pk__in=Inspection._base_manager.db_manager(using).values("template_id"))
        )
        if label == "repairs.inspectiontemplate":
            return seeded
        return manager.filter(template__in=seeded.values("pk"))
    if label == "messaging.messagetemplate":
        # messaging migration 0002: the group's templates, as seeded (a shop's edits are data).
        from messaging.defaults import DEFAULT_TEMPLATES

        as_seeded = Q(pk__in=[])
        for (kind, channel), (subject, body) in DEFAULT_TEMPLATES.items():
            as_seeded |= Q(kind=str(kind), channel=str(channel), subject=subject, body=body)
        return manager.filter(as_seeded, location=None)
    if label == "auditlog.logentry":
        kinds = ContentType.objects.db_manager(using).get_for_models(
            Group, User, Location, ShopSettings
        )
        return manager.filter(content_type__in=list(kinds.values())).filter(
            actor__username=SYSTEM_USERNAME
        ) | manager.filter(content_type__in=list(kinds.values()), actor__isnull=True)
    return manager.none()


def _refuse_non_empty(tables: Iterable[Table], using: str) -> None:
    busy = []
    for table in tables:
        model = table.model
        others = model._base_manager.db_manager(using).exclude(
            pk__in=_migrate_rows(model, using).values("pk")
        )
        if others.exists():
            busy.append(f"{table.name} has {others.count()} rows")
    if busy:
        shown = ", ".join(busy[:4]) + (f" and {len(busy) - 4} more" if len(busy) > 4 else "")
        raise CommandError(
            f"the database is not empty ({shown}): a JSON import loads into empty tables only; "
            "import into a new, migrated database, or choose empty tables with --tables"
        )


def _clear_migrate_rows(tables: Sequence[Table], using: str) -> None:
    from auditlog.context import disable_auditlog

    with disable_auditlog():
        for table in reversed(tables):
            rows = _migrate_rows(table.model, using)
            if rows.exists():
                rows.delete()


def _check_schema(export: ExportFile, using: str, report: ImportReport) -> None:
    in_file = {tuple(item) for item in export.header.get("migrations", [])}
    if not in_file:
        report.notes.append(
            "the file does not say which migrations it was made with; rows "
            "are checked against this database's schema"
        )
        return
    here = {tuple(item) for item in _applied_migrations(using)}
    missing = sorted(in_file - here)
    if missing:
        names = ", ".join(f"{app}.{name}" for app, name in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise CommandError(
            f"the export was made with migrations this database does not have "
            f"({names}{more}): migrate this database first"
        )
    newer = sorted(here - in_file)
    if newer:
        report.notes.append(
            f"this database has {len(newer)} migrations the export was made "
            "without; rows are checked against the newer schema"
        )


def _dangling(models: Iterable[type[Model]], using: str) -> list[tuple[Any, ...]]:
    """(model, pk, parent model, value, reason) for every loaded row whose foreign key points
    to no row."""
    connection = connections[using]
    qn = connection.ops.quote_name
    found = []
    for model in models:
        checks: list[tuple[Any, Any, Any]] = [
            (model, field, model)
            for field in model._meta.local_concrete_fields
            if field.is_relation
        ]
        for field in model._meta.many_to_many:
            through = cast("type[Model]", field.remote_field.through)  # set on every m2m field
            if through._meta.auto_created:
                own_field = through._meta.get_field(field.m2m_field_name())
                other = through._meta.get_field(field.m2m_reverse_field_name())
                checks.append((through, other, (own_field, field)))
        for table_model, field, owner in checks:
            parent = field.related_model
            # Identifiers only: the models' own table and column names, quoted.
            own, column = qn(_owner_column(table_model, owner)), qn(field.column)
            target = qn(field.target_field.column)
            sql = (
                f"SELECT c.{own}, c.{column} FROM {qn(table_model._meta.db_table)} c "  # noqa: S608
                f"LEFT JOIN {qn(parent._meta.db_table)} p ON p.{target} = c.{column} "
                f"WHERE c.{column} IS NOT NULL AND p.{target} IS NULL "
                f"ORDER BY 1 LIMIT {MAX_PROBLEMS}"
            )
            with connection.cursor() as cursor:
                cursor.execute(sql)
                rows = cursor.fetchall()
            name = field.name if owner is model else owner[1].name
            for pk, value in rows:
                found.append(
                    (
                        model,
                        pk,
                        parent,
                        value,
                        f"{name}: no {parent._meta.verbose_name} with id {value}",
                    )
                )
    return found


def _owner_column(table_model: type[Model], owner: Any) -> str:
    if isinstance(owner, tuple):  # a many-to-many row: the column pointing to its owner
        return owner[0].column
    return cast(str, table_model._meta.pk.column)  # a concrete primary key has its column


def import_json(
    path: StrPath,
    tables: list[Table] | None = None,
    *,
    dry_run: bool = False,
    using: str = "default",
    progress: Callable[..., Any] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> ImportReport:
    """Load a JSON export into empty tables; returns an ImportReport (written only if ok)."""
    progress = progress or no_progress
    started = time.monotonic()
    report = ImportReport(format="json", dry_run=dry_run)
    export = ExportFile(path)
    _check_schema(export, using, report)
    in_file = export.models()
    if tables:
        missing = [table.name for table in tables if _label(table.model) not in in_file]
        if missing:
            raise CommandError(
                f"{path} has no table {', '.join(missing)}; it has: "
                + ", ".join(_names_of(in_file))
            )
        selected = tables
    else:
        selected = [table for table in table_registry.TABLES if _label(table.model) in in_file]
        unknown = [label for label in in_file if table_registry.for_label(label) is None]
        if unknown:
            raise CommandError(
                f"{path} has rows of models that are no Carshop table: {', '.join(unknown)}"
            )
    selected = dependency_order(selected)
    wanted = {_label(table.model) for table in selected}
    _refuse_non_empty(selected, using)
    if not export.header.get("include_secrets", True):
        report.notes.append(
            "the file has no password hashes, API key hashes or webhook "
            "secrets: users need reset_password, partners new keys, and "
            "webhook subscriptions are inactive with a new secret"
        )

    connection = connections[using]
    models = [table.model for table in selected]
    with transaction.atomic(using=using):
        lock_for_import(models, using)
        _clear_migrate_rows(selected, using)
        deserializer = _Deserializer(using)
        loader = _Loader(using, report, chunk_size)
        fast = None
        if connection.vendor == "postgresql":
            from carshop.ops.data.postgres import PostgresLoad

            fast = PostgresLoad(export, models, report, using, deserializer, loader)
            fast.run(iter(progress(export.numbered(report), label="import")), wanted)
        else:
            _load_row_by_row(export, wanted, report, deserializer, loader, progress)
        pause_point("import-loaded")  # fault drills: every row written, nothing committed
        # Foreign keys: on PostgreSQL the dropped ones come back, checking every row in one
        # join each; only if one fails (or rows were bad) are the rows named one by one.
        if fast is not None and report.ok and fast.finish():
            dangling = []
        else:
            dangling = _dangling(models, using)
            if fast is not None and report.ok and not dangling:
                report.add("foreign keys", "a foreign key does not hold (see the database log)")
        inserted = fast.inserted if fast is not None else loader.inserted.__getitem__
        # A row pointing to a bad row of the file is not reported again: the bad row is.
        follow = [item for item in dangling if (_label(item[2]), str(item[3])) in loader.rejected]
        if follow:
            report.notes.append(f"{len(follow)} more rows refer to the bad rows below")
            dangling = [item for item in dangling if item not in follow]
        if dangling:
            _report_dangling(export, dangling, report)
        if loader.duplicates:
            _report_duplicates(export, loader.duplicates, report)
        for table in selected:
            report.counts[table.name] = inserted(table.model)
        if report.ok and not dry_run:
            reset_sequences(models, connection)
            pause_point("import-checked")  # fault drills: about to commit
        else:
            transaction.set_rollback(True, using=using)
    report.seconds = time.monotonic() - started
    if report.ok and not dry_run:
        logger.info(
            "data imported", extra={"format": "json", "path": str(path), "rows": report.counts}
        )
    return report


def _load_row_by_row(
    export: ExportFile,
    wanted: set[str],
    report: ImportReport,
    deserializer: _Deserializer,
    loader: _Loader,
    progress: Callable[..., Any],
) -> None:
    """Every row deserialized, validated by its model and inserted in chunks (SQLite)."""
    current = None
    for where, record in progress(export.records(report), label="import"):
        if not isinstance(record, dict) or not isinstance(record.get("fields"), dict):
            report.add(where, "not a row (an object with model, pk and fields)")
            continue
        label = str(record.get("model", "")).lower()
        if label not in wanted:
            continue
        if label != current:
            loader.flush()  # rows a natural key may name are in the database first
            current = label
        try:
            deserialized = deserializer.one(record)
        except Exception as exc:  # a value that does not convert, an unknown natural key
            report.add(where, error_reason(exc))
            loader.rejected.add((label, str(record.get("pk"))))
            continue
        _fill_secrets(deserialized.object, record["fields"])
        bad = False
        try:
            _validate(deserialized.object)
        except ValidationError as exc:
            report.add(where, f"{label} {record.get('pk')}: {error_reason(exc)}")
            bad = True
        loader.add(where, deserialized, bad)
    loader.flush()


def _names_of(labels: Iterable[str]) -> list[str]:
    names = []
    for label in labels:
        table = table_registry.for_label(label)
        names.append(table.name if table else label)
    return names


def _report_dangling(
    export: ExportFile, dangling: list[tuple[Any, ...]], report: ImportReport
) -> None:
    """Name each dangling row by its line: a second pass over the file, only when needed."""
    wanted: dict[Any, Any] = {}
    for model, pk, _parent, _value, reason in dangling:
        wanted.setdefault((_label(model), str(pk)), []).append(reason)
    for where, record in export.records():
        if not isinstance(record, dict):
            continue
        key = (str(record.get("model", "")).lower(), str(record.get("pk")))
        for reason in wanted.pop(key, ()):
            report.add(where, f"{key[0]} {key[1]}: {reason}")
    for (label, pk), reasons in wanted.items():  # rows that were there before the import
        for reason in reasons:
            report.add(f"{label} {pk} (in the database)", reason)


def _report_duplicates(
    export: ExportFile, duplicates: list[tuple[str, Any, Problem | None]], report: ImportReport
) -> None:
    """Each row with an id an earlier row of its table has (reported as it was refused) named
    with the place of that first row: a second pass over the file, only when needed."""
    first: dict[tuple[str, str], str] = {(label, str(pk)): "" for label, pk, _ in duplicates}
    for where, record in export.records():
        if not isinstance(record, dict):
            continue
        key = (str(record.get("model", "")).lower(), str(record.get("pk")))
        if first.get(key) == "":
            first[key] = where
    for label, pk, problem in duplicates:
        earlier = first[(label, str(pk))]
        if problem is not None and earlier and earlier != problem.where:
            problem.reason = f"{label}: id {pk} is also on {earlier}"


# How long an import waits for a table another session holds locked (a migration, a manual
# LOCK TABLE, a long maintenance job) before it stops, instead of waiting without a word.
LOCK_WAIT_SECONDS = 10


def lock_for_import(models: Iterable[type[Model]], using: str, mode: str = "ROW EXCLUSIVE") -> None:
    """On PostgreSQL, take the write lock (ROW EXCLUSIVE, what an INSERT takes, or the `mode`
    given) of every table an import writes, and of their many-to-many tables, waiting at most
    LOCK_WAIT_SECONDS for each; a table that stays locked stops the import with a message
    naming it. Called first in the import's transaction: the locks are held until it ends."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    names: dict[str, str] = {}
    for model in models:
        table = table_registry.for_model(model)
        names.setdefault(model._meta.db_table, table.name if table else _label(model))
        for field in model._meta.many_to_many:
            through = cast("type[Model]", field.remote_field.through)
            names.setdefault(through._meta.db_table, names[model._meta.db_table])
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'")
        for db_table, name in names.items():
            try:
                cursor.execute(f"LOCK TABLE {qn(db_table)} IN {mode} MODE")
            except DatabaseError:
                raise CommandError(
                    f"the table {name} ({db_table}) is locked by another session: waited "
                    f"{LOCK_WAIT_SECONDS} s; nothing was imported. Try again when that session "
                    "is done (pg_locks shows who holds it)"
                ) from None
        cursor.execute("SET LOCAL lock_timeout TO DEFAULT")


def reset_sequences(models: list[type[Model]], connection: BaseDatabaseWrapper) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


__all__ = [
    "ExportFile",
    "ImportReport",
    "Problem",
    "dependency_order",
    "export_json",
    "import_json",
]
