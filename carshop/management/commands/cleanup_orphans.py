from carshop.ops.cleanup.deletion import outcome_lines
from carshop.ops.cleanup.orphans import ORPHAN_FILE_GRACE, cleanup_orphans
from carshop.ops.toolkit import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Delete rows and files whose parent is gone where no foreign key keeps them "
        "consistent: files in the upload folders of the file fields (stock unit photos, cost "
        "receipts) that no row names and that are older than "
        f"{ORPHAN_FILE_GRACE.days} day (a file is saved before its row commits); live sessions "
        "of deleted users; queued webhook tasks of deleted deliveries. Partner service accounts "
        "whose partner is gone are only counted (the audit log credits them). Audit log entries "
        "of deleted objects are NOT orphans: they are the history of those objects and are "
        "kept; use archive_logs to move old entries out of the database.\n\n"
        "Example: python manage.py cleanup_orphans --dry-run"
    )
    report_command = True
    changes_data = True

    def handle(self, *args, **options):
        report = cleanup_orphans(dry_run=options["dry_run"], progress=self.progress)
        self.emit(options, report, ["orphaned rows and files:", *outcome_lines(report)])
