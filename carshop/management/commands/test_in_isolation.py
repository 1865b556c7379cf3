import argparse

from django.core.management.base import CommandError

from carshop.ops.testenv import environment, isolation
from carshop.ops.toolkit import OperationsCommand, operator_errors


class Command(OperationsCommand):
    help = (
        "Run checks against the test environment made by create_test_env, never against the "
        "live database: the target must be another database than the configured one and carry "
        "create_test_env's mark, checked before anything runs and again inside the child "
        "process that runs the checks with DATABASE_URL on the copy. Checks (--checks, default "
        "all): system (Django's system checks), migrations (every migration applied, none "
        "unknown, a consistent history), health (the liveness health checks), smoke (the admin "
        "index, every admin list and first change page, every API list, through the test "
        "Client as a superuser of the copy: each must answer 200 within --max-queries "
        "queries). Arguments after -- run the project's pytest suite with DATABASE_URL on the "
        "copy's server (pytest-django makes its own test database there). Exits non-zero if a "
        "check fails.\n\n"
        "Example: python manage.py test_in_isolation --checks smoke,migrations -- -q tests/"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--target", metavar="NAME_OR_PATH", help="the copy (default: <live name>_test_env)"
        )
        parser.add_argument(
            "--checks",
            default=",".join(isolation.CHECKS),
            help=f"comma-separated, of {', '.join(isolation.CHECKS)} (default: all)",
        )
        parser.add_argument(
            "--max-queries",
            type=int,
            default=60,
            help="most queries a smoke page may make (default: 60)",
        )
        parser.add_argument("--inside-copy", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument(
            "pytest_args",
            nargs="*",
            metavar="-- PYTEST_ARGS",
            help="run pytest with these arguments against the copy's server",
        )

    def handle(self, *args, **options):
        checks = [c.strip() for c in options["checks"].split(",") if c.strip()]
        unknown = [c for c in checks if c not in isolation.CHECKS]
        if unknown or not (checks or options["pytest_args"]):
            raise CommandError(
                f"--checks: unknown {', '.join(unknown) or 'empty list'}; "
                f"checks: {', '.join(isolation.CHECKS)}"
            )
        if options["max_queries"] < 1:
            raise CommandError("--max-queries must be 1 or more")
        try:
            with operator_errors():
                if options["inside_copy"]:
                    return self.inside(options, checks)
                live, target, marker = isolation.prepare_isolation(options["target"])
                results = []
                if checks:
                    results = isolation.run_in_copy(live, target, checks, options["max_queries"])[
                        "checks"
                    ]
                if options["pytest_args"]:
                    results.append(isolation.run_pytest(target, options["pytest_args"]))
        except environment.TestEnvError as exc:
            raise CommandError(str(exc)) from None
        report = {
            "target": target.label(),
            "database_url": environment.shown_url(target),
            "made_at": marker.get("made_at"),
            "passed": all(r["ok"] for r in results),
            "checks": results,
        }
        self.emit(options, report, self.text(report))
        failed = [r["check"] for r in results if not r["ok"]]
        if failed:
            raise CommandError(f"test environment checks failed: {', '.join(failed)}")

    def inside(self, options, checks):
        target = isolation.verify_inside_copy()
        results = isolation.isolated_checks(checks, options["max_queries"])
        self.emit({"format": "json"}, {"target": target.label(), "checks": results}, [])

    @staticmethod
    def text(report):
        lines = [f"checks against {report['target']} (made {report['made_at']}):"]
        for result in report["checks"]:
            lines.append(
                f"  {result['check']:<11} {'OK  ' if result['ok'] else 'FAIL'} "
                f"{result['detail']} ({result['seconds']:.1f}s)"
            )
            for item in result.get("items", []):
                if isinstance(item, dict):
                    if not item["ok"]:
                        lines.append(
                            f"      {item['page']}: {item['status']}, {item['queries']} queries"
                        )
                elif not result["ok"] or result["check"] == "health":
                    lines.append(f"      {item}")
            if result["check"] == "pytest" and not result["ok"]:
                lines.extend("      " + line for line in result["output"].splitlines()[-30:])
        lines.append("passed" if report["passed"] else "FAILED")
        return lines
