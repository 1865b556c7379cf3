"""Locations of the group. The existing install becomes one location, "main", holding the shop's
settings row; staff keep working there (an empty home location means the default one)."""

from django.db import migrations, models
import django.db.models.deletion

from core.migration_operations import GuardDataLoss


def settings_into_location(apps, schema_editor):
    Location = apps.get_model("accounts", "Location")
    ShopSettings = apps.get_model("accounts", "ShopSettings")
    for settings in ShopSettings.objects.filter(location__isnull=True).order_by("pk"):
        code = (
            "main" if not Location.objects.filter(code="main").exists() else f"shop-{settings.pk}"
        )
        location = Location.objects.create(code=code, name=settings.name or "Main", kind="both")
        settings.location = location
        settings.save(update_fields=["location"])
    if not ShopSettings.objects.exists():
        location = Location.objects.order_by("pk").first() or Location.objects.create(
            code="main", name="Main", kind="both"
        )
        ShopSettings.objects.create(location=location)


def partners_at_default_location(apps, schema_editor):
    Location = apps.get_model("accounts", "Location")
    Partner = apps.get_model("accounts", "Partner")
    location = Location.objects.order_by("pk").first()
    if location is not None:
        for partner in Partner.objects.all():
            partner.locations.add(location)


def location_out_of_settings(apps, schema_editor):
    ShopSettings = apps.get_model("accounts", "ShopSettings")
    if ShopSettings.objects.count() > 1:
        raise RuntimeError(
            "This install has more than one location: going back to one shop settings row would "
            "lose the others. Remove the other locations first."
        )
    ShopSettings.objects.update(location=None)
    ShopSettings.objects.exclude(id=1).update(id=1)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_shop_settings_technician_cost_rate"),
    ]

    operations = [
        migrations.CreateModel(
            name="Location",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "code",
                    models.SlugField(
                        help_text="Short name shown in lists and filters (letters, digits, dashes).",
                        max_length=16,
                        unique=True,
                    ),
                ),
                ("name", models.CharField(max_length=120, unique=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("shop", "service shop"),
                            ("lot", "car lot"),
                            ("both", "shop and lot"),
                        ],
                        default="both",
                        max_length=8,
                    ),
                ),
                ("hours", models.TextField(blank=True, verbose_name="opening hours")),
                (
                    "is_active",
                    models.BooleanField(
                        default=True,
                        help_text="An inactive location takes no new work.",
                        verbose_name="active",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["name"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("kind__in", ["shop", "lot", "both"])),
                        name="location_kind_valid",
                        violation_error_message="A location is a shop, a lot or both.",
                    )
                ],
            },
        ),
        migrations.RemoveConstraint(model_name="shopsettings", name="shop_settings_single_row"),
        migrations.AddField(
            model_name="shopsettings",
            name="location",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="settings",
                to="accounts.location",
            ),
        ),
        migrations.RunPython(settings_into_location, location_out_of_settings),
        migrations.AlterField(
            model_name="shopsettings",
            name="location",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="settings",
                to="accounts.location",
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="home_location",
            field=models.ForeignKey(
                blank=True,
                help_text="Where this person works: their lists, searches and reports start there. Empty: the default location.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="home_users",
                to="accounts.location",
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="locations",
            field=models.ManyToManyField(
                blank=True,
                help_text="Other locations this person may see and change besides their home location.",
                related_name="allowed_users",
                to="accounts.location",
                verbose_name="other locations",
            ),
        ),
        migrations.AddField(
            model_name="partner",
            name="locations",
            field=models.ManyToManyField(
                blank=True,
                help_text="The locations whose records this partner sees and changes through the API.",
                related_name="partners",
                to="accounts.location",
            ),
        ),
        migrations.RunPython(partners_at_default_location, migrations.RunPython.noop),
        migrations.AlterModelOptions(
            name="user",
            options={
                "ordering": ["username"],
                "permissions": [
                    ("work_at_all_locations", "Can see and change every location of the group")
                ],
                "verbose_name": "user",
                "verbose_name_plural": "users",
            },
        ),
        GuardDataLoss(
            tables=["accounts_location", "accounts_partner_locations", "accounts_user_locations"],
            columns={"accounts_user": ["home_location_id"]},
        ),
    ]
