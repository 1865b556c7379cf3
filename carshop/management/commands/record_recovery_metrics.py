from django.core.management.base import CommandError

from carshop.ops.backups import recovery
from carshop.ops.toolkit import OperationsCommand, operator_errors


class Command(OperationsCommand):
    help = (
        "Record the last recovery drill's figures in the backup status file "
        "(BACKUP_STATUS_FILE), where the health check and reports read them: RTO, how long the "
        "restore took; RPO, how old the restored backup was; whether it validated; and how old "
        "the newest backup is now. A drill that failed (test_recovery exited non-zero) is "
        "recorded as not validated, with its error, and the command exits 1; a drill already "
        "recorded is not recorded again (exit 1: run test_recovery first).\n\n"
        "Example: python manage.py record_recovery_metrics --format json"
    )
    report_command = True

    def handle(self, *args, **options):
        with operator_errors():
            entry = recovery.record_recovery_metrics()
        if entry["rto_seconds"] is None:
            figures = "no RTO or RPO (the drill did not restore)"
        else:
            figures = f"RTO {entry['rto_seconds']:.1f}s, RPO {entry['rpo_seconds']:.0f}s"
        lines = [
            f"recorded drill of {entry['drill_at']}: {figures}, "
            + ("validated" if entry["validated"] else f"NOT validated: {entry['error']}")
        ]
        if entry["last_backup_age_seconds"] is not None:
            lines.append(f"  newest backup is {entry['last_backup_age_seconds']:.0f}s old")
        self.emit(options, entry, lines)
        if not entry["validated"]:
            raise CommandError(
                f"the recovery drill of {entry['drill_at']} failed: {entry['error']}"
            )
