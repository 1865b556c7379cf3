"""Totals of repair orders: worked examples computed by hand, the same numbers everywhere."""

from decimal import Decimal as D

import pytest

from repairs import services
from repairs.choices import Authorization, AuthorizationMethod
from repairs.documents import load_order, order_totals
from repairs.totals import LaborItem, PartItem, Rates, compute_totals
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_order,
    make_part,
    set_rates,
    take_to,
)

RATES = Rates(
    parts_tax_rate=D("8"),
    labor_tax_rate=D("0"),
    shop_supplies_rate=D("10"),
    shop_supplies_cap=D("25.00"),
    hazardous_waste_fee=D("3.50"),
)


def test_an_ordinary_order_adds_labor_parts_supplies_waste_fee_and_parts_tax():
    totals = compute_totals(
        [LaborItem(D("1.5"), D("100.00")), LaborItem(D("0.3"), D("100.00"))],
        [PartItem(2, D("9.50")), PartItem(1, D("45.99")), PartItem(1, D("12.00"), taxable=False)],
        RATES,
    )
    # Labor 150.00 + 30.00; parts 19.00 + 45.99 + 12.00 (taxable 64.99).
    assert totals.labor == D("180.00")
    assert totals.parts == D("76.99")
    assert totals.shop_supplies == D("18.00")  # 10 % of 180.00, under the 25.00 cap
    assert totals.hazardous_waste == D("3.50")
    assert totals.parts_tax == D("5.20")  # 8 % of 64.99 = 5.1992
    assert totals.labor_tax == D("0.00")
    assert totals.total == D("283.69")


def test_a_discount_comes_off_before_capped_supplies_and_both_taxes():
    rates = Rates(
        parts_tax_rate=D("7.25"),
        labor_tax_rate=D("5"),
        shop_supplies_rate=D("10"),
        shop_supplies_cap=D("25.00"),
        hazardous_waste_fee=D("4.50"),
    )
    totals = compute_totals(
        [LaborItem(D("3.2"), D("125.00"))],
        [PartItem(4, D("12.35"))],
        rates,
        discount_percent=D("10"),
    )
    assert totals.labor == D("400.00")
    assert totals.parts == D("49.40")
    assert totals.labor_discount == D("40.00")
    assert totals.parts_discount == D("4.94")
    assert totals.shop_supplies == D("25.00")  # 10 % of 360.00 is 36.00: capped
    assert totals.labor_tax == D("18.00")  # 5 % of 360.00
    assert totals.parts_tax == D("3.22")  # 7.25 % of 44.46 = 3.22335
    assert totals.total == D("455.18")  # 360.00 + 44.46 + 25.00 + 4.50 + 18.00 + 3.22


def test_amounts_round_half_up_to_the_cent():
    rates = Rates(
        parts_tax_rate=D("7"),
        labor_tax_rate=D("0"),
        shop_supplies_rate=D("0"),
        shop_supplies_cap=D("0"),
        hazardous_waste_fee=D("0"),
    )
    totals = compute_totals([LaborItem(D("0.7"), D("99.99"))], [PartItem(1, D("3.50"))], rates)
    assert totals.labor == D("69.99")  # 69.993
    assert totals.parts_tax == D("0.25")  # 0.245 rounds up, not to even
    assert totals.total == D("73.74")


def test_an_internal_order_carries_cost_only_without_discount_fees_or_tax():
    totals = compute_totals(
        [LaborItem(D("2"), D("100.00"))],
        [PartItem(3, D("10.00"))],
        RATES,
        discount_percent=D("10"),
        internal=True,
    )
    assert (totals.discount, totals.fees, totals.tax) == (D("0"), D("0"), D("0"))
    assert totals.total == D("230.00")


def test_an_order_without_lines_owes_nothing_not_even_the_waste_fee():
    assert compute_totals([], [], RATES).total == D("0.00")


@pytest.mark.django_db
def test_an_order_in_the_database_totals_the_same_and_declined_jobs_do_not_count():
    set_rates(
        parts_tax_rate="8",
        labor_tax_rate="0",
        shop_supplies_rate="10",
        shop_supplies_cap="25",
        hazardous_waste_fee="3.50",
    )
    filter_part = make_part("OF-1", price="9.50")
    pads = make_part("BP-1", price="45.99")
    bulb = make_part("BU-1", price="12.00", taxable=False)
    order = make_order()
    add_job_with_lines(
        order,
        title="Oil service",
        labor=[("1.5", "100.00")],
        parts=[(filter_part, 2, None), (pads, 1, None)],
    )
    add_job_with_lines(order, title="Bulb", labor=[("0.3", "100.00")], parts=[(bulb, 1, None)])
    declined = add_job_with_lines(
        order, title="Timing belt", labor=[("4", "100.00")], approve=False
    )
    services.authorize_job(
        declined,
        Authorization.DECLINED,
        method=AuthorizationMethod.PHONE,
        authorized_by="Maria Garcia",
    )

    totals = order_totals(load_order(order.pk), Rates.from_settings(set_rates()))
    assert totals.total == D("283.69")

    invoice = services.invoice_repair_order(take_to(order, "completed"))
    assert invoice.total == D("283.69")
    assert invoice.snapshot["totals"]["total"] == "283.69"
    assert [job["title"] for job in invoice.snapshot["jobs"]] == ["Oil service", "Bulb"]
    assert invoice.snapshot["recommendations"][0]["title"] == "Timing belt"
