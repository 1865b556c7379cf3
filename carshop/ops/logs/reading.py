"""Reading Carshop's JSON-lines logs: every command that analyses logs goes through here.

A log is the current file in LOG_DIR (`access.log`) plus the copies logrotate left beside it:
`access.log.1`, `access.log.2.gz`, ... (and `access.log-20250101[.gz]` with `dateext`). Reading a
period opens only the files that can hold lines of it (a copy last written before the period
began cannot) and keeps the lines whose `time` falls inside. Lines that are not JSON objects with
a `time` (a half-written last line, a stray print) are counted and skipped, never fatal.

Also here: the percentile used by every latency figure, the path normalisation that turns
`/admin/accounts/customer/123/change/` into `/admin/accounts/customer/{id}/change/`, per-endpoint
request statistics, and the parsing of tracebacks and SQL that error and slow-query reports share.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

from carshop.ops.toolkit import parse_duration

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from typing import IO

    from _typeshed import StrPath

_ROTATED = re.compile(r"^(?:\.(?P<number>\d+)|-(?P<date>\d{8,10}))(?P<gz>\.gz)?$")


class _DaysAsPeriod(argparse.Action):
    """--days N: the same as --period=Nd (the spelling `inactive_users --days` uses)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values < 1:
            raise argparse.ArgumentError(self, f"must be 1 or more, got {values}")
        namespace.period = f"{values}d"


def add_log_arguments(parser: argparse.ArgumentParser, default_period: str) -> None:
    """--period (or --days) and --log-dir, spelled the same by every log command."""
    how_far = parser.add_mutually_exclusive_group()
    how_far.add_argument(
        "--period",
        default=default_period,
        help=f"how far back to read: 30d, 24h or 90m (default {default_period})",
    )
    how_far.add_argument(
        "--days", type=int, metavar="N", action=_DaysAsPeriod, help="the same as --period=Nd"
    )
    parser.add_argument(
        "--log-dir",
        default=None,
        help="folder of the logs (default: LOG_DIR of the settings)",
    )


def parse_period(value: str) -> timedelta:
    """A --period value as a timedelta; CommandError for a bad or empty one."""
    period = parse_duration(value)
    if period <= timedelta(0):
        raise CommandError(f"--period must be longer than zero, got {value!r}")
    return period


def resolve_log_dir(value: StrPath | None = None) -> Path:
    folder = Path(value) if value else Path(settings.LOG_DIR)
    if not folder.is_dir():
        raise CommandError(f"log folder {folder} does not exist")
    return folder


def log_files(
    name: str, log_dir: StrPath | None = None, since: datetime | None = None
) -> list[Path]:
    """The files of one log, oldest first: rotated copies, then the current file.

    With `since`, files last modified before it are left out: they cannot hold a line of the
    period.
    """
    folder = Path(log_dir) if log_dir else Path(settings.LOG_DIR)
    found = []
    for path in folder.glob(f"{name}*"):
        if not path.is_file():
            continue
        suffix = path.name[len(name) :]
        if suffix:
            match = _ROTATED.match(suffix)
            if not match:
                continue  # access.log.tmp, access.log.bak: not logrotate's
        stat = path.stat()
        if since is not None and stat.st_mtime < since.timestamp():
            continue
        found.append((stat.st_mtime, -_rotation_number(suffix), path))
    return [path for _, _, path in sorted(found)]


def _rotation_number(suffix: str) -> int:
    match = _ROTATED.match(suffix) if suffix else None
    if match and match.group("number"):
        return int(match.group("number"))
    return 0


def _open(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


def parse_time(value: object) -> datetime | None:
    """The `time` of a log line as an aware datetime (None if missing or malformed)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


@dataclass
class LogReader:
    """Iterate over the entries of one log in a period; remembers what it read and skipped.

    Each entry is the line's JSON object with its time parsed into `entry["time"]`.
    """

    name: str
    since: datetime | None = None
    until: datetime | None = None
    log_dir: Path | None = None
    files: list = field(default_factory=list)
    lines: int = 0
    skipped: int = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.files = log_files(self.name, self.log_dir, self.since)
        for path in self.files:
            with _open(path) as handle:
                for raw in handle:
                    if not raw.strip():
                        continue
                    entry = self._parse(raw)
                    if entry is None:
                        self.skipped += 1
                        continue
                    if self.since is not None and entry["time"] < self.since:
                        continue
                    if self.until is not None and entry["time"] > self.until:
                        continue
                    self.lines += 1
                    yield entry

    @staticmethod
    def _parse(raw: str) -> dict[str, Any] | None:
        try:
            entry = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(entry, dict):
            return None
        moment = parse_time(entry.get("time"))
        if moment is None:
            return None
        entry["time"] = moment
        return entry

    def summary(self) -> dict[str, Any]:
        """What was read, for the report: files, lines in the period, lines skipped."""
        return {
            "log": self.name,
            "files": [path.name for path in self.files],
            "lines": self.lines,
            "skipped_lines": self.skipped,
        }

    def summary_line(self) -> str:
        files = ", ".join(path.name for path in self.files) or f"no {self.name} found"
        skipped = f", {self.skipped} unreadable lines skipped" if self.skipped else ""
        return f"read {self.lines} lines of the period from {files}{skipped}"


def reader_for(name: str, options: dict[str, Any]) -> tuple[LogReader, datetime]:
    """A LogReader for a command's --period and --log-dir; returns (reader, since)."""
    period = parse_period(options["period"])
    log_dir = resolve_log_dir(options.get("log_dir"))
    now = timezone.now()
    since = now - period
    return LogReader(name, since=since, until=now, log_dir=log_dir), since


# --- statistics -------------------------------------------------------------------------------


def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation between the closest ranks.

    The same method as numpy's default and spreadsheets' PERCENTILE.INC: with the values sorted,
    the rank is (n - 1) * p / 100, and a fractional rank lies between its two neighbours.
    Returns None for no values.
    """
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {p}")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(durations: Sequence[float]) -> dict[str, Any]:
    """count, p50, p95, p99, max and mean of durations in milliseconds, rounded to 0.1 ms."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "count": len(durations),
        "p50_ms": rounded(percentile(durations, 50)),
        "p95_ms": rounded(percentile(durations, 95)),
        "p99_ms": rounded(percentile(durations, 99)),
        "max_ms": rounded(max(durations)) if durations else None,
        "mean_ms": rounded(sum(durations) / len(durations)) if durations else None,
    }


# --- requests (access.log) --------------------------------------------------------------------

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX_TOKEN = re.compile(r"^[0-9a-fA-F]{16,}$")


def _is_identifier(segment: str) -> bool:
    if segment.isdigit() or _UUID.match(segment) or _HEX_TOKEN.match(segment):
        return True
    # VINs, tokens and other long codes: letters and digits mixed, 10 characters or more.
    return (
        len(segment) >= 10
        and segment.isalnum()
        and any(c.isdigit() for c in segment)
        and any(c.isalpha() for c in segment)
    )


def normalize_path(path: str | None) -> str:
    """The endpoint of a path: identifiers replaced by {id}, the query string dropped.

    /admin/accounts/customer/123/change/ -> /admin/accounts/customer/{id}/change/
    """
    path = (path or "/").split("?", 1)[0]
    return "/".join(
        "{id}" if segment and _is_identifier(segment) else segment for segment in path.split("/")
    )


def status_class(status: Any) -> str:
    try:
        return f"{int(status) // 100}xx"
    except (TypeError, ValueError):
        return "other"


def request_statistics(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Access-log entries summed up: totals, status classes and latency per endpoint.

    An endpoint is the method and the normalised path: "GET /admin/accounts/customer/{id}/change/".
    Returns {"requests", "status_classes", "latency", "endpoints": [...]} with endpoints sorted by
    request count (most first), each with its status classes and latency summary.
    """
    durations = []
    classes: defaultdict[Any, Any] = defaultdict(int)
    per_endpoint: defaultdict[Any, Any] = defaultdict(
        lambda: {"durations": [], "classes": defaultdict(int)}
    )
    for entry in entries:
        if "path" not in entry:
            continue
        endpoint = f"{entry.get('method', '?')} {normalize_path(entry['path'])}"
        bucket = per_endpoint[endpoint]
        klass = status_class(entry.get("status"))
        classes[klass] += 1
        bucket["classes"][klass] += 1
        duration = entry.get("duration_ms")
        if isinstance(duration, (int, float)):
            durations.append(float(duration))
            bucket["durations"].append(float(duration))
    endpoints = []
    for endpoint, bucket in per_endpoint.items():
        summary = latency_summary(bucket["durations"])
        summary["count"] = sum(bucket["classes"].values())
        endpoints.append(
            {
                "endpoint": endpoint,
                "status_classes": dict(sorted(bucket["classes"].items())),
                "server_errors": bucket["classes"].get("5xx", 0),
                **summary,
            }
        )
    endpoints.sort(key=lambda row: (-row["count"], row["endpoint"]))
    overall = latency_summary(durations)
    overall["count"] = sum(classes.values())
    return {
        "requests": overall["count"],
        "status_classes": dict(sorted(classes.items())),
        "latency": overall,
        "endpoints": endpoints,
    }


def endpoint_table(endpoints: list[dict[str, Any]]) -> list[str]:
    """Text lines of a per-endpoint latency table."""
    width = max([len(row["endpoint"]) for row in endpoints] + [8])
    lines = [
        f"  {'endpoint':<{width}} {'count':>7} {'5xx':>5} {'p50 ms':>9} {'p95 ms':>9} "
        f"{'p99 ms':>9} {'max ms':>9}"
    ]
    for row in endpoints:
        lines.append(
            f"  {row['endpoint']:<{width}} {row['count']:>7} {row['server_errors']:>5} "
            f"{_ms(row['p50_ms'])} {_ms(row['p95_ms'])} {_ms(row['p99_ms'])} {_ms(row['max_ms'])}"
        )
    return lines


def _ms(value: float | None) -> str:
    return f"{'-' if value is None else f'{value:.1f}':>9}"


# --- errors (error.log) -----------------------------------------------------------------------

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')


def exception_place(exc_info: str | None) -> tuple[str, str]:
    """(exception type, place) of a formatted traceback; place is the last frame's file:line.

    With chained exceptions the last traceback is the one that was raised. Files inside the
    project are shown relative to it, installed packages from their package folder.
    """
    lines = (exc_info or "").splitlines()
    last_frame = None
    for index, line in enumerate(lines):
        if _FRAME.match(line):
            last_frame = index
    if last_frame is None:
        return _exception_type(lines), "?"
    match = cast("re.Match[str]", _FRAME.match(lines[last_frame]))  # it matched above
    place = f"{_short_file(match.group('file'))}:{match.group('line')}"
    return _exception_type(lines[last_frame + 1 :]), place


def _exception_type(lines: list[str]) -> str:
    for line in lines:
        if line and not line[0].isspace():
            name = line.split(":", 1)[0].strip()
            if re.match(r"^[A-Za-z_][\w.]*$", name):
                return name
    return "?"


def _short_file(path: str) -> str:
    base = f"{settings.BASE_DIR}/"
    if path.startswith(base):
        return path[len(base) :]
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


# --- slow queries (db.log) --------------------------------------------------------------------

_SQL_STRING = re.compile(r"'(?:[^']|'')*'")
_SQL_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
_SQL_IN_LIST = re.compile(r"\(\s*(?:\?|%s)(?:\s*,\s*(?:\?|%s))*\s*\)")
_SPACES = re.compile(r"\s+")


def normalize_sql(sql: str) -> str:
    """A statement with its literals replaced by ?, so the same query with other values groups."""
    text = _SQL_STRING.sub("?", sql or "")
    text = _SQL_NUMBER.sub("?", text)
    text = _SQL_IN_LIST.sub("(...)", text)
    return _SPACES.sub(" ", text).strip()
