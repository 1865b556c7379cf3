"""A salesperson's deal, in a real browser: a car bought at auction goes on the lot under the
shop's next stock number, a buyer comes in with a trade-in, the deal is written up with a
deposit (its price starting at the asking price, its figures following the terms as they are
typed), signed and delivered, and the buyer's order printed."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from inventory.lot import StockUnit
from sales.models import Deal
from tests.helpers.browser import choose, messages, run_action, save
from tests.helpers.builders.repairs import valid_vin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def figure(page, label):
    """A row of the deal's figures panel, as the salesperson reads it."""
    row = page.locator("table.deal-figures tr", has_text=label).first
    return row.locator("td").nth(1).inner_text()


def figure_cell(page, label):
    """The amount cell of a figures row, to wait on while the figures follow the terms."""
    return page.locator("table.deal-figures tr", has_text=label).first.locator("td").nth(1)


def all_figures(page):
    """Every row of the figures panel: {label: amount}."""
    rows = page.locator("table.deal-figures tr")
    return {
        rows.nth(i).locator("td").nth(0).inner_text(): rows.nth(i).locator("td").nth(1).inner_text()
        for i in range(rows.count())
    }


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
    # The stock number is left blank: the unit takes the shop's next one, which the form names.
    upcoming = re.search(r"next number \((\w+)\)", desk.text("#id_stock_number_helptext"))
    number = upcoming.group(1)
    choose(page, "id_vehicle", lot_vin[-8:], lot_vin)
    page.select_option("#id_source", "auction")
    page.fill("#id_acquired_from", "Manheim Pennsylvania")
    page.fill("#id_acquisition_cost", "12000.00")
    page.fill("#id_asking_price", "16900.00")
    save(page)
    assert "was added successfully" in messages(page)
    assert StockUnit.objects.get(vehicle__vin=lot_vin).stock_number == number
    run_action(page, "make_available", number)
    assert "1 stock unit(s) now available." in messages(page)
    row = page.locator("#result_list tbody tr", has_text=number)
    assert "Available" in row.inner_text()

    # The buyer and the car they trade in.
    desk.go("/admin/accounts/customer/add/")
    page.fill("#id_first_name", "Alan")
    page.fill("#id_last_name", "Turing")
    page.fill("#id_phone", "(217) 555-0123")
    page.fill("#id_address_line", "42 Bletchley Park Rd")
    page.fill("#id_city", "Champaign")
    page.fill("#id_region", "IL")
    page.fill("#id_postal_code", "61820")
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
    expect(page.locator("[data-deal-figures]")).to_contain_text("Choose a stock unit")
    choose(page, "id_stock_unit", number)
    # The price starts at the unit's asking price, and the figures show before anything else.
    expect(page.locator("#id_sale_price")).to_have_value("16900.00")
    expect(figure_cell(page, "Sale price")).to_have_text("16,900.00")
    expect(figure_cell(page, "Front gross")).to_have_text("4,900.00")
    choose(page, "id_buyer", "Turing")
    page.fill("#id_sale_price", "16500.00")
    expect(figure_cell(page, "Sale price")).to_have_text("16,500.00")
    page.fill("#id_documentation_fee", "249.00")
    expect(figure_cell(page, "Fees")).to_have_text("334.00")
    page.locator("#trade_ins-group .add-row a").click()
    choose(page, "id_trade_ins-0-vehicle", trade_vin[-8:], trade_vin)
    page.fill("#id_trade_ins-0-odometer", "98000")
    page.fill("#id_trade_ins-0-allowance", "3000.00")
    page.fill("#id_trade_ins-0-actual_cash_value", "2500.00")
    # Before saving: the allowance is in, the tax is on 13,500 (6.25 %), and the gross loses
    # the 500 allowed over the trade-in's worth.
    expect(figure_cell(page, "Trade-in allowance")).to_have_text("3,000.00")
    expect(figure_cell(page, "Sales tax")).to_have_text("843.75")
    expect(figure_cell(page, "Total price")).to_have_text("17,677.75")
    expect(figure_cell(page, "Front gross")).to_have_text("4,000.00")
    # A term that is not right is said so, and the figures come back once it is.
    page.fill("#id_trade_ins-0-allowance", "-3000.00")
    expect(page.locator("[data-deal-figures] .errorlist")).to_contain_text(
        "Trade-in 1, allowance: Ensure this value is greater than or equal to 0"
    )
    page.fill("#id_trade_ins-0-allowance", "3000.00")
    expect(figure_cell(page, "Total price")).to_have_text("17,677.75")
    typed = all_figures(page)
    page.locator("#payments-group .add-row a").click()
    page.fill("#id_payments-0-amount", "500.00")
    page.select_option("#id_payments-0-method", "card")
    save(page, "_continue")
    assert "was added successfully" in messages(page)
    deal = Deal.objects.get(buyer__last_name="Turing")
    # The saved deal shows the figures seen while typing; only the deposit is new.
    saved = all_figures(page)
    assert saved.pop("Payments received") == "500.00"
    assert typed.pop("Payments received") == "0.00"
    assert saved == typed
    assert figure(page, "Sale price") == "16,500.00"
    assert figure(page, "Trade-in allowance") == "3,000.00"

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
    address = desk.text(".buyer-address")
    assert "42 Bletchley Park Rd" in address and "Champaign, IL 61820" in address

    desk.go("/admin/inventory/stockunit/")
    units = desk.text("#result_list")
    assert re.search(rf"{number}.*Sold", units, re.S)
    trade_row = page.locator("#result_list tbody tr", has_text=trade_unit.stock_number)
    assert "Acquired" in trade_row.inner_text()
    # The trade-in is on the lot at what it is worth (its actual cash value), not at the
    # allowance: the 500 over is already out of the deal's gross.
    assert "Acquired" in trade_row.inner_text()
    assert "2,500.00" in trade_row.inner_text()
