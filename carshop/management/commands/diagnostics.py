import contextlib
import io
import json

from django.core.management import call_command
from django.core.management.base import CommandError

from carshop.ops.config.validation import validate_configuration
from carshop.ops.database.connections import check_connection
from carshop.ops.monitoring.resources import monitor_resources
from carshop.ops.security.auth_config import check_auth_config
from carshop.ops.toolkit import FAIL, OperationsCommand, Report, first_line, worst


def health_report():
    """health_check's own run (the checks of /health/), as a report section."""
    report = Report("health")
    out = io.StringIO()
    # On failure it raises after printing its report, which names the failed checks.
    with contextlib.suppress(CommandError):
        call_command("health_check", format="json", stdout=out, stderr=io.StringIO())
    try:
        checks = json.loads(out.getvalue())["checks"]
    except (ValueError, KeyError):
        report.fail("health_check", "printed no report")
        return report
    for check in checks:
        if check["ok"]:
            report.ok(check["check"], f"{check['seconds'] * 1000:.0f} ms")
        else:
            report.fail(check["check"], check["error"])
    return report


SECTIONS = (
    ("health", health_report),
    ("database", check_connection),
    ("authentication", check_auth_config),
    ("configuration", validate_configuration),
    ("resources", lambda: monitor_resources(cpu_interval=0.5)),
)


class Command(OperationsCommand):
    help = (
        "One report of everything an operator checks first: health checks (health_check), the "
        "database connection (check_db_connection), authentication settings "
        "(check_auth_config), configuration (validate_config) and resources "
        "(monitor_resources). Each section is OK, WARN or FAIL; exits non-zero if any "
        "fails.\n\n"
        "Example: python manage.py diagnostics --format json > diagnostics.json"
    )
    report_command = True

    def handle(self, *args, **options):
        reports = []
        for name, run in self.progress(SECTIONS, total=len(SECTIONS), label="diagnostics"):
            try:
                report = run()
            except Exception as exc:  # one broken section must not hide the others
                report = Report(name)
                report.fail(name, f"could not run: {first_line(exc)}")
            reports.append(report)
        status = worst(report.status for report in reports)
        lines = []
        for report in reports:
            lines.extend(report.text_lines())
            lines.append("")
        lines.append(f"diagnostics: {status}")
        self.emit(
            options, {"status": status, "sections": [report.as_dict() for report in reports]}, lines
        )
        failed = [report.title for report in reports if report.status == FAIL]
        if failed:
            raise CommandError(f"diagnostics: {len(failed)} sections failed ({', '.join(failed)})")
