from collections import defaultdict

from django.core.management.base import CommandError
from django.utils import timezone

from carshop.ops.logs.reading import (
    LogReader,
    add_log_arguments,
    endpoint_table,
    latency_summary,
    normalize_sql,
    reader_for,
    request_statistics,
)
from carshop.ops.toolkit import OperationsCommand


def slow_query_statistics(entries):
    """Slow queries of db.log: count, latency, and the statements most often slow."""
    durations = []
    statements = defaultdict(list)
    for entry in entries:
        duration = entry.get("duration_ms")
        if not isinstance(duration, (int, float)):
            continue
        durations.append(float(duration))
        statements[normalize_sql(entry.get("sql", ""))].append(float(duration))
    top = sorted(
        ({"sql": sql, **latency_summary(values)} for sql, values in statements.items()),
        key=lambda row: (-row["count"], -row["max_ms"]),
    )
    return {"count": len(durations), "latency": latency_summary(durations), "statements": top}


class Command(OperationsCommand):
    help = (
        "Response times over a period from access.log: overall p50/p95/p99, the slowest "
        "endpoints by p95, requests slower than --slow-ms; and slow queries from db.log (those "
        "over SLOW_QUERY_MS) with the statements most often slow. Rotated copies are read too.\n\n"
        "Example: python manage.py monitor_performance --period=1h --slow-ms 500"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        add_log_arguments(parser, "24h")
        parser.add_argument(
            "--top",
            type=int,
            default=10,
            help="slowest endpoints and statements shown (default 10)",
        )
        parser.add_argument(
            "--slow-ms",
            type=float,
            default=1000,
            help="a request slower than this is counted as slow (default 1000)",
        )

    def handle(self, *args, **options):
        if options["top"] < 1:
            raise CommandError(f"--top must be 1 or more, got {options['top']}")
        if options["slow_ms"] <= 0:
            raise CommandError(f"--slow-ms must be more than 0, got {options['slow_ms']}")
        access, since = reader_for("access.log", options)
        slow_requests = 0

        def counted(entries):
            nonlocal slow_requests
            for entry in entries:
                duration = entry.get("duration_ms")
                if isinstance(duration, (int, float)) and duration > options["slow_ms"]:
                    slow_requests += 1
                yield entry

        stats = request_statistics(counted(self.progress(access, label="reading access.log")))
        slowest = sorted(
            stats["endpoints"], key=lambda row: (-(row["p95_ms"] or 0), row["endpoint"])
        )[: options["top"]]
        db = LogReader("db.log", since=access.since, until=access.until, log_dir=access.log_dir)
        queries = slow_query_statistics(self.progress(db, label="reading db.log"))
        statements = queries["statements"][: options["top"]]

        latency = stats["latency"]
        lines = [f"since {timezone.localtime(since):%Y-%m-%d %H:%M}: {stats['requests']} requests"]
        if stats["requests"]:
            lines.append(
                f"response time: p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms, "
                f"p99 {latency['p99_ms']} ms, max {latency['max_ms']} ms"
            )
            lines.append(f"slower than {options['slow_ms']:g} ms: {slow_requests} requests")
            lines.append("slowest endpoints (by p95):")
            lines.extend(endpoint_table(slowest))
        lines.append(f"slow queries (db.log): {queries['count']}")
        for row in statements:
            lines.append(f"  {row['count']:>5} x  max {row['max_ms']} ms  {row['sql'][:100]}")
        lines.append(access.summary_line())
        lines.append(db.summary_line())
        self.emit(
            options,
            {
                "since": since,
                "requests": stats["requests"],
                "latency": latency,
                "slow_ms": options["slow_ms"],
                "slow_requests": slow_requests,
                "slowest_endpoints": slowest,
                "slow_queries": {
                    "count": queries["count"],
                    "latency": queries["latency"],
                    "statements": statements,
                },
                "access_log": access.summary(),
                "db_log": db.summary(),
            },
            lines,
        )
