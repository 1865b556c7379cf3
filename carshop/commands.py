"""The base of every operations command: one place for what they all share.

- `--format text|json` for commands whose output is a report (`report_command = True`);
- `--dry-run` for commands that change data (`changes_data = True`);
- durations like `30d`, `24h`, `90m` (`parse_duration`);
- progress on a terminal, silence in cron (`progress`);
- changes credited to the operator in the audit log, and the run logged to app.log.
Bad input raises CommandError: Django prints it as one line on stderr and exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)
from django.core.serializers.json import DjangoJSONEncoder

from carshop.audit import note_failure, operator_context

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

T = TypeVar("T")

_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_duration(value: object) -> timedelta:
    """'30d' -> timedelta(days=30); also 'h' hours and 'm' minutes."""
    match = _DURATION.match(str(value))
    if not match:
        raise CommandError(f"{value!r} is not a duration: use a number and d, h or m (30d, 24h)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the help text's own line breaks kept (for the example)."""


class OperationsCommand(BaseCommand):
    report_command = False
    changes_data = False

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = HelpFormatter
        refuse = parser.error

        def error(message: str) -> None:
            note_failure(f"bad command line: {message}")
            refuse(message)
        # Noted in the log before argparse exits; argparse offers no hook for that.
        parser.error = error  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        if self.report_command:
            parser.add_argument("--format", choices=("text", "json"), default="text",
                                help="text for people (default), json for machines")
        if self.changes_data:
            parser.add_argument("--dry-run", action="store_true",
                                help="show what would change and change nothing")

    def execute(self, *args: Any, **options: Any) -> str | None:
        with operator_context(self.__module__.rsplit(".", 1)[-1]):
            try:
                return super().execute(*args, **options)
            except CommandError as exc:
                note_failure(f"{type(exc).__name__}: {exc}")
                raise

    def emit(self, options: dict[str, Any], data: Any, text_lines: Iterable[str]) -> None:
        """Print a report: `data` as JSON, or the lines for people."""
        if options.get("format") == "json":
            self.stdout.write(json.dumps(data, cls=DjangoJSONEncoder, indent=2, sort_keys=True))
        else:
            for line in text_lines:
                self.stdout.write(line)

    def progress(self, iterable: Iterable[T], total: int | None = None,
                 label: str = "working") -> Iterator[T]:
        """Yield items; on a terminal, show how far along the work is."""
        interactive = getattr(self.stderr, "isatty", lambda: False)() and sys.stderr.isatty()
        for index, item in enumerate(iterable, start=1):
            if interactive and (index % 100 == 0 or index == total):
                suffix = f"/{total}" if total else ""
                self.stderr.write(f"\r{label}: {index}{suffix}", ending="")
            yield item
        if interactive:
            self.stderr.write("")
