"""Sending a message to a customer: asked for in a request (or by a reminder rule), written as a
Message with its body rendered, sent by the background worker.

Never twice for one request: each request carries an idempotency key, unique on Message; asking
again with the same key returns the message already written. The worker claims a message by
moving it from "queued" to "sending" in one UPDATE, so a second task for it does nothing. A
failure that certainly did not reach the customer's provider (no connection, SMTP 4xx, HTTP
429/5xx) is queued again after MESSAGE_RETRY_DELAY seconds, doubled after each attempt, until
MESSAGE_MAX_ATTEMPTS. A message whose outcome is unknown (the worker died while sending, or the
provider did not answer in time after taking the request) is marked failed with that reason and
never sent again by itself: someone who checks may send it again, as a new request.

Never to a customer who opted out (OptOut): checked when asked and again just before sending.
"""

from __future__ import annotations

import logging
import re
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, linebreaks, urlize
from django_tasks import task, task_backends

from accounts.models import Customer, Location, ShopSettings
from messaging import sms
from messaging.choices import Channel, Kind, Status
from messaging.exceptions import MessagingError
from messaging.models import Message, MessageTemplate, OptOut
from messaging.rendering import render

logger = logging.getLogger("carshop.messaging")

QUEUE = "messages"
OPT_OUT_SALT = "messaging.opt-out"
# A message left "sending" this long was interrupted: its outcome is unknown.
STALE_SENDING = timedelta(minutes=15)
STOP_LINE = "Reply STOP to stop texts."


# ---------------------------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------------------------


def email_address(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise MessagingError("The customer has no email address.", field="channel")
    try:
        validate_email(value)
    except ValidationError:
        raise MessagingError(f"{value!r} is not a valid email address.", field="channel") from None
    return value


def phone_number(value: str) -> str:
    """The mobile number in E.164 (+15551234567); a number without its country code gets
    SMS_DEFAULT_COUNTRY_CODE."""
    raw = (value or "").strip()
    if not raw:
        raise MessagingError("The customer has no mobile phone number.", field="channel")
    digits = re.sub(r"[\s().\-/]", "", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not digits.startswith("+"):
        if not digits.isdigit():
            raise MessagingError(f"{raw!r} is not a phone number.", field="channel")
        digits = f"+{settings.SMS_DEFAULT_COUNTRY_CODE}{digits.lstrip('0')}"
    if not re.fullmatch(r"\+[1-9][0-9]{7,14}", digits):
        raise MessagingError(f"{raw!r} is not a phone number.", field="channel")
    return digits


def address_for(customer: Customer, channel: str) -> str:
    if channel == Channel.EMAIL:
        return email_address(customer.email)
    return phone_number(customer.phone)


# ---------------------------------------------------------------------------------------------
# Opting out
# ---------------------------------------------------------------------------------------------


def opt_out_token(customer: Customer | int) -> str:
    return signing.Signer(salt=OPT_OUT_SALT).sign(str(getattr(customer, "pk", customer)))


def customer_for_opt_out(token: str) -> Customer | None:
    try:
        pk = int(signing.Signer(salt=OPT_OUT_SALT).unsign(token))
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return Customer.objects.filter(pk=pk).first()


def has_opted_out(customer: Customer | int) -> bool:
    return OptOut.objects.filter(customer=getattr(customer, "pk", customer)).exists()


def opt_out(customer: Customer, via: str = OptOut.Via.LINK) -> OptOut:
    """Record the customer's opt-out (the audit log keeps the new row) and their refusal of
    reminders; messages still queued for them are not sent."""
    with transaction.atomic():
        record, created = OptOut.objects.get_or_create(customer=customer, defaults={"via": via})
        if customer.consent_reminders:
            customer.consent_reminders = False
            customer.save(update_fields=["consent_reminders"])
        if created:
            Message.objects.filter(customer=customer, status=Status.QUEUED).update(
                status=Status.FAILED, error="Not sent: the customer opted out."
            )
    return record


# ---------------------------------------------------------------------------------------------
# Writing a message
# ---------------------------------------------------------------------------------------------


def base_url() -> str:
    return settings.MESSAGING_BASE_URL.rstrip("/")


def template_for(kind: str, channel: str, location: Location | None) -> MessageTemplate:
    """The shop's own template, else the group's."""
    found = {
        template.location_id: template
        for template in MessageTemplate.objects.filter(
            kind=kind, channel=channel, location__in=[location] if location else []
        )
        | MessageTemplate.objects.filter(kind=kind, channel=channel, location__isnull=True)
    }
    template = found.get(location.pk if location else None) or found.get(None)
    if template is None:
        raise MessagingError(
            f"There is no {Channel(channel).label} template for “{Kind(kind).label}”: add one "
            "under Messaging > Message templates."
        )
    return template


def shop_values(location: Location | None) -> dict[str, str]:
    shop = ShopSettings.of(location)
    return {"shop_name": shop.name, "shop_phone": shop.phone, "shop_email": shop.email}


def compose(
    customer: Customer,
    kind: str,
    channel: str,
    values: dict[str, str],
    *,
    location: Location | None = None,
) -> tuple[MessageTemplate, str, str]:
    """(template, subject, body) with the opt-out link (and the STOP line) appended."""
    template = template_for(kind, channel, location)
    values = {"customer_name": customer.addressed_name, **shop_values(location), **values}
    body = render(template.body, values)
    opt_out_url = base_url() + reverse("messaging:opt_out", args=[opt_out_token(customer)])
    if channel == Channel.SMS:
        body = f"{body}\n{STOP_LINE} Opt out: {opt_out_url}"
        subject = ""
    else:
        body = f"{body}\n\n--\nTo receive no more messages from us: {opt_out_url}"
        subject = render(template.subject, values) if template.subject else Kind(kind).label
    return template, subject.replace("\n", " ")[:300], body


def request_message(
    customer: Customer,
    kind: str,
    channel: str,
    values: dict[str, str],
    *,
    idempotency_key: str,
    location: Location | None = None,
    repair_order=None,
    user=None,
) -> tuple[Message, bool]:
    """Write the message (queued) and send it after the commit. Returns (message, created):
    a request already made with this key returns its message, sent once."""
    existing = Message.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    if has_opted_out(customer):
        raise MessagingError(f"{customer} opted out of messages: nothing was sent.")
    to = address_for(customer, channel)
    template, subject, body = compose(customer, kind, channel, values, location=location)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                customer=customer,
                location=location,
                repair_order=repair_order,
                kind=kind,
                channel=channel,
                to=to,
                template=template,
                subject=subject,
                body=body,
                idempotency_key=idempotency_key,
                sent_by=user if getattr(user, "pk", None) else None,
                next_attempt_at=timezone.now(),
            )
    except IntegrityError:
        # The same request, at the same moment (a double click): the other one wrote it.
        return Message.objects.get(idempotency_key=idempotency_key), False
    transaction.on_commit(lambda: enqueue([message.pk]))
    return message, True


# ---------------------------------------------------------------------------------------------
# Sending (in the worker)
# ---------------------------------------------------------------------------------------------


def enqueue(message_ids, run_after: datetime | None = None) -> None:
    send = send_message.using(queue_name=QUEUE)
    if run_after is not None:
        if not task_backends[send.backend].supports_defer:
            return  # requeue_due() picks it up when it is due
        send = send.using(run_after=run_after)
    for message_id in message_ids:
        send.enqueue(message_id)


@task(queue_name=QUEUE)
def send_message(message_id: int) -> str | None:
    """Task: send one queued message once. Returns its new status."""
    return attempt(message_id)


class SendFailure(Exception):
    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


def retry_delay(attempts: int) -> int:
    delay = settings.MESSAGE_RETRY_DELAY * (2 ** max(attempts - 1, 0))
    return min(delay, settings.MESSAGE_MAX_RETRY_DELAY)


def attempt(message_id: int, now: datetime | None = None) -> str | None:
    """Send a due, queued message once. None when it was not due (sent already, failed, or
    being sent by another task)."""
    now = now or timezone.now()
    claimed = Message.objects.filter(
        pk=message_id, status=Status.QUEUED, next_attempt_at__lte=now
    ).update(status=Status.SENDING, last_attempt_at=now)
    if not claimed:
        return None
    message = Message.objects.select_related("customer").get(pk=message_id)
    message.attempts += 1
    if has_opted_out(message.customer_id):
        return _finish(message, Status.FAILED, error="Not sent: the customer opted out.")
    try:
        if message.channel == Channel.EMAIL:
            _send_email(message)
            return _finish(message, Status.SENT, sent_at=now)
        result = sms.backend().send(message.to, message.body, status_callback=status_callback_url())
    except (SendFailure, sms.SmsError) as exc:
        if exc.retry and message.attempts < settings.MESSAGE_MAX_ATTEMPTS:
            next_at = now + timedelta(seconds=retry_delay(message.attempts))
            status = _finish(
                message,
                Status.QUEUED,
                error=f"{exc} (attempt {message.attempts}; tried again at {next_at:%H:%M:%S})",
                next_attempt_at=next_at,
            )
            enqueue([message.pk], run_after=next_at)
            return status
        return _finish(message, Status.FAILED, error=str(exc))
    message.provider_id = result.provider_id
    return _finish(
        message,
        Status.DELIVERED if result.status == "delivered" else Status.SENT,
        sent_at=now,
        delivered_at=now if result.status == "delivered" else None,
    )


def _finish(message: Message, status: str, *, error: str = "", **times) -> str:
    """Record the outcome with save(): the audit log keeps each message's outcome."""
    message.status = status
    message.error = error[:2000]
    for name, value in times.items():
        setattr(message, name, value)
    message.save(
        update_fields=[
            "status",
            "error",
            "attempts",
            "provider_id",
            "sent_at",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    if status == Status.FAILED:
        logger.warning("message failed", extra={"message": message.pk, "error": error[:200]})
    return status


def tracking_pixel_url(message: Message) -> str:
    return base_url() + reverse("messaging:opened", args=[message.tracking_token])


def status_callback_url() -> str:
    return base_url() + reverse("messaging:sms_status")


def _send_email(message: Message) -> None:
    html = linebreaks(urlize(escape(message.body), autoescape=False))
    html += f'<img src="{tracking_pixel_url(message)}" width="1" height="1" alt="">'
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body,
        to=[message.to],
        reply_to=[ShopSettings.of(message.location_id).email]
        if ShopSettings.of(message.location_id).email
        else None,
        headers={"List-Unsubscribe": f"<{base_url()}{_opt_out_path(message.customer_id)}>"},
        connection=get_connection(timeout=settings.EMAIL_SEND_TIMEOUT),
    )
    email.attach_alternative(html, "text/html")
    attachment = attachment_for(message)
    if attachment is not None:
        email.attach(*attachment)
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as exc:
        reasons = "; ".join(
            f"{to}: {code} {_text(reason)}" for to, (code, reason) in exc.recipients.items()
        )
        temporary = all(400 <= code < 500 for code, _reason in exc.recipients.values())
        raise SendFailure(
            f"The mail server refused the recipient: {reasons}", retry=temporary
        ) from None
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else exc.smtp_error
        )
        raise SendFailure(
            f"The mail server answered {exc.smtp_code} {text}", retry=400 <= exc.smtp_code < 500
        ) from None
    except (smtplib.SMTPConnectError, ConnectionRefusedError) as exc:
        raise SendFailure(f"Cannot reach the mail server: {exc}", retry=True) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SendFailure(f"Sending the email failed: {exc}", retry=False) from None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _opt_out_path(customer_id: int) -> str:
    return reverse("messaging:opt_out", args=[opt_out_token(customer_id)])


def attachment_for(message: Message) -> tuple[str, bytes, str] | None:
    """The estimate's or invoice's PDF, as it is when the message goes out."""
    if message.kind not in (Kind.ESTIMATE_PDF, Kind.INVOICE_PDF) or message.repair_order_id is None:
        return None
    from repairs import pdf, views
    from repairs.models import Invoice, RepairOrder

    if message.kind == Kind.ESTIMATE_PDF:
        context = views.estimate_context(message.repair_order_id, RepairOrder.objects.all())
        return f"estimate-{context['number']}.pdf", pdf.render_document(context), "application/pdf"
    invoice = Invoice.objects.filter(repair_order_id=message.repair_order_id).first()
    if invoice is None:
        raise SendFailure("The repair order has no invoice to attach.", retry=False)
    context = views.invoice_context(invoice)
    return f"invoice-{invoice.number}.pdf", pdf.render_document(context), "application/pdf"


def requeue_due(now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Messages interrupted while sending become failed (outcome unknown: never sent twice);
    queued messages whose (re)try is due and that have no task are queued again."""
    now = now or timezone.now()
    interrupted = Message.objects.filter(
        status=Status.SENDING, last_attempt_at__lt=now - STALE_SENDING
    ).update(
        status=Status.FAILED,
        error="Interrupted while sending: it may or may not have reached the customer, so it "
        "is not sent again by itself. Check with the customer before sending it again.",
    )
    due = list(
        Message.objects.due_retries(now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    enqueue(due)
    return {"interrupted": interrupted, "queued": len(due)}


# ---------------------------------------------------------------------------------------------
# What the channels tell afterwards
# ---------------------------------------------------------------------------------------------

# Twilio's MessageStatus values and what they make of a message.
PROVIDER_STATUSES = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
}


def record_provider_status(provider_id: str, provider_status: str, error_code: str = "") -> bool:
    """A status callback: the text was delivered, or not. Returns whether a message matched."""
    status = PROVIDER_STATUSES.get(provider_status)
    message = Message.objects.filter(provider_id=provider_id).exclude(provider_id="").first()
    if message is None:
        return False
    if status is None or message.status == status:
        return True
    if message.status == Status.DELIVERED and status == Status.SENT:
        return True  # callbacks may arrive out of order
    message.status = status
    update = ["status"]
    if status == Status.DELIVERED:
        message.delivered_at = timezone.now()
        update.append("delivered_at")
    if status == Status.FAILED:
        message.error = f"The provider reports the text {provider_status}" + (
            f" (error {error_code})." if error_code else "."
        )
        update.append("error")
    message.save(update_fields=update)
    return True


def record_open(tracking_token) -> None:
    """The email's tracking image was loaded: the customer opened it (as far as email tells)."""
    message = Message.objects.filter(tracking_token=tracking_token).first()
    if message is None or message.opened_at is not None:
        return
    message.opened_at = timezone.now()
    fields = ["opened_at"]
    if message.status in (Status.SENT, Status.DELIVERED):
        message.status = Status.OPENED
        fields.append("status")
    message.save(update_fields=fields)
