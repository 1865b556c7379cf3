from django.core.management.base import CommandError

from carshop.ops.testenv import environment as testenv
from carshop.ops.toolkit import OperationsCommand, operator_errors


class Command(OperationsCommand):
    help = (
        "Make an isolated test environment: a copy of the live database with its personal data "
        "anonymized. PostgreSQL: a new database on the same server (default "
        "<database>_test_env), copied from a snapshot dump with the backup code and checked "
        "against the dump's row counts; SQLite: a file beside the live one (default "
        "<file>_test_env.sqlite3), copied with the backup API. Then, in the copy only: "
        "customers' names, phones, emails, street addresses, postal codes and tax ids, users' "
        "names, emails and phones (usernames and roles kept, passwords unusable), partner "
        "contacts, webhook URLs and secrets, API keys (revoked), lead messages, plates, and "
        "the same values in free text, invoice snapshots and the audit log are replaced by "
        "fake ones, the same for the same --seed. Sessions and login attempts are deleted. "
        "Ids, relations, VINs, money and dates stay. A copy that fails half-way is removed.\n"
        "Refuses the live database as target, and an existing target unless --replace (only "
        "a copy create_test_env made is replaced). Prints the DATABASE_URL that points the "
        "application at the copy.\n\n"
        "Example: python manage.py create_test_env --seed 7 --test-login tester --replace"
    )
    report_command = True
    changes_data = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--target",
            metavar="NAME_OR_PATH",
            help="PostgreSQL database name, SQLite file or database URL "
            "(default: <live name>_test_env)",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="drop and make again a test environment that exists",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=0,
            help="the fake values' seed: same seed, same copy (default: 0)",
        )
        parser.add_argument(
            "--test-login",
            metavar="USERNAME",
            nargs="?",
            const="test-env",
            help="the one account that can log in to the copy, with a random "
            "password printed once: an existing user (keeps their roles) "
            "or a new superuser (default name: test-env)",
        )

    def handle(self, *args, **options):
        try:
            with operator_errors():
                report = testenv.create_test_env(
                    options["target"],
                    replace=options["replace"],
                    seed=options["seed"],
                    dry_run=options["dry_run"],
                    test_login=options["test_login"],
                    progress=self.progress,
                )
        except testenv.TestEnvError as exc:
            raise CommandError(str(exc)) from None
        self.emit(options, report, self.text(report))

    @staticmethod
    def text(report):
        if report["dry_run"]:
            lines = [
                f"dry run: would copy {report['source']} into {report['target']}"
                + (" (replacing it)" if report["replaced"] else "")
                + f" and anonymize, seed {report['seed']}:"
            ]
            lines += [
                f"  {table:<34} {rows:>9} rows" for table, rows in report["anonymized"].items()
            ]
            return lines
        lines = [
            f"copied {report['source']} into {report['target']} in "
            f"{report['seconds']:.1f}s"
            + (" (replaced the previous copy)" if report["replaced"] else ""),
            f"anonymized (seed {report['seed']}):",
        ]
        lines += [
            f"  {table:<34} {rows:>9} rows" for table, rows in report["anonymized"].items() if rows
        ]
        login = report["test_login"]
        if login:
            lines.append(
                f"test login: {login['username']} / {login['password']}"
                + (" (new superuser)" if login["created"] else " (existing user)")
            )
        else:
            lines.append(
                "no account can log in (passwords are unusable): use --test-login, "
                "or reset_password against the copy"
            )
        lines += [
            "",
            "point the application at it with:",
            f"  DATABASE_URL={report['database_url']}",
            "and check it with: python manage.py test_in_isolation"
            + (f" --target {report['target_name']}" if report["target_name"] else ""),
        ]
        return lines
