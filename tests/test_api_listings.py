"""Marketplaces read the cars for sale: available stock units with their price, specs, photos and
days on the lot, never what the business paid. The lot's services publish `stock_unit.available`
and `stock_unit.sold` in the transaction of the change."""

import json
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.db import transaction

from accounts.models import WebhookEvent
from accounts.roles import SALESPERSON, TECHNICIAN
from inventory.lot_services import move_unit
from inventory.models import StockUnit, StockUnitPhoto
from tests.helpers.api import key_client, partner_with_key, staff_client, verified_subscription
from tests.helpers.builders.lot import bulk_units, delivered_deal, make_unit

pytestmark = pytest.mark.django_db

LISTINGS = "/api/v1/listings/"


def _marketplace(name="CarsNow"):
    _partner, _key, plain = partner_with_key(
        name=name, scopes=["listings:read"], kind="marketplace"
    )
    return key_client(plain)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _photo(unit, name, **fields):
    photo = StockUnitPhoto(unit=unit, **fields)
    photo.image.save(name, ContentFile(b"\xff\xd8\xff fake jpeg"), save=False)
    photo.save()
    return photo


def test_a_car_for_sale_shows_price_specs_photos_and_days_listed(media):
    unit = make_unit(
        cost="9000.00",
        asking="14500.00",
        days_ago=12,
        internet_price=Decimal("13990.00"),
        other_costs=[("transport", "350.00")],
    )
    unit.vehicle.trim, unit.vehicle.odometer = "EX-L", 61000
    unit.vehicle.save()
    _photo(unit, "side.jpg", position=2)
    _photo(unit, "front.jpg", position=1, is_main=True)

    body = _marketplace().get(f"{LISTINGS}{unit.pk}/").json()

    assert body["stock_number"] == unit.stock_number
    assert body["price"] == "13990.00"
    assert body["asking_price"] == "14500.00"
    assert body["days_listed"] == 12
    assert body["vehicle"]["vin"] == unit.vehicle.vin
    assert body["vehicle"]["trim"] == "EX-L"
    assert body["vehicle"]["odometer"] == 61000
    assert body["main_photo_url"].startswith("http://testserver/media/stock/photos/")
    assert body["main_photo_url"].endswith(".jpg") and "front" in body["main_photo_url"]
    assert [photo["position"] for photo in body["photos"]] == [1, 2]


def test_no_cost_or_purchase_detail_ever_reaches_a_marketplace(media):
    unit = make_unit(
        cost="9123.45",
        asking="14000.00",
        acquired_from="Manheim Dallas",
        other_costs=[("transport", "377.77")],
        notes="Hail damage on the roof",
    )
    text = json.dumps(_marketplace().get(LISTINGS).json())
    assert unit.stock_number in text
    for secret in (
        "9123.45",
        "377.77",
        "Manheim",
        "Hail",
        "cost",
        "acquired_from",
        "source",
        "notes",
        "wholesale",
    ):
        assert secret not in text


def test_only_available_cars_with_a_price_are_listed():
    for_sale = make_unit()
    make_unit(status=StockUnit.Status.RECONDITIONING)
    make_unit(asking=None)
    delivered_deal(salesperson=staff_client("sally", SALESPERSON)[1])
    client = _marketplace()

    assert [row["id"] for row in client.get(LISTINGS).json()["results"]] == [for_sale.pk]
    hidden = StockUnit.objects.exclude(pk=for_sale.pk).first()
    assert client.get(f"{LISTINGS}{hidden.pk}/").status_code == 404


def test_listings_filter_by_make_year_and_price():
    honda = make_unit(asking="9000.00")
    toyota = make_unit(asking="21000.00")
    toyota.vehicle.make, toyota.vehicle.model_year = "Toyota", 2021
    toyota.vehicle.save()
    client = _marketplace()

    def ids(**params):
        response = client.get(LISTINGS, params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(make="toyota") == [toyota.pk]
    assert ids(year_min=2020) == [toyota.pk]
    assert ids(price_max="10000") == [honda.pk]
    assert ids(ordering="-price") == [toyota.pk, honda.pk]
    assert client.get(LISTINGS, {"ordering": "acquisition_cost"}).status_code == 400


@pytest.mark.parametrize("rows", [1, 50])
def test_a_page_of_listings_costs_the_same_number_of_queries_with_1_or_50_cars(
    rows, django_assert_max_num_queries
):
    bulk_units(rows, photo="stock/photos/x.jpg")
    client = _marketplace()
    client.get("/api/v1/me/")  # the key's last use is recorded once a minute, not per page
    with django_assert_max_num_queries(3):  # the key, the page, its photos
        response = client.get(LISTINGS, {"page_size": 50})
    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("scope", ["leads:write", "repairs:read", "accounting:read"])
def test_listings_need_the_listings_scope(scope):
    unit = make_unit()
    _partner, _key, plain = partner_with_key(name="Other", scopes=[scope])
    client = key_client(plain)
    assert client.get(LISTINGS).status_code == 403
    assert client.get(f"{LISTINGS}{unit.pk}/").status_code == 403


def test_staff_read_listings_with_their_role():
    make_unit()
    sales, _user = staff_client("sales1", SALESPERSON)
    assert sales.get(LISTINGS).status_code == 200
    tech, _user = staff_client("tech1", TECHNICIAN)
    assert tech.get(LISTINGS).status_code == 403


def _subscribe_marketplace():
    partner, _key, _plain = partner_with_key(name="CarsNow", scopes=["listings:read"])
    verified_subscription(
        partner,
        url="https://hooks.example.com/cars",
        events=["stock_unit.available", "stock_unit.sold"],
    )
    return partner


def test_a_unit_going_on_sale_and_being_sold_publishes_events_to_marketplaces():
    _subscribe_marketplace()
    unit = make_unit(status=StockUnit.Status.RECONDITIONING)
    move_unit(unit, StockUnit.Status.AVAILABLE)
    deal = delivered_deal(unit=unit, salesperson=staff_client("sally", SALESPERSON)[1])

    events = list(WebhookEvent.objects.order_by("id"))
    assert [event.event_type for event in events] == ["stock_unit.available", "stock_unit.sold"]
    assert events[0].payload["stock_unit"] == unit.pk
    assert events[0].payload["price"] == "14000.00"
    assert events[1].payload["stock_number"] == unit.stock_number
    assert all(event.deliveries.count() == 1 for event in events)
    assert deal.status == "delivered"


def test_the_event_is_rolled_back_with_a_step_that_fails():
    _subscribe_marketplace()
    unit = make_unit(status=StockUnit.Status.RECONDITIONING)
    with pytest.raises(RuntimeError), transaction.atomic():
        move_unit(unit, StockUnit.Status.AVAILABLE)
        assert WebhookEvent.objects.filter(event_type="stock_unit.available").exists()
        raise RuntimeError("the disk filled up")
    assert not WebhookEvent.objects.exists()
    unit.refresh_from_db()
    assert unit.status == StockUnit.Status.RECONDITIONING
