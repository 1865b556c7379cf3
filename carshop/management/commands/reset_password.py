import getpass
import secrets
import string
import sys

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from carshop.ops.toolkit import OperationsCommand
from carshop.ops.users.access import get_user

GENERATED_LENGTH = 20
_ALPHABET = string.ascii_letters + string.digits


def generate_password(user):
    """A random password that passes the password rules (letters and digits, 20 characters)."""
    for _ in range(20):
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(GENERATED_LENGTH))
        try:
            password_validation.validate_password(candidate, user)
        except ValidationError:
            continue
        return candidate
    raise CommandError("could not generate a password that passes the password rules")


class Command(OperationsCommand):
    help = (
        "Set a user's password. On a terminal it asks twice; in scripts pass it on standard input "
        "(--password-stdin), or let the command make a random one (--generate, printed once). The "
        "password must pass the password rules (each failure is printed). The change is in "
        "auth.log and the audit log, credited to the operator.\n\n"
        "Example: python manage.py reset_password --username=admin"
    )
    changes_data = True
    # Tests and callers may pass the input stream: call_command(..., stdin=io.StringIO(...)).
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--username", required=True, help="the account whose password to set")
        source = parser.add_mutually_exclusive_group()
        source.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the new password from the first line of standard input",
        )
        source.add_argument(
            "--generate", action="store_true", help="set a random password and print it once"
        )

    def handle(self, *args, **options):
        stdin = options.get("stdin") or sys.stdin
        user = get_user(options["username"])
        if options["generate"]:
            password = generate_password(user)
        elif options["password_stdin"]:
            password = stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("no password on standard input; password not changed")
        else:
            password = self.ask(stdin)

        try:
            password_validation.validate_password(password, user)
        except ValidationError as error:
            for message in error.messages:
                self.stderr.write(f"  - {message}")
            raise CommandError(
                f"password not changed: it breaks {len(error.messages)} of the password rules"
            ) from None

        if options["dry_run"]:
            self.stdout.write(
                f"the password of {user.username} passes the rules; dry run, nothing changed"
            )
            return
        user.set_password(password)
        user.save(update_fields=["password"])
        self.stdout.write(f"password of {user.username} changed")
        if options["generate"]:
            self.stdout.write(f"new password (shown once): {password}")
        if not user.is_active:
            self.stdout.write(
                self.style.WARNING(
                    f"{user.username} is disabled: enable the account in the admin before it can "
                    "log in"
                )
            )
        if self.locked_out(user):
            self.stdout.write(
                self.style.WARNING(
                    f"{user.username} is locked out after failed logins: "
                    f"python manage.py axes_reset_username {user.username}"
                )
            )

    def ask(self, stdin):
        if not getattr(stdin, "isatty", lambda: False)():
            raise CommandError(
                "standard input is not a terminal: use --password-stdin or --generate"
            )
        first = getpass.getpass("New password: ")
        second = getpass.getpass("New password (again): ")
        if first != second:
            raise CommandError("the two passwords differ; password not changed")
        if not first:
            raise CommandError("empty password; password not changed")
        return first

    def locked_out(self, user):
        from carshop.ops.security.auth_config import locked_out_attempts

        return locked_out_attempts().filter(username=user.username).exists()
