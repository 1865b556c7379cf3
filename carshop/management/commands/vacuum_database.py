from carshop.ops.database.connections import connection_for
from carshop.ops.database.vacuum import resolve_tables, vacuum
from carshop.ops.toolkit import OperationsCommand, human_size


def change(reclaimed):
    """'reclaimed 1.2 MB', or 'grew 32.0 KB' (a first VACUUM writes the free-space and
    visibility maps)."""
    if reclaimed < 0:
        return f"grew {human_size(-reclaimed)}"
    return f"reclaimed {human_size(reclaimed)}"


class Command(OperationsCommand):
    help = (
        "Reclaim space and refresh the planner's statistics. PostgreSQL: VACUUM (ANALYZE) of "
        "each table, outside any transaction, with its size (pg_total_relation_size) and dead "
        "rows before and after; --full rewrites the tables to give space back to the operating "
        "system (it locks each table while it runs). SQLite: VACUUM and ANALYZE of the whole "
        "file, with the file size before and after. --analyze-only refreshes statistics only.\n\n"
        "Example: python manage.py vacuum_database --tables=sessions,audit"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--analyze-only", action="store_true", help="ANALYZE only (statistics), no VACUUM"
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="PostgreSQL: VACUUM FULL (rewrites each table, locking it)",
        )
        parser.add_argument(
            "--tables",
            metavar="NAMES",
            help="comma-separated friendly names (sessions, audit, repairs, ...) "
            "or table names; default: every table",
        )
        parser.add_argument(
            "--database", default="default", help="database alias of DATABASES (default: default)"
        )

    def handle(self, *args, **options):
        connection = connection_for(options["database"])
        tables = None
        if options["tables"] is not None:
            tables = resolve_tables(options["tables"], connection)
        report = vacuum(
            connection,
            tables=tables,
            analyze_only=options["analyze_only"],
            full=options["full"],
            progress=self.progress,
        )
        lines = [f"{report['statement']} on {report['database']} {report['name']}:"]
        width = max([len(row["table"]) for row in report["tables"]] + [5])
        for row in report["tables"]:
            lines.append(
                f"  {row['table']:<{width}}  {human_size(row['bytes_before']):>9} -> "
                f"{human_size(row['bytes_after']):>9}  {change(row['reclaimed_bytes'])}"
            )
        what = (
            "database file"
            if report["database"] == "sqlite"
            else f"{len(report['tables'])} table{'s' if len(report['tables']) != 1 else ''}"
        )
        lines.append(
            f"{what}: {human_size(report['bytes_before'])} -> "
            f"{human_size(report['bytes_after'])}, {change(report['reclaimed_bytes'])}"
        )
        self.emit(options, report, lines)
