"""An internal repair order's cost is defined once (repairs.costs): the order's own figure, the
unit page's list of orders and the stock list's per-unit sums all agree, and agree with the
lines' own amounts (labor rounded half up to the cent per line)."""

from decimal import Decimal

import pytest

from inventory.models import StockUnit
from repairs import services as shop
from repairs.choices import Authorization, AuthorizationMethod
from repairs.costs import internal_cost
from repairs.models import LaborLine, PartLine
from sales import services
from tests.helpers.builders.inventory import make_part
from tests.helpers.builders.lot import make_unit

D = Decimal
pytestmark = pytest.mark.django_db


def cost_from_lines(order):
    """The rule read line by line in Python: approved jobs only, parts at quantity x unit cost,
    labor at each line's amount (hours x rate, rounded half up to the cent)."""
    approved = {"job__repair_order": order, "job__authorization": Authorization.APPROVED}
    parts = sum(
        (line.quantity * line.unit_cost for line in PartLine.objects.filter(**approved)), D("0.00")
    )
    labor = sum((line.amount for line in LaborLine.objects.filter(**approved)), D("0.00"))
    return parts, labor


def every_reading(unit, order):
    """The order's cost as the order, the unit page and the stock list read it."""
    own = internal_cost(order)
    [on_unit] = services.reconditioning_orders(unit)
    listed = services.with_cost_totals(StockUnit.objects.filter(pk=unit.pk)).get()
    assert on_unit.repair_order == order
    assert (on_unit.parts, on_unit.labor) == own
    assert (listed.reconditioning_parts, listed.reconditioning_labor) == own
    return own


def test_the_order_the_unit_page_and_the_stock_list_count_an_order_the_same_way():
    unit = make_unit(cost="8000", status=StockUnit.Status.RECONDITIONING)
    pads = make_part("PAD-1", on_hand=10, unit_cost="12.50")
    order = shop.create_repair_order(unit.vehicle).repair_order
    job = shop.add_job(order, title="Brakes", complaint="Pads worn")
    # 0.75 h x 118.50 = 88.875 -> 88.88; 1.15 h x 33.33 = 38.3295 -> 38.33; 0.05 h x 10.10 =
    # 0.505 -> 0.51: rounded per line, half up.
    for hours, rate in (("0.75", "118.50"), ("1.15", "33.33"), ("0.05", "10.10")):
        shop.add_labor_line(job, operation="Labor", hours_sold=D(hours), rate=D(rate))
    shop.add_part_line(job, pads, 3)
    # A declined job counts for nothing.
    declined = shop.add_job(order, title="Wipers", complaint="Streaks")
    shop.add_labor_line(declined, operation="Wipers", hours_sold=D("1"), rate=D("50"))
    shop.authorize_job(
        declined,
        Authorization.DECLINED,
        method=AuthorizationMethod.IN_PERSON,
        authorized_by="Lot manager",
    )

    assert every_reading(unit, order) == cost_from_lines(order) == (D("37.50"), D("127.72"))

    # Canceled: the order cost nothing, however it is read.
    shop.cancel_repair_order(order)
    assert every_reading(unit, order) == (D("0.00"), D("0.00"))
