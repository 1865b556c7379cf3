"""A service advisor's day with one new customer, in real browsers: the customer and their car
are entered, an estimate written, the customer approves it from their phone through the link,
the work is done and invoiced, paid and the invoice printed."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Customer
from repairs.choices import Authorization, RepairOrderStatus
from repairs.models import Invoice, RepairOrder
from tests.helpers.browser import choose, messages, run_action, save
from tests.helpers.builders.repairs import make_part, set_rates, valid_vin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_from_a_new_customer_to_a_paid_invoice(people, advisor):
    set_rates(
        labor_rate="120.00",
        parts_tax_rate="7.000",
        labor_tax_rate="0.000",
        shop_supplies_rate="5.00",
        shop_supplies_cap="35.00",
        estimate_link_days=7,
    )
    make_part("BP-200", description="Front brake pads", cost="28.00", price="64.00", on_hand=4)
    vin = valid_vin(424242)
    desk = people.open(phone=False)
    desk.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=desk.base_url)
    page = desk.page
    desk.log_in("advisor")

    # The customer at the counter.
    desk.go("/admin/accounts/customer/add/")
    page.fill("#id_first_name", "Grace")
    page.fill("#id_last_name", "Hopper")
    page.fill("#id_phone", "(217) 555-0199")
    page.fill("#id_email", "grace@example.com")
    save(page)
    assert "was added successfully" in messages(page)

    # Their car, by its VIN.
    desk.go("/admin/inventory/vehicle/add/")
    page.fill("#id_vin", vin.lower())
    page.fill("#id_make", "Honda")
    page.fill("#id_model", "Accord")
    page.fill("#id_plate", "GRC 1906")
    choose(page, "id_owner", "Hopper")
    save(page)
    assert "was added successfully" in messages(page)
    assert vin in desk.text("#result_list")

    # The repair order, with the two jobs the customer asks about.
    desk.go("/admin/repairs/repairorder/add/")
    choose(page, "id_customer", "Hopper")
    choose(page, "id_vehicle", vin[-8:], vin)
    page.fill("#id_odometer_in", "84210")
    save(page, "_continue")
    assert "was added successfully" in messages(page)
    order = RepairOrder.objects.get(customer__last_name="Hopper")
    assert order.number in desk.text("#content")
    page.locator("#jobs-group .add-row a").click()
    page.fill("#id_jobs-0-title", "Front brakes")
    page.fill("#id_jobs-0-complaint", "Grinding noise when braking")
    page.locator("#jobs-group .add-row a").click()
    page.fill("#id_jobs-1-title", "Wiper blades")
    save(page, "_continue")
    assert "was changed successfully" in messages(page)

    # Labor and the part on the brake job, labor on the wipers.
    page.get_by_role("row", name=re.compile("Front brakes")).get_by_role(
        "link", name="Labor, parts and decision"
    ).click()
    page.fill("#id_labor_lines-0-operation", "Replace front pads")
    page.fill("#id_labor_lines-0-hours_sold", "1.5")
    choose(page, "id_part_lines-0-part", "BP-200")
    page.fill("#id_part_lines-0-quantity", "1")
    save(page, "_continue")
    assert "was changed successfully" in messages(page)
    assert "180.00" in desk.text("#labor_lines-group")
    assert "64.00" in desk.text("#part_lines-group")
    page.get_by_role("link", name=order.number).click()
    page.get_by_role("row", name=re.compile("Wiper blades")).get_by_role(
        "link", name="Labor, parts and decision"
    ).click()
    page.fill("#id_labor_lines-0-operation", "Replace blades")
    page.fill("#id_labor_lines-0-hours_sold", "0.2")
    save(page, "_continue")
    assert "was changed successfully" in messages(page)
    page.get_by_role("link", name=order.number).click()

    # The estimate goes to the customer as a link, copied from the order.
    totals = desk.text(".field-totals")
    assert re.search(r"Labor\s+204\.00", totals) and re.search(r"Parts\s+64\.00", totals)
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    link = page.evaluate("navigator.clipboard.readText()")
    assert link.startswith(f"{desk.base_url}/estimate/")

    # The customer, on their phone, logged in nowhere.
    customer = people.open(phone=True)
    customer.go(link)
    assert "2 jobs still need your decision" in customer.text("main")
    customer.page.locator("section.card", has_text="Front brakes").get_by_role(
        "button", name="Approve"
    ).click()
    customer.page.wait_for_load_state()
    customer.page.locator("section.card", has_text="Wiper blades").get_by_role(
        "button", name="Decline"
    ).click()
    customer.page.wait_for_load_state()
    assert "Thank you: every job has your decision." in customer.text("main")
    assert "Wiper blades" in customer.text("main")

    # Back at the desk: approved online, the work goes through the shop.
    desk.go(f"/admin/repairs/repairorder/{order.pk}/change/")
    assert "Approved" in desk.text(".field-status")
    assert "Approved by Hopper, Grace (online)" in desk.text("#jobs-group")
    assert "Declined by Hopper, Grace (online)" in desk.text("#jobs-group")
    desk.go("/admin/repairs/repairorder/")
    run_action(page, "start", order.number)
    assert f"Work started: {order.number}." in messages(page)
    run_action(page, "complete", order.number)
    assert f"Completed: {order.number}." in messages(page)
    run_action(page, "invoice", order.number)
    invoice = Invoice.objects.get(repair_order=order)
    assert f"Invoices written: {invoice.number}." in messages(page)

    # The invoice: the brakes only, the declined wipers left out.
    desk.go(f"/admin/repairs/invoice/{invoice.pk}/change/")
    # 180.00 labor, 64.00 pads, 9.00 shop supplies, 4.50 hazardous waste, 4.48 tax on parts.
    total = desk.text(".field-total .readonly")
    assert total == "261.98"
    assert desk.text(".field-labor_total .readonly") == "180.00"
    assert desk.text(".field-balance .readonly") == total

    # The customer pays at the counter.
    desk.go("/admin/repairs/payment/add/")
    choose(page, "id_invoice", invoice.number)
    page.fill("#id_amount", total)
    page.select_option("#id_method", "card")
    page.fill("#id_reference", "auth 55123")
    save(page)
    assert "was added successfully" in messages(page)
    desk.go("/admin/repairs/invoice/")
    row = page.locator("#result_list tbody tr", has_text=invoice.number)
    assert row.locator(".field-paid").inner_text() == "261.98"
    assert row.locator(".field-balance").inner_text() == "0.00"

    # The printed invoice says it is paid.
    desk.go(f"/admin/repairs/invoice/{invoice.pk}/change/")
    page.get_by_role("link", name="Print").first.click()
    page.wait_for_load_state()
    printed = desk.text("body")
    assert invoice.number in printed and "Hopper, Grace" in printed
    billed, recommended = printed.split("Recommended for later")
    assert "Front brakes" in billed and "Wiper blades" not in billed
    assert "Wiper blades" in recommended
    assert re.search(r"Paid \d{4}-\d\d-\d\d \(Card\)\s+\u2212261\.98", printed)
    assert re.search(r"Balance due\s+0\.00", printed)

    print(f"advisor clicks: {desk.clicks}")
    order.refresh_from_db()
    assert order.status == RepairOrderStatus.PAID
    assert dict(order.jobs.values_list("title", "authorization")) == {
        "Front brakes": Authorization.APPROVED,
        "Wiper blades": Authorization.DECLINED,
    }
    assert Customer.objects.get(last_name="Hopper").vehicles.get().vin == vin
