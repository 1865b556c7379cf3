from django.core.management.base import CommandError

from carshop.ops.backups import destination as destinations
from carshop.ops.backups import pgbackrest, service
from carshop.ops.toolkit import OperationsCommand, operator_errors


class Command(OperationsCommand):
    help = (
        "Compare a restored database with a backup's manifest: the same tables, and in each the "
        "same row count and checksum. By default the scratch database of the last test_recovery "
        "against the backup it restored. Exits non-zero on any difference.\n\n"
        "Example: python manage.py validate_restoration --format json"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--target", default="scratch", help="scratch (default) or a URL")
        parser.add_argument(
            "--source", help="the backup to compare with (default: the one the last drill restored)"
        )
        parser.add_argument(
            "--destination", metavar="DIR", help="where backups are looked up (default: BACKUP_DIR)"
        )

    def handle(self, *args, **options):
        with operator_errors():
            if pgbackrest.selected():
                result = pgbackrest.validate_restoration()
            else:
                result = service.validate_restoration(
                    options["target"],
                    options["source"],
                    destinations.destination_for(options["destination"]),
                )
        lines = [
            f"{result['target']} against {result['source']}: "
            + (
                f"all {result['tables']} tables identical"
                if result["validated"]
                else f"{len(result['mismatches'])} tables DIFFER"
            )
        ]
        lines += [
            f"  {m['table']}: expected {m['expected']}, found {m['found']}"
            for m in result["mismatches"]
        ]
        self.emit(options, result, lines)
        if not result["validated"]:
            raise CommandError(
                f"restoration differs from the backup in {len(result['mismatches'])} tables"
            )
