import os
import sys

from django.core.management.base import CommandError

from carshop.ops.backups import destination as destinations
from carshop.ops.backups import pgbackrest, service
from carshop.ops.toolkit import OperationsCommand, operator_errors


class Command(OperationsCommand):
    help = (
        "Restore the database from a backup and the incremental backups before it, "
        "all-or-nothing.\n"
        "First every file of the chain is checked against its manifest (size and SHA-256); a "
        "backup of another engine, or with migrations this code does not know, is refused. Then "
        "a safety backup of the current database is taken, and the chain is restored: on "
        "PostgreSQL in one transaction, on SQLite into a file beside the live one that is "
        "checked and renamed into place. Killed or failing at any point, the database is either "
        "the old one or the restored one, never a mix. Stop the application first.\n"
        "--source: latest, latest-pre-update, a folder (its newest backup), FOLDER/latest, a "
        "manifest or a backup file. The guide's /backup/pre-update/latest, where no such folder "
        "exists, means latest-pre-update (of /backup if it exists, else of BACKUP_DIR).\n\n"
        "Examples:\n"
        "  python manage.py restore --source latest --dry-run\n"
        "  python manage.py restore --source latest-pre-update --yes   # deploy rollback\n"
        "  python manage.py restore --source /backup/weekly/20250105 --yes\n"
        "With BACKUP_ENGINE=pgbackrest: --source is latest (every archived change), "
        "latest-pre-update or a pgBackRest backup label, and --to restores the server to a "
        "moment; the restore is made and checked on a staged copy before the server is "
        "stopped and its data directory replaced (see docs/backups.md).\n"
        '  python manage.py restore --to "2026-12-05 14:03:00" --yes'
    )
    changes_data = True
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--source", metavar="PATH|latest", help="the backup to restore")
        parser.add_argument(
            "--to",
            metavar="TIME",
            help='pgBackRest engine: restore to this moment ("YYYY-MM-DD HH:MM:SS", local time)',
        )
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        parser.add_argument(
            "--destination", metavar="DIR", help="where 'latest' is looked up (default: BACKUP_DIR)"
        )
        parser.add_argument(
            "--safety-destination",
            metavar="DIR",
            help="where the safety backup goes (default: BACKUP_DIR)",
        )

    def handle(self, *args, **options):
        with operator_errors():
            if pgbackrest.selected():
                return self._pgbackrest(options)
        if options["to"]:
            raise CommandError("--to needs BACKUP_ENGINE=pgbackrest (WAL archiving)")
        if not options["source"]:
            raise CommandError("--source is required")
        options["source"], options["destination"] = guide_pre_update(
            options["source"], options["destination"]
        )
        with operator_errors():
            place = destinations.destination_for(options["destination"])
            safety = (
                destinations.LocalDestination(options["safety_destination"])
                if options["safety_destination"]
                else None
            )
            if not options["dry_run"] and not options["yes"]:
                target, chain = service.plan_restore(options["source"], place)
                self._confirm(target, chain)
            report = service.restore(
                options["source"],
                place,
                safety_destination=safety,
                dry_run=options["dry_run"],
                progress=self.progress,
            )
        chain = ", ".join(report["chain"])
        if options["dry_run"]:
            lines = [
                f"verified, nothing changed: {report['target']} would be restored from {chain}"
            ]
        else:
            lines = [f"restored {report['target']} from {chain} in {report['total_seconds']:.1f}s"]
            if report["safety_backup"]:
                lines.append(
                    f"  the previous database is in safety backup {report['safety_backup']}"
                )
        self.emit(options, report, lines)

    def _pgbackrest(self, options):
        source = options["source"] or "latest"
        if source.rstrip("/").endswith("pre-update/latest"):
            source = "latest-pre-update"
        if not options["dry_run"] and not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError(
                    "restore replaces the database: add --yes to confirm (no terminal to ask)"
                )
            what = f"the moment {options['to']}" if options["to"] else f"backup {source}"
            self.stdout.write(f"This replaces the PostgreSQL server's data with {what}.")
            if input("Type 'yes' to continue: ").strip().lower() != "yes":
                raise CommandError("restore canceled; nothing was changed")
        with operator_errors():
            report = pgbackrest.restore(
                source, options["to"], dry_run=options["dry_run"], progress=self.progress
            )
        if options["dry_run"]:
            lines = [
                f"verified, nothing changed: the server would be restored from "
                f"{report['source']} to {report['to']}"
            ]
        else:
            lines = [
                f"restored the server from {report['source']} to {report['to']} in "
                f"{report['total_seconds']:.1f}s"
                + (
                    f" (last transaction {report['recovered_to']})"
                    if report.get("recovered_to")
                    else ""
                )
            ]
            if report["safety_backup"]:
                lines.append(
                    f"  the previous state is in {report['safety_backup']} "
                    f"({report['safety_backup_destination']})"
                )
        self.emit(options, report, lines)

    def _confirm(self, target, chain):
        if not sys.stdin.isatty():
            raise CommandError(
                "restore replaces the database: add --yes to confirm (no terminal to ask)"
            )
        self.stdout.write(
            f"This replaces {target.label()} with backup {chain[-1][0]['id']} "
            f"({chain[-1][0]['created_at']})."
        )
        answer = input("Type 'yes' to continue: ")
        if answer.strip().lower() != "yes":
            raise CommandError("restore canceled; nothing was changed")


def guide_pre_update(source, destination):
    """MAINTENANCE-GUIDE.md's `restore --source=/backup/pre-update/latest`: pre-update backups
    are not kept in a folder of their own here (deploy.sh writes them to BACKUP_DIR), so when
    that folder does not exist it means the newest pre-update backup: `latest-pre-update`, looked
    up in /backup when that folder exists, else in BACKUP_DIR."""
    path = source.strip().rstrip("/")
    if not path.endswith("pre-update/latest") or os.path.exists(os.path.dirname(path)):
        return source, destination
    root = os.path.dirname(os.path.dirname(path))
    if destination is None and root and os.path.isdir(root):
        destination = root
    return "latest-pre-update", destination
