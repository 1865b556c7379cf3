from carshop.ops.security.scan import scan_security
from carshop.ops.toolkit import OperationsCommand, emit_report


class Command(OperationsCommand):
    help = (
        "Scan for known weaknesses: the pinned requirements (requirements/production.txt and "
        "development.txt, with what is installed beside them) against PyPI's vulnerability "
        "data with pip-audit, and the project's own packages for insecure code with bandit. "
        "A vulnerable dependency or a high-severity code finding is a FAIL (exit 1), medium and "
        "low ones a WARN; findings the project reviewed (ruff `# noqa: S...` or per-file-ignores "
        "of the same rule, `# nosec`) are counted, not repeated. A dependency audit that could not "
        "run (no network, no vulnerability data for any package) is a FAIL: an unknown result "
        "is not a pass; --offline skips it.\n\n"
        "Example: python manage.py security_scan --offline"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--offline",
            action="store_true",
            help="skip the dependency audit (it needs PyPI or an OSV service)",
        )
        parser.add_argument(
            "--path",
            action="append",
            dest="paths",
            metavar="DIR",
            help="scan this folder or file instead of the project's packages (repeatable)",
        )
        parser.add_argument(
            "--requirement",
            action="append",
            dest="requirements",
            metavar="FILE",
            help="audit this requirements file instead of the project's "
            "(repeatable; installed packages are then left out)",
        )
        parser.add_argument(
            "--osv-url",
            metavar="URL",
            help="query this OSV service (a mirror) instead of PyPI's vulnerability data",
        )

    def handle(self, *args, **options):
        report = scan_security(
            paths=options["paths"],
            requirement_files=options["requirements"],
            offline=options["offline"],
            osv_url=options["osv_url"],
        )
        emit_report(self, options, report)
