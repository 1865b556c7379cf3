"""Reconditioning: the service shop's internal repair orders on a stock unit's vehicle post their
parts and labor cost to the unit, live, from the day it was acquired to the day it left."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import ShopSettings
from inventory.lot_services import wholesale_unit
from inventory.models import StockUnit, StockUnitCost
from repairs import services as shop
from repairs.models import RepairOrder
from sales import services
from tests.helpers.builders.inventory import make_part
from tests.helpers.builders.lot import (
    bulk_units,
    delivered_deal,
    make_customer,
    make_unit,
)

D = Decimal
LIST = "/admin/inventory/stockunit/"
pytestmark = pytest.mark.django_db


def internal_order(unit, *, labor=(), parts=()):
    """An internal order on the unit's vehicle with one job: labor (hours, rate), parts
    (part, quantity)."""
    order = shop.create_repair_order(unit.vehicle).repair_order
    assert order.internal
    job = shop.add_job(order, title="Reconditioning", complaint="Get it ready for sale")
    for hours, rate in labor:
        shop.add_labor_line(job, operation="Recon labor", hours_sold=D(hours), rate=D(rate))
    for part, quantity in parts:
        shop.add_part_line(job, part, quantity)
    return order


def costs_both_ways(unit):
    """The reconditioning cost as the unit page reads it and as the list's query sums it."""
    detail = services.unit_costs(unit)
    listed = services.with_cost_totals(StockUnit.objects.filter(pk=unit.pk)).get()
    assert listed.reconditioning == detail.reconditioning
    assert listed.total_cost == detail.total
    return detail


def test_reconditioning_cost_follows_an_internal_repair_order_through_its_lifecycle():
    unit = make_unit(
        cost="8000",
        status=StockUnit.Status.RECONDITIONING,
        other_costs=[(StockUnitCost.Kind.TRANSPORT, "300")],
    )
    pads = make_part("PAD-1", on_hand=10, unit_cost="12.50")

    # Opened: on the unit, nothing spent yet.
    order = shop.create_repair_order(unit.vehicle).repair_order
    costs = costs_both_ways(unit)
    assert [line.repair_order for line in costs.repair_orders] == [order]
    assert costs.reconditioning == D("0.00")

    # A job with 1.5 h at 100.00 and 2 pads at 12.50 cost: 150.00 + 25.00 = 175.00.
    job = shop.add_job(order, title="Brakes", complaint="Pads worn")
    shop.add_labor_line(job, operation="Replace pads", hours_sold=D("1.5"), rate=D("100.00"))
    shop.add_part_line(job, pads, 2)
    costs = costs_both_ways(unit)
    assert (costs.repair_orders[0].parts, costs.repair_orders[0].labor) == (D("25.00"), D("150.00"))
    assert costs.total == D("8475.00")  # 8,000 + 300 + 175

    # Work starts (the pads leave stock) and more labor is sold: 0.75 h x 118.50 = 88.875,
    # 88.88 on the line; reconditioning 263.88.
    shop.approve_repair_order(order)
    shop.start_work(order)
    shop.add_labor_line(job, operation="Road test", hours_sold=D("0.75"), rate=D("118.50"))
    assert costs_both_ways(unit).reconditioning == D("263.88")

    # Completed and closed at cost: the cost stays on the unit.
    shop.complete_work(order)
    shop.close_internal_order(order)
    assert RepairOrder.objects.get(pk=order.pk).status == "closed"
    assert costs_both_ways(unit).total == D("8563.88")

    # A second order that is canceled costs the unit nothing, but is listed.
    extra = internal_order(unit, labor=[("2", "100.00")])
    assert costs_both_ways(unit).reconditioning == D("463.88")
    shop.cancel_repair_order(extra, reason="Not worth it")
    costs = costs_both_ways(unit)
    assert costs.reconditioning == D("263.88")
    assert [line.total for line in costs.repair_orders] == [D("263.88"), D("0.00")]


def test_only_internal_orders_opened_while_the_unit_was_on_the_lot_count():
    unit = make_unit(days_ago=20)
    counted = internal_order(unit, labor=[("1", "100")])
    before = internal_order(unit, labor=[("3", "100")])
    RepairOrder.objects.filter(pk=before.pk).update(
        opened_at=timezone.now() - timedelta(days=40)
    )  # a previous stay on the lot
    customers = shop.create_repair_order(
        unit.vehicle, customer=make_customer(), internal=False
    ).repair_order
    assert not customers.internal
    shop.add_labor_line(
        shop.add_job(customers, title="Paid by someone else"),
        operation="Work",
        hours_sold=D("5"),
        rate=D("100"),
    )

    assert [line.repair_order for line in costs_both_ways(unit).repair_orders] == [counted]
    assert costs_both_ways(unit).reconditioning == D("100.00")

    # Once the unit left the lot, later orders on the car are not its cost.
    wholesale_unit(unit, D("5000"), on=timezone.localdate() - timedelta(days=2))
    unit.refresh_from_db()
    assert costs_both_ways(unit).reconditioning == D("0.00")


def test_deal_gross_counts_the_reconditioning_at_delivery(salesperson):
    unit = make_unit(cost="10000")
    internal_order(unit, labor=[("5", "100")])  # 500.00
    deal = delivered_deal(unit=unit, salesperson=salesperson, sale_price=D("12000"))
    # 12,000 - (10,000 + 500) = 1,500
    assert (deal.unit_cost, deal.front_gross) == (D("10500.00"), D("1500.00"))


def test_unit_page_lists_each_repair_order_with_a_link(salesperson, login):
    unit = make_unit(cost="9000")
    order = internal_order(unit, labor=[("2", "110")])
    page = login(salesperson).get(f"{LIST}{unit.pk}/change/").content.decode()
    assert f"/admin/repairs/repairorder/{order.pk}/change/" in page
    assert order.number in page
    assert "Estimate: parts 0.00, labor 220.00" in page
    assert "9,220.00" in page


def test_stock_list_queries_do_not_grow_with_reconditioning_orders(
    salesperson, login, django_assert_max_num_queries
):
    ShopSettings.current()  # the shop's settings row, as every installation has it
    client = login(salesperson)
    first = make_unit()
    internal_order(first, labor=[("1", "100")])
    with django_assert_max_num_queries(7):
        assert client.get(LIST).status_code == 200
    for unit in bulk_units(49):
        internal_order(unit, labor=[("1", "100")])
    with django_assert_max_num_queries(7):
        response = client.get(LIST)
    assert response.content.decode().count("reconditioning 100.00") == 50


def test_reconditioning_done_before_and_after_a_move_to_another_lot_counts_toward_the_unit():
    """Nothing ties reconditioning to a location: the internal orders of the unit's vehicle
    during its stay count, whichever shop of the group did them and whichever lot the unit is
    on (a move between lots keeps them)."""
    from accounts.models import Location
    from inventory.lot_services import move_to_lot

    unit = make_unit(cost="8000", status=StockUnit.Status.RECONDITIONING)
    other_lot = Location.objects.create(code="lot-2", name="Second Lot", kind=Location.Kind.LOT)
    internal_order(unit, labor=[("2", "100")])  # 200.00
    assert costs_both_ways(unit).reconditioning == D("200.00")
    move_to_lot(unit, other_lot, None)
    internal_order(unit, labor=[("1", "50")])  # 50.00, after the move
    costs = costs_both_ways(unit)
    assert costs.reconditioning == D("250.00")
    assert costs.total == D("8250.00")
