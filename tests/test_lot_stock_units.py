"""Stock units: acquisition, the status workflow, days in stock, costs and photos."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image

from inventory.lot_services import (
    StockUnitError,
    acquire_unit,
    ensure_main_photo,
    move_unit,
    set_main_photo,
    wholesale_unit,
)
from inventory.models import StockUnit, StockUnitCost, StockUnitPhoto
from sales import services
from tests.helpers.builders.lot import make_customer, make_deal, make_unit, make_vehicle

D = Decimal
U = StockUnit.Status
pytestmark = pytest.mark.django_db


def jpeg(name="car.jpg", color="red"):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), color).save(buffer, "JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def test_acquiring_a_customers_car_makes_the_business_its_owner():
    seller = make_customer("Sal", "Seller")
    car = make_vehicle(owner=seller)
    unit = make_unit(vehicle=car, status=U.ACQUIRED)
    car.refresh_from_db()
    assert unit.status == U.ACQUIRED
    assert car.owner is None


def test_a_vehicle_already_in_stock_cannot_be_acquired_again():
    unit = make_unit()
    with pytest.raises(StockUnitError, match=f"already in stock as {unit.stock_number}"):
        acquire_unit(
            StockUnit(
                stock_number="NEW1", vehicle=unit.vehicle, source="auction", acquisition_cost=D("1")
            )
        )
    assert StockUnit.objects.count() == 1


def test_stock_numbers_are_unique():
    make_unit(stock_number="A100")
    with pytest.raises(StockUnitError, match="Stock number A100 is already used"):
        make_unit(stock_number="A100")


def test_database_refuses_two_units_in_stock_for_one_vehicle():
    unit = make_unit()
    with pytest.raises(IntegrityError), transaction.atomic():
        StockUnit.objects.create(
            stock_number="DUP", vehicle=unit.vehicle, source="auction", acquisition_cost=D("1")
        )


MANUAL = [U.RECONDITIONING, U.AVAILABLE]


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        (U.ACQUIRED, U.RECONDITIONING, True),
        (U.ACQUIRED, U.AVAILABLE, True),
        (U.RECONDITIONING, U.AVAILABLE, True),
        (U.AVAILABLE, U.RECONDITIONING, True),
        (U.RECONDITIONING, U.RECONDITIONING, False),
        (U.AVAILABLE, U.AVAILABLE, False),
    ],
)
def test_manual_workflow_steps(start, target, allowed):
    unit = make_unit(status=start)
    if allowed:
        move_unit(unit, target)
        assert StockUnit.objects.get(pk=unit.pk).status == target
    else:
        with pytest.raises(StockUnitError, match="cannot move to"):
            move_unit(unit, target)
        assert StockUnit.objects.get(pk=unit.pk).status == start


@pytest.mark.parametrize("target", [U.RESERVED, U.SOLD, U.RETURNED])
def test_reserving_selling_and_returning_happen_only_through_a_deal(target):
    unit = make_unit()
    with pytest.raises(StockUnitError, match="only through its deal"):
        move_unit(unit, target)
    assert StockUnit.objects.get(pk=unit.pk).status == U.AVAILABLE


def test_a_unit_reserved_or_sold_cannot_be_moved_by_hand(salesperson):
    deal = make_deal(salesperson=salesperson)
    services.sign_deal(deal)
    with pytest.raises(
        StockUnitError, match=r"“Reserved \(signed deal\)”; it cannot move to “In reconditioning”"
    ):
        move_unit(deal.stock_unit, U.RECONDITIONING)


def test_wholesaling_records_the_price_and_the_day_it_left():
    unit = make_unit(days_ago=40)
    wholesale_unit(unit, D("7500"))
    unit.refresh_from_db()
    assert (unit.status, unit.wholesale_price) == (U.WHOLESALED, D("7500.00"))
    assert unit.disposed_on == timezone.localdate()
    with pytest.raises(StockUnitError, match="“Wholesaled”; it cannot move to “Available”"):
        move_unit(unit, U.AVAILABLE)


def test_a_reserved_unit_cannot_be_wholesaled(salesperson):
    deal = make_deal(salesperson=salesperson)
    services.sign_deal(deal)
    with pytest.raises(StockUnitError, match="reserved by a signed deal; cancel the deal"):
        wholesale_unit(deal.stock_unit, D("5000"))
    assert StockUnit.objects.get(pk=deal.stock_unit_id).status == U.RESERVED


def test_days_in_stock_count_until_today_then_stop_when_the_unit_leaves():
    unit = make_unit(days_ago=75)
    today = timezone.localdate()
    assert unit.days_in_stock() == 75
    assert unit.is_aged(60) and not unit.is_aged(75)
    wholesale_unit(unit, D("1"), on=today - timedelta(days=5))
    unit.refresh_from_db()
    assert unit.days_in_stock(today + timedelta(days=100)) == 70
    assert not unit.is_aged(60)  # it left the lot: no longer aging


def test_total_cost_is_acquisition_plus_other_costs():
    unit = make_unit(
        cost="8000",
        other_costs=[
            (StockUnitCost.Kind.TRANSPORT, "350.00"),
            (StockUnitCost.Kind.AUCTION_FEE, "225.50"),
            (StockUnitCost.Kind.DETAILING, "149.50"),
        ],
    )
    costs = services.unit_costs(unit)
    assert (costs.acquisition, costs.other, costs.total) == (
        D("8000.00"),
        D("725.00"),
        D("8725.00"),
    )
    listed = services.with_cost_totals(StockUnit.objects.filter(pk=unit.pk)).get()
    assert (listed.other_costs, listed.total_cost) == (D("725.00"), D("8725.00"))


def test_photos_are_kept_in_storage_and_one_is_the_main_photo():
    unit = make_unit()
    first = StockUnitPhoto.objects.create(unit=unit, image=jpeg("front.jpg"), position=1)
    second = StockUnitPhoto.objects.create(unit=unit, image=jpeg("side.jpg"), position=2)
    assert default_storage.exists(first.image.name)

    ensure_main_photo(unit)
    assert list(unit.photos.filter(is_main=True)) == [first]
    set_main_photo(second)
    assert list(unit.photos.filter(is_main=True)) == [second]
    assert [p.pk for p in unit.photos.all()] == [first.pk, second.pk]  # ordered by position


def test_database_refuses_two_main_photos():
    unit = make_unit()
    StockUnitPhoto.objects.create(unit=unit, image=jpeg(), is_main=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockUnitPhoto.objects.create(unit=unit, image=jpeg(), is_main=True)
