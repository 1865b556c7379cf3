"""A salesperson's deal, in a real browser: a car bought at auction goes on the lot, a buyer
comes in with a trade-in, the deal is written up with a deposit, signed and delivered."""

import re
from decimal import Decimal

import pytest

from inventory.lot import StockUnit
from sales.models import Deal
from tests.helpers.browser import choose, messages, run_action, save
from tests.helpers.builders.repairs import valid_vin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def figure(page, label):
    """A row of the deal's figures panel, as the salesperson reads it."""
    row = page.locator("table.deal-figures tr", has_text=label).first
    return row.locator("td").nth(1).inner_text()


def test_from_a_stock_unit_to_a_delivered_deal_with_a_trade_in(people, salesperson):
    lot_vin, trade_vin = valid_vin(515151), valid_vin(626262)
    desk = people.open(phone=False)
    page = desk.page
    desk.log_in("sales")

    # The car bought at auction, entered by its VIN, then put on the lot.
    desk.go("/admin/inventory/vehicle/add/")
    page.fill("#id_vin", lot_vin)
    page.fill("#id_make", "Honda")
    page.fill("#id_model", "Accord")
    page.fill("#id_color", "Silver")
    save(page)
    assert "was added successfully" in messages(page)
    desk.go("/admin/inventory/stockunit/add/")
    page.fill("#id_stock_number", "S24-017")
    choose(page, "id_vehicle", lot_vin[-8:], lot_vin)
    page.select_option("#id_source", "auction")
    page.fill("#id_acquired_from", "Manheim Pennsylvania")
    page.fill("#id_acquisition_cost", "12000.00")
    page.fill("#id_asking_price", "16900.00")
    save(page)
    assert "was added successfully" in messages(page)
    run_action(page, "make_available", "S24-017")
    assert "1 stock unit(s) now available." in messages(page)
    row = page.locator("#result_list tbody tr", has_text="S24-017")
    assert "Available" in row.inner_text()

    # The buyer and the car they trade in.
    desk.go("/admin/accounts/customer/add/")
    page.fill("#id_first_name", "Alan")
    page.fill("#id_last_name", "Turing")
    page.fill("#id_phone", "(217) 555-0123")
    save(page)
    assert "was added successfully" in messages(page)
    desk.go("/admin/inventory/vehicle/add/")
    page.fill("#id_vin", trade_vin)
    page.fill("#id_make", "Honda")
    page.fill("#id_model", "Civic")
    choose(page, "id_owner", "Turing")
    save(page)
    assert "was added successfully" in messages(page)

    # The deal: price, the trade-in and a deposit.
    desk.go("/admin/sales/deal/add/")
    choose(page, "id_stock_unit", "S24-017")
    choose(page, "id_buyer", "Turing")
    page.fill("#id_sale_price", "16500.00")
    page.locator("#trade_ins-group .add-row a").click()
    choose(page, "id_trade_ins-0-vehicle", trade_vin[-8:], trade_vin)
    page.fill("#id_trade_ins-0-odometer", "98000")
    page.fill("#id_trade_ins-0-allowance", "3000.00")
    page.fill("#id_trade_ins-0-actual_cash_value", "2500.00")
    page.locator("#payments-group .add-row a").click()
    page.fill("#id_payments-0-amount", "500.00")
    page.select_option("#id_payments-0-method", "card")
    save(page, "_continue")
    assert "was added successfully" in messages(page)
    deal = Deal.objects.get(buyer__last_name="Turing")
    assert figure(page, "Sale price") == "16,500.00"
    assert figure(page, "Trade-in allowance") == "3,000.00"
    assert figure(page, "Payments received") == "500.00"

    # The buyer signs: the unit is reserved.
    page.locator(".object-tools").get_by_role("link", name="Sign").click()
    page.get_by_role("button", name="Sign").click()
    page.wait_for_load_state()
    assert f"{deal.number} is now signed." in messages(page)

    # Before the keys: the rest of the money, by bank transfer.
    cash_due = Decimal(figure(page, "Cash due from buyer").replace(",", ""))
    assert cash_due > Decimal("500.00")
    page.locator("#payments-group .add-row a").click()
    page.fill("#id_payments-1-amount", f"{cash_due - Decimal('500.00'):.2f}")
    page.select_option("#id_payments-1-method", "transfer")
    page.fill("#id_payments-1-reference", "wire 8812")
    save(page, "_continue")
    assert "was changed successfully" in messages(page)
    assert figure(page, "Payments received") == f"{cash_due:,.2f}"

    # Delivery: the car leaves, the trade-in enters stock, the gross is frozen.
    page.locator(".object-tools").get_by_role("link", name="Deliver").click()
    page.get_by_role("button", name="Deliver").click()
    page.wait_for_load_state()
    assert f"{deal.number} is now delivered." in messages(page)
    # 16,500 sale price, less the 12,000 the car cost and the 500 paid for the trade-in
    # over its worth.
    assert figure(page, "Trade over-allowance") == "500.00"
    assert figure(page, "Front gross") == "4,000.00"
    assert figure(page, "Total gross") == "4,000.00"
    deal.refresh_from_db()
    assert deal.status == Deal.Status.DELIVERED and deal.total_gross == Decimal("4000.00")
    trade_unit = StockUnit.objects.get(vehicle__vin=trade_vin)
    assert trade_unit.stock_number in desk.text("#trade_ins-group")

    # The buyer's order to sign and keep (it opens in a tab of its own).
    desk.go(page.get_by_role("link", name="Print buyer's order").get_attribute("href"))
    order = desk.text("body")
    assert "Turing, Alan" in order and lot_vin in order and "16,500.00" in order

    desk.go("/admin/inventory/stockunit/")
    units = desk.text("#result_list")
    assert re.search(r"S24-017.*Sold", units, re.S)
    trade_row = page.locator("#result_list tbody tr", has_text=trade_unit.stock_number)
    assert "Acquired" in trade_row.inner_text()
    # The trade-in is on the lot at what it is worth (its actual cash value), not at the
    # allowance: the 500 over is already out of the deal's gross.
    assert "Acquired" in trade_row.inner_text()
    assert "2,500.00" in trade_row.inner_text()
