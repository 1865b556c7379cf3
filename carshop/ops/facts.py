"""Each app's operations facts, collected: the way each app registers its API routes.

An app that has tables operators name, personal data or secrets declares them in its own
`<app>/ops.py` (see accounts/ops.py for the keys): TABLES, PERSONAL_FIELDS, PERSON_MODELS,
FREE_TEXT and SYSTEM_TABLES. They are collected here in INSTALLED_APPS order (the layer order), so
a new model or app needs no change to the operations code; tests/test_ops_dataio.py fails when a
model of an app with tables is missing.

The project's own facts, for tables of the third-party apps it configures (auditlog's log,
sessions, tasks, axes' login records), are declared below, after the apps'.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from types import ModuleType
from typing import Any

from django.apps import apps

# The project's own: tables of third-party apps that Carshop configures.
PROJECT_FACTS: dict[str, Any] = {
    "TABLES": (
        {
            "name": "audit_log",
            "label": "auditlog.LogEntry",
            "aliases": ("audit",),
            "csv_import": False,
        },
    ),
    # Tables outside the Carshop apps that vacuum_database names (`--tables=sessions,logins`).
    "SYSTEM_TABLES": {
        "sessions": ["sessions.Session"],
        "tasks": ["django_tasks_db.DBTaskResult"],
        "logins": ["axes.AccessAttempt", "axes.AccessFailureLog", "axes.AccessLog"],
    },
}


@functools.cache
def declaring_apps() -> tuple[tuple[str, ModuleType], ...]:
    """The labels and ops modules of the installed apps that declare facts, in layer order."""
    found: list[tuple[str, ModuleType]] = []
    for config in apps.get_app_configs():
        name = f"{config.name}.ops"
        if config.name == "carshop":
            continue  # the project package: its ops package is the operations code itself
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            found.append((config.label, importlib.import_module(name)))
    return tuple(found)


def _sources() -> list[dict[str, Any]]:
    return [module.__dict__ for _label, module in declaring_apps()] + [PROJECT_FACTS]


def tables() -> list[dict[str, Any]]:
    """Every app's TABLES, then the project's: dicts of carshop.ops.data.tables.Table fields."""
    return [entry for source in _sources() for entry in source.get("TABLES", ())]


def table_apps() -> tuple[str, ...]:
    """The labels of the apps that declare tables: each of their models must have one."""
    return tuple(label for label, module in declaring_apps() if getattr(module, "TABLES", ()))


def personal_fields() -> dict[str, set[str]]:
    """{"app_label.modelname": {field, ...}}: values an anonymized copy replaces or masks."""
    merged: dict[str, set[str]] = {}
    for source in _sources():
        for label, fields in source.get("PERSONAL_FIELDS", {}).items():
            merged.setdefault(label, set()).update(fields)
    return merged


def person_models() -> tuple[str, ...]:
    """Models whose audit entries are named after a person ("app_label.modelname")."""
    return tuple(label for source in _sources() for label in source.get("PERSON_MODELS", ()))


def free_text() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(("app_label.Model", (field, ...)), ...): text that may mention people."""
    return tuple(item for source in _sources() for item in source.get("FREE_TEXT", ()))


def system_tables() -> dict[str, list[str]]:
    """{"friendly name": ["app_label.Model", ...]} for tables outside the Carshop apps."""
    merged: dict[str, list[str]] = {}
    for source in _sources():
        merged.update(source.get("SYSTEM_TABLES", {}))
    return merged
