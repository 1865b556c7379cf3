"""The command toolkit: what every operations command shares, in one place.

- `OperationsCommand`, the base of every operations command: `--format text|json` for commands
  whose output is a report (`report_command = True`), `--dry-run` for commands that change data
  (`changes_data = True`), changes credited to the operator in the audit log and the run logged
  to app.log;
- findings: the OK / WARN / FAIL lines that checking commands report (`Report`), printed and
  turned into an exit code by `emit_report`;
- errors: bad input raises CommandError (Django prints it as one line on stderr and exits
  non-zero); a refusal of a service (core.errors.DomainError), a BackupError or a database or
  file error raised inside a command becomes that same one-line error (`operator_errors`);
- progress, one protocol (`Progress`): `progress(iterable, total=None, label=...)` yields the
  items; `OperationsCommand.progress` shows a counter and the current item on a terminal and
  stays quiet in cron and tests, `no_progress` is the silent one. Commands pass one of them to
  the code that does the work (backups, restores, the test environment, cleanups, ...), which
  wraps its loops in it;
- values: durations like `30d`, `24h`, `90m` (`parse_duration`), true/false options
  (`bool_value`), byte counts for people (`human_size`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)
from django.core.serializers.json import DjangoJSONEncoder

from carshop.audit import note_failure, operator_context
from carshop.ops.backups.errors import BackupError
from core.errors import DomainError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

T = TypeVar("T")


class Progress(Protocol):
    """The progress protocol: yields the items of `iterable` and may show how far along the
    work is (`total`: how many there are, when known; `label`: what they are)."""

    def __call__(
        self, iterable: Iterable[T], total: int | None = None, label: str = "working"
    ) -> Iterable[T]: ...


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
            parser.add_argument(
                "--format",
                choices=("text", "json"),
                default="text",
                help="text for people (default), json for machines",
            )
        if self.changes_data:
            parser.add_argument(
                "--dry-run", action="store_true", help="show what would change and change nothing"
            )

    def execute(self, *args: Any, **options: Any) -> str | None:
        with operator_context(self.__module__.rsplit(".", 1)[-1]):
            try:
                return super().execute(*args, **options)
            except DomainError as exc:
                # A service refused: the operator sees its message, as one line, exit 1.
                note_failure(f"{type(exc).__name__}: {exc}")
                raise CommandError(str(exc)) from None
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

    def progress(
        self, iterable: Iterable[T], total: int | None = None, label: str = "working"
    ) -> Iterator[T]:
        """The progress protocol (`Progress`): yield the items; on a terminal, show how far
        along the work is and the item at hand."""
        interactive = getattr(self.stderr, "isatty", lambda: False)() and sys.stderr.isatty()
        shown = False
        for index, item in enumerate(iterable, start=1):
            if interactive and (
                index % 100 == 0 or index == total or (total is not None and total <= 100)
            ):
                suffix = f"/{total}" if total else ""
                name = _item_name(item)
                text = f"{label}: {index}{suffix}" + (f" {name}" if name else "")
                self.stderr.write(f"\r{text}\x1b[K", ending="")
                shown = True
            yield item
        if shown:
            self.stderr.write("")


def _item_name(item: object) -> str:
    """What a progress line calls an item: a name, a table's name, a backup's id, a step's."""
    if isinstance(item, tuple) and item:
        item = item[0]
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return str(item.get("id") or "")
    name = getattr(item, "name", None) or getattr(item, "__name__", None)
    return name if isinstance(name, str) else ""


# --- findings -------------------------------------------------------------------------------

OK = "OK"
WARN = "WARN"
FAIL = "FAIL"
_RANK = {OK: 0, WARN: 1, FAIL: 2}


@dataclass
class Finding:
    status: str
    check: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status, "check": self.check, "detail": self.detail}


@dataclass
class Report:
    title: str
    findings: list[Finding] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def ok(self, check: str, detail: str = "") -> None:
        self.findings.append(Finding(OK, check, detail))

    def warn(self, check: str, detail: str) -> None:
        self.findings.append(Finding(WARN, check, detail))

    def fail(self, check: str, detail: str) -> None:
        self.findings.append(Finding(FAIL, check, detail))

    def add(self, status: str, check: str, detail: str) -> None:
        self.findings.append(Finding(status, check, detail))

    @property
    def status(self) -> str:
        return worst(finding.status for finding in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.status == FAIL]

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "status": self.status,
            "findings": [finding.as_dict() for finding in self.findings],
            **({"data": self.data} if self.data else {}),
        }

    def text_lines(self) -> list[str]:
        lines = [f"{self.title}: {self.status}"]
        width = max([len(finding.check) for finding in self.findings] + [10])
        for finding in self.findings:
            detail = f"  {finding.detail}" if finding.detail else ""
            lines.append(f"  {finding.status:<4}  {finding.check:<{width}}{detail}".rstrip())
        return lines


def worst(statuses: Iterable[str]) -> str:
    result = OK
    for status in statuses:
        if _RANK[status] > _RANK[result]:
            result = status
    return result


def threshold_status(value: float, warn_at: float, fail_at: float) -> str:
    """FAIL at or above fail_at, WARN at or above warn_at, else OK."""
    if value >= fail_at:
        return FAIL
    if value >= warn_at:
        return WARN
    return OK


def emit_report(
    command: OperationsCommand,
    options: dict[str, Any],
    report: Report,
    extra_lines: Iterable[str] = (),
) -> None:
    """Print a report (JSON or text) and exit non-zero, with one line, if a finding failed."""
    command.emit(options, report.as_dict(), [*report.text_lines(), *extra_lines])
    raise_on_failure(report)


def raise_on_failure(report: Report) -> None:
    failures = report.failures
    if len(failures) == 1:
        raise CommandError(f"{report.title}: FAIL {failures[0].check}: {failures[0].detail}")
    if failures:
        names = ", ".join(finding.check for finding in failures)
        raise CommandError(f"{report.title}: {len(failures)} failed ({names})")


def first_line(exc: BaseException | str) -> str:
    """An exception as one line, for a finding or a CommandError."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# --- errors, progress and values ------------------------------------------------------------


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


def no_progress(
    iterable: Iterable[T], total: int | None = None, label: str = "working"
) -> Iterable[T]:
    """The progress protocol's silent form: the items, nothing shown."""
    return iterable


def human_size(size: float) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
