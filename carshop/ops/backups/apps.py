from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class BackupsConfig(AppConfig):
    """Backup and restore. No models: its two tables are made by the first backup (see capture)."""

    name = "carshop.ops.backups"
    label = "backups"
    verbose_name = "Backups"

    def ready(self) -> None:
        from carshop.ops.backups import capture

        # Migrations may drop or rewrite tables under the change-capture triggers: take them off
        # before a migration runs, put them back after, and make the next backup a full one.
        pre_migrate.connect(capture.before_migrate, sender=self, dispatch_uid="backups_pre")
        post_migrate.connect(capture.after_migrate, sender=self, dispatch_uid="backups_post")
