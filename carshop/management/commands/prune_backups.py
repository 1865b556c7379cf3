from carshop.backups import destination as destinations
from carshop.backups import service
from carshop.backups.cli import human_size, operator_errors
from carshop.commands import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Delete backups the retention policy no longer keeps. Kept: the newest restore point of "
        "each of the last BACKUP_KEEP_DAILY days, BACKUP_KEEP_WEEKLY weeks and "
        "BACKUP_KEEP_MONTHLY months; the newest chain (full backup and its incrementals) and the "
        "chain the database continues; the newest pre-update and safety backups; and every "
        "backup a kept incremental needs. Also removes leftovers of interrupted backups older "
        "than a day.\n\n"
        "Example: python manage.py prune_backups --dry-run"
    )
    changes_data = True
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--destination", metavar="DIR",
                            help="folder to prune (default: BACKUP_DIR)")

    def handle(self, *args, **options):
        with operator_errors():
            result = service.prune(destinations.destination_for(options["destination"]),
                                   dry_run=options["dry_run"])
        verb = "would delete" if options["dry_run"] else "deleted"
        lines = [f"{result['destination']}: {verb} {len(result['deleted'])} backups "
                 f"({human_size(result['freed_bytes'])}), kept {len(result['kept'])}"]
        lines += [f"  {verb} {d['id']}" for d in result["deleted"]]
        lines += [f"  kept {k['id']}: {k['reason']}" for k in result["kept"]]
        self.emit(options, result, lines)
