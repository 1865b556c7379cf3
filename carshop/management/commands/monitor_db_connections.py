from carshop.ops.database.connections import connection_usage
from carshop.ops.toolkit import OperationsCommand, emit_report


class Command(OperationsCommand):
    help = (
        "PostgreSQL: connections by state (pg_stat_activity) against max_connections, by "
        "database, and the longest-running queries and transactions; WARN/FAIL at the "
        "MONITOR_DB_CONNECTIONS_* thresholds, WARN for transactions idle for 5 minutes. "
        "SQLite: what applies instead (file and WAL size, journal mode, busy timeout).\n\n"
        "Example: python manage.py monitor_db_connections --limit 10"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--limit", type=int, default=5, help="longest-running connections shown (default 5)"
        )
        parser.add_argument(
            "--database", default="default", help="database alias of DATABASES (default: default)"
        )

    def handle(self, *args, **options):
        report = connection_usage(options["database"], options["limit"])
        extra = []
        for row in report.data.get("longest_running", []):
            extra.append(
                f"  pid {row['pid']} {row['user']}@{row['database']} {row['state']} "
                f"{row['seconds']} s: {row['query'][:100]}"
            )
        if extra:
            extra.insert(0, "longest running:")
        emit_report(self, options, report, extra)
