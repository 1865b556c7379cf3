"""An inspection with a photo, from the technician's phone to the customer's signature: the
technician starts a checklist from the repair order and rates a point with a photo, the advisor
makes that point a job with one click, and the customer on a phone-sized page sees the photo
beside the job, types their name and approves. Any 4xx/5xx answer or console error fails it."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from repairs import services
from repairs.choices import Authorization, RepairOrderStatus
from tests.helpers.builders.inspections import make_template, phone_photo
from tests.helpers.builders.repairs import add_job_with_lines, make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_inspection_photo_reaches_the_customer_who_signs_on_a_phone(people, technician, advisor):
    make_template(name="Tire inspection, quick")
    order = make_order()
    add_job_with_lines(order, title="Oil change", labor=[("0.5", "97.00")], technician=technician)

    # The technician, on a phone, starts the inspection from the order and fills one point.
    terry = people.open(phone=True).log_in("tech")
    terry.go(f"/admin/repairs/repairorder/{order.pk}/change/")
    terry.page.get_by_role("link", name="Start an inspection").click()
    terry.page.wait_for_load_state()
    terry.page.select_option("#id_checklist", label="Tire inspection, quick")
    terry.page.click("input[name=_save]")
    terry.page.wait_for_load_state()
    row = terry.page.locator(".inline-related", has_text="Condition: Sidewalls")
    row.locator("select").select_option("urgent")
    row.locator("textarea").fill("Bulge on the inner sidewall")
    photo = phone_photo()
    row.locator("input[type=file]").set_input_files(
        {"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": photo.read()}
    )
    terry.page.click("input[name=_continue]")
    terry.page.wait_for_load_state()
    assert "was changed successfully" in terry.text(".messagelist")
    sidewalls = terry.page.locator(".inline-related", has_text="Condition: Sidewalls")
    thumbnail = sidewalls.locator("img")
    thumbnail.scroll_into_view_if_needed()
    expect(thumbnail).to_be_visible()
    expect(thumbnail).to_have_js_property("complete", True)
    assert thumbnail.evaluate("img => img.naturalWidth") > 0
    assert "Make it a job" not in terry.text()
    inspection_url = terry.page.url

    # The advisor makes the point a job with one click, and prices it.
    desk = people.open(phone=False).log_in("advisor")
    desk.go(inspection_url)
    desk.page.locator("#recommend tr", has_text="Sidewalls").get_by_role(
        "button", name="Make it a job"
    ).click()
    desk.page.wait_for_load_state()
    assert "added to" in desk.text(".messagelist")
    job = order.jobs.get(title="Condition: Sidewalls")
    services.add_labor_line(
        job, operation="Mount and balance", hours_sold=Decimal("0.8"), rate=Decimal("100.00")
    )
    desk.go(f"/admin/repairs/repairorder/{order.pk}/change/")
    link = desk.page.locator("#approval-link").input_value()

    # The customer, on a phone, sees the photo beside the job and signs.
    customer = people.open(phone=True)
    customer.go(link)
    card = customer.page.locator("section.card.job", has_text="Sidewalls")
    image = card.locator("img")
    expect(image).to_be_visible()
    image.scroll_into_view_if_needed()
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0
    assert "Bulge on the inner sidewall" in card.inner_text()
    width = customer.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    expect(card.get_by_label("Approve this job")).to_be_checked()
    customer.page.get_by_label("Type your full name to sign").fill("Maria Garcia")
    customer.page.get_by_role("button", name="Approve and sign").click()
    customer.page.wait_for_load_state()
    page_text = customer.text("main")
    assert "Thank you: every job has your decision." in page_text
    assert "Signed by Maria Garcia" in page_text

    order.refresh_from_db()
    assert order.status == RepairOrderStatus.APPROVED
    job.refresh_from_db()
    assert (job.authorization, job.authorized_by) == (Authorization.APPROVED, "Maria Garcia")
    signature = order.signatures.get()
    assert signature.jobs == [{"id": job.pk, "position": 2, "title": "Condition: Sidewalls"}]
    assert signature.client_ip == "127.0.0.1"
