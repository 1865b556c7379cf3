from carshop.ops.backups import destination as destinations
from carshop.ops.backups import pgbackrest, retention
from carshop.ops.toolkit import OperationsCommand, human_size, operator_errors


class Command(OperationsCommand):
    help = (
        "Delete backups the retention policy no longer keeps, across the whole backup folder: "
        "BACKUP_DIR itself (pre-update and safety backups) and the per-run folders of the "
        "scheduled backups (daily/YYYYMMDD, weekly/YYYYMMDD, monthly/YYYYMM), judged together. "
        "Kept: the newest restore point of each of the last BACKUP_KEEP_DAILY days, "
        "BACKUP_KEEP_WEEKLY weeks and BACKUP_KEEP_MONTHLY months; the newest chain (full backup "
        "and its incrementals) and the chain the database continues; the newest pre-update and "
        "safety backups; and every backup a kept incremental needs, in whichever folder it is. "
        "Also removes per-run folders left empty and leftovers of interrupted backups older than "
        "a day. With BACKUP_ENGINE=pgbackrest: `pgbackrest expire`, by the repository's "
        "retention settings (repo1-retention-full and the like in pgbackrest.conf).\n\n"
        "Examples:\n"
        "  python manage.py prune_backups --dry-run\n"
        "  python manage.py prune_backups --destination=/backup"
    )
    changes_data = True
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--destination",
            metavar="DIR",
            help="backup folder to prune, with its daily/, weekly/ and monthly/ "
            "folders (default: BACKUP_DIR)",
        )

    def handle(self, *args, **options):
        with operator_errors():
            if pgbackrest.selected():
                result = pgbackrest.prune(dry_run=options["dry_run"])
            else:
                result = retention.prune(
                    destinations.destination_for(options["destination"]),
                    dry_run=options["dry_run"],
                )
        verb = "would delete" if options["dry_run"] else "deleted"
        lines = [
            f"{result['destination']} ({len(result['folders'])} folders): {verb} "
            f"{len(result['deleted'])} backups ({human_size(result['freed_bytes'])}), "
            f"kept {len(result['kept'])}"
        ]
        lines += [f"  {verb} {d['id']} ({d['location']})" for d in result["deleted"]]
        lines += [f"  kept {k['id']}: {k['reason']}" for k in result["kept"]]
        self.emit(options, result, lines)
