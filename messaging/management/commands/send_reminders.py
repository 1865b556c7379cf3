from django.utils import timezone

from carshop.ops.toolkit import OperationsCommand
from messaging import reminders, services


class Command(OperationsCommand):
    help = (
        "Send the reminders and follow-ups the shop's rules call for today (Messaging > "
        "Reminder rules): service due by date or by estimated mileage, declined work after N "
        "days, appointments tomorrow. Only to customers who agreed to reminders and did not opt "
        "out. Safe to run twice: each message has a key (rule, target, due date) and is never "
        "sent twice. Also queues messages whose retry is due and marks messages interrupted "
        "while sending as failed. --dry-run lists what would be sent and sends nothing.\n\n"
        "Example: python manage.py send_reminders --dry-run"
    )
    report_command = True
    changes_data = True

    def handle(self, *args, **options):
        today = timezone.localdate()
        dry_run = options["dry_run"]
        swept = {"interrupted": 0, "queued": 0} if dry_run else services.requeue_due()
        planned = reminders.run(today, dry_run=dry_run)
        rows = [
            {
                "rule": item.rule.name,
                "customer": str(item.customer),
                "channel": item.rule.channel,
                "about": item.about,
                "due": item.due,
                "outcome": item.outcome,
            }
            for item in planned
        ]
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["outcome"].split(":")[0]] = counts.get(row["outcome"].split(":")[0], 0) + 1
        lines = [
            f"{row['outcome']}: {row['rule']} to {row['customer']} by {row['channel']} "
            f"({row['about']}, due {row['due']})"
            for row in rows
        ]
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
        lines.append(
            f"{'dry run, nothing sent: ' if dry_run else ''}{len(rows)} reminder(s) due"
            + (f" ({summary})" if summary else "")
            + (f"; {swept['queued']} retries queued" if swept["queued"] else "")
            + (
                f"; {swept['interrupted']} interrupted marked failed"
                if swept["interrupted"]
                else ""
            )
        )
        self.emit(options, {"dry_run": dry_run, "reminders": rows, **swept}, lines)
