"""The repair order page at the service desk's screen (1,366 x 768): a full order, its jobs with
their labor and parts, fits without scrolling sideways; the workflow's buttons work for the
advisor and are absent for the technician, who sees no price."""

import re

import pytest

from repairs.choices import RepairOrderStatus
from tests.helpers.browser import messages
from tests.helpers.builders.repairs import add_job_with_lines, make_order, make_part, set_rates

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FITS = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@pytest.fixture
def order(technician):
    set_rates(labor_rate="120.00")
    order = make_order()
    for index, title in enumerate(("Front brakes", "Timing belt and water pump", "Wipers")):
        part = make_part(f"P-{index}", description=f"A part with a long description {index}")
        add_job_with_lines(
            order,
            title=title,
            labor=[("1.5", "123.45"), ("0.7", "123.45")],
            parts=[(part, 2, None)],
            technician=technician,
            approve=False,
        )
    job = order.jobs.get(position=2)
    job.complaint = "Squealing from the engine bay at cold start, " * 8
    job.save()
    return order


def test_the_advisor_works_the_order_from_its_buttons_on_a_desk_screen(people, advisor, order):
    desk = people.open(phone=False)
    desk.log_in("advisor")
    page = desk.page
    desk.go(f"/admin/repairs/repairorder/{order.pk}/change/")
    assert page.viewport_size == {"width": 1366, "height": 768}
    assert page.evaluate(FITS)
    # Every job's labor and parts are on the page, as fields to edit.
    assert page.locator("input[name$='-labor_lines-1-hours_sold']").count() == 3
    assert page.input_value("#id_jobs-0-labor_lines-1-hours_sold") == "0.7"
    # send, approve in person, cancel, and messaging's "Message the customer"
    assert page.locator(".workflow-step").count() == 4
    # Approving in person asks first, with what the customer agrees to (each job's amount as
    # the page shows it, the order's total); Cancel changes nothing.
    amounts = [
        desk.text(f"#jobs-{index} div.fieldBox.field-amount").split()[-1] for index in range(3)
    ]
    total = re.search(r"Total\s+([\d.]+)", desk.text(".field-totals")).group(1)
    page.get_by_role("button", name="Customer approved in person").click()
    page.wait_for_load_state()
    assert f"Did the customer approve {order.number}?" in desk.text("#content")
    rows = page.locator("#pending-jobs tbody tr")
    assert [rows.nth(index).inner_text().split("\t") for index in range(3)] == [
        ["1. Front brakes", amounts[0]],
        ["2. Timing belt and water pump", amounts[1]],
        ["3. Wipers", amounts[2]],
    ]
    assert page.locator("#pending-jobs tfoot td").inner_text() == total
    page.get_by_role("link", name="Cancel", exact=True).click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/admin/repairs/repairorder/{order.pk}/change/")
    assert set(order.jobs.values_list("authorization", flat=True)) == {"pending"}
    page.get_by_role("button", name="Customer approved in person").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Yes, the customer approved").click()
    page.wait_for_load_state()
    assert f"{order.number}: approved in person." in messages(page)
    assert page.get_by_role("button", name="Customer approved in person").count() == 0
    assert "Approved by Maria Garcia, in person" in desk.text("#jobs-group")
    assert page.evaluate(FITS)
    page.get_by_role("button", name="Start work").click()
    page.wait_for_load_state()
    assert f"{order.number}: work started, parts issued." in messages(page)
    order.refresh_from_db()
    assert order.status == RepairOrderStatus.IN_PROGRESS


def test_the_technician_sees_the_order_without_buttons_or_prices(people, technician, order):
    bench = people.open(phone=False)
    bench.log_in("tech")
    bench.go(f"/admin/repairs/repairorder/{order.pk}/change/")
    page = bench.page
    assert page.locator(".workflow-step").count() == 0
    assert page.locator("form[action*='/step/']").count() == 0
    text = bench.text()
    assert "Front brakes" in text and "P-0 A part with a long description 0" in text
    assert "123.45" not in text and "185.18" not in text
    assert page.evaluate(FITS)
