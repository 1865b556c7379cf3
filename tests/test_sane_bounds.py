"""Absurd values are refused: every quantity, amount, price, rate, hours and reading has a bound
(accounts/limits.py) that forms state in their message, services refuse and the database holds
with a CHECK constraint. And a down payment is never more than the buyer owes."""

import re
from decimal import Decimal as D
from html import unescape

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts import limits
from accounts.roles import MANAGER, SALESPERSON, SERVICE_ADVISOR
from inventory import services as inventory_services
from inventory.exceptions import InventoryError
from inventory.models import OdometerReading, Part, StockMovement, Vehicle
from repairs import services
from repairs.exceptions import RepairError
from repairs.models import CannedJobPart, LaborLine, PartLine, RepairOrder
from sales import services as sales_services
from sales.models import Deal, DealAddon, TradeIn
from tests.helpers.builders.lot import make_customer, make_deal, make_unit
from tests.helpers.builders.repairs import add_job_with_lines, make_order, make_part, make_staff

pytestmark = pytest.mark.django_db

TRILLION = 1_000_000_000_000


def _page(response):
    return unescape(response.content.decode())


# Repair orders -----------------------------------------------------------------------------------


@pytest.fixture
def job():
    order = make_order()
    return add_job_with_lines(order, title="Brakes", labor=[("1.5", "100.00")])


def test_a_part_quantity_of_a_trillion_is_refused_by_the_service(job):
    part = make_part("BP-1", price="262.66")
    with pytest.raises(RepairError, match=re.escape("At most 10,000 per line.")):
        services.add_part_line(job, part, TRILLION)
    assert not PartLine.objects.exists()
    line = services.add_part_line(job, part, 4)
    with pytest.raises(RepairError, match=re.escape("At most 10,000 per line.")):
        services.change_part_line(line, quantity=TRILLION)
    with pytest.raises(RepairError, match=re.escape("At most 100,000.00 per part.")):
        services.change_part_line(line, price="1000000")
    line.refresh_from_db()
    assert (line.quantity, line.price) == (4, D("262.66"))


def test_a_line_that_comes_to_an_absurd_amount_is_refused(job):
    part = make_part("ENG-1", price="90000.00", on_hand=100)
    with pytest.raises(RepairError, match=re.escape("At most 250,000.00 on one line.")):
        services.add_part_line(job, part, 3)
    with pytest.raises(RepairError, match=re.escape("At most 500.00 hours per line.")):
        services.add_labor_line(job, operation="Everything", hours_sold="9999")
    with pytest.raises(RepairError, match=re.escape("At most 2,000.00 per hour.")):
        services.add_labor_line(job, operation="Gold", hours_sold="1", rate="5000")
    with pytest.raises(RepairError, match=re.escape("At most 250,000.00 on one line.")):
        services.add_labor_line(job, operation="Rebuild", hours_sold="400", rate="1000")
    assert not PartLine.objects.exists()
    assert job.labor_lines.count() == 1


def test_the_job_page_says_the_bound_and_the_order_total_stays_sane(client, job):
    client.force_login(make_staff("sam", SERVICE_ADVISOR))
    part = make_part("BP-1", price="262.66")
    url = reverse("admin:repairs_job_change", args=[job.pk])
    form = {
        "position": "1",
        "title": job.title,
        "complaint": "",
        "cause": "",
        "correction": "",
        "labor_lines-TOTAL_FORMS": "0",
        "labor_lines-INITIAL_FORMS": "0",
        "part_lines-TOTAL_FORMS": "1",
        "part_lines-INITIAL_FORMS": "0",
        "part_lines-0-part": part.pk,
        "part_lines-0-quantity": str(TRILLION),
        "part_lines-0-price": "",
        "time_entries-TOTAL_FORMS": "0",
        "time_entries-INITIAL_FORMS": "0",
    }
    response = client.post(url, form)
    assert response.status_code == 200
    assert "At most 10,000 per line." in _page(response)
    assert not PartLine.objects.exists()
    page = _page(client.get(reverse("admin:repairs_repairorder_print", args=[job.repair_order_id])))
    assert "262,663,600" not in page and "262663600" not in page


def test_the_job_page_refuses_a_line_that_comes_to_more_than_the_bound(client, job):
    client.force_login(make_staff("sam", SERVICE_ADVISOR))
    part = make_part("ENG-1", price="90000.00", on_hand=10)
    response = client.post(
        reverse("admin:repairs_job_change", args=[job.pk]),
        {
            "position": "1",
            "title": job.title,
            "complaint": "",
            "cause": "",
            "correction": "",
            "labor_lines-TOTAL_FORMS": "0",
            "labor_lines-INITIAL_FORMS": "0",
            "part_lines-TOTAL_FORMS": "1",
            "part_lines-INITIAL_FORMS": "0",
            "part_lines-0-part": part.pk,
            "part_lines-0-quantity": "3",
            "part_lines-0-price": "90000.00",
            "time_entries-TOTAL_FORMS": "0",
            "time_entries-INITIAL_FORMS": "0",
        },
    )
    assert "At most 250,000.00 on one line." in _page(response)
    assert not PartLine.objects.exists()


def test_the_odometer_in_of_a_repair_order_is_bounded_in_the_form(client, job):
    client.force_login(make_staff("sam", SERVICE_ADVISOR))
    order = job.repair_order
    url = reverse("admin:repairs_repairorder_change", args=[order.pk])
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(
        url,
        {
            "customer": order.customer_id,
            "vehicle": order.vehicle_id,
            "odometer_in": "99999999999999",
            "discount_percent": "0",
            "hazardous_waste": "on",
            "notes": "",
            "promised_at_0": "",
            "promised_at_1": "",
            "comeback_of": "",
            "advisor": "",
            "jobs-TOTAL_FORMS": "0",
            "jobs-INITIAL_FORMS": "0",
        },
    )
    assert "At most 2,000,000 on an odometer." in _page(response)
    assert RepairOrder.objects.get(pk=order.pk).odometer_in is None


# Inventory -------------------------------------------------------------------------------------


def test_an_odometer_of_99_999_999_999_999_is_refused():
    vehicle = Vehicle.objects.create(vin="1HGCM82633A004352")
    with pytest.raises(InventoryError, match=re.escape("At most 2,000,000 on an odometer.")):
        inventory_services.record_odometer(vehicle, 99_999_999_999_999, timezone.localdate())
    assert not OdometerReading.objects.exists()
    inventory_services.record_odometer(vehicle, 2_000_000, timezone.localdate())
    vehicle.refresh_from_db()
    assert vehicle.odometer == 2_000_000


def test_stock_and_purchasing_refuse_absurd_quantities_and_costs():
    part = make_part("OF-1", price="9.50", on_hand=5)
    with pytest.raises(InventoryError, match=re.escape("At most 1,000,000 parts in one movement.")):
        inventory_services.adjust_stock(part, TRILLION, reason="count")
    with pytest.raises(InventoryError, match=re.escape("At most 100,000.00 per part.")):
        inventory_services.receive_part(part, 1, "999999999")
    assert StockMovement.objects.filter(part=part).count() == 1  # the opening stock
    part.refresh_from_db()
    assert part.on_hand == 5


def test_the_part_form_says_the_bound(client):
    client.force_login(make_staff("robin", MANAGER))
    response = client.post(
        reverse("admin:inventory_part_add"),
        {
            "sku": "X-1",
            "description": "Gold filter",
            "unit_cost": "1000000",
            "price_override": "",
            "taxable": "on",
            "reorder_point": "0",
            "reorder_quantity": str(TRILLION),
            "active": "on",
        },
    )
    page = _page(response)
    assert "At most 100,000.00 per part." in page
    assert "At most 1,000,000 parts." in page
    assert not Part.objects.filter(sku="X-1").exists()


# Sales -----------------------------------------------------------------------------------------


@pytest.fixture
def salesperson():
    return make_staff("sally", SALESPERSON)


def test_a_down_payment_may_not_exceed_what_the_buyer_owes(salesperson):
    deal = make_deal(salesperson=salesperson, sale_price=D("17000.00"))
    owed = sales_services.amount_owed(deal)
    assert owed == sales_services.figures(deal, unit_cost=0).total_price
    deal.down_payment = D("999999999.00")
    with pytest.raises(
        sales_services.DealError, match=re.escape("At most 2,000,000.00 for a vehicle.")
    ):
        sales_services.update_draft(deal)
    deal.down_payment = owed + D("0.01")
    with pytest.raises(sales_services.DealError, match=f"more than the buyer owes \\({owed:,.2f}"):
        sales_services.update_draft(deal)
    assert Deal.objects.get(pk=deal.pk).down_payment == 0
    deal.down_payment = owed
    sales_services.update_draft(deal)
    assert Deal.objects.get(pk=deal.pk).down_payment == owed


def test_a_trade_in_lowers_what_the_down_payment_may_be_and_signing_checks_it(salesperson):
    deal = make_deal(salesperson=salesperson, sale_price=D("17000.00"), down_payment=D("15000.00"))
    buyer_car = Vehicle.objects.create(vin="1HGCM82633A004352", owner=deal.buyer)
    TradeIn.objects.create(
        deal=deal, vehicle=buyer_car, allowance=D("9000.00"), actual_cash_value=D("9000.00")
    )
    owed = sales_services.amount_owed(deal)
    with pytest.raises(sales_services.DealError, match="more than the buyer owes"):
        sales_services.sign_deal(deal)
    assert Deal.objects.get(pk=deal.pk).status == Deal.Status.DRAFT
    assert owed < D("15000.00")


def test_the_deal_form_refuses_a_down_payment_over_what_is_owed(client, salesperson):
    unit = make_unit(stock_number="NEW-1")
    client.force_login(salesperson)
    data = {
        "stock_unit": unit.pk,
        "buyer": make_customer().pk,
        "salesperson": salesperson.pk,
        "sale_price": "17000.00",
        "documentation_fee": "199.00",
        "registration_fee": "85.00",
        "down_payment": "999999999",
        "finance_reserve": "0",
    }
    for prefix in ("trade_ins", "addons", "payments", "refunds", "commissions"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(reverse("admin:sales_deal_add"), data)
    assert "At most 2,000,000.00 for a vehicle." in _page(response)
    data["down_payment"] = "19000.00"
    response = client.post(reverse("admin:sales_deal_add"), data)
    assert "A down payment of 19,000.00 is more than the buyer owes" in _page(response)
    assert not Deal.objects.exists()
    data["down_payment"] = "5000.00"
    assert client.post(reverse("admin:sales_deal_add"), data).status_code == 302
    assert Deal.objects.get().down_payment == D("5000.00")


# The database holds the bounds whatever path writes -------------------------------------------


def _rows(salesperson):
    order = make_order()
    job = add_job_with_lines(
        order, labor=[("1", "100.00")], parts=[(make_part("BP-1", price="20.00"), 1, None)]
    )
    deal = make_deal(
        salesperson=salesperson, addons=[{"kind": "gap", "price": D("695.00"), "cost": D("250.00")}]
    )
    vehicle = order.vehicle
    inventory_services.record_odometer(vehicle, 120_000, timezone.localdate())
    canned_part = CannedJobPart(part=Part.objects.get(), quantity=1)
    return {
        "order": order,
        "job": job,
        "deal": deal,
        "vehicle": vehicle,
        "canned_part": canned_part,
    }


CASES = [
    # (model, filter from the rows, field, value just over the bound)
    (PartLine, "job", "quantity", limits.MAX_LINE_QUANTITY + 1),
    (PartLine, "job", "price", limits.MAX_PART_PRICE + D("0.01")),
    (LaborLine, "job", "hours_sold", limits.MAX_LABOR_HOURS + D("0.01")),
    (LaborLine, "job", "rate", limits.MAX_LABOR_RATE + D("0.01")),
    (RepairOrder, "order", "odometer_in", limits.MAX_ODOMETER + 1),
    (Vehicle, "vehicle", "odometer", limits.MAX_ODOMETER + 1),
    (OdometerReading, "vehicle", "reading", limits.MAX_ODOMETER + 1),
    (Part, None, "unit_cost", limits.MAX_PART_PRICE + D("0.01")),
    (Part, None, "reorder_quantity", limits.MAX_STOCK_QUANTITY + 1),
    (Deal, "deal", "down_payment", limits.MAX_VEHICLE_AMOUNT + D("0.01")),
    (Deal, "deal", "sale_price", limits.MAX_VEHICLE_AMOUNT + D("0.01")),
    (Deal, "deal", "documentation_fee", limits.MAX_DEAL_CHARGE + D("0.01")),
    (DealAddon, "deal", "price", limits.MAX_DEAL_CHARGE + D("0.01")),
]


def _queryset(model, key, rows):
    if key is None:
        return model.objects.all()
    target = rows[key]
    related = {"job": "job", "order": "pk", "vehicle": "vehicle", "deal": "deal"}[key]
    if model in (RepairOrder, Vehicle, Deal):
        return model.objects.filter(pk=target.pk)
    return model.objects.filter(**{related: target})


@pytest.mark.parametrize(
    ("model", "key", "field", "value"),
    CASES,
    ids=[f"{case[0].__name__}.{case[2]}" for case in CASES],
)
def test_the_database_refuses_a_value_over_the_bound(salesperson, model, key, field, value):
    rows = _rows(salesperson)
    queryset = _queryset(model, key, rows)
    assert queryset.exists()
    before = list(queryset.values_list(field, flat=True))
    with pytest.raises(IntegrityError), transaction.atomic():
        queryset.update(**{field: value})
    assert list(queryset.values_list(field, flat=True)) == before


def test_the_database_refuses_a_line_that_comes_to_more_than_the_bound(salesperson):
    rows = _rows(salesperson)
    with pytest.raises(IntegrityError), transaction.atomic():
        PartLine.objects.filter(job=rows["job"]).update(quantity=10_000, price=D("100.00"))
    assert PartLine.objects.get().quantity == 1


def test_the_bounds_hold_at_the_bound_itself(salesperson):
    rows = _rows(salesperson)
    PartLine.objects.filter(job=rows["job"]).update(
        quantity=limits.MAX_LINE_QUANTITY, price=D("25.00")
    )
    Vehicle.objects.filter(pk=rows["vehicle"].pk).update(odometer=limits.MAX_ODOMETER)
    Deal.objects.filter(pk=rows["deal"].pk).update(sale_price=limits.MAX_VEHICLE_AMOUNT)
    assert Vehicle.objects.get(pk=rows["vehicle"].pk).odometer == limits.MAX_ODOMETER
