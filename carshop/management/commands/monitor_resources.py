from carshop.ops.monitoring.resources import monitor_resources
from carshop.ops.toolkit import OperationsCommand, emit_report


class Command(OperationsCommand):
    help = (
        "CPU, memory and the disks of VAR_DIR, LOG_DIR and BACKUP_DIR against the MONITOR_* "
        "thresholds of the settings (WARN, FAIL), and the database's size. A disk below "
        "HEALTH_MIN_FREE_DISK_MB fails. Exits non-zero on any FAIL.\n\n"
        "Example: python manage.py monitor_resources --format json"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--cpu-interval",
            type=float,
            default=1.0,
            help="seconds over which CPU use is measured (default 1)",
        )

    def handle(self, *args, **options):
        emit_report(self, options, monitor_resources(options["cpu_interval"]))
