from django.utils import timezone

from carshop.ops.database.connections import connection_for
from carshop.ops.database.queries import running_queries, slow_queries
from carshop.ops.logs.reading import add_log_arguments, parse_period, resolve_log_dir
from carshop.ops.toolkit import OperationsCommand


def add_query_arguments(parser):
    parser.add_argument(
        "--threshold",
        type=float,
        default=1.0,
        help="seconds: queries at least this slow are reported (default 1.0)",
    )
    add_log_arguments(parser, "24h")
    parser.add_argument(
        "--top", type=int, default=10, help="slowest statements shown per source (default 10)"
    )
    parser.add_argument(
        "--database", default="default", help="database alias of DATABASES (default: default)"
    )


def gather(command, options):
    """(connection, slow_queries report, LogReader) for the command's options."""
    connection = connection_for(options["database"])
    period = parse_period(options["period"])
    log_dir = resolve_log_dir(options.get("log_dir"))
    now = timezone.now()
    report, reader = slow_queries(
        connection,
        threshold_seconds=options["threshold"],
        since=now - period,
        until=now,
        log_dir=log_dir,
        top=options["top"],
        progress=command.progress,
    )
    return connection, report, reader


def _ms(value):
    return "-" if value is None else f"{value:.1f}"


class Command(OperationsCommand):
    help = (
        "Slow queries: from pg_stat_statements where the extension is installed and readable "
        "(statements whose mean or max time reaches --threshold; how to enable it otherwise), "
        "and from the slow-query log db.log over --period, grouped by statement with the "
        "literals replaced. --running: queries running now for --threshold or longer "
        "(pg_stat_activity; PostgreSQL only). optimize_queries explains them.\n\n"
        "Example: python manage.py analyze_queries --threshold=1.0 --period=24h"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        add_query_arguments(parser)
        parser.add_argument(
            "--running", action="store_true", help="queries running now instead (PostgreSQL)"
        )

    def handle(self, *args, **options):
        if options["running"]:
            return self.running(options)
        _connection, report, reader = gather(self, options)
        report["db_log"]["statements"] = report["db_log"]["statements"][: options["top"]]
        threshold = options["threshold"]
        lines = [
            f"queries of {threshold:g} s or more since "
            f"{timezone.localtime(report['since']):%Y-%m-%d %H:%M}:"
        ]
        stats = report["pg_stat_statements"]
        if stats["available"]:
            lines.append(f"pg_stat_statements: {stats['note']}")
            if stats["statements"]:
                lines.append(f"  {'calls':>7} {'mean ms':>10} {'max ms':>10}  statement")
            for row in stats["statements"]:
                lines.append(
                    f"  {row['count']:>7} {_ms(row['mean_ms']):>10} "
                    f"{_ms(row['max_ms']):>10}  {row['sql'][:120]}"
                )
        else:
            lines.append(f"pg_stat_statements: not used: {stats['note']}")
        log = report["db_log"]
        lines.append(f"db.log: {log['count']} slow queries, {log['total_statements']} statements")
        if log["statements"]:
            lines.append(f"  {'count':>7} {'mean ms':>10} {'max ms':>10}  statement")
        for row in log["statements"]:
            lines.append(
                f"  {row['count']:>7} {_ms(row['mean_ms']):>10} "
                f"{_ms(row['max_ms']):>10}  {row['sql'][:120]}"
            )
        lines.append(reader.summary_line())
        self.emit(options, report, lines)

    def running(self, options):
        if options["threshold"] <= 0:
            from django.core.management.base import CommandError

            raise CommandError(
                f"--threshold must be more than 0 seconds, got {options['threshold']:g}"
            )
        connection = connection_for(options["database"])
        rows = running_queries(connection, options["threshold"])
        lines = [f"queries running for {options['threshold']:g} s or more: {len(rows)}"]
        for row in rows:
            waiting = f" waiting {row['waiting']}" if row["waiting"] else ""
            lines.append(
                f"  pid {row['pid']} {row['user']}@{row['database']} "
                f"{row['seconds']} s{waiting}: {row['query'][:120]}"
            )
        self.emit(options, {"threshold_seconds": options["threshold"], "running": rows}, lines)
