"""What a message is about, how it travels, and where it stands."""

from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "email"
    SMS = "sms", "text message"


class Kind(models.TextChoices):
    APPROVAL_LINK = "approval_link", "approval link"
    ESTIMATE_PDF = "estimate_pdf", "estimate (PDF)"
    INVOICE_PDF = "invoice_pdf", "invoice (PDF)"
    CAR_READY = "car_ready", "your car is ready"
    SERVICE_DUE = "service_due", "service due"
    DECLINED_FOLLOWUP = "declined_followup", "declined work follow-up"
    APPOINTMENT_REMINDER = "appointment_reminder", "appointment reminder"


# Sent by an advisor from the repair order's page; the others by the reminder rules.
ORDER_KINDS = (Kind.APPROVAL_LINK, Kind.ESTIMATE_PDF, Kind.INVOICE_PDF, Kind.CAR_READY)
# These show prices (the estimate's and the invoice's totals): only for who may see prices.
PRICED_KINDS = (Kind.ESTIMATE_PDF, Kind.INVOICE_PDF)


class Status(models.TextChoices):
    QUEUED = "queued", "queued"
    SENDING = "sending", "sending"
    SENT = "sent", "sent"
    DELIVERED = "delivered", "delivered"
    OPENED = "opened", "opened"
    FAILED = "failed", "failed"


class RuleKind(models.TextChoices):
    SERVICE_DUE_DATE = "service_due_date", "service due (time since the last visit)"
    SERVICE_DUE_MILEAGE = "service_due_mileage", "service due (estimated mileage)"
    DECLINED_FOLLOWUP = "declined_followup", "declined work follow-up"
    APPOINTMENT_REMINDER = "appointment_reminder", "appointment reminder (the day before)"


RULE_MESSAGE_KIND = {
    RuleKind.SERVICE_DUE_DATE: Kind.SERVICE_DUE,
    RuleKind.SERVICE_DUE_MILEAGE: Kind.SERVICE_DUE,
    RuleKind.DECLINED_FOLLOWUP: Kind.DECLINED_FOLLOWUP,
    RuleKind.APPOINTMENT_REMINDER: Kind.APPOINTMENT_REMINDER,
}
