from django.core.management.base import CommandError
from django.utils import timezone

from carshop.ops.cleanup.audit_archive import ARCHIVE_TYPES, archive_audit_log
from carshop.ops.toolkit import OperationsCommand, human_size, parse_duration


class Command(OperationsCommand):
    help = (
        "Move audit log entries older than --age out of the database into DIR: one gzip file "
        "of JSON lines (every column of each entry), a .sha256 sidecar (sha256sum -c checks it) "
        "and a .manifest.json (entries, id and time range, checksum). The file is written, "
        "fsynced, read back and compared before any entry is deleted, all in one transaction: "
        "on any failure the database keeps every entry and no file is left. The run leaves one "
        "audit entry naming the archive. Application log files are rotated by logrotate, not "
        "here.\n\n"
        "Example: python manage.py archive_logs --type=audit --age=90d "
        "--destination=/archive/audit/"
    )
    report_command = True
    changes_data = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--type", default="audit", help="what to archive: audit (the only type; the default)"
        )
        parser.add_argument(
            "--age", default="90d", help="archive entries older than this: 90d, 24h (default 90d)"
        )
        parser.add_argument(
            "--destination",
            metavar="DIR",
            required=True,
            help="folder for the archive files (made if missing)",
        )

    def handle(self, *args, **options):
        if options["type"] not in ARCHIVE_TYPES:
            raise CommandError(
                f"--type {options['type']!r}: only audit can be archived "
                "(log files are rotated and compressed by logrotate)"
            )
        try:
            age = parse_duration(options["age"])
        except CommandError as exc:
            raise CommandError(f"--age: {exc}") from None
        result = archive_audit_log(
            age, options["destination"], dry_run=options["dry_run"], progress=self.progress
        )
        result["age"] = options["age"]
        cutoff = timezone.localtime(result["cutoff"])
        if options["dry_run"]:
            lines = [
                f"{result['entries']} audit entries older than {options['age']} (before "
                f"{cutoff:%Y-%m-%d %H:%M}) would be archived to {result['destination']}; "
                "dry run, nothing changed"
            ]
        elif not result["entries"]:
            lines = [
                f"no audit entries older than {options['age']} (before "
                f"{cutoff:%Y-%m-%d %H:%M}); nothing archived"
            ]
        else:
            lines = [
                f"archived {result['entries']} audit entries (ids {result['first_id']}-"
                f"{result['last_id']}, {result['first_timestamp'][:10]} to "
                f"{result['last_timestamp'][:10]}) to {result['file']} "
                f"({human_size(result['bytes'])})",
                f"sha256 {result['sha256']} (verified; {result['checksum_file']})",
                f"{result['entries']} entries deleted from the database",
            ]
        self.emit(options, result, lines)
