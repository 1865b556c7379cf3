from carshop.backups import service
from carshop.backups.cli import operator_errors
from carshop.commands import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Record the last recovery drill's figures in the backup status file "
        "(BACKUP_STATUS_FILE), where the health check and reports read them: RTO, how long the "
        "restore took; RPO, how old the restored backup was; whether it validated; and how old "
        "the newest backup is now.\n\n"
        "Example: python manage.py record_recovery_metrics --format json"
    )
    report_command = True

    def handle(self, *args, **options):
        with operator_errors():
            entry = service.record_recovery_metrics()
        lines = [
            f"recorded drill of {entry['drill_at']}: RTO {entry['rto_seconds']:.1f}s, "
            f"RPO {entry['rpo_seconds']:.0f}s, "
            + ("validated" if entry["validated"] else "NOT validated"),
        ]
        if entry["last_backup_age_seconds"] is not None:
            lines.append(f"  newest backup is {entry['last_backup_age_seconds']:.0f}s old")
        self.emit(options, entry, lines)
