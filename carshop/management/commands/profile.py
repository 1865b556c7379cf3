from django.core.management.base import CommandError

from carshop.ops.monitoring import profiling
from carshop.ops.toolkit import OperationsCommand

DEFAULT_URL = "/admin/"


class Command(OperationsCommand):
    help = (
        "Profile a page or a management command with cProfile: the profile is written to a "
        ".pstats file (read it with `python -m pstats FILE` or snakeviz) and the functions "
        "with the most cumulative time are printed.\n"
        "--url PATH: the page, requested through Django's test Client in this process against "
        "the configured database, logged in as --user (default: the first active superuser; "
        "the login writes nothing to the database); one unprofiled request first, then "
        '--repeat profiled ones. --command "name args": a management command instead. '
        f"Without either: the admin index page ({DEFAULT_URL}).\n"
        "Under `python -m cProfile -o profile.pstats manage.py profile` the page is run under "
        "that profiler, which writes profile.pstats when the process ends.\n\n"
        "Example: python manage.py profile --url /admin/repairs/repairorder/ --user manager "
        "--repeat 5 --output ro-list.pstats"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        what = parser.add_mutually_exclusive_group()
        what.add_argument(
            "--url", metavar="PATH", help=f"the page to profile (default: {DEFAULT_URL})"
        )
        what.add_argument(
            "--command",
            metavar='"NAME ARGS"',
            dest="command_line",
            help="a management command to profile, with its arguments",
        )
        parser.add_argument(
            "--user",
            metavar="NAME",
            help="log in as this user for --url (default: first active superuser)",
        )
        parser.add_argument(
            "--output",
            metavar="FILE.pstats",
            default="profile.pstats",
            help="where the profile is written (default: profile.pstats)",
        )
        parser.add_argument(
            "--repeat",
            type=int,
            default=1,
            help="profiled runs, added up in one profile (default: 1)",
        )
        parser.add_argument(
            "--top",
            type=int,
            default=20,
            help="functions to print, by cumulative time (default: 20)",
        )

    def handle(self, *args, **options):
        if options["repeat"] < 1 or options["repeat"] > 1000:
            raise CommandError("--repeat must be between 1 and 1000")
        if options["top"] < 0:
            raise CommandError("--top must be 0 or more")
        if options["command_line"] is not None and options["user"]:
            raise CommandError("--user is for --url: a command runs as the operator")
        try:
            if options["command_line"] is not None:
                report = profiling.profile_command(
                    options["command_line"], options["repeat"], options["output"], options["top"]
                )
            else:
                report = profiling.profile_page(
                    options["url"] or DEFAULT_URL,
                    options["user"],
                    options["repeat"],
                    options["output"],
                    options["top"],
                )
        except profiling.ProfileError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"cannot write {options['output']}: {exc.strerror}") from None
        self.emit(options, report, self.text(report))

    @staticmethod
    def text(report):
        what = (
            f"GET {report['target']} as {report['user'] or 'anonymous'} (status {report['status']})"
            if report["kind"] == "page"
            else f"command {report['target']}"
        )
        lines = [
            f"{what}: {report['repeat']} runs, mean {report['mean_seconds'] * 1000:.1f} ms, "
            f"{report['queries_per_run']} queries a run"
        ]
        if report["outer_profiler"]:
            lines.append(
                "an outer profiler is running (python -m cProfile): it records these "
                "runs and writes its file when the process ends"
            )
            return lines
        lines.append(f"profile written to {report['output']} (python -m pstats {report['output']})")
        if report["top"]:
            lines.append("")
            lines.append(f"{'calls':>9} {'tottime':>9} {'cumtime':>9}  function")
            for row in report["top"]:
                lines.append(
                    f"{row['calls']:>9} {row['tottime']:>9.4f} {row['cumtime']:>9.4f}  "
                    f"{row['file']}:{row['line']}({row['function']})"
                )
        return lines
