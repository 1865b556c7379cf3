"""A service advisor's day with one new customer, in real browsers: the customer and their car
are entered, an estimate written with its labor and parts on the order's page, the customer
approves it from their phone through the link, the work is started, completed and invoiced by the
page's buttons, paid from the invoice and the invoice printed. The advisor's clicks are counted."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Customer
from repairs.choices import Authorization, RepairOrderStatus
from repairs.models import Invoice, RepairOrder
from tests.helpers.browser import choose, messages, save
from tests.helpers.builders.repairs import make_part, set_rates, valid_vin

# The most clicks the advisor's path may take (see the end of the test).
CLICKS = 22

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
    make_part(
        "BP-200",
        description="Front brake pads",
        cost="28.00",
        price="64.00",
        on_hand=4,
        bin_location="A-12",
    )
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
    add_job = page.locator("a.djn-add-handler.djn-model-repairs-job")
    add_job.click()
    page.fill("#id_jobs-0-title", "Front brakes")
    page.fill("#id_jobs-0-complaint", "Grinding noise when braking")
    add_job.click()
    page.fill("#id_jobs-1-title", "Wiper blades")
    save(page, "_continue")
    assert "was added successfully" in messages(page)
    order = RepairOrder.objects.get(customer__last_name="Hopper")
    assert order.number in desk.text("#content")

    # Labor and the part of each job, on the order's page: the picker shows stock, price, bin.
    page.fill("#id_jobs-0-labor_lines-0-operation", "Replace front pads")
    page.fill("#id_jobs-0-labor_lines-0-hours_sold", "1.5")
    page.locator("#id_jobs-0-part_lines-0-part + .select2").click()
    page.locator(".select2-container--open .select2-search__field").fill("BP-200")
    offered = page.locator(".select2-results__option", has_text="BP-200").first
    assert offered.inner_text() == "BP-200 Front brake pads · 4 on hand · 64.00 · bin A-12"
    offered.click()
    page.fill("#id_jobs-0-part_lines-0-quantity", "1")
    page.fill("#id_jobs-1-labor_lines-0-operation", "Replace blades")
    page.fill("#id_jobs-1-labor_lines-0-hours_sold", "0.2")
    save(page, "_continue")
    assert "was changed successfully" in messages(page)
    brakes = desk.text("#jobs-0")
    assert "Replace front pads" in page.input_value("#id_jobs-0-labor_lines-0-operation")
    assert "180.00" in brakes and "64.00" in brakes
    assert "BP-200 Front brake pads" in brakes
    assert "243.00" not in desk.text("#jobs-1") and "24.00" in desk.text("#jobs-1")
    totals = desk.text(".field-totals")
    assert re.search(r"Labor\s+204\.00", totals) and re.search(r"Parts\s+64\.00", totals)

    # The page fits the desk's screen: nothing to scroll sideways.
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )

    # The next steps are buttons: an estimate is sent for approval or approved in person.
    tools = desk.text(".object-tools")
    assert "SEND FOR APPROVAL: COPY LINK" in tools.upper()
    assert "CUSTOMER APPROVED IN PERSON" in tools.upper()
    assert "START WORK" not in tools.upper() and "INVOICE" not in tools.upper()
    page.get_by_role("button", name="Send for approval: copy link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    link = page.evaluate("navigator.clipboard.readText()")
    assert link.startswith(f"{desk.base_url}/estimate/")
    assert page.input_value("#approval-link") == link

    # The customer, on their phone, logged in nowhere.
    customer = people.open(phone=True)
    customer.go(link)
    assert "2 jobs still need your decision" in customer.text("main")
    customer.page.locator("section.card.job", has_text="Wiper blades").get_by_role(
        "button", name="Decline"
    ).click()
    customer.page.wait_for_load_state()
    # The brakes stay ticked; the customer signs with their name.
    customer.page.get_by_label("Type your full name to sign").fill("Grace Hopper")
    customer.page.get_by_role("button", name="Approve and sign").click()
    customer.page.wait_for_load_state()
    assert "Thank you: every job has your decision." in customer.text("main")
    assert "Wiper blades" in customer.text("main")

    # Back at the desk (the page reloaded): approved online, the work goes through the shop.
    page.reload()
    page.wait_for_load_state()
    assert "Approved" in desk.text(".field-status")
    jobs = desk.text("#jobs-group")
    assert "Approved by Grace Hopper, online (estimate link)" in jobs
    # The same name form both ways: as the customer signed, not as the customer list files it.
    assert "Declined by Grace Hopper, online (estimate link)" in jobs
    assert "Hopper, Grace" not in jobs
    assert "(online) (" not in jobs
    page.get_by_role("button", name="Start work").click()
    page.wait_for_load_state()
    assert f"{order.number}: work started, parts issued." in messages(page)
    assert "In progress" in desk.text(".field-status")
    page.get_by_role("button", name="Complete work").click()
    page.wait_for_load_state()
    assert f"{order.number}: work completed." in messages(page)
    page.get_by_role("button", name="Invoice").click()
    page.wait_for_load_state()
    invoice = Invoice.objects.get(repair_order=order)
    assert f"Invoice {invoice.number} written, 261.98 to pay." in messages(page)

    # The invoice, from the message's link: the brakes only, the declined wipers left out.
    page.locator("ul.messagelist").get_by_role("link", name=invoice.number).click()
    page.wait_for_load_state()
    # 180.00 labor, 64.00 pads, 9.00 shop supplies, 4.50 hazardous waste, 4.48 tax on parts.
    total = desk.text(".field-total .readonly")
    assert total == "261.98"
    assert desk.text(".field-labor_total .readonly") == "180.00"
    assert desk.text(".field-balance .readonly") == total

    # The customer pays at the counter: the payment form opens with the invoice and balance.
    page.get_by_role("link", name="Take payment").click()
    page.wait_for_load_state()
    assert invoice.number in desk.text(".field-invoice")
    assert page.input_value("#id_amount") == total
    page.select_option("#id_method", "card")
    page.fill("#id_reference", "auth 55123")
    save(page)
    assert f"recorded on invoice {invoice.number}; balance 0.00." in messages(page)
    assert desk.text(".field-balance .readonly") == "0.00"
    assert "Take payment" not in desk.text(".object-tools")

    # The printed invoice says it is paid.
    page.get_by_role("link", name="Print").first.click()
    page.wait_for_load_state()
    printed = desk.text("body")
    assert invoice.number in printed and "Hopper, Grace" in printed
    billed, recommended = printed.split("Recommended for later")
    assert "Front brakes" in billed and "Wiper blades" not in billed
    assert "Wiper blades" in recommended
    assert re.search(r"Paid \d{4}-\d\d-\d\d \(Card\)\s+\u2212261\.98", printed)
    assert re.search(r"Balance due\s+0\.00", printed)
    assert re.search(r"Replace front pads\s+1\.5\s", printed)

    # The clicks of the whole path, counted as the person makes them (tests/helpers/browser.py):
    # 39 when start, complete, invoice were list actions and labor and parts had a page per job.
    print(f"advisor clicks: {desk.clicks}")
    assert desk.clicks <= CLICKS, f"{desk.clicks} clicks"
    order.refresh_from_db()
    assert order.status == RepairOrderStatus.PAID
    assert dict(order.jobs.values_list("title", "authorization")) == {
        "Front brakes": Authorization.APPROVED,
        "Wiper blades": Authorization.DECLINED,
    }
    assert Customer.objects.get(last_name="Hopper").vehicles.get().vin == vin
