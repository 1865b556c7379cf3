from carshop.ops.database.connections import check_connection
from carshop.ops.toolkit import OperationsCommand, emit_report


class Command(OperationsCommand):
    help = (
        "Open a new connection to the database and report: time to connect, latency over a "
        "number of SELECT 1 round trips, server version, database size and unapplied "
        "migrations. Exits non-zero when the database cannot be reached.\n\n"
        "Example: python manage.py check_db_connection --round-trips 20"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--round-trips", type=int, default=5, help="SELECT 1 queries timed (default 5)"
        )
        parser.add_argument(
            "--database", default="default", help="database alias of DATABASES (default: default)"
        )

    def handle(self, *args, **options):
        emit_report(self, options, check_connection(options["database"], options["round_trips"]))
