"""A manager's day in the back office, in a real browser: the shop's rates, the cars that sit
too long on the lot, a delivered deal taken back and its money refunded, a goodwill credit on a
service invoice, and who changed what."""

import re
from decimal import Decimal

import pytest

from accounts.models import ShopSettings
from repairs.models import CreditNote
from sales.models import CommissionPlan, Deal, DealRefund
from tests.helpers.browser import choose, messages, save
from tests.helpers.builders.lot import delivered_deal, make_customer, make_unit
from tests.helpers.builders.repairs import add_job_with_lines, make_order, set_rates, take_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def figure(page, label):
    row = page.locator("table.deal-figures tr", has_text=label).first
    return row.locator("td").nth(1).inner_text()


def test_a_manager_s_day(people, manager, salesperson):
    set_rates(labor_rate="120.00")
    aged = make_unit(stock_number="OLD-1", days_ago=120)
    fresh = make_unit(stock_number="NEW-1", days_ago=5)
    CommissionPlan.objects.create(name="House", rate=Decimal("20.00"))
    deal = delivered_deal(salesperson=salesperson, buyer=make_customer("Katherine", "Johnson"))
    order = make_order()
    add_job_with_lines(order, title="Timing belt", labor=[("4.0", "120.00")])
    take_to(order, "invoiced")
    invoice = order.invoice
    estimate = make_order()
    brakes = add_job_with_lines(estimate, title="Rear brakes", approve=False)

    desk = people.open(phone=False)
    page = desk.page
    desk.log_in("manager")

    # The rates: labor goes up, and a car is old after 90 days instead of 60.
    desk.go("/admin/accounts/shopsettings/")
    page.locator("#result_list tbody tr a").first.click()
    page.fill("#id_labor_rate", "135.00")
    page.fill("#id_aging_threshold_days", "90")
    save(page)
    assert "was changed successfully" in messages(page)
    assert "135.00" in desk.text("#result_list")
    shop = ShopSettings.current()
    assert shop.labor_rate == Decimal("135.00") and shop.aging_threshold_days == 90
    # The next labor line written starts at the new rate...
    desk.go(f"/admin/repairs/job/{brakes.pk}/change/")
    assert page.input_value("#id_labor_lines-0-rate") == "135.00"
    # ...and the history says who changed it.
    desk.go(f"/admin/accounts/shopsettings/{shop.pk}/history/")
    history = desk.text("#content")
    assert re.search(r"manager\s+update\s.*Labor rate per hour\s+120\.00\s+135\.00", history, re.S)

    # The cars sitting on the lot longer than that.
    desk.go("/admin/inventory/stockunit/")
    page.get_by_role("link", name="over 90 days").click()
    page.wait_for_load_state()
    listed = desk.text("#result_list")
    assert aged.stock_number in listed and fresh.stock_number not in listed

    # A delivered deal comes back: the manager unwinds it and refunds the buyer.
    desk.go(f"/admin/sales/deal/{deal.pk}/change/")
    assert "Delivered" in desk.text(".field-status")
    page.locator(".object-tools").get_by_role("link", name="Unwind").click()
    page.fill("#id_reason", "Buyer's financing fell through after delivery")
    page.get_by_role("button", name="Unwind").click()
    page.wait_for_load_state()
    said = messages(page)
    assert f"{deal.number} is now unwound." in said
    held = figure(page, "Held for the buyer")
    assert f"{deal.number} holds {held} of the buyer's money" in said
    assert Decimal(held.replace(",", "")) > 0
    commissions = desk.text("#commissions-group")
    # 20% of the 5,000.00 gross was earned on delivery, and is charged back now.
    assert f"Earned 1000.00 on {deal.number}" in commissions
    assert f"Chargeback (deal unwound) -1000.00 on {deal.number}" in commissions
    page.locator("#refunds-group .add-row a").click()
    page.fill("#id_refunds-0-amount", held.replace(",", ""))
    page.select_option("#id_refunds-0-method", "check")
    page.fill("#id_refunds-0-reference", "check 10442")
    save(page, "_continue")
    assert "was changed successfully" in messages(page)
    assert figure(page, "Refunded") == held
    assert figure(page, "Held for the buyer") == "0.00"
    deal.refresh_from_db()
    assert deal.status == Deal.Status.UNWOUND
    assert DealRefund.objects.get(deal=deal).amount == Decimal(held.replace(",", ""))
    desk.go("/admin/inventory/stockunit/?status__exact=available")
    assert deal.stock_unit.stock_number in desk.text("#result_list")

    # A goodwill credit on a service invoice: never an edit, a credit note.
    desk.go("/admin/repairs/creditnote/add/")
    choose(page, "id_invoice", invoice.number)
    page.fill("#id_amount", "50.00")
    page.fill("#id_reason", "Goodwill: the car was ready a day late")
    save(page)
    assert "was added successfully" in messages(page)
    note = CreditNote.objects.get(invoice=invoice)
    assert note.number in desk.text("#result_list")
    desk.go(f"/admin/repairs/invoice/{invoice.pk}/change/")
    assert desk.text(".field-balance .readonly") == f"{invoice.total - Decimal('50.00'):.2f}"
    assert "Goodwill: the car was ready a day late" in desk.text("#credit_notes-group")
