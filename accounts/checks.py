"""System checks of the partner API's configuration (`manage.py check --deploy`)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def webhook_urls_are_safe(app_configs, **kwargs):
    if getattr(settings, "WEBHOOK_ALLOW_INSECURE_URLS", False):
        return [checks.Error(
            "WEBHOOK_ALLOW_INSECURE_URLS is on: partners could make the webhook worker call "
            "plain-http or internal addresses.",
            hint="Unset WEBHOOK_ALLOW_INSECURE_URLS (it is for development and tests).",
            id="accounts.E001",
        )]
    return []
