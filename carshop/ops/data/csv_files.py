"""CSV export and import: one file per table through the apps' django-import-export resources,
with spreadsheet formulas neutralized (see carshop/ops/data/transfer.py for the whole story).
"""

from __future__ import annotations

import contextlib
import csv
import decimal
import logging
import os
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import tablib
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import DatabaseError, connections, transaction
from django.utils.formats import sanitize_separators
from django.utils.module_loading import import_string
from import_export import widgets as import_export_widgets
from import_export.resources import modelresource_factory

from carshop.ops.data import postgres_csv, read_only
from carshop.ops.data import tables as table_registry
from carshop.ops.data.transfer import (
    CHUNK_SIZE,
    NUL_IN_VALUE,
    ImportReport,
    dependency_order,
    error_reason,
    lock_for_import,
    output_file,
    read_snapshot,
    reset_sequences,
)
from carshop.ops.toolkit import no_progress
from core.spreadsheets import neutralize_cell, restore_cell

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from _typeshed import StrPath

    from carshop.ops.data.tables import Table

logger = logging.getLogger("carshop.commands")


# --- CSV ---------------------------------------------------------------------------------------


def _is_numeric(field: Any) -> bool:
    return isinstance(field.widget, import_export_widgets.NumberWidget)


def resource_for(table: Table, *, include_secrets: bool = False) -> Any:
    """The django-import-export resource of a table: the app's own where it has one (e.g.
    accounts.resources.CustomerResource), else one made from the model."""
    from accounts.resources import CarshopResource

    if table.resource:
        resource_class = import_string(table.resource)
    else:
        resource_class = modelresource_factory(table.model, resource_class=CarshopResource)
    resource = resource_class()
    if not include_secrets:
        for name in table.secret_fields:
            resource.fields.pop(name, None)
    return resource


def _strict_widgets(resource: Any) -> None:
    """The resource's widgets as strict as an operator expects of an import: a number that
    does not read is the error of its column (django-import-export raises Decimal's
    InvalidOperation, which names no column), a whole-number column refuses 2.5 (it would
    keep 2), an id is a whole number above 0, and a yes/no column refuses what it does not
    know (it would read "maybe" or "yes" as false)."""
    for field in resource.fields.values():
        widget = field.widget
        if isinstance(widget, import_export_widgets.BooleanWidget):
            widget.clean = _strict_boolean(widget)
        elif isinstance(widget, import_export_widgets.NumberWidget):
            widget.clean = _strict_number(
                widget,
                whole=isinstance(widget, import_export_widgets.IntegerWidget),
                is_id=field.column_name == "id",
            )


def _strict_number(widget: Any, *, whole: bool, is_id: bool) -> Callable[..., Any]:
    clean = widget.clean

    def checked(value: Any, row: Any = None, **kwargs: Any) -> Any:
        if widget.is_empty(value):
            return None
        try:
            number = decimal.Decimal(str(sanitize_separators(value)).strip())
        except (decimal.InvalidOperation, ValueError):
            number = None
        if is_id and (
            number is None or not number.is_finite() or number != int(number) or number < 1
        ):
            # Not a field's error: the row is read (or found) by its id before its fields.
            raise ValueError(f"id: {value!r} is not an id")
        if number is None:
            raise ValueError(f"{value!r} is not a number")
        if whole and number.is_finite() and number != number.to_integral_value():
            raise ValueError(f"{value!r} is not a whole number")
        return clean(value, row=row, **kwargs)

    return checked


def _strict_boolean(widget: Any) -> Callable[..., Any]:
    clean = widget.clean
    known = {*widget.TRUE_VALUES, *widget.FALSE_VALUES, *widget.NULL_VALUES}

    def checked(value: Any, row: Any = None, **kwargs: Any) -> Any:
        if value not in known:
            raise ValueError(f"{value!r} is not 1 or 0 (true or false)")
        return clean(value, row=row, **kwargs)

    return checked


def export_csv(
    path: StrPath,
    tables: list[Table] | None = None,
    *,
    include_secrets: bool = False,
    using: str = "default",
    progress: Callable[..., Any] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> dict[str, Any]:
    """One CSV file per table in the folder `path`, or the file `path` for one table."""
    progress = progress or no_progress
    started = time.monotonic()
    selected = dependency_order(tables or list(table_registry.TABLES))
    path = str(path)
    single = len(selected) == 1 and not os.path.isdir(path)
    if not single:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"cannot make the folder {path}: {exc.strerror or exc}") from None
    counts: dict[str, int] = {}
    files: list[str] = []
    try:
        _export_tables(
            selected, path, single, include_secrets, using, progress, chunk_size, counts, files
        )
    except BaseException:
        # A folder with some of the tables would pass for a whole export: remove them.
        for written in files:
            with contextlib.suppress(OSError):
                os.remove(written)
        raise
    logger.info("data exported", extra={"format": "csv", "path": path, "rows": counts})
    return {
        "format": "csv",
        "path": path,
        "files": files,
        "tables": counts,
        "rows": sum(counts.values()),
        "include_secrets": include_secrets,
        "seconds": round(time.monotonic() - started, 3),
    }


def _export_tables(
    selected: list[Table],
    path: str,
    single: bool,
    include_secrets: bool,
    using: str,
    progress: Callable[..., Any],
    chunk_size: int,
    counts: dict[str, int],
    files: list[str],
) -> None:
    with read_snapshot(using):
        for table in selected:
            target = path if single else os.path.join(path, f"{table.name}.csv")
            resource = resource_for(table, include_secrets=include_secrets)
            rows = (
                table.model._base_manager.using(using)
                .order_by("pk")
                .iterator(chunk_size=chunk_size)
            )
            count = 0
            with output_file(target, newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(resource.get_export_headers())
                numeric = [_is_numeric(field) for field in resource.get_export_fields()]
                for obj in progress(rows, label=f"export {table.name}"):
                    values = resource.export_resource(obj)
                    writer.writerow(
                        [
                            neutralize_cell(value, numeric=number)
                            for value, number in zip(values, numeric, strict=True)
                        ]
                    )
                    count += 1
            counts[table.name] = count
            files.append(target)


def _csv_inputs(path: StrPath, tables: list[Table] | None) -> list | list[tuple]:
    """(table, file) pairs to import: a file (one table, named by --tables or by the file's
    name), or a folder of <table>.csv files."""
    path = str(path)
    if os.path.isfile(path):
        if tables and len(tables) > 1:
            raise CommandError(
                f"{path} is one file: name one table with --tables, or give a "
                "folder of <table>.csv files"
            )
        if tables:
            return [(tables[0], path)]
        stem = os.path.splitext(os.path.basename(path))[0]
        try:
            return [(table_registry.get(stem), path)]
        except CommandError:
            raise CommandError(
                f"which table is {path}? name it with --tables; tables: "
                f"{table_registry.valid_names()}"
            ) from None
    if not os.path.isdir(path):
        raise CommandError(f"no file or folder {path}")
    if tables:
        pairs = []
        for table in tables:
            target = _find_csv(path, table)
            if target is None:
                raise CommandError(f"no {table.name}.csv in {path}")
            pairs.append((table, target))
        return pairs
    pairs = []
    for entry in sorted(os.listdir(path)):
        stem, ext = os.path.splitext(entry)
        if ext.lower() != ".csv":
            continue
        try:
            pairs.append((table_registry.get(stem), os.path.join(path, entry)))
        except CommandError:
            raise CommandError(
                f"{entry} in {path} is no table; tables: {table_registry.valid_names()}"
            ) from None
    if not pairs:
        raise CommandError(f"no <table>.csv file in {path}")
    return pairs


def _find_csv(folder: StrPath, table: Table) -> str | None:
    for name in table.names:
        candidate = os.path.join(folder, f"{name}.csv")
        if os.path.isfile(candidate):
            return candidate
    return None


def _text_lines(path: StrPath) -> Iterator[str]:
    """The file's lines as text (without the byte order mark a spreadsheet may put first); a
    byte that is no UTF-8 is an error naming its line. Read a line at a time, so a file's size
    does not matter."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CommandError(
                    f"{path} is not UTF-8 text: line {number} has the byte "
                    f"{line[exc.start : exc.start + 1].hex().upper()} (save the file as UTF-8)"
                ) from None
            yield text.removeprefix("\ufeff") if number == 1 else text


def _check_file(path: StrPath, report: ImportReport) -> list[str]:
    """The file's column names, after a first read of the whole file: an error if it has none,
    names one twice or is no UTF-8 CSV; an id given to two rows is a bad row (the second would
    silently overwrite the first)."""
    name = os.path.basename(path)
    try:
        reader = csv.reader(_text_lines(path))
        headers = next(reader, None)
        if not headers or not any(cell.strip() for cell in headers):
            raise CommandError(f"{path} is empty: the first line names the columns")
        headers = [cell.strip() for cell in headers]
        twice = sorted({column for column in headers if headers.count(column) > 1})
        if twice:
            raise CommandError(f"{name}: the column {', '.join(twice)} is named twice")
        index = headers.index("id") if "id" in headers else None
        seen: dict[int, int] = {}
        start = reader.line_num + 1
        for row in reader:
            if index is not None:
                text = row[index].strip() if len(row) > index else ""
                if text.isascii() and text.isdigit():
                    pk = int(text)
                    if pk in seen:
                        report.add(f"{name} line {start}", f"id {pk} is also on line {seen[pk]}")
                    else:
                        seen[pk] = start
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CommandError(f"{path} is not CSV: line {reader.line_num}: {exc}") from None
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    return headers


def _read_csv(path: StrPath, report: ImportReport) -> tuple:
    """The file as a tablib Dataset, and the line each data row starts on. Without an id
    column, every row is a new one."""
    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            headers = next(reader, None)
            if not headers or not any(cell.strip() for cell in headers):
                raise CommandError(f"{path} is empty: the first line names the columns")
            headers = [cell.strip() for cell in headers]
            add_id = "id" not in headers
            dataset = tablib.Dataset(headers=[*headers, "id"] if add_id else headers)
            lines = []
            start = reader.line_num + 1
            for row in reader:
                if not any(cell.strip() for cell in row):
                    start = reader.line_num + 1
                    continue
                if len(row) != len(headers):
                    report.add(
                        f"{name} line {start}",
                        f"{len(row)} values, the header names {len(headers)} columns",
                    )
                elif any("\x00" in cell for cell in row):
                    report.add(f"{name} line {start}", NUL_IN_VALUE)
                else:
                    row = [restore_cell(cell) for cell in row]
                    dataset.append([*row, ""] if add_id else row)
                    lines.append(start)
                start = reader.line_num + 1
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text") from None
    except csv.Error as exc:
        raise CommandError(f"{path} is not CSV: {exc}") from None
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    return dataset, lines


def _import_in_bulk(
    table: Table, resource: Any, target: str, report: ImportReport, using: str
) -> dict[str, int] | None:
    """The PostgreSQL path (carshop/ops/data/postgres_csv.py); None when the table must be
    read row by row after all (the database refused the write: the row-by-row import names
    the rows)."""
    problems, count, notes = list(report.problems), report.problem_count, list(report.notes)
    savepoint = transaction.savepoint(using=using)
    driver_error = connections[using].Database.Error  # type: ignore[attr-defined]  # the driver
    try:
        counts = postgres_csv.load(table, resource, target, report, using)
    except (postgres_csv.Unsupported, DatabaseError, driver_error):
        # Database.Error: the driver's own, which COPY raises unwrapped (a file that stops
        # being UTF-8 half-way); the row-by-row import names the problem.
        transaction.savepoint_rollback(savepoint, using=using)
        report.problems, report.problem_count, report.notes = problems, count, notes
        return None
    transaction.savepoint_commit(savepoint, using=using)
    return counts


def _import_row_by_row(
    table: Table, resource: Any, dataset: Any, lines: list[int], name: str, report: ImportReport
) -> None:
    """django-import-export's import, a row at a time (SQLite, and tables the PostgreSQL path
    does not cover)."""
    result = resource.import_data(dataset, dry_run=False, use_transactions=True, raise_errors=False)
    for error in result.base_errors:
        report.add(name, error_reason(error.error))
    columns = {field.attribute: field.column_name for field in resource.fields.values()}
    for invalid in result.invalid_rows:
        errors = {columns.get(key, key): value for key, value in invalid.error_dict.items()}
        report.add(
            f"{name} line {lines[invalid.number - 1]}",
            error_reason(ValidationError(errors)),
        )
    for row in result.error_rows:
        for error in row.errors:
            report.add(f"{name} line {lines[row.number - 1]}", error_reason(error.error))
    report.counts[table.name] = {
        "new": result.totals["new"],
        "updated": result.totals["update"],
        "unchanged": result.totals["skip"],
    }


def import_csv(
    path: StrPath,
    tables: list[Table] | None = None,
    *,
    dry_run: bool = False,
    using: str = "default",
    progress: Callable[..., Any] | None = None,
) -> ImportReport:
    """Import CSV files through the resources; returns an ImportReport (written only if ok)."""
    started = time.monotonic()
    report = ImportReport(format="csv", dry_run=dry_run)
    pairs = _csv_inputs(path, tables)
    refused = [table.name for table, _ in pairs if not table.csv_import]
    if refused:
        raise CommandError(
            f"{', '.join(refused)} cannot be imported from CSV: their rows are written by the "
            "application's workflows (documents, ledgers, counters); restore them from a JSON "
            "export"
        )
    order = {table: index for index, table in enumerate(dependency_order([t for t, _ in pairs]))}
    pairs.sort(key=lambda pair: order[pair[0]])
    with transaction.atomic(using=using):
        from auditlog.models import LogEntry

        lock_for_import([*(table.model for table, _ in pairs), LogEntry], using)
        for table, target in pairs:
            name = os.path.basename(target)
            resource = resource_for(table, include_secrets=True)
            _strict_widgets(resource)
            known = {field.column_name for field in resource.fields.values()}
            unknown = [column for column in _check_file(target, report) if column not in known]
            if unknown:
                raise CommandError(
                    f"{name}: unknown column {', '.join(unknown)}; the columns "
                    f"of {table.name} are {', '.join(sorted(known))}"
                )
            if connections[using].vendor == "postgresql" and postgres_csv.supports(table, resource):
                counts = _import_in_bulk(table, resource, target, report, using)
                if counts is not None:
                    report.counts[table.name] = counts
                    continue
            dataset, lines = _read_csv(target, report)
            fixed = read_only.columns(resource, dataset.headers)
            if fixed:
                rows = (
                    (line, dict(zip(dataset.headers, row, strict=True)))
                    for line, row in zip(lines, dataset, strict=True)
                )
                unused: Counter[str] = Counter()
                found = read_only.check(resource, fixed, table.model, rows, using, unused)
                read_only.report(found, name, report, unused)
            _import_row_by_row(table, resource, dataset, lines, name, report)
        if report.ok and not dry_run:
            reset_sequences([table.model for table, _ in pairs], connections[using])
        else:
            transaction.set_rollback(True, using=using)
    report.seconds = time.monotonic() - started
    if report.ok and not dry_run:
        logger.info(
            "data imported", extra={"format": "csv", "path": str(path), "rows": report.counts}
        )
    return report


__all__ = ["export_csv", "import_csv", "resource_for"]
