"""Data every installation needs from the start.

- The staff roles with the permissions of accounts/roles.py (applied again after every migrate,
  so models added later are covered).
- The inactive `system` account that changes made by commands are credited to when the operator
  has no account of their own.
- (The shop settings row: made with the default location by 0010_locations.)

Migrating back keeps all three: the audit log credits changes to the system account, users keep
their roles and the manager's settings stay. Migrating forward again finds them (this migration
makes only what is missing).
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    from accounts.roles import apply_roles

    for app_config in apps.get_app_configs():
        # Both skip an app whose models_module is unset, as it is in a migration's state.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = True
        create_contenttypes(app_config, verbosity=0, apps=apps)
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = models_module
    apply_roles(apps)

    user_model = apps.get_model("accounts", "User")
    if not user_model.objects.filter(username="system").exists():
        # An unusable password ("!" and random characters): nobody can log in as system.
        user_model.objects.create(
            username="system", first_name="System", last_name="(commands)", is_active=False,
            password=make_password(None),
        )
    # The shop settings row is made with the default location, by 0010_locations.


def backwards(apps, schema_editor):
    """Keep the roles, the system account and the shop settings (see above): deleting the system
    account would leave audit entries pointing at nobody."""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
