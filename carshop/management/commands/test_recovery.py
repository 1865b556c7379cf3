from django.core.management.base import CommandError

from carshop.ops.backups import destination as destinations
from carshop.ops.backups import pgbackrest, recovery, service
from carshop.ops.toolkit import OperationsCommand, operator_errors


class Command(OperationsCommand):
    help = (
        "Recovery drill: restore the newest backup chain into a scratch database (never the "
        "live one), then compare every table's row count and checksum with the manifest. The "
        "scratch database is kept for validate_restoration and replaced by the next drill. "
        "Records the restore time (RTO) and the backup's age (RPO) for "
        "record_recovery_metrics. Exits non-zero if the restored data differs, or if the drill "
        "could not restore (then record_recovery_metrics records it as failed).\n"
        "--target: scratch (default: BACKUP_SCRATCH_DATABASE, else <database>_recovery) or a "
        "database URL of another server. With BACKUP_ENGINE=pgbackrest the drill restores the "
        "backup and every archived WAL segment into a copy beside the data directory, replays "
        "it on a private server (BACKUP_PGBACKREST_SCRATCH_PORT) and reads every table; the "
        "RPO is then the age of the newest archived transaction.\n\n"
        "Example: python manage.py test_recovery --target=scratch"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--target", default="scratch", help="scratch (default) or a URL")
        parser.add_argument(
            "--source", default="latest", help="the backup to restore (default: latest)"
        )
        parser.add_argument(
            "--destination", metavar="DIR", help="where 'latest' is looked up (default: BACKUP_DIR)"
        )

    def handle(self, *args, **options):
        try:
            with operator_errors():
                if pgbackrest.selected():
                    drill = pgbackrest.test_recovery(options["source"], progress=self.progress)
                else:
                    drill = service.test_recovery(
                        options["target"],
                        options["source"],
                        destinations.destination_for(options["destination"]),
                        progress=self.progress,
                    )
        except CommandError as exc:
            # No restore, no comparison: record_recovery_metrics must see a failed drill, not
            # the last one that worked.
            recovery.record_failure(options["source"], options["target"], str(exc))
            raise
        self._report(options, drill)

    def _report(self, options, drill):
        lines = [
            f"restored {drill['source']} into {drill['target']} in "
            f"{drill['restore_seconds']:.1f}s (backup age {drill['backup_age_seconds']:.0f}s)",
            f"  {drill['tables']} tables, {drill['rows']} rows: "
            + (
                "identical to the manifest"
                if not drill["mismatches"]
                else f"{len(drill['mismatches'])} tables DIFFER"
            ),
        ]
        lines += [
            f"  {m['table']}: expected {m['expected']}, found {m['found']}"
            for m in drill["mismatches"]
        ]
        if drill.get("capture_bypassed"):
            lines.append(
                f"  WARNING: the live database is not what its backups say: "
                f"{drill['capture_bypassed']}; the next backup will be full"
            )
        self.emit(options, drill, lines)
        if drill["mismatches"]:
            raise CommandError(
                f"recovery drill failed: {len(drill['mismatches'])} tables differ from the backup"
            )
        if drill.get("capture_bypassed"):
            raise CommandError(
                "recovery drill failed: the backups miss changes made to the live "
                f"database ({drill['capture_bypassed']}); the next backup will be "
                "full"
            )
