from django.apps import AppConfig
from django.contrib.auth import signals as auth_signals
from django.db.backends.signals import connection_created


class CarshopConfig(AppConfig):
    """Project package: settings, URLs and the cross-cutting operations code."""

    name = "carshop"
    verbose_name = "Carshop operations"

    def ready(self):
        from axes.signals import user_locked_out

        from accounts.signals import password_changed
        from carshop import audit, authlog, checks, dblog  # noqa: F401 (checks: registered)

        connection_created.connect(dblog.install_slow_query_logger, dispatch_uid="carshop_slow_sql")
        auth_signals.user_logged_in.connect(authlog.logged_in, dispatch_uid="carshop_login")
        auth_signals.user_login_failed.connect(
            authlog.login_failed, dispatch_uid="carshop_login_failed"
        )
        auth_signals.user_logged_out.connect(authlog.logged_out, dispatch_uid="carshop_logout")
        user_locked_out.connect(authlog.locked_out, dispatch_uid="carshop_lockout")
        password_changed.connect(authlog.password_changed, dispatch_uid="carshop_password")
        audit.connect()
