"""The shop floor belongs to a location: repair orders, appointments, time entries, invoices,
credit notes and the number counters get one. Existing rows go to the default location (the one
accounts 0010 made): each column is added with that location's id as its default, which
PostgreSQL writes into the catalog, not into every row, so a million orders take no rewrite; the
default is dropped right after. Going back refuses while more than one location has such rows
(their number series would collide)."""

import accounts.models
import django.db.models.deletion
from django.conf import settings
from django.db import connection, migrations, models


def first_location_id():
    """The default location's id, read from the database (not the cache) while migrating."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id) FROM accounts_location")
        return cursor.fetchone()[0]


def one_location_only(apps, schema_editor):
    used = set()
    for model in ("RepairOrder", "Appointment", "Invoice", "DocumentSequence"):
        manager = apps.get_model("repairs", model).objects
        used.update(manager.values_list("location_id", flat=True).distinct()[:2])
    if len(used) > 1:
        raise RuntimeError(
            "Repair orders, appointments or invoices belong to more than one location: going back "
            "to one shop would mix their number series. Move them to one location first."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_locations"),
        ("inventory", "0008_stock_number_series"),
        ("repairs", "0010_inspection_checklists"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="documentsequence",
            options={"ordering": ["location", "series", "year"]},
        ),
        migrations.RemoveConstraint(
            model_name="appointment",
            name="appointment_one_per_slot",
        ),
        migrations.RemoveConstraint(
            model_name="creditnote",
            name="creditnote_year_sequence",
        ),
        migrations.RemoveConstraint(
            model_name="documentsequence",
            name="documentsequence_series_year",
        ),
        migrations.RemoveConstraint(
            model_name="invoice",
            name="invoice_year_sequence",
        ),
        migrations.AddField(
            model_name="appointment",
            name="location",
            field=models.ForeignKey(
                db_index=False,
                default=first_location_id,
                help_text="The shop the vehicle is brought to.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="appointments",
                to="accounts.location",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="creditnote",
            name="location",
            field=models.ForeignKey(
                db_index=False,
                default=first_location_id,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="credit_notes",
                to="accounts.location",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="documentsequence",
            name="location",
            field=models.ForeignKey(
                db_index=False,
                default=first_location_id,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="document_sequences",
                to="accounts.location",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="invoice",
            name="location",
            field=models.ForeignKey(
                db_index=False,
                default=first_location_id,
                help_text="The order's location: its header, its rates, its number series.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="invoices",
                to="accounts.location",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="repairorder",
            name="location",
            field=models.ForeignKey(
                db_index=False,
                default=first_location_id,
                help_text="The shop that does the work: its rates, its number series, its staff.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="repair_orders",
                to="accounts.location",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="timeentry",
            name="location",
            field=models.ForeignKey(
                db_index=False,
                default=first_location_id,
                editable=False,
                help_text="The location of the job's order, where the time was worked.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="time_entries",
                to="accounts.location",
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="creditnote",
            name="number",
            field=models.CharField(max_length=40, unique=True),
        ),
        migrations.AlterField(
            model_name="invoice",
            name="number",
            field=models.CharField(max_length=40, unique=True),
        ),
        migrations.AlterField(
            model_name="repairorder",
            name="number",
            field=models.CharField(editable=False, max_length=40, unique=True),
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(
                fields=["location", "date", "time"], name="appointment_location_date_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="creditnote",
            index=models.Index(
                fields=["location", "-issued_at", "-id"], name="creditnote_location_issued_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(
                fields=["location", "-issued_at", "-id"], name="invoice_location_issued_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="repairorder",
            index=models.Index(
                fields=["location", "-opened_at", "-id"], name="ro_location_opened_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="repairorder",
            index=models.Index(
                fields=["location", "status", "opened_at"], name="ro_location_status_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="timeentry",
            index=models.Index(
                fields=["location", "-started", "-id"], name="timeentry_location_started_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "scheduled")),
                fields=("location", "date", "time"),
                name="appointment_one_per_location_slot",
                violation_error_message="Another appointment is already booked on this day at this time: choose another time.",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditnote",
            constraint=models.UniqueConstraint(
                fields=("location", "year", "sequence"),
                name="creditnote_location_year_sequence",
                violation_error_message="Credit note numbers are unique per location and year.",
            ),
        ),
        migrations.AddConstraint(
            model_name="documentsequence",
            constraint=models.UniqueConstraint(
                fields=("location", "series", "year"),
                name="documentsequence_location_series_year",
                violation_error_message="One counter per location, series and year.",
            ),
        ),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.UniqueConstraint(
                fields=("location", "year", "sequence"),
                name="invoice_location_year_sequence",
                violation_error_message="Invoice numbers are unique per location and year.",
            ),
        ),
        # The models' default (kept in the cache) replaces the one used above, in the state only:
        # nothing changes in the database.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="appointment",
                    name="location",
                    field=models.ForeignKey(
                db_index=False,
                default=accounts.models.default_location_id,
                help_text="The shop the vehicle is brought to.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="appointments",
                to="accounts.location",
            ),
                ),
                migrations.AlterField(
                    model_name="creditnote",
                    name="location",
                    field=models.ForeignKey(
                db_index=False,
                default=accounts.models.default_location_id,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="credit_notes",
                to="accounts.location",
            ),
                ),
                migrations.AlterField(
                    model_name="documentsequence",
                    name="location",
                    field=models.ForeignKey(
                db_index=False,
                default=accounts.models.default_location_id,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="document_sequences",
                to="accounts.location",
            ),
                ),
                migrations.AlterField(
                    model_name="invoice",
                    name="location",
                    field=models.ForeignKey(
                db_index=False,
                default=accounts.models.default_location_id,
                help_text="The order's location: its header, its rates, its number series.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="invoices",
                to="accounts.location",
            ),
                ),
                migrations.AlterField(
                    model_name="repairorder",
                    name="location",
                    field=models.ForeignKey(
                db_index=False,
                default=accounts.models.default_location_id,
                help_text="The shop that does the work: its rates, its number series, its staff.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="repair_orders",
                to="accounts.location",
            ),
                ),
                migrations.AlterField(
                    model_name="timeentry",
                    name="location",
                    field=models.ForeignKey(
                db_index=False,
                default=accounts.models.default_location_id,
                editable=False,
                help_text="The location of the job's order, where the time was worked.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="time_entries",
                to="accounts.location",
            ),
                ),
            ]
        ),
        migrations.RunPython(migrations.RunPython.noop, one_location_only, elidable=False),
    ]
