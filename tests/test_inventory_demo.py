"""The inventory demo data: valid, decoded vehicles; stock received through the ledger; orders
in every status."""

import random

import pytest

from accounts import demo as accounts_demo
from accounts.models import Location
from inventory import demo, services
from inventory.models import Part, PartStock, PurchaseOrder, StockTransfer, Vehicle
from inventory.vin import decode_vin, validate_vin


@pytest.mark.django_db
def test_the_demo_seeds_valid_vehicles_and_a_parts_room_stocked_through_the_ledger():
    # One seed for every check: seeding takes a second or two.
    rng, context = random.Random(3), {}
    accounts_demo.seed(rng, 1, context)
    summary = demo.seed(rng, 1, context)

    vehicles = context["vehicles"]
    assert len(vehicles) == Vehicle.objects.count() == 40
    customers = set(context["customers"])
    for vehicle in Vehicle.objects.select_related("owner"):
        assert validate_vin(vehicle.vin) == vehicle.vin
        assert vehicle.make and vehicle.country
        assert vehicle.owner is None or vehicle.owner in customers
        assert vehicle.odometer is not None
    assert {vehicle.vin[:3] for vehicle in vehicles} & {"WVW", "WBA", "VF1", "SAL"}
    assert any(vehicle.owner is None for vehicle in vehicles)

    assert len(context["parts"]) == Part.objects.count() == 150
    for part in Part.objects.all():
        assert services.ledger_balance(part) == part.on_hand
    assert Part.objects.low_stock().exists()
    assert set(PurchaseOrder.objects.values_list("status", flat=True)) == set(
        PurchaseOrder.Status.values
    )
    assert summary.startswith("40 vehicles, 4 suppliers, 150 parts")

    # Both shops stock parts: the second received its own order and parts sent from the first;
    # more are on the way. Each location's ledger matches its stock.
    main, east = Location.default(), Location.objects.get(code="east")
    assert PartStock.objects.filter(location=east, on_hand__gt=0).count() >= 10
    assert PartStock.objects.filter(location=main, on_hand__gt=0).count() >= 100
    assert PurchaseOrder.objects.filter(location=east, status="received").exists()
    assert set(StockTransfer.objects.values_list("status", flat=True)) == {
        "received",
        "in_transit",
    }
    for row in PartStock.objects.filter(location=east):
        assert services.ledger_balance(row.part, location=east) == row.on_hand
    assert PartStock.objects.filter(location=east, reorder_point__isnull=False).exists()


def test_make_vin_gives_the_check_digit_and_model_year_it_was_asked_for():
    rng, used = random.Random(1), set()
    for wmi, _ in demo.NORTH_AMERICAN:
        for year in (2005, 2018):
            vin = demo.make_vin(rng, wmi, year, used)
            assert validate_vin(vin) == vin
            assert decode_vin(vin).model_year == year
