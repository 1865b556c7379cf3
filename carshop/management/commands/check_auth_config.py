from carshop.ops.security.auth_config import check_auth_config
from carshop.ops.toolkit import OperationsCommand, emit_report


class Command(OperationsCommand):
    help = (
        "Show the authentication settings in effect and flag weak ones: session engine, "
        "lifetime and cookie flags, password validators and hashers, login lockout (django-axes: "
        "limit, cool-off, backend, proxies) and the logins locked out right now. Exits non-zero "
        "on any FAIL.\n\n"
        "Example: python manage.py check_auth_config"
    )
    report_command = True

    def handle(self, *args, **options):
        report = check_auth_config()
        extra = [
            f"  locked: {row['username'] or '?'} from {row['ip_address'] or '?'}, "
            f"{row['failures']} failures, last {row['last_failure']:%Y-%m-%d %H:%M}"
            for row in report.data.get("locked_out", [])
        ]
        emit_report(self, options, report, extra)
