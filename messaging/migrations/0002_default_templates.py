"""The templates every shop starts with: one per message and channel for the whole group."""

from django.db import migrations

from messaging import defaults
from messaging.defaults import DEFAULT_TEMPLATES


def seed(apps, schema_editor):
    defaults.seed(apps.get_model("messaging", "MessageTemplate"))


def unseed(apps, schema_editor):
    template_model = apps.get_model("messaging", "MessageTemplate")
    for (kind, channel), (subject, body) in DEFAULT_TEMPLATES.items():
        # Only the templates still as seeded: a shop's edits are kept.
        template_model.objects.filter(
            location=None, kind=str(kind), channel=str(channel), subject=subject, body=body
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_messages")]

    operations = [migrations.RunPython(seed, unseed)]
