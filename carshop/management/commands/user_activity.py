from django.utils import timezone

from carshop.ops.logs.reading import add_log_arguments, reader_for
from carshop.ops.toolkit import OperationsCommand
from carshop.ops.users.access import get_user, has_activity, user_activity


class Command(OperationsCommand):
    help = (
        "Per user over a period: logins, failed logins, lockouts, logouts and password changes "
        "(from auth.log, rotated copies included) and the changes the user made (from the audit "
        "log). Names without an account that failed to log in are listed too.\n\n"
        "Example: python manage.py user_activity --period=30d"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        add_log_arguments(parser, "30d")
        parser.add_argument("--user", help="only this username")
        parser.add_argument(
            "--all",
            action="store_true",
            help="also list accounts without any activity in the period",
        )

    def handle(self, *args, **options):
        reader, since = reader_for("auth.log", options)
        if options["user"]:
            get_user(options["user"])
        entries = self.progress(reader, label="reading auth.log")
        rows = user_activity(entries, since, username=options["user"])
        if not options["all"]:
            rows = [row for row in rows if has_activity(row)]
        width = max([len(row["username"]) for row in rows] + [8])
        lines = [
            f"activity since {timezone.localtime(since):%Y-%m-%d %H:%M}",
            f"{'username':<{width}}  {'logins':>6}  {'failed':>6}  {'lockouts':>8}  "
            f"{'passwords':>9}  {'changes':>7}  last login",
        ]
        for row in rows:
            last = row["last_login_in_period"]
            note = "" if row["account"] else "  (no such account)"
            if row["account"] and not row["active"]:
                note = "  (disabled)"
            last_text = f"{timezone.localtime(last):%Y-%m-%d %H:%M}" if last else "-"
            lines.append(
                f"{row['username']:<{width}}  {row['logins']:>6}  {row['failed_logins']:>6}  "
                f"{row['lockouts']:>8}  {row['password_changes']:>9}  {row['changes']:>7}  "
                f"{last_text}{note}"
            )
        lines.append(reader.summary_line())
        self.emit(options, {"since": since, "users": rows, "auth_log": reader.summary()}, lines)
