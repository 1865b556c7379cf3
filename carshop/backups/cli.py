"""What the backup commands share: error translation, progress, argument types."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

from django.core.management.base import CommandError

from carshop.backups.errors import BackupError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from django.core.management.base import BaseCommand


@contextlib.contextmanager
def operator_errors() -> Iterator[None]:
    """A BackupError becomes Django's one-line error with a non-zero exit."""
    import sqlite3

    import psycopg2

    try:
        yield
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    except (sqlite3.Error, psycopg2.Error, OSError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CommandError(f"{type(exc).__name__}: {first_line}") from None


def bool_value(value: object) -> bool:
    lowered = str(value).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    import argparse

    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def progress_printer(command: BaseCommand, label: str) -> Callable[[str], None] | None:
    """A callback that shows each finished step on a terminal and stays quiet in cron."""
    if not sys.stderr.isatty():
        return None

    def show(step: str) -> None:
        command.stderr.write(f"{label}: {step}")
    return show


def human_size(size: float) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
