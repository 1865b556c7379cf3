"""The shop's first canned checklists: multi-point, brakes, tires (tread depth per wheel, in
32nds of an inch) and the pre-purchase inspection of a car for the lot. A manager edits them
in the admin afterwards; migrating back removes those never used."""

from django.db import migrations

WHEELS = ("Left front", "Right front", "Right rear", "Left rear")

CHECKLISTS = {
    "Multi-point inspection": (
        "service",
        [
            ("Under the hood", "Engine oil level and condition", ""),
            ("Under the hood", "Coolant level and condition", ""),
            ("Under the hood", "Brake fluid", ""),
            ("Under the hood", "Drive belts", ""),
            ("Under the hood", "Hoses", ""),
            ("Under the hood", "Battery and terminals", ""),
            ("Under the hood", "Air filter", ""),
            ("Under the hood", "Cabin air filter", ""),
            ("Outside", "Wiper blades", ""),
            ("Outside", "Lights and signals", ""),
            ("Outside", "Windshield", ""),
            ("Under the car", "Brake pads and rotors", ""),
            ("Under the car", "Suspension and steering", ""),
            ("Under the car", "Exhaust", ""),
            ("Under the car", "Leaks", ""),
            *(("Tires", f"Tread depth {wheel.lower()}", "tread_32nds") for wheel in WHEELS),
        ],
    ),
    "Brake inspection": (
        "service",
        [
            ("Front", "Pads", ""),
            ("Front", "Rotors", ""),
            ("Front", "Calipers and hardware", ""),
            ("Rear", "Pads or shoes", ""),
            ("Rear", "Rotors or drums", ""),
            ("Rear", "Calipers or wheel cylinders", ""),
            ("System", "Brake fluid condition", ""),
            ("System", "Lines and hoses", ""),
            ("System", "Parking brake", ""),
        ],
    ),
    "Tire inspection": (
        "service",
        [
            *(("Tread depth", wheel, "tread_32nds") for wheel in WHEELS),
            ("Condition", "Sidewalls (cuts, bulges)", ""),
            ("Condition", "Wear pattern (alignment)", ""),
            ("Condition", "Pressure set", ""),
            ("Condition", "Spare tire", ""),
        ],
    ),
    "Pre-purchase inspection": (
        "pre_purchase",
        [
            ("Body", "Paint and panels (repairs, rust)", ""),
            ("Body", "Glass", ""),
            ("Interior", "Seats, belts and trim", ""),
            ("Interior", "Dashboard warning lights", ""),
            ("Interior", "Air conditioning and heat", ""),
            ("Mechanical", "Engine (start, noises, leaks)", ""),
            ("Mechanical", "Transmission", ""),
            ("Mechanical", "Brakes", ""),
            ("Mechanical", "Suspension and steering", ""),
            ("Road test", "Drives straight, brakes straight", ""),
            *(("Tires", f"Tread depth {wheel.lower()}", "tread_32nds") for wheel in WHEELS),
            ("Documents", "Service records and recalls", ""),
        ],
    ),
}


def add_checklists(apps, schema_editor):
    template_model = apps.get_model("repairs", "InspectionTemplate")
    point_model = apps.get_model("repairs", "InspectionTemplatePoint")
    for name, (purpose, points) in CHECKLISTS.items():
        template, created = template_model.objects.get_or_create(
            name=name, defaults={"purpose": purpose}
        )
        if not created:
            continue
        point_model.objects.bulk_create(
            point_model(
                template=template,
                position=position,
                section=section,
                label=label,
                measurement=measurement,
            )
            for position, (section, label, measurement) in enumerate(points, start=1)
        )


def remove_unused_checklists(apps, schema_editor):
    template_model = apps.get_model("repairs", "InspectionTemplate")
    inspection_model = apps.get_model("repairs", "Inspection")
    used = inspection_model.objects.values("template_id")
    template_model.objects.filter(name__in=CHECKLISTS).exclude(pk__in=used).delete()


class Migration(migrations.Migration):
    dependencies = [("repairs", "0009_inspections_and_signatures")]

    operations = [migrations.RunPython(add_checklists, remove_unused_checklists)]
