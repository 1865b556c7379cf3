from carshop.ops.security.settings_check import check_security
from carshop.ops.toolkit import OperationsCommand, emit_report


class Command(OperationsCommand):
    help = (
        "Judge the settings in effect as a server needs them, whatever DJANGO_ENV says: DEBUG "
        "off, a strong SECRET_KEY that is not a published one, ALLOWED_HOSTS without '*', HTTPS "
        "redirect and HSTS, secure session and CSRF cookies, password validators, the login "
        "lockout (django-axes) and TRUSTED_PROXY_COUNT, plus Django's deployment checks "
        "(check --deploy); and from the database: superusers who have not logged in for 90 "
        "days, partner API keys never or long not used, keys used after they ended. Each "
        "finding is OK, WARN or FAIL; exits non-zero on any FAIL.\n\n"
        "Example: DJANGO_ENV=production python manage.py security_check --format json"
    )
    report_command = True

    def handle(self, *args, **options):
        emit_report(self, options, check_security())
