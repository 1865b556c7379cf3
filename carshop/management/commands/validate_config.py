from django.conf import settings
from django.core.management.base import CommandError

from carshop.ops.config.validation import validate_configuration
from carshop.ops.toolkit import OperationsCommand, emit_report
from carshop.settings.env import ENVIRONMENTS


class Command(OperationsCommand):
    help = (
        "Check that the settings of this environment (DJANGO_ENV) are complete and consistent: "
        "required values set, folders writable (VAR_DIR, LOG_DIR, MEDIA_ROOT, BACKUP_DIR), "
        "database and cache reachable, Django's system checks (and in production and staging "
        "its deployment checks) pass, ALLOWED_HOSTS agrees with CSRF_TRUSTED_ORIGINS, monitoring "
        "thresholds make sense. Each finding is OK, WARN or FAIL; exits non-zero on any FAIL.\n\n"
        "--env names the environment you mean to check; it must be the one the command runs "
        "in, since the settings are read when it starts.\n\n"
        "Example: DJANGO_ENV=production python manage.py validate_config --format json"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--env",
            choices=ENVIRONMENTS,
            metavar="NAME",
            help=f"the environment to check: must be DJANGO_ENV's ({', '.join(ENVIRONMENTS)})",
        )

    def handle(self, *args, **options):
        wanted = options.get("env")
        if wanted and wanted != settings.DJANGO_ENV:
            raise CommandError(
                f"this run reads the {settings.DJANGO_ENV} settings; to check {wanted}: "
                f"DJANGO_ENV={wanted} python manage.py validate_config"
            )
        emit_report(self, options, validate_configuration())
