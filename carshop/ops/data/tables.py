"""Friendly table names for the operations commands (`--tables=cars,sales`), mapped to models.

One place for every name an operator types: `export`, `import` and the other commands that take
`--tables` resolve names here, and an unknown name lists the valid ones. Each app declares its
tables in its own `ops.py` (accounts/ops.py also the roles, auth groups) and the project the audit
log (carshop.ops.facts); every model of an app that declares tables must have one, and
tests/test_ops_dataio.py fails when a new model is missing.

`secret_fields` are left out of exports unless `--include-secrets`. `csv_import` is False for
tables whose rows only the application's workflows write (documents, ledgers, counters, machine
records): they are exported to CSV for spreadsheets and reports, and restored from a JSON export.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from django.apps import apps
from django.core.management.base import CommandError
from django.db.models import Model

from carshop.ops import facts


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    label: str  # app_label.ModelName
    aliases: tuple[str, ...] = ()
    secret_fields: tuple[str, ...] = ()
    csv_import: bool = True
    resource: str = ""  # dotted path of the django-import-export resource, if the app has one

    @property
    def model(self) -> type[Model]:
        return apps.get_model(self.label)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


TABLES = tuple(Table(**entry) for entry in facts.tables())

# The apps whose every model must have a table: those that declare tables.
CARSHOP_APPS = facts.table_apps()

_BY_NAME = {name: table for table in TABLES for name in table.names}
_BY_LABEL = {table.label.lower(): table for table in TABLES}


def valid_names() -> str:
    """The names an operator can type, for error messages: main names with aliases in brackets."""
    return ", ".join(
        table.name + (f" ({'/'.join(table.aliases)})" if table.aliases else "") for table in TABLES
    )


def get(name: str) -> Table:
    table = _BY_NAME.get(name.strip().lower())
    if table is None:
        raise CommandError(f"unknown table {name.strip()!r}; tables: {valid_names()}")
    return table


def resolve(spec: str | Iterable[str] | None) -> list[Table] | None:
    """`--tables` ("cars,sales", or a list) as tables, in the order given, each once. None,
    empty or "all": None (the caller's default, usually every table)."""
    if not spec or (isinstance(spec, str) and spec.strip().lower() == "all"):
        return None
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    result: list[Table] = []
    for name in names:
        if not name.strip():
            continue
        table = get(name)
        if table not in result:
            result.append(table)
    if not result:
        raise CommandError(f"--tables names no table; tables: {valid_names()}")
    return result


def for_model(model: type[Model] | Model) -> Table | None:
    """The table of a model (None for models that are no table here)."""
    return _BY_LABEL.get(model._meta.label_lower)


def for_label(label: str) -> Table | None:
    """The table of "app_label.modelname" (None if there is none)."""
    return _BY_LABEL.get(str(label).lower())
