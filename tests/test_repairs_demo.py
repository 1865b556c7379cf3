"""The service shop's demo: orders in every status, invoices and payments, a cancellation, a
comeback, internal orders on the business's own vehicles, appointments today and tomorrow, an
estimate's inspection with its urgent point made a job."""

import datetime
import importlib
import random

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from accounts import demo as accounts_demo
from repairs import demo, services
from repairs.models import (
    Appointment,
    CannedJob,
    Inspection,
    InspectionTemplate,
    Invoice,
    Payment,
    RepairOrder,
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
    assert 38 <= RepairOrder.objects.count() <= 45
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
