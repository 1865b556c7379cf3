"""Read-only CSV columns: what the CSV export writes but the import does not set (times the
application stamps, a part's stock on hand, a vehicle's odometer, a stock unit's status, computed
names; see `read_only` in accounts/resources.py).

The import would skip them, so an operator who edits one believes it changed. A file is refused
instead when a read-only cell is not what the export writes for the row's stored value (a row
with the id of an existing row). A new row gets the application's own values: an export loaded
into another database (every row new) is the common case, so it loads, and the import says in a
note which columns' values of how many new rows were not used. An unchanged export loads back,
and a file without those columns imports as before.

The comparison is the export's own: the stored row rendered by the resource, as the CSV file
holds it. The row-by-row import (SQLite, and tables the PostgreSQL path does not cover) makes it
here; the PostgreSQL path compares in SQL against the staged rows first
(carshop/ops/data/postgres_csv.py) and hands only the rows that differ there to `stored_problems`.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from core.spreadsheets import neutralize_cell, restore_cell

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from django.db.models import Model

    from carshop.ops.data.transfer import ImportReport

CHUNK = 2000

CHANGED = "read-only; it is set by Carshop — leave the exported value or remove the column"


def columns(resource: Any, headers: Iterable[str]) -> list[Any]:
    """The resource fields of the file's columns that the import does not set."""
    present = set(headers)
    return [
        field
        for field in resource.fields.values()
        if field.column_name in present
        and field.column_name != "id"
        and (field.readonly or not field.attribute)
    ]


def row_id(text: str) -> int | None:
    """The id a row names, or None (no id, or one the import itself refuses)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    pk = int(text)
    return pk if pk >= 1 else None


def as_exported(resource: Any, field: Any, instance: Model) -> str:
    """The cell the CSV export writes for the field of a stored row, as the import reads it."""
    value = resource.export_field(field, instance)
    return restore_cell(neutralize_cell(value))


# The key of `unused` (column -> new rows with a value there) that counts the rows themselves.
ROWS = ""


def count_unused(fields: Iterable[Any], values: Mapping[str, str], unused: Counter[str]) -> None:
    """Count a new row's read-only values, per column and the row once: Carshop sets its own."""
    given = [field.column_name for field in fields if values.get(field.column_name, "").strip()]
    unused.update(given)
    if given:
        unused[ROWS] += 1


def stored_problems(
    resource: Any, fields: Iterable[Any], values: Mapping[str, str], stored: Model
) -> list[str]:
    return [
        f"{field.column_name}: {CHANGED}"
        for field in fields
        if values.get(field.column_name, "") != as_exported(resource, field, stored)
    ]


def check(
    resource: Any,
    fields: list[Any],
    model: type[Model],
    rows: Iterable[tuple[int, Mapping[str, str]]],
    using: str,
    unused: Counter[str] | None = None,
) -> dict[int, list[str]]:
    """Line -> problems, for (line, values) rows: the stored rows read in chunks of CHUNK, one
    query each. New rows' read-only values are counted in `unused` (column -> rows)."""
    found: dict[int, list[str]] = {}
    unused = unused if unused is not None else Counter()
    for field in fields:  # the note names the columns in the order of the resource's fields
        unused.setdefault(field.column_name, 0)
    manager = model._base_manager.db_manager(using)

    def judge(chunk: list[tuple[int, Mapping[str, str], int | None]]) -> None:
        ids = [pk for _line, _values, pk in chunk if pk is not None]
        stored = manager.in_bulk(ids) if ids else {}
        for line, values, pk in chunk:
            row = stored.get(pk) if pk is not None else None
            if row is None:
                count_unused(fields, values, unused)
                continue
            problems = stored_problems(resource, fields, values, row)
            if problems:
                found.setdefault(line, []).extend(problems)

    chunk: list[tuple[int, Mapping[str, str], int | None]] = []
    for line, values in rows:
        id_text = values.get("id", "")
        if id_text.strip() and row_id(id_text) is None:
            continue  # an id the import refuses: named there
        chunk.append((line, values, row_id(id_text)))
        if len(chunk) >= CHUNK:
            judge(chunk)
            chunk = []
    if chunk:
        judge(chunk)
    return found


def report(
    found: Mapping[int, list[str]],
    name: str,
    problems: ImportReport,
    unused: Mapping[str, int] | None = None,
) -> None:
    for line in sorted(found):
        problems.add(f"{name} line {line}", "; ".join(found[line]))
    unused = unused or {}
    rows = unused.get(ROWS, 0)
    if rows:
        columns = [column for column, count in unused.items() if column != ROWS and count]
        verb = "is" if len(columns) == 1 else "are"
        problems.notes.append(
            f"{name}: {', '.join(columns)} {verb} set by Carshop on a new row; the file's values "
            f"on {rows} new row{'s' if rows != 1 else ''} were not used"
        )
