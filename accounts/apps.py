from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class AccountsConfig(AppConfig):
    """Staff users, roles, customers and the shop's own settings."""

    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from accounts import checks  # noqa: F401 - registers the system checks
        from accounts.roles import apply_roles_after_migrate

        # Models added later bring new permissions; re-apply the matrix after every migrate.
        post_migrate.connect(apply_roles_after_migrate, dispatch_uid="accounts_apply_roles")

        from core.migration_operations import refuse_data_loss_before_migrate

        # Migrating back never drops data unless the operator confirmed it: every guard of the
        # plan is checked before the first migration is reversed (sent once: for this app).
        pre_migrate.connect(
            refuse_data_loss_before_migrate, sender=self, dispatch_uid="accounts_refuse_data_loss"
        )

        from django.contrib.auth.models import Group
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from accounts.locations import locations_changed, remember_at_login
        from accounts.models import Location, User

        # Who works where, remembered per session, is computed again after any of these.
        for sender in (Location, User):
            post_save.connect(locations_changed, sender=sender, dispatch_uid=f"loc_s_{sender}")
            post_delete.connect(locations_changed, sender=sender, dispatch_uid=f"loc_d_{sender}")
        for through in (
            User.locations.through,
            User.groups.through,
            User.user_permissions.through,
            Group.permissions.through,
        ):
            m2m_changed.connect(locations_changed, sender=through, dispatch_uid=f"loc_m_{through}")
        user_logged_in.connect(remember_at_login, dispatch_uid="locations_at_login")

        from auditlog.models import LogEntry
        from django.db.models.signals import pre_save

        from accounts.api.audit import add_key_to_entry
        from accounts.api.throttling import UnauthenticatedRateThrottle
        from core.api.exceptions import throttle_authentication_failures

        # Audit entries written through the API name the key that made the change.
        pre_save.connect(add_key_to_entry, sender=LogEntry, dispatch_uid="accounts_api_key_audit")

        # A bad or missing key counts against the client's address (a 429 past the rate).
        throttle_authentication_failures(UnauthenticatedRateThrottle)
