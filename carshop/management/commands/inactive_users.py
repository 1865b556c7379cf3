from django.core.management.base import CommandError
from django.utils import timezone

from carshop.ops.toolkit import OperationsCommand
from carshop.ops.users.access import inactive_row, inactive_users


class Command(OperationsCommand):
    help = (
        "List active accounts with no login for the given number of days; an account that never "
        "logged in counts from the day it was made. Changes nothing: disable_users acts on the "
        "same list.\n\n"
        "Example: python manage.py inactive_users --days=90"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--days", type=int, default=90, help="days without a login (default 90)"
        )

    def handle(self, *args, **options):
        if options["days"] < 1:
            raise CommandError(f"--days must be 1 or more, got {options['days']}")
        now = timezone.now()
        rows = [inactive_row(user, now) for user in inactive_users(options["days"], now)]
        width = max([len(row["username"]) for row in rows] + [8])
        seen = [
            f"never (joined {timezone.localtime(row['date_joined']):%Y-%m-%d})"
            if row["never_logged_in"]
            else f"{timezone.localtime(row['last_login']):%Y-%m-%d %H:%M}"
            for row in rows
        ]
        seen_width = max([len(text) for text in seen] + [10])
        lines = [f"{'username':<{width}}  {'last login':<{seen_width}}  {'days':>5}  roles"]
        for row, last in zip(rows, seen, strict=True):
            roles = ", ".join(row["roles"]) or "-"
            if row["superuser"]:
                roles += " (superuser: disable_users keeps it unless --include-superusers)"
            lines.append(
                f"{row['username']:<{width}}  {last:<{seen_width}}  "
                f"{row['inactive_days']:>5}  {roles}"
            )
        lines.append(f"{len(rows)} active users without a login for {options['days']} days")
        self.emit(options, {"days": options["days"], "users": rows, "count": len(rows)}, lines)
