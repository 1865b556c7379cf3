"""The customer approval link in real browsers: the advisor copies the whole link from the repair
order, the customer opens it logged out on a phone, declines one job and signs for the other;
opened again once the work is done, the link says what was decided."""

import pytest
from playwright.sync_api import expect

from accounts.models import ShopSettings
from repairs import links, services
from repairs.choices import Authorization, RepairOrderStatus
from tests.helpers.builders.repairs import add_job_with_lines, make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_customer_approves_and_declines_from_the_link_the_advisor_copied(people, advisor):
    order = make_order()
    add_job_with_lines(order, title="Front brake pads", labor=[("1.5", "100.00")], approve=False)
    add_job_with_lines(order, title="Cabin air filter", labor=[("0.3", "100.00")], approve=False)

    desk = people.open(phone=False)
    desk.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=desk.base_url)
    desk.log_in("advisor")
    desk.go(f"/admin/repairs/repairorder/{order.pk}/change/")
    shown = desk.page.locator("#approval-link").input_value()
    assert shown.startswith(f"{desk.base_url}/estimate/")
    desk.page.get_by_role("button", name="Copy link", exact=True).click()
    expect(desk.page.get_by_role("button", name="Copied")).to_be_visible()
    copied = desk.page.evaluate("navigator.clipboard.readText()")
    assert copied == shown

    customer = people.open(phone=True)
    requested = []
    customer.page.on("request", lambda request: requested.append(request.url))
    response = customer.go(copied)
    # The token is the customer's key: no Referer carrying it goes to another site, and the
    # page asks nothing of another site.
    assert response.headers["referrer-policy"] == "same-origin"
    assert "2 jobs still need your decision" in customer.text("main")
    cabin = customer.page.locator("section.card.job", has_text="Cabin air filter")
    cabin.get_by_role("button", name="Decline").click()
    customer.page.wait_for_load_state()
    assert "1 job still needs your decision" in customer.text("main")
    brakes = customer.page.locator("section.card.job", has_text="Front brake pads")
    expect(brakes.get_by_label("Approve this job")).to_be_checked()
    customer.page.get_by_label("Type your full name to sign").fill("Maria Garcia")
    customer.page.get_by_role("button", name="Approve and sign").click()
    customer.page.wait_for_load_state()
    page_text = customer.text("main")
    assert "Thank you: every job has your decision." in page_text
    assert "Approved" in brakes.inner_text()
    assert "Declined" in page_text
    assert "Signed by Maria Garcia" in page_text

    order.refresh_from_db()
    assert order.status == RepairOrderStatus.APPROVED
    decisions = dict(order.jobs.values_list("title", "authorization"))
    assert decisions == {
        "Front brake pads": Authorization.APPROVED,
        "Cabin air filter": Authorization.DECLINED,
    }
    assert order.jobs.get(title="Front brake pads").authorization_method == "online"
    assert all(url.startswith(customer.base_url) for url in requested), requested


def test_the_customer_opens_the_link_again_after_the_work_and_reads_what_was_decided(people):
    shop = ShopSettings.current()
    shop.phone = "(217) 555-0100"
    shop.save()
    order = make_order()
    add_job_with_lines(order, title="Front brake pads", labor=[("1.5", "100.00")], approve=False)
    add_job_with_lines(order, title="Cabin air filter", labor=[("0.3", "100.00")], approve=False)
    link = "/estimate/" + links.estimate_token(order) + "/"

    customer = people.open(phone=True)
    customer.go(link)
    customer.page.locator("section.card.job", has_text="Cabin air filter").get_by_role(
        "button", name="Decline"
    ).click()
    customer.page.wait_for_load_state()
    customer.page.get_by_label("Type your full name to sign").fill("Maria Garcia")
    customer.page.get_by_role("button", name="Approve and sign").click()
    customer.page.wait_for_load_state()
    decided = customer.page.locator("li.decision").all_inner_texts()
    assert len(decided) == 2

    # The shop does the work; days later the customer taps the text message again.
    services.start_work(order)
    services.complete_work(order)
    response = customer.go(link)
    assert response.status == 200
    main = customer.text("main")
    assert "This estimate has been answered" in main
    assert "There is nothing more to approve or decline on it." in main
    assert "Call us at (217) 555-0100" in main
    assert "not available" not in main and "too old" not in main
    # Each job's decision as the estimate page showed it: who, how and when.
    assert customer.page.locator("li.decision").all_inner_texts() == decided
    assert decided[0].startswith("1. Front brake pads\nApproved by Maria Garcia, online")
    assert decided[1].startswith("2. Cabin air filter\nDeclined by Maria Garcia, online")
    assert "Signed by Maria Garcia" in main
    expect(customer.page.get_by_role("button")).to_have_count(0)
    expect(customer.page.get_by_role("checkbox")).to_have_count(0)
    assert customer.page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
