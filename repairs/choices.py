"""The shop's vocabulary for repair orders, jobs and money: one place for every set of choices."""

from django.db import models


class RepairOrderStatus(models.TextChoices):
    ESTIMATE = "estimate", "Estimate"
    APPROVED = "approved", "Approved"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    INVOICED = "invoiced", "Invoiced"
    PAID = "paid", "Paid"
    # Internal orders end here instead of invoiced/paid: their cost goes to the car, not a bill.
    CLOSED = "closed", "Closed at cost"
    CANCELED = "canceled", "Canceled"


# Work not finished yet: what the status board shows, and what "already has an open order" means.
OPEN_STATUSES = (
    RepairOrderStatus.ESTIMATE,
    RepairOrderStatus.APPROVED,
    RepairOrderStatus.IN_PROGRESS,
    RepairOrderStatus.COMPLETED,
)
# Jobs and lines may still be added, changed or removed.
EDITABLE_STATUSES = (
    RepairOrderStatus.ESTIMATE,
    RepairOrderStatus.APPROVED,
    RepairOrderStatus.IN_PROGRESS,
)


class Authorization(models.TextChoices):
    PENDING = "pending", "Waiting for the customer"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"


class AuthorizationMethod(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    PHONE = "phone", "Phone"
    ONLINE = "online", "Online (estimate link)"
    INTERNAL = "internal", "Internal order"


class PaymentMethod(models.TextChoices):
    CASH = "cash", "Cash"
    CARD = "card", "Card"
    CHECK = "check", "Check"
    TRANSFER = "transfer", "Bank transfer"
    ON_ACCOUNT = "on_account", "On account"


class AppointmentStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CONVERTED = "converted", "Repair order opened"
    CANCELED = "canceled", "Canceled"
    NO_SHOW = "no_show", "No show"


class DocumentSeries(models.TextChoices):
    REPAIR_ORDER = "repair_order", "Repair orders"
    INVOICE = "invoice", "Invoices"
    CREDIT_NOTE = "credit_note", "Credit notes"


class InspectionPurpose(models.TextChoices):
    SERVICE = "service", "Service visit"
    PRE_PURCHASE = "pre_purchase", "Pre-purchase (the lot)"


class InspectionRating(models.TextChoices):
    GOOD = "good", "Good"
    ATTENTION = "attention", "Needs attention"
    URGENT = "urgent", "Urgent"


class Measurement(models.TextChoices):
    TREAD_DEPTH = "tread_32nds", "Tread depth (32nds of an inch)"


class MediaKind(models.TextChoices):
    PHOTO = "photo", "Photo"
    VIDEO = "video", "Video"
