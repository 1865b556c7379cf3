"""Stock numbers: every unit entered without one takes the shop's next number, the series a
manager edits; numbers follow each other with no gap and no duplicate, also when units are
entered at the same moment (PostgreSQL, real threads)."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from inventory.lot_services import acquire_unit
from inventory.models import StockNumberSeries, StockUnit
from tests.helpers.admin import visible_text
from tests.helpers.barrier import returned, run_together
from tests.helpers.builders.lot import delivered_deal, make_unit, make_vehicle

pytestmark = pytest.mark.django_db
ADD = "/admin/inventory/stockunit/add/"
SERIES = "/admin/inventory/stocknumberseries/"


def new_unit(vehicle=None, number=""):
    """A unit entered without a stock number (unless `number`), through the service."""
    return acquire_unit(
        StockUnit(
            stock_number=number,
            vehicle=vehicle or make_vehicle(),
            source=StockUnit.Source.AUCTION,
            acquisition_cost=Decimal("9000"),
            asking_price=Decimal("12000"),
        )
    )


def series(**fields):
    """The shop's series (made by the migration; a test that empties the tables makes it
    again), with `fields` changed."""
    row, _ = StockNumberSeries.objects.get_or_create(pk=1)
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    return row


def test_units_entered_without_a_number_take_the_series_next_one_in_turn():
    series(prefix="L", next_number=41, digits=4)
    assert [new_unit().stock_number for _ in range(3)] == ["L0041", "L0042", "L0043"]
    assert StockNumberSeries.objects.get().next_number == 44


def test_a_number_typed_by_hand_is_kept_and_skipped_by_the_series():
    series(prefix="L", next_number=7, digits=4)
    assert new_unit(number="L0008").stock_number == "L0008"
    assert [new_unit().stock_number for _ in range(2)] == ["L0007", "L0009"]


def test_a_unit_entry_that_rolls_back_gives_its_number_back():
    series(prefix="L", next_number=5, digits=4)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert new_unit().stock_number == "L0005"
        raise RuntimeError("the entry is abandoned")
    assert StockNumberSeries.objects.get().next_number == 5
    assert new_unit().stock_number == "L0005"


def test_a_refused_entry_takes_no_number():
    series(prefix="L", next_number=3, digits=4)
    vehicle = make_vehicle()
    new_unit(vehicle)
    with pytest.raises(Exception, match="already in stock as L0003"):
        new_unit(vehicle)
    assert StockNumberSeries.objects.get().next_number == 4


def test_a_trade_in_entering_stock_on_delivery_takes_the_series_number(salesperson):
    series(prefix="T-", next_number=12, digits=3)
    deal = delivered_deal(
        salesperson=salesperson,
        unit=make_unit(stock_number="S-1"),
        trades=[{"allowance": Decimal("2000"), "payoff": 0, "actual_cash_value": Decimal("1800")}],
    )
    assert deal.trade_ins.get().stock_unit.stock_number == "T-012"


def test_the_add_page_numbers_a_unit_left_blank_and_says_which_number_comes(salesperson, login):
    series(prefix="L", next_number=21, digits=4)
    client = login(salesperson)
    page = visible_text(client.get(ADD).content.decode())
    assert "Leave blank for the shop's next number (L0021)" in page
    vehicle = make_vehicle()
    data = {
        "stock_number": "",
        "vehicle": vehicle.pk,
        "source": "auction",
        "acquired_on": timezone.localdate().isoformat(),
        "acquisition_cost": "9000.00",
        "asking_price": "12500.00",
        "title_status": "received",
        "costs-TOTAL_FORMS": "0",
        "costs-INITIAL_FORMS": "0",
        "photos-TOTAL_FORMS": "0",
        "photos-INITIAL_FORMS": "0",
    }
    response = client.post(ADD, data)
    assert response.status_code == 302, visible_text(response.content.decode())[:2000]
    assert StockUnit.objects.get(vehicle=vehicle).stock_number == "L0021"


def test_a_manager_edits_the_series_a_salesperson_does_not(manager, salesperson, login, client):
    row = series()
    change = f"{SERIES}{row.pk}/change/"
    sales = login(salesperson)
    assert "stocknumberseries" not in sales.get("/admin/").content.decode()
    assert sales.get(change).status_code == 403
    assert sales.post(change, {"prefix": "X", "next_number": 1, "digits": 2}).status_code == 403
    assert StockNumberSeries.objects.get().prefix == "L"

    boss = login(manager)
    assert SERIES in boss.get("/admin/").content.decode()
    response = boss.post(change, {"prefix": "U", "next_number": "300", "digits": "5"})
    assert response.status_code == 302
    assert new_unit().stock_number == "U00300"
    # Bad input: a clear message, nothing changed.
    page = boss.post(change, {"prefix": "U 1", "next_number": "0", "digits": "9"})
    text = visible_text(page.content.decode())
    assert "Letters, digits and dashes only." in text
    assert "Ensure this value is greater than or equal to 1." in text
    assert StockNumberSeries.objects.get().prefix == "U"
    # One series: no second one, and it is never deleted.
    assert boss.get(f"{SERIES}add/").status_code == 403
    assert boss.get(f"{SERIES}{row.pk}/delete/").status_code == 403


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_units_entered_at_the_same_moment_get_consecutive_unique_numbers():
    series(prefix="L", next_number=100, digits=4)
    vehicles = [make_vehicle() for _ in range(6)]

    outcomes = run_together(*[lambda v=vehicle: new_unit(v) for vehicle in vehicles])

    numbers = sorted(unit.stock_number for unit in returned(outcomes))
    assert numbers == [f"L{n:04d}" for n in range(100, 106)]
    assert StockNumberSeries.objects.get().next_number == 106
    assert StockUnit.objects.filter(stock_number__in=numbers).count() == 6


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_an_entry_rolled_back_while_another_waits_leaves_no_gap():
    """One entry takes a number and rolls back while a second waits on the series: the second
    gets the number given back."""
    series(prefix="L", next_number=50, digits=4)
    first_vehicle, second_vehicle = make_vehicle(), make_vehicle()

    def abandoned():
        with transaction.atomic():
            new_unit(first_vehicle)
            raise RuntimeError("abandoned")

    outcomes = run_together(abandoned, lambda: new_unit(second_vehicle), catch=RuntimeError)
    assert [kind for kind, _ in outcomes] == ["error", "ok"]
    # Whichever ran first, the number kept is the first, and the series continues after it.
    assert StockUnit.objects.get(vehicle=second_vehicle).stock_number == "L0050"
    assert not StockUnit.objects.filter(vehicle=first_vehicle).exists()
    assert new_unit().stock_number == "L0051"
