"""Messages to customers: sent through a real SMTP server and a local text provider, retried
when they certainly did not go out, never sent twice, never to a customer who opted out."""

import base64
import re
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Customer
from messaging import defaults, services, sms
from messaging.choices import Channel, Kind, Status
from messaging.exceptions import MessagingError
from messaging.models import Message, MessageTemplate, OptOut
from messaging.orders import send_for_order
from tests.helpers.builders.repairs import add_job_with_lines, make_order, take_to
from tests.helpers.messaging import SmtpServer, TextProvider, free_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_templates(db):
    """The templates the migration seeds (a transactional test's flush may have taken them)."""
    defaults.seed(MessageTemplate)


@pytest.fixture
def order(settings):
    settings.MESSAGING_BASE_URL = "https://shop.example.com"
    order = make_order()
    order.customer.email = "maria@example.com"
    order.customer.save()
    add_job_with_lines(order, title="Front brake pads", labor=[("1.5", "100.00")], approve=False)
    return order


def send(order, kind=Kind.APPROVAL_LINK, channel=Channel.EMAIL, key="k1", callbacks=None):
    with callbacks(execute=True):
        message, _created = send_for_order(order, kind, channel, user=None, idempotency_key=key)
    message.refresh_from_db()
    return message


def test_the_approval_link_goes_out_by_smtp_with_its_links(
    order, settings, django_capture_on_commit_callbacks
):
    with SmtpServer() as server:
        server.configure(settings)
        message = send(order, callbacks=django_capture_on_commit_callbacks)
    assert message.status == Status.SENT, message.error
    assert message.attempts == 1
    [(to, email)] = server.mailbox.messages
    assert to == ["maria@example.com"]
    assert (
        email["Subject"]
        == f"Your estimate {order.number} from {services.shop_values(None)['shop_name']}"
    )
    text = email.get_body(("plain",)).get_content()
    # Greeted by name as people say it, not as the customer list files it ("Garcia, Maria").
    assert text.startswith("Hello Maria Garcia,")
    approval = re.search(r"https://shop\.example\.com/estimate/\S+", text).group(0)
    assert "Front brake pads" not in text  # the template shows what it names, nothing else
    opt_out = re.search(r"https://shop\.example\.com/messages/opt-out/\S+", text).group(0)
    assert email["List-Unsubscribe"].strip() == f"<{opt_out}>"
    html = email.get_body(("html",)).get_content()
    assert f"/messages/opened/{message.tracking_token}.gif" in html
    # The links work: the estimate page opens, and the pixel marks the message opened.
    assert Client().get(approval.split(".com", 1)[1]).status_code == 200
    Client().get(reverse("messaging:opened", args=[message.tracking_token]))
    message.refresh_from_db()
    assert message.status == Status.OPENED and message.opened_at is not None


def test_the_invoice_goes_out_with_its_pdf_attached(settings, django_capture_on_commit_callbacks):
    order = make_order()
    order.customer.email = "maria@example.com"
    order.customer.save()
    add_job_with_lines(order, title="Oil change", labor=[("0.5", "100.00")])
    take_to(order, "invoiced")
    order.refresh_from_db()
    with SmtpServer() as server:
        server.configure(settings)
        message = send(order, Kind.INVOICE_PDF, callbacks=django_capture_on_commit_callbacks)
    assert message.status == Status.SENT, message.error
    [(_to, email)] = server.mailbox.messages
    [attachment] = list(email.iter_attachments())
    assert attachment.get_filename() == f"invoice-{order.invoice.number}.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    assert str(order.invoice.total) in email.get_body(("plain",)).get_content()


def test_a_refused_recipient_is_a_failed_message_with_the_servers_reason(
    order, settings, django_capture_on_commit_callbacks
):
    order.customer.email = "nobody@bounce.example.com"
    order.customer.save()
    with SmtpServer() as server:
        server.configure(settings)
        message = send(order, callbacks=django_capture_on_commit_callbacks)
    assert message.status == Status.FAILED
    assert "550" in message.error and "User unknown" in message.error
    assert server.mailbox.messages == []


def test_a_mail_server_that_is_down_is_retried_later_and_the_message_goes_out_once(
    order, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    message = send(order, callbacks=django_capture_on_commit_callbacks)
    assert message.status == Status.QUEUED
    assert message.attempts == 1 and "Cannot reach the mail server" in message.error
    assert message.next_attempt_at > timezone.now()
    # Not due yet: nothing happens.
    assert services.attempt(message.pk) is None
    later = message.next_attempt_at + timedelta(seconds=1)
    with SmtpServer() as server:
        server.configure(settings)
        assert services.attempt(message.pk, now=later) == Status.SENT
        # A second task for the same message (a duplicate in the queue) sends nothing.
        assert services.attempt(message.pk, now=later) is None
    assert len(server.mailbox.messages) == 1
    message.refresh_from_db()
    assert message.attempts == 2 and message.error == ""


def test_the_same_request_twice_writes_and_sends_one_message(
    order, settings, django_capture_on_commit_callbacks
):
    with SmtpServer() as server:
        server.configure(settings)
        first = send(order, key="same", callbacks=django_capture_on_commit_callbacks)
        again = send(order, key="same", callbacks=django_capture_on_commit_callbacks)
    assert first.pk == again.pk
    assert Message.objects.count() == 1
    assert len(server.mailbox.messages) == 1


def test_a_message_interrupted_while_sending_is_never_sent_again_by_itself(
    order, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    message = send(order, callbacks=django_capture_on_commit_callbacks)
    # The worker claimed it and died before recording the outcome (the mail may have gone).
    long_ago = timezone.now() - timedelta(hours=1)
    Message.objects.filter(pk=message.pk).update(
        status=Status.SENDING, last_attempt_at=long_ago, next_attempt_at=long_ago
    )
    with SmtpServer() as server:
        server.configure(settings)
        assert services.attempt(message.pk) is None  # claimed by the dead worker
        assert services.requeue_due() == {"interrupted": 1, "queued": 0}
        assert services.attempt(message.pk) is None
    assert server.mailbox.messages == []
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert "may or may not have reached the customer" in message.error


def test_a_text_message_goes_to_the_providers_api_with_basic_authentication(
    order, settings, django_capture_on_commit_callbacks
):
    with TextProvider() as provider:
        provider.configure(settings)
        message = send(order, channel=Channel.SMS, callbacks=django_capture_on_commit_callbacks)
    assert message.status == Status.SENT, message.error
    [request] = provider.requests
    assert request["path"] == "/2010-04-01/Accounts/AC0123456789/Messages.json"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    expected = base64.b64encode(b"AC0123456789:token-secret").decode()
    assert request["headers"]["Authorization"] == f"Basic {expected}"
    form = request["form"]
    assert form["To"] == "+12175550142" and form["From"] == "+15550001111"
    assert "https://shop.example.com/estimate/" in form["Body"]
    assert "Reply STOP to stop texts." in form["Body"]
    assert form["StatusCallback"] == "https://shop.example.com/messages/sms-status/"
    assert message.provider_id == "SM" + "1".zfill(32)


def test_the_providers_answers_make_clear_states(
    order, settings, django_capture_on_commit_callbacks
):
    with TextProvider() as provider:
        provider.configure(settings)
        provider.status = 500
        retried = send(
            order, channel=Channel.SMS, key="a", callbacks=django_capture_on_commit_callbacks
        )
        assert retried.status == Status.QUEUED and "HTTP 500" in retried.error
        provider.status = 400
        refused = send(
            order, channel=Channel.SMS, key="b", callbacks=django_capture_on_commit_callbacks
        )
        assert refused.status == Status.FAILED
        assert "HTTP 400" in refused.error and "'To' number is not valid" in refused.error
        provider.status, provider.delay = 201, 2.5
        slow = send(
            order, channel=Channel.SMS, key="c", callbacks=django_capture_on_commit_callbacks
        )
        assert slow.status == Status.FAILED and "not sent again automatically" in slow.error
    # The 500 is tried again when due; the others are not.
    assert Message.objects.due_retries(retried.next_attempt_at).count() == 1


def test_the_status_callback_needs_the_providers_signature(
    client, order, settings, django_capture_on_commit_callbacks
):
    with TextProvider() as provider:
        provider.configure(settings)
        message = send(order, channel=Channel.SMS, callbacks=django_capture_on_commit_callbacks)
    url = reverse("messaging:sms_status")
    params = {"MessageSid": message.provider_id, "MessageStatus": "delivered"}
    forged = client.post(url, params, HTTP_X_TWILIO_SIGNATURE="bm9wZQ==")
    assert forged.status_code == 403
    message.refresh_from_db()
    assert message.status == Status.SENT
    signature = sms.twilio_signature("token-secret", "https://shop.example.com" + url, params)
    answer = client.post(url, params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert answer.status_code == 204
    message.refresh_from_db()
    assert message.status == Status.DELIVERED and message.delivered_at is not None
    failed = {**params, "MessageStatus": "undelivered", "ErrorCode": "30005"}
    client.post(
        url,
        failed,
        HTTP_X_TWILIO_SIGNATURE=sms.twilio_signature(
            "token-secret", "https://shop.example.com" + url, failed
        ),
    )
    message.refresh_from_db()
    assert message.status == Status.FAILED and "30005" in message.error


def test_the_customer_opts_out_from_the_link_and_nothing_more_is_sent(
    client, order, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message = send(order, callbacks=django_capture_on_commit_callbacks)
    path = re.search(r"https://shop\.example\.com(/messages/opt-out/\S+)", message.body).group(1)
    page = client.get(path)
    assert page.status_code == 200 and "Stop all messages" in page.content.decode()
    assert not OptOut.objects.exists()  # opening the link (a link checker) changes nothing
    done = client.post(path)
    assert "You will receive no more messages" in done.content.decode()
    customer = order.customer
    record = OptOut.objects.get(customer=customer)
    assert record.via == OptOut.Via.LINK
    assert LogEntry.objects.get_for_model(OptOut).filter(object_pk=str(record.pk)).exists()
    with pytest.raises(MessagingError, match="opted out"):
        send(order, key="after", callbacks=django_capture_on_commit_callbacks)
    assert client.get(path[:-3] + "xyz/").status_code == 404


def test_a_queued_message_is_not_sent_after_the_customer_opted_out(order, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message, _ = send_for_order(
        order, Kind.APPROVAL_LINK, Channel.EMAIL, user=None, idempotency_key="q"
    )
    services.opt_out(order.customer)
    assert services.attempt(message.pk) is None
    message.refresh_from_db()
    assert message.status == Status.FAILED and "opted out" in message.error


@pytest.mark.parametrize(
    ("field", "value", "refusal"),
    [
        ("email", "maria@", "is not a valid email address"),
        ("email", "", "has no email address"),
    ],
)
def test_bad_email_addresses_are_refused_and_nothing_is_written(order, field, value, refusal):
    setattr(order.customer, field, value)
    order.customer.save()
    with pytest.raises(MessagingError, match=refusal):
        send_for_order(order, Kind.APPROVAL_LINK, Channel.EMAIL, user=None, idempotency_key="x")
    assert not Message.objects.exists()


@pytest.mark.parametrize("phone", ["12", "call me", "+0123"])
def test_a_phone_that_is_not_one_is_refused(order, phone):
    order.customer.phone = phone
    order.customer.save()
    with pytest.raises(MessagingError, match="is not a phone number"):
        send_for_order(order, Kind.APPROVAL_LINK, Channel.SMS, user=None, idempotency_key="x")
    assert not Message.objects.exists()


def test_a_company_is_greeted_by_its_name(order):
    order.customer.kind = Customer.Kind.COMPANY
    order.customer.company_name = "Metro Delivery"
    order.customer.save()
    _template, _subject, body = services.compose(order.customer, Kind.APPROVAL_LINK, "email", {})
    assert body.startswith("Hello Metro Delivery,\n")


def test_templates_see_only_the_values_passed():
    from messaging.rendering import check_template, render

    assert render("Hi {{ customer_name }}", {"customer_name": "Ann", "secret": "x"}) == "Hi Ann"
    for bad, refusal in [
        ("{% load static %}", "not allowed"),
        ("{% include 'x.html' %}", "not allowed"),
        ("{{ customer.email }}", "Unknown variable"),
        ("{{ customer_name.upper }}", "no attributes"),
        ("{% if customer_name %}", "Template error"),
    ]:
        with pytest.raises(MessagingError, match=refusal):
            check_template(bad)


def test_the_default_templates_are_seeded_for_every_message():
    assert MessageTemplate.objects.filter(location=None).count() == len(Kind) * len(Channel)


def test_the_audit_log_keeps_that_a_message_was_written_not_its_links(
    order, settings, django_capture_on_commit_callbacks
):
    with SmtpServer() as server:
        server.configure(settings)
        message = send(order, callbacks=django_capture_on_commit_callbacks)
    assert "/estimate/" in message.body
    entries = LogEntry.objects.get_for_model(Message).filter(object_pk=str(message.pk))
    assert entries.exists()
    for entry in entries:
        assert "/estimate/" not in str(entry.changes) and "/opt-out/" not in str(entry.changes)
