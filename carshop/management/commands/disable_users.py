from django.core.management.base import CommandError
from django.utils import timezone

from carshop.ops.toolkit import OperationsCommand
from carshop.ops.users.access import disable_inactive_users, last_seen


class Command(OperationsCommand):
    help = (
        "Disable active accounts with no login for the given number of days (the list of "
        "inactive_users). Only is_active is changed: the account, its roles and its history "
        "stay, and an administrator can enable it again. Superusers are kept unless "
        "--include-superusers. Each change is in the audit log, credited to the operator "
        "(CARSHOP_OPERATOR).\n\n"
        "Example: python manage.py disable_users --inactive-days=90 --dry-run"
    )
    report_command = True
    changes_data = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--inactive-days", type=int, default=90, help="days without a login (default 90)"
        )
        parser.add_argument(
            "--include-superusers", action="store_true", help="also disable inactive superusers"
        )

    def handle(self, *args, **options):
        if options["inactive_days"] < 1:
            raise CommandError(f"--inactive-days must be 1 or more, got {options['inactive_days']}")
        dry_run = options["dry_run"]
        disabled, kept = disable_inactive_users(
            options["inactive_days"],
            include_superusers=options["include_superusers"],
            dry_run=dry_run,
        )
        verb = "would disable" if dry_run else "disabled"
        lines = []
        for user in disabled:
            seen = "never logged in, joined" if user.last_login is None else "last login"
            lines.append(
                f"{verb} {user.username} ({seen} {timezone.localtime(last_seen(user)):%Y-%m-%d})"
            )
        for user in kept:
            lines.append(f"kept superuser {user.username} (use --include-superusers)")
        if dry_run:
            lines.append(f"{len(disabled)} users would be disabled; dry run, nothing changed")
        else:
            lines.append(f"{len(disabled)} users disabled")
        self.emit(
            options,
            {
                "dry_run": dry_run,
                "inactive_days": options["inactive_days"],
                "disabled": [user.username for user in disabled],
                "kept_superusers": [user.username for user in kept],
            },
            lines,
        )
