from django.core.management.base import CommandError

from carshop.management.commands.analyze_queries import add_query_arguments, gather
from carshop.ops.database.queries import optimize_queries
from carshop.ops.toolkit import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Explain the slowest queries analyze_queries finds (pg_stat_statements and db.log) "
        "and suggest what would help: an index for a sequential scan of a large table filtered "
        "on a column, an index for a sort, a nested loop over many rows, stale statistics. "
        "Plain EXPLAIN of SELECT statements only (nothing is executed, other statements are "
        "skipped). db.log statements are planned with the parameter values logged with them "
        "(secrets masked), on any PostgreSQL; statements whose values are unknown ($1 in "
        "pg_stat_statements) get a generic plan on PostgreSQL 16+ (EXPLAIN (GENERIC_PLAN)) and "
        "NULLs on SQLite, and are skipped with a note on older PostgreSQL. Changes nothing: "
        "suggested indexes are for review.\n\n"
        "Example: python manage.py optimize_queries --threshold=0.5 --top 5"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        add_query_arguments(parser)
        parser.add_argument(
            "--min-rows",
            type=int,
            default=10000,
            help="tables smaller than this are not worth an index (default 10000)",
        )

    def handle(self, *args, **options):
        if options["min_rows"] < 0:
            raise CommandError(f"--min-rows must be 0 or more, got {options['min_rows']}")
        connection, report, reader = gather(self, options)
        results = optimize_queries(
            connection, report, min_rows=options["min_rows"], progress=self.progress
        )[: options["top"]]
        lines = [f"{len(results)} slow statements of {options['threshold']:g} s or more"]
        if not report["pg_stat_statements"]["available"]:
            lines.append(f"pg_stat_statements: not used: {report['pg_stat_statements']['note']}")
        for number, row in enumerate(results, start=1):
            lines.append(
                f"{number}. [{row['source']}] {row['count']} x, max {row['max_ms']} ms: "
                f"{row['sql'][:160]}"
            )
            if row["status"] == "skipped":
                lines.append(f"   not explained: {row['note']}")
                continue
            if row["note"]:
                lines.append(f"   ({row['note']})")
            lines.extend(f"   plan: {line}" for line in row["plan"][:12])
            if not row["suggestions"]:
                lines.append("   no suggestion: the plan uses indexes where it filters")
            for suggestion in row["suggestions"]:
                lines.append(f"   suggest ({suggestion['kind']}): {suggestion['detail']}")
                if suggestion.get("sql"):
                    lines.append(f"     {suggestion['sql']}")
        lines.append(reader.summary_line())
        self.emit(
            options,
            {
                "threshold_seconds": options["threshold"],
                "since": report["since"],
                "pg_stat_statements": {
                    key: value
                    for key, value in report["pg_stat_statements"].items()
                    if key != "statements"
                },
                "db_log": {
                    key: value for key, value in report["db_log"].items() if key != "statements"
                },
                "statements": results,
            },
            lines,
        )
