"""An advisor sends the approval link by email from the repair order's page, in a real browser,
and finds it on the customer's page as sent."""

import pytest

from messaging import defaults
from messaging.models import Message, MessageTemplate
from tests.helpers.builders.repairs import add_job_with_lines, make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_advisor_emails_the_approval_link_and_sees_it_sent(
    people, advisor, settings, mailoutbox
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    defaults.seed(MessageTemplate)
    order = make_order()
    order.customer.email = "maria@example.com"
    order.customer.save()
    add_job_with_lines(order, title="Front brake pads", labor=[("1.5", "100.00")], approve=False)

    desk = people.open(phone=False)
    desk.log_in("advisor")
    desk.go(f"/admin/repairs/repairorder/{order.pk}/change/")
    desk.page.get_by_role("link", name="Message the customer").click()
    desk.page.wait_for_load_state()
    desk.page.select_option("#id_kind", "approval_link")
    desk.page.get_by_label("email").check()
    desk.page.get_by_role("button", name="Send").click()
    desk.page.wait_for_load_state()
    assert "to maria@example.com by email" in desk.text("ul.messagelist")

    desk.go(f"/admin/accounts/customer/{order.customer_id}/change/")
    row = desk.page.locator("#history-messages tr.message-row").first
    assert "approval link" in row.inner_text()
    assert row.locator(".message-status").inner_text().startswith("sent")
    message = Message.objects.get()
    assert message.status == "sent"
    assert len(mailoutbox) == 1 and "/estimate/" in mailoutbox[0].body
