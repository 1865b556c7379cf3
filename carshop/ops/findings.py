"""Findings: the OK / WARN / FAIL lines that checking commands report.

A Report is a titled list of findings plus any figures worth printing. The checking commands
(validate_config, check_db_connection, check_auth_config, monitor_resources,
monitor_db_connections) each build one, and `diagnostics` runs the same functions and prints all
of them, so a finding reads the same wherever it appears.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError

if TYPE_CHECKING:
    from carshop.commands import OperationsCommand

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
    findings: list = field(default_factory=list)
    data: dict = field(default_factory=dict)

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


def emit_report(command: OperationsCommand, options: dict[str, Any], report: Report,
                extra_lines: Iterable[str] = ()) -> None:
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
