from django.core.management.base import CommandError
from django.utils import timezone

from carshop.ops.cleanup.deletion import outcome_lines
from carshop.ops.cleanup.temp_data import prune_temp_data
from carshop.ops.toolkit import OperationsCommand, parse_duration


class Command(OperationsCommand):
    help = (
        "Delete temporary data older than --age: expired sessions (any age), webhook events "
        "whose deliveries all finished (with their deliveries), API Idempotency-Keys (never "
        "before IDEMPOTENCY_KEY_HOURS), finished background task results, django-axes login "
        "records (failed-login counters never inside the lockout cool-off), stale draft deals "
        "(draft, untouched for the age, with no payment, commission or trade-in; each deletion "
        "is in the audit log), and leftover temporary upload and backup staging files. Repair "
        "orders are never deleted: stale estimates are only counted, to be canceled in the "
        "admin. Money, invoices, payments and the audit log are never touched.\n\n"
        "Example: python manage.py prune_temp_data --age=30d --dry-run"
    )
    report_command = True
    changes_data = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--age",
            default="30d",
            help="delete what is older than this: 30d, 24h, 90m (default 30d)",
        )

    def handle(self, *args, **options):
        try:
            age = parse_duration(options["age"])
        except CommandError as exc:
            raise CommandError(f"--age: {exc}") from None
        report = prune_temp_data(age, dry_run=options["dry_run"], progress=self.progress)
        report["age"] = options["age"]
        cutoff = timezone.localtime(report["cutoff"])
        self.emit(
            options,
            report,
            [
                f"temporary data older than {options['age']} (before {cutoff:%Y-%m-%d %H:%M}):",
                *outcome_lines(report),
            ],
        )
