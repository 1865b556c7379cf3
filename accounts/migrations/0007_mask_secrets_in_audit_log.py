# Audit entries written before secrets were masked entirely kept the second half of each webhook
# signing secret (and of key hashes and password hashes) readable: mask them as new ones are.

import json

from django.db import migrations

MASK = "********"
MASKED_FIELDS = {"webhooksubscription": ("secret",), "partnerkey": ("hashed_key",),
                 "user": ("password",)}


def mask_old_entries(apps, schema_editor):
    LogEntry = apps.get_model("auditlog", "LogEntry")
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, fields in MASKED_FIELDS.items():
        content_type = ContentType.objects.filter(app_label="accounts", model=model).first()
        if content_type is None:
            continue
        for entry in LogEntry.objects.filter(content_type=content_type).iterator():
            changes = entry.changes
            if isinstance(changes, str):
                changes = json.loads(changes)
            if not isinstance(changes, dict) or not any(f in changes for f in fields):
                continue
            for field in fields:
                if isinstance(changes.get(field), list):
                    changes[field] = [MASK if value not in (None, "", "None") else value
                                      for value in changes[field]]
            entry.changes = changes
            entry.save(update_fields=["changes"])


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0006_webhook_subscription_one_per_url"),
        ("auditlog", "0017_add_actor_email"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(mask_old_entries, migrations.RunPython.noop, elidable=True),
    ]
