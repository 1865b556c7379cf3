"""Operations code behind the management commands: user access, configuration, troubleshooting,
log analysis and monitoring. Commands stay thin: they parse options, call these modules and print
the report; `diagnostics` runs several of the same functions in one go.
"""

from __future__ import annotations

SERVER_ENVIRONMENTS = ("production", "staging")


def on_server() -> bool:
    """Production or staging: where insecure or missing values are failures, not notes."""
    from django.conf import settings

    return settings.DJANGO_ENV in SERVER_ENVIRONMENTS
