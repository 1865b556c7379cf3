"""Operations code behind the management commands, one package per duty of the maintenance guide:

    backups/       backups, restores, recovery drills and retention (the `backups` app)
    data/          import and export, the friendly table names
    database/      connections, indexes, slow queries, VACUUM
    cleanup/       temporary data, orphans, audit log archives
    security/      settings judged for a server, authentication settings, dependency and code scans
    users/         user access: roles, activity, inactive accounts
    logs/          reading and analysing the JSON-lines logs
    monitoring/    resources and profiling
    testenv/       anonymized test environments and checks run in them
    cache/         the application cache
    assets/        static files
    config/        the configuration checked
    docs/          the docs checked, the changelog
    dependencies/  the pinned requirements

`toolkit` is what every command shares: the command base, findings and exit codes, progress,
errors. Commands (carshop/management/commands/) stay thin: they parse options, call these modules
and print the report; `diagnostics` runs several of the same functions in one go. What each app
contributes (its tables, personal fields, secrets) is declared in the app's own `ops.py` and
collected here (`facts`).
"""

from __future__ import annotations

SERVER_ENVIRONMENTS = ("production", "staging")


def on_server() -> bool:
    """Production or staging: where insecure or missing values are failures, not notes."""
    from django.conf import settings

    return settings.DJANGO_ENV in SERVER_ENVIRONMENTS
