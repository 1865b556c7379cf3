from carshop.commands import OperationsCommand
from carshop.ops.config import validate_configuration
from carshop.ops.findings import emit_report


class Command(OperationsCommand):
    help = (
        "Check that the settings of this environment (DJANGO_ENV) are complete and consistent: "
        "required values set, folders writable (VAR_DIR, LOG_DIR, MEDIA_ROOT, BACKUP_DIR), "
        "database and cache reachable, Django's system checks (and in production and staging "
        "its deployment checks) pass, ALLOWED_HOSTS agrees with CSRF_TRUSTED_ORIGINS, monitoring "
        "thresholds make sense. Each finding is OK, WARN or FAIL; exits non-zero on any FAIL.\n\n"
        "Example: DJANGO_ENV=production python manage.py validate_config --format json"
    )
    report_command = True

    def handle(self, *args, **options):
        emit_report(self, options, validate_configuration())
