import datetime

from django.core.management.base import CommandError

from carshop.ops.toolkit import OperationsCommand
from reports import summaries


class Command(OperationsCommand):
    help = (
        "Count the shop's daily report summaries again from the records (invoices, credit notes, "
        "lines, clocked time, customers' decisions) and store them, in one transaction. By "
        f"default the {summaries.REFRESH_DAYS} days before yesterday and yesterday, or every day "
        "since the last refresh when that is further back, or every day when there is no summary "
        "yet. Today is never stored: the report pages count it from the records. Scheduled "
        "daily (deploy/systemd/carapp-report-summaries.timer); run it after correcting records "
        "of older days outside the services (--since); days the services changed are counted from "
        "the records until then, and counted again by the next run.\n\n"
        "Example: python manage.py refresh_report_summaries --since=2026-01-01"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--since", help="count again every day from this date (YYYY-MM-DD) to yesterday"
        )
        which.add_argument(
            "--all", action="store_true", help="count every day again, from the first record"
        )

    def handle(self, *args, **options):
        if options["all"]:
            first = None
        elif options["since"]:
            try:
                first = datetime.date.fromisoformat(options["since"])
            except ValueError:
                raise CommandError(
                    f"--since: {options['since']!r} is not a date (YYYY-MM-DD)"
                ) from None
        else:
            first = summaries.scheduled_first()
        # Older days whose records changed since they were summarized (marked by the services).
        stale = summaries.refresh_stale(first) if first else 0
        stored = summaries.refresh(first)
        current = summaries.state()
        report = {
            "days_with_figures": stored,
            "changed_days_counted_again": stale,
            "first": first,
            "through": current.through,
            "refreshed_at": current.refreshed_at,
        }
        self.emit(
            options,
            report,
            [
                f"report summaries: {stored} day(s) with figures stored, "
                f"from {first.isoformat() if first else 'the first record'}; "
                f"complete through {current.through.isoformat() if current.through else '-'}; "
                f"{stale} older changed day(s) counted again",
            ],
        )
