"""Who may send messages and edit their templates, through the back office's pages."""

import pytest
from django.urls import reverse

from messaging import defaults
from messaging.choices import Channel, Kind
from messaging.models import Message, MessageTemplate
from messaging.orders import send_for_order
from tests.helpers.builders.repairs import add_job_with_lines, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_templates(db):
    """The templates the migration seeds (a transactional test's flush may have taken them)."""
    defaults.seed(MessageTemplate)


@pytest.fixture
def order(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    order = make_order()
    order.customer.email = "maria@example.com"
    order.customer.save()
    add_job_with_lines(order, title="Front brake pads", labor=[("1.5", "100.00")], approve=False)
    return order


def test_an_advisor_sends_from_the_order_page_and_a_resubmitted_form_sends_nothing_more(
    login, advisor, order, mailoutbox, django_capture_on_commit_callbacks
):
    client = login(advisor)
    page = client.get(reverse("admin:repairs_repairorder_change", args=[order.pk]))
    send_url = reverse("admin:messaging_message_send", args=[order.pk])
    assert send_url in page.content.decode()
    form = client.get(send_url)
    assert form.status_code == 200
    key = form.context["form"].initial["key"]
    data = {"kind": Kind.APPROVAL_LINK, "channel": Channel.EMAIL, "key": key}
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(send_url, data, follow=True)
        client.post(send_url, data)
    assert "to maria@example.com by email: queued" in answer.content.decode()
    assert Message.objects.count() == 1 and len(mailoutbox) == 1
    assert Message.objects.get().status == "sent"
    customer_page = client.get(
        reverse("admin:accounts_customer_history_panels", args=[order.customer_id])
    )
    assert (
        "Approval link" in customer_page.content.decode()
        or "approval link" in customer_page.content.decode()
    )


def test_a_technician_cannot_send_nor_read_messages(login, tech, order):
    send_for_order(order, Kind.ESTIMATE_PDF, Channel.EMAIL, user=None, idempotency_key="k")
    message = Message.objects.get()
    client = login(tech)
    assert client.get(reverse("admin:messaging_message_send", args=[order.pk])).status_code == 403
    assert (
        client.post(
            reverse("admin:messaging_message_send", args=[order.pk]),
            {"kind": Kind.APPROVAL_LINK, "channel": Channel.EMAIL, "key": "t"},
        ).status_code
        == 403
    )
    page = client.get(reverse("admin:repairs_repairorder_change", args=[order.pk]))
    assert "Message the customer" not in page.content.decode()
    assert (
        client.get(reverse("admin:messaging_message_change", args=[message.pk])).status_code == 403
    )
    assert client.get(reverse("admin:messaging_message_changelist")).status_code == 403
    assert Message.objects.count() == 1


def test_a_manager_edits_templates_and_a_broken_one_is_refused_unsaved(login, manager):
    template = MessageTemplate.objects.get(kind=Kind.CAR_READY, channel=Channel.SMS, location=None)
    url = reverse("admin:messaging_messagetemplate_change", args=[template.pk])
    client = login(manager)
    data = {"kind": template.kind, "channel": template.channel, "subject": "", "location": ""}
    broken = client.post(url, {**data, "body": "Ready: {% if vehicle %}{{ vehicle }}"})
    assert broken.status_code == 200
    assert "Template error" in broken.content.decode()
    unknown = client.post(url, {**data, "body": "{{ customer.email }}"})
    assert "Unknown variable" in unknown.content.decode()
    template.refresh_from_db()
    assert template.body.startswith("{{ shop_name }}")
    saved = client.post(url, {**data, "body": "{{ vehicle }} is ready at {{ shop_name }}."})
    assert saved.status_code == 302
    template.refresh_from_db()
    assert template.body == "{{ vehicle }} is ready at {{ shop_name }}."


@pytest.mark.parametrize("role", ["advisor", "salesperson", "operator", "tech"])
def test_other_roles_may_not_change_templates(request, login, role):
    template = MessageTemplate.objects.get(kind=Kind.CAR_READY, channel=Channel.SMS, location=None)
    client = login(request.getfixturevalue(role))
    url = reverse("admin:messaging_messagetemplate_change", args=[template.pk])
    answer = client.post(url, {"kind": template.kind, "channel": template.channel, "body": "x"})
    assert answer.status_code == 403
    template.refresh_from_db()
    assert template.body != "x"
    assert client.get(reverse("admin:messaging_reminderrule_add")).status_code == 403


def test_the_customers_messages_panel_hides_bodies_from_who_may_not_see_prices(
    login, advisor, salesperson, order
):
    send_for_order(order, Kind.ESTIMATE_PDF, Channel.EMAIL, user=None, idempotency_key="k")
    url = reverse("admin:accounts_customer_history_panels", args=[order.customer_id])
    advisor_page = login(advisor).get(url).content.decode()
    assert "history-messages" in advisor_page and "Please find attached" in advisor_page
    sales_page = login(salesperson).get(url).content.decode()
    assert "Please find attached" not in sales_page


def test_the_messages_panel_reads_as_many_queries_for_one_message_as_for_thirty(
    login, advisor, order
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:accounts_customer_history_panels", args=[order.customer_id])
    client = login(advisor)

    def queries():
        client.get(url)  # the session, the location count: cached from here on
        with CaptureQueriesContext(connection) as seen:
            assert client.get(url).status_code == 200
        return len(seen)

    send_for_order(order, Kind.APPROVAL_LINK, Channel.EMAIL, user=None, idempotency_key="0")
    one = queries()
    for n in range(1, 30):
        send_for_order(order, Kind.APPROVAL_LINK, Channel.EMAIL, user=None, idempotency_key=str(n))
    assert queries() == one
