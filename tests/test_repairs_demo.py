"""The service shop's demo: orders in every status, invoices and payments, a cancellation, a
comeback, internal orders on the business's own vehicles, appointments today and tomorrow, an
estimate's inspection with its urgent point made a job."""

import datetime
import importlib
import io
import random

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from accounts import demo as accounts_demo
from accounts.locations import allowed_locations
from accounts.models import Location, ShopSettings, User
from repairs import demo, services
from repairs.models import (
    Appointment,
    CannedJob,
    Inspection,
    InspectionTemplate,
    Invoice,
    LaborLine,
    Payment,
    RepairOrder,
    TimeEntry,
)


@pytest.mark.django_db
def test_the_demo_shows_every_part_of_the_service_shop():
    # The checklists the migration made (a flush by an earlier test may have taken them).
    if not InspectionTemplate.objects.filter(name="Multi-point inspection").exists():
        checklists = importlib.import_module("repairs.migrations.0010_inspection_checklists")
        checklists.add_checklists(django_apps, None)
    context = {}
    rng = random.Random(7)
    accounts_demo.seed(rng, 1, context)
    summary = demo.seed(rng, 1, context)
    assert "repair orders" in summary

    statuses = set(RepairOrder.objects.values_list("status", flat=True))
    assert statuses == {
        "estimate",
        "approved",
        "in_progress",
        "completed",
        "invoiced",
        "paid",
        "canceled",
        "closed",
    }
    main = Location.default()
    assert 38 <= RepairOrder.objects.filter(location=main).count() <= 45
    assert CannedJob.objects.count() >= 5
    assert (
        Invoice.objects.count()
        == RepairOrder.objects.filter(status__in=["invoiced", "paid"]).count()
    )
    for order in RepairOrder.objects.filter(status="paid"):
        assert services.invoice_balance(order.invoice) == 0
    assert Payment.objects.exists()
    assert RepairOrder.objects.filter(comeback_of__isnull=False).exists()
    internal = RepairOrder.objects.filter(internal=True)
    assert internal.count() == 2
    assert all(order.vehicle.owner_id is None for order in internal)
    closed = internal.get(status="closed")
    assert sum(services.internal_cost(closed)) > 0
    today = timezone.localdate()
    inspection = Inspection.objects.get()
    assert inspection.repair_order.status == "estimate"
    brakes = inspection.items.get(label="Brake pads and rotors")
    assert brakes.rating == "urgent" and brakes.job.authorization == "pending"
    assert Appointment.objects.filter(date=today).exists()
    assert Appointment.objects.filter(date=today + datetime.timedelta(days=1)).exists()
    # Bookings the services would take: the customer's own vehicle, one per slot.
    for appointment in Appointment.objects.all():
        services.check_appointment(appointment)

    # The second shop: its own orders, numbered in its series, at its own labor rate, worked by
    # its own staff; its invoices too; its own bookings.
    east = Location.objects.get(code="east")
    orders = RepairOrder.objects.filter(location=east)
    assert orders.count() >= 10
    assert all(number.startswith("EAST-RO-") for number in orders.values_list("number", flat=True))
    assert {o.advisor.username for o in orders.select_related("advisor")} == {"eastadvisor"}
    invoices = Invoice.objects.filter(location=east)
    assert invoices.exists()
    assert all(number.startswith("EAST-") for number in invoices.values_list("number", flat=True))
    assert set(
        LaborLine.objects.filter(job__repair_order__location=east).values_list("rate", flat=True)
    ) == {ShopSettings.of(east).labor_rate}
    assert ShopSettings.of(east).labor_rate != ShopSettings.of(main).labor_rate
    entries = TimeEntry.objects.filter(location=east)
    assert {entry.technician.username for entry in entries} == {"easttech"}
    assert Appointment.objects.filter(location=east, date=today).exists()
    assert not Invoice.objects.filter(location=main, number__startswith="EAST-").exists()


@pytest.mark.django_db
def test_demo_staff_of_one_shop_see_no_chooser_and_the_manager_of_both_does(client):
    from inventory import demo as inventory_demo

    context = {}
    rng = random.Random(11)
    accounts_demo.seed(rng, 1, context)
    inventory_demo.seed(rng, 1, context)
    demo.seed(rng, 1, context)
    east = Location.objects.get(code="east")
    for username, sees_chooser in (
        ("advisor", False),
        ("eastadvisor", False),
        ("easttech", False),
        ("manager", True),
    ):
        client.force_login(User.objects.get(username=username))
        page = client.get(reverse("admin:repairs_repairorder_changelist")).content.decode()
        assert ("location-chooser" in page) is sees_chooser, username
        numbers = set(RepairOrder.objects.values_list("number", flat=True))
        shown = {number for number in numbers if f">{number}<" in page}
        if username.startswith("east"):
            # Only the east shop's orders, at its own desk.
            assert shown and all(number.startswith("EAST-") for number in shown), username
        elif username == "advisor":
            assert shown and not any(number.startswith("EAST-") for number in shown)
    assert set(allowed_locations(User.objects.get(username="manager"))) == {
        Location.default(),
        east,
    }


@pytest.mark.django_db
def test_the_demo_of_one_shop_has_no_second_location_and_asks_for_none(client):
    with pytest.raises(CommandError, match="--one-shop goes with the demo"):
        call_command("seed_demo", "--one-shop", "--scale", "large", stdout=io.StringIO())
    assert not Location.objects.filter(code="east").exists()

    out = io.StringIO()
    call_command("seed_demo", "--one-shop", stdout=out)
    assert Location.objects.count() == 1
    assert not User.objects.filter(username__startswith="east").exists()
    assert not RepairOrder.objects.filter(number__startswith="EAST-").exists()
    assert "  manager      Manager\n" in out.getvalue()  # no locations in the login list
    client.force_login(User.objects.get(username="manager"))
    page = client.get(reverse("admin:repairs_repairorder_changelist")).content.decode()
    assert "location-chooser" not in page
