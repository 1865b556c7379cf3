"""The lot in the admin: the stock list (search, aging, costs, photos), a unit's page, actions."""

from decimal import Decimal

import pytest

from accounts.models import ShopSettings
from inventory.models import StockUnit, StockUnitCost, StockUnitPhoto
from tests.helpers.admin import inline_management, png
from tests.helpers.builders.lot import (
    bulk_units,
    delivered_deal,
    make_customer,
    make_unit,
    make_vehicle,
)

D = Decimal
U = StockUnit.Status
LIST = "/admin/inventory/stockunit/"
pytestmark = pytest.mark.django_db


def unit_with_extras():
    unit = make_unit(days_ago=90, other_costs=[(StockUnitCost.Kind.TRANSPORT, "100")])
    StockUnitPhoto.objects.create(unit=unit, image=png(), is_main=True)
    return unit


@pytest.mark.parametrize("query", ["", "?status=available&aging=aged&title_status=missing"])
def test_stock_list_queries_do_not_grow_with_rows(
    salesperson, login, query, django_assert_max_num_queries
):
    ShopSettings.current()  # the shop's settings row, as every installation has it
    client = login(salesperson)
    unit_with_extras()
    with django_assert_max_num_queries(7):
        response = client.get(LIST + query)
    assert response.status_code == 200
    stored = StockUnitPhoto.objects.get().image.name
    bulk_units(49, days_ago=90, photo=stored, other_cost="100")
    with django_assert_max_num_queries(7):
        response = client.get(LIST + query)
    assert response.status_code == 200
    assert response.content.count(b'class="field-stock_number"') == 50


@pytest.mark.parametrize("term", ["S-FIND-1", "find-1", "vin", "tail"])
def test_search_finds_a_unit_by_stock_number_vin_or_the_end_of_its_vin(salesperson, login, term):
    wanted = make_unit(stock_number="S-FIND-1")
    make_unit(stock_number="S-OTHER-2")
    term = {"vin": wanted.vehicle.vin, "tail": wanted.vehicle.vin[-6:]}.get(term, term)
    response = login(salesperson).get(LIST, {"q": term})
    assert b"S-FIND-1" in response.content
    assert b"S-OTHER-2" not in response.content


def test_aged_units_are_marked_and_filtered_by_the_shop_threshold(salesperson, login):
    settings = ShopSettings.current()
    settings.aging_threshold_days = 45
    settings.save()
    make_unit(stock_number="OLD-1", days_ago=50)
    make_unit(stock_number="NEW-1", days_ago=5)
    client = login(salesperson)

    page = client.get(LIST).content.decode()
    old_row = next(row for row in page.split("<tr") if "OLD-1" in row)
    new_row = next(row for row in page.split("<tr") if "NEW-1" in row)
    assert 'class="aged"' in old_row and ">50 ⚠<" in old_row
    assert 'class="aged"' not in new_row

    aged = client.get(LIST, {"aging": "aged"}).content
    assert b"OLD-1" in aged and b"NEW-1" not in aged
    assert b"over 45 days" in aged


def test_unit_page_shows_the_cost_breakdown(salesperson, login):
    unit = make_unit(
        cost="9000",
        other_costs=[(StockUnitCost.Kind.TRANSPORT, "400"), (StockUnitCost.Kind.DETAILING, "600")],
    )
    page = login(salesperson).get(f"{LIST}{unit.pk}/change/").content.decode()
    assert "Acquisition" in page and "9,000.00" in page
    assert "Transport" in page and "400.00" in page
    assert "10,000.00" in page  # the total


def test_adding_a_unit_in_the_admin_acquires_it(salesperson, login):
    seller = make_customer("Sal", "Seller")
    car = make_vehicle(owner=seller)
    data = {
        "stock_number": "A-1",
        "vehicle": car.pk,
        "title_status": "received",
        "source": "private",
        "acquired_from": "Sal Seller",
        "acquired_on": "2026-01-05",
        "acquisition_cost": "6500.00",
        "asking_price": "9900.00",
        "internet_price": "",
        "notes": "",
        **inline_management("costs"),
        **inline_management("photos"),
    }
    response = login(salesperson).post(f"{LIST}add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    unit = StockUnit.objects.get(stock_number="A-1")
    assert unit.status == U.ACQUIRED
    car.refresh_from_db()
    assert car.owner is None


def test_adding_a_vehicle_already_in_stock_says_so_and_saves_nothing(salesperson, login):
    unit = make_unit(stock_number="IN-1")
    data = {
        "stock_number": "A-2",
        "vehicle": unit.vehicle_id,
        "title_status": "missing",
        "source": "auction",
        "acquired_on": "2026-01-05",
        "acquisition_cost": "1.00",
        **inline_management("costs"),
        **inline_management("photos"),
    }
    response = login(salesperson).post(f"{LIST}add/", data)
    assert response.status_code == 200
    assert "This vehicle is already in stock as IN-1." in response.content.decode()
    assert not StockUnit.objects.filter(stock_number="A-2").exists()


def test_photos_uploaded_on_the_unit_page_get_a_main_photo(salesperson, login):
    unit = make_unit()
    data = {
        "title_status": unit.title_status,
        "source": unit.source,
        "acquired_on": unit.acquired_on.isoformat(),
        "acquisition_cost": "10000.00",
        "asking_price": "14000.00",
        **inline_management("costs"),
        **inline_management("photos", total=2),
        "photos-0-image": png(),
        "photos-0-position": "2",
        "photos-0-caption": "Side",
        "photos-1-image": png(),
        "photos-1-position": "1",
        "photos-1-caption": "Front",
    }
    response = login(salesperson).post(f"{LIST}{unit.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    photos = list(unit.photos.all())
    assert [p.caption for p in photos] == ["Front", "Side"]
    assert [p.is_main for p in photos] == [True, False]


def test_ticking_two_main_photos_is_refused_with_a_message(salesperson, login):
    unit = make_unit()
    data = {
        "title_status": unit.title_status,
        "source": unit.source,
        "acquired_on": unit.acquired_on.isoformat(),
        "acquisition_cost": "10000.00",
        **inline_management("costs"),
        **inline_management("photos", total=2),
        "photos-0-image": png(),
        "photos-0-position": "1",
        "photos-0-is_main": "on",
        "photos-1-image": png(),
        "photos-1-position": "2",
        "photos-1-is_main": "on",
    }
    response = login(salesperson).post(f"{LIST}{unit.pk}/change/", data)
    assert response.status_code == 200
    assert "Tick one main photo." in response.content.decode()
    assert not unit.photos.exists()


def test_actions_move_units_and_report_refusals(salesperson, login):
    fresh = make_unit(stock_number="F-1", status=U.ACQUIRED)
    ready = make_unit(stock_number="R-1", status=U.AVAILABLE)
    response = login(salesperson).post(
        LIST, {"action": "make_available", "_selected_action": [fresh.pk, ready.pk]}, follow=True
    )
    page = response.content.decode()
    assert "1 stock unit(s) now available." in page
    assert "Stock unit R-1 is “Available”; it cannot move to “Available”." in page
    fresh.refresh_from_db()
    assert fresh.status == U.AVAILABLE


def test_wholesale_action_asks_for_the_price_first(salesperson, login):
    unit = make_unit(stock_number="W-1")
    client = login(salesperson)
    asked = client.post(LIST, {"action": "wholesale", "_selected_action": [unit.pk]})
    assert asked.status_code == 200 and b"What the unit went for." in asked.content
    assert StockUnit.objects.get(pk=unit.pk).status == U.AVAILABLE

    client.post(
        LIST,
        {"action": "wholesale", "_selected_action": [unit.pk], "apply": "yes", "price": "6200.00"},
    )
    unit.refresh_from_db()
    assert (unit.status, unit.wholesale_price) == (U.WHOLESALED, D("6200.00"))


def test_technicians_do_not_see_the_lot(technician, login):
    assert login(technician).get(LIST).status_code == 403


def test_search_by_vin_end_keeps_the_list_filters(salesperson, login):
    sold_tail = make_unit(stock_number="KEEP-1")
    page = (
        login(salesperson)
        .get(LIST, {"q": sold_tail.vehicle.vin[-6:], "status": "sold"})
        .content.decode()
    )
    assert "KEEP-1" not in page


def test_picking_a_unit_for_a_deal_offers_only_units_on_the_lot(salesperson, login):
    on_lot = make_unit(stock_number="PICK-1")
    delivered_deal(salesperson=salesperson, unit=make_unit(stock_number="PICK-2"))
    response = login(salesperson).get(
        "/admin/autocomplete/",
        {"app_label": "sales", "model_name": "deal", "field_name": "stock_unit", "term": "PICK"},
    )
    found = [item["text"] for item in response.json()["results"]]
    assert found == [str(on_lot)]
