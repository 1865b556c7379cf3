"""Change times for the partner API's syncs: `updated_at` on repair orders, and commit-ordered,
unique `updated_at` on invoices, credit notes and payments taken from a FeedClock per feed.

Existing rows get their feed time from when they were issued or received (made unique one
microsecond apart in that order), and each clock starts at its feed's latest time.
"""

from datetime import timedelta

from django.db import migrations, models

from core.migration_operations import GuardDataLoss

FEEDS = (
    ("invoice", "issued_at"),
    ("creditnote", "issued_at"),
    ("payment", "received_at"),
)


def fill_feed_times(apps, schema_editor):
    FeedClock = apps.get_model("repairs", "FeedClock")
    for model_name, time_field in FEEDS:
        model = apps.get_model("repairs", model_name)
        last = None
        for pk, at in model.objects.order_by(time_field, "id").values_list("pk", time_field):
            last = at if last is None or at > last else last + timedelta(microseconds=1)
            model.objects.filter(pk=pk).update(updated_at=last)
        if last is not None:
            FeedClock.objects.create(feed=f"repairs.{model_name}", last_at=last)
    RepairOrder = apps.get_model("repairs", "RepairOrder")
    RepairOrder.objects.update(updated_at=models.F("status_changed_at"))


def forget_feed_times(apps, schema_editor):
    """Going back drops the columns and the clocks: nothing to undo row by row."""


class Migration(migrations.Migration):

    dependencies = [
        ("repairs", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="FeedClock",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("feed", models.CharField(help_text="The model, e.g. repairs.invoice.",
                                          max_length=40, unique=True)),
                ("last_at", models.DateTimeField()),
            ],
            options={"ordering": ["feed"]},
        ),
        migrations.AddField(
            model_name="creditnote", name="updated_at",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="invoice", name="updated_at",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="payment", name="updated_at",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="repairorder", name="updated_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(fill_feed_times, forget_feed_times),
        migrations.AlterField(
            model_name="creditnote", name="updated_at",
            field=models.DateTimeField(
                editable=False,
                help_text="When the document entered the accounting feed (unique, in commit "
                          "order)."),
        ),
        migrations.AlterField(
            model_name="invoice", name="updated_at",
            field=models.DateTimeField(
                editable=False,
                help_text="When the document entered the accounting feed (unique, in commit "
                          "order)."),
        ),
        migrations.AlterField(
            model_name="payment", name="updated_at",
            field=models.DateTimeField(
                editable=False,
                help_text="When the document entered the accounting feed (unique, in commit "
                          "order)."),
        ),
        migrations.AlterField(
            model_name="repairorder", name="updated_at",
            field=models.DateTimeField(
                auto_now=True, help_text="Last change to the order, its jobs, lines or bill."),
        ),
        migrations.AddIndex(
            model_name="repairorder",
            index=models.Index(fields=["updated_at", "id"], name="ro_updated_idx"),
        ),
        migrations.AddConstraint(
            model_name="creditnote",
            constraint=models.UniqueConstraint(
                fields=("updated_at",), name="creditnote_updated_at_unique",
                violation_error_message="Feed times are unique."),
        ),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.UniqueConstraint(
                fields=("updated_at",), name="invoice_updated_at_unique",
                violation_error_message="Feed times are unique."),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.UniqueConstraint(
                fields=("updated_at",), name="payment_updated_at_unique",
                violation_error_message="Feed times are unique."),
        ),
        # Added later; nothing forwards. Migrating back stops while these tables hold rows,
        # unless CARSHOP_ALLOW_DATA_LOSS=1 (docs/operations.md, Rolling back a release).
        GuardDataLoss(tables=["repairs_feedclock"]),
    ]
