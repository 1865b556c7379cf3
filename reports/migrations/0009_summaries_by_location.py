import datetime

import django.db.models.deletion
from django.db import migrations, models


def forget_summarized_days(apps, schema_editor):
    """The days summarized before were the group's sums, not each location's: every figure is
    counted from the records until the next refresh (which then counts every day again, per
    location), never from a day without its location."""
    for name in (
        "ShopDay",
        "TechnicianDay",
        "PartsDay",
        "StaleDay",
        "OpenInvoice",
        "InvoiceSpan",
        "DeclinedJob",
    ):
        apps.get_model("reports", name).objects.all().delete()
    apps.get_model("reports", "SummaryState").objects.update(through=None, refreshed_at=None)


def exact():
    return models.DecimalField(decimal_places=6, default=0, max_digits=20)


def location():
    return models.ForeignKey(
        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.location"
    )


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0010_locations"),
        ("reports", "0008_reconditioning_orders"),
    ]

    operations = [
        migrations.RunPython(forget_summarized_days, forget_summarized_days),
        migrations.DeleteModel(name="ShopDay"),
        migrations.CreateModel(
            name="ShopDay",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("location", location()),
                ("cars", models.PositiveIntegerField(default=0)),
                ("labor_total", exact()),
                ("parts_total", exact()),
                ("discount_total", exact()),
                ("credits", exact()),
                ("sublet_sales", exact()),
                ("sublet_cost", exact()),
                ("parts_cost", exact()),
                ("hours_sold", exact()),
                ("labor_net", exact()),
                ("worked", models.DurationField(default=datetime.timedelta)),
                ("approved_jobs", models.PositiveIntegerField(default=0)),
                ("approved_value", exact()),
                ("declined_jobs", models.PositiveIntegerField(default=0)),
                ("declined_value", exact()),
                ("opened_orders", models.PositiveIntegerField(default=0)),
                ("comebacks", models.PositiveIntegerField(default=0)),
            ],
            options={
                "default_permissions": (),
                "indexes": [models.Index(fields=["day"], name="shopday_day_idx")],
                "constraints": [
                    models.UniqueConstraint(fields=("location", "day"), name="shopday_location_day_uniq")
                ],
            },
        ),
        migrations.RemoveConstraint(model_name="technicianday", name="techday_day_tech_uniq"),
        migrations.AddField(
            model_name="technicianday",
            name="location",
            field=models.ForeignKey(
                default=1,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.location",
            ),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="technicianday",
            constraint=models.UniqueConstraint(
                fields=("location", "day", "technician"), name="techday_loc_day_tech_uniq"
            ),
        ),
        migrations.AddIndex(
            model_name="technicianday", index=models.Index(fields=["day"], name="techday_day_idx")
        ),
        migrations.RemoveConstraint(model_name="partsday", name="partsday_day_cat_uniq"),
        migrations.AddField(
            model_name="partsday",
            name="location",
            field=models.ForeignKey(
                default=1,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.location",
            ),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="partsday",
            constraint=models.UniqueConstraint(
                fields=("location", "day", "category"), name="partsday_loc_day_cat_uniq"
            ),
        ),
        migrations.AddIndex(
            model_name="partsday", index=models.Index(fields=["day"], name="partsday_day_idx")
        ),
        *(
            migrations.AddField(
                model_name=name,
                name="location",
                field=models.ForeignKey(
                    default=1,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="+",
                    to="accounts.location",
                ),
                preserve_default=False,
            )
            for name in ("openinvoice", "invoicespan", "declinedjob")
        ),
        migrations.AddIndex(
            model_name="declinedjob",
            index=models.Index(
                condition=models.Q(returned=False),
                fields=["location", "authorized_at"],
                name="declinedjob_loc_due_idx",
            ),
        ),
        # Going back: the group's rows again from the next refresh.
        migrations.RunPython(forget_summarized_days, forget_summarized_days),
    ]
