from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    """Staff users, roles, customers and the shop's own settings."""

    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from accounts.roles import apply_roles_after_migrate

        # Models added later bring new permissions; re-apply the matrix after every migrate.
        post_migrate.connect(apply_roles_after_migrate, dispatch_uid="accounts_apply_roles")
