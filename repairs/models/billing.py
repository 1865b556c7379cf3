from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Customer, Location, default_location_id
from core.money import ZERO
from repairs.choices import DocumentSeries, PaymentMethod
from repairs.exceptions import InvoiceIsFinal


def _money_field(label=None):
    return models.DecimalField(label, max_digits=12, decimal_places=2, default=ZERO)


class DocumentSequence(models.Model):
    """The last number used in a series (invoices, credit notes, repair orders) of one location
    for one year: each location numbers its own documents.

    repairs.services locks this row (SELECT ... FOR UPDATE) while it writes the document, in the
    same transaction: numbers are sequential and have no gap, also under concurrent invoicing,
    and a rolled-back transaction gives its number back.
    """

    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        related_name="document_sequences",
        default=default_location_id,
        db_index=False,  # documentsequence_location_series_year starts with it
    )
    series = models.CharField(max_length=14, choices=DocumentSeries.choices)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["location", "series", "year"]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "series", "year"],
                name="documentsequence_location_series_year",
                violation_error_message="One counter per location, series and year.",
            ),
        ]

    def __str__(self):
        return f"{self.get_series_display()} {self.year}: {self.last_number}"


class FeedClock(models.Model):
    """The last change time handed out to one feed that partners sync (invoices, credit notes,
    payments), so that the feed's `updated_at` follows the order in which rows become visible.

    A timestamp taken in Python is not enough: a transaction that started first but commits last
    carries an `updated_at` earlier than rows a partner has already paged past, and the partner's
    next `updated_after=` would skip it. Here the row being written takes its time from the
    clock's row, locked (SELECT ... FOR UPDATE) until the writing transaction commits: the next
    writer waits for that commit, then gets a later time. So every committed row of a feed is
    older than any row still to commit, and times are unique (one microsecond apart at least).

    The lock is taken last in a transaction (repairs.services' lock order) and held only from the
    document's insert to the commit.
    """

    feed = models.CharField(
        max_length=40, unique=True, help_text="The model, e.g. repairs.invoice."
    )
    last_at = models.DateTimeField()

    class Meta:
        ordering = ["feed"]

    def __str__(self):
        return f"{self.feed}: {self.last_at.isoformat()}"

    @classmethod
    def next_time(cls, feed):
        """A unique change time for a row of `feed`, later than every time handed out before.
        Call inside the transaction that writes the row: the clock stays locked until it ends."""
        now = timezone.now()
        clock, created = cls.objects.select_for_update().get_or_create(
            feed=feed, defaults={"last_at": now}
        )
        if not created:
            clock.last_at = max(now, clock.last_at + timedelta(microseconds=1))
            clock.save(update_fields=["last_at"])
        return clock.last_at


class FinalDocument(models.Model):
    """Written once, never changed: corrections are new documents (credit notes, refunds).

    `updated_at` is when the row appeared in the accounting feed, from the feed's FeedClock:
    unique, and in the order rows became visible, so a sync resumes after the last row it got.
    """

    updated_at = models.DateTimeField(
        editable=False,
        help_text="When the document entered the accounting feed (unique, in commit order).",
    )

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise InvoiceIsFinal(
                f"{self._meta.verbose_name.capitalize()} {self} is final and "
                "cannot be changed; issue a credit note instead."
            )
        with transaction.atomic():
            self.updated_at = FeedClock.next_time(self._meta.label_lower)
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise InvoiceIsFinal(
            f"{self._meta.verbose_name.capitalize()} {self} is final and "
            "cannot be deleted; issue a credit note instead."
        )


class InvoiceQuerySet(models.QuerySet):
    def with_balance(self):
        """Annotate paid, credited and balance with subqueries (no query per row)."""
        paid = (
            Payment.objects.filter(invoice=models.OuterRef("pk"))
            .values("invoice")
            .annotate(s=models.Sum("amount"))
            .values("s")
        )
        credited = (
            CreditNote.objects.filter(invoice=models.OuterRef("pk"))
            .values("invoice")
            .annotate(s=models.Sum("amount"))
            .values("s")
        )
        money = models.DecimalField(max_digits=12, decimal_places=2)
        return self.annotate(
            paid_amount=Coalesce(
                models.Subquery(paid, output_field=money), ZERO, output_field=money
            ),
            credited_amount=Coalesce(
                models.Subquery(credited, output_field=money), ZERO, output_field=money
            ),
        ).annotate(
            balance_amount=models.ExpressionWrapper(
                models.F("total") - models.F("paid_amount") - models.F("credited_amount"),
                output_field=money,
            ),
        )


class Invoice(FinalDocument):
    """The bill for a completed repair order: totals and a snapshot of every line, customer and
    vehicle as they were when invoiced. Never edited; corrected only by a credit note."""

    repair_order = models.OneToOneField(
        "repairs.RepairOrder", on_delete=models.PROTECT, related_name="invoice"
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        related_name="invoices",
        default=default_location_id,
        db_index=False,  # invoice_location_issued_idx starts with it
        help_text="The order's location: its header, its rates, its number series.",
    )
    number = models.CharField(max_length=40, unique=True)
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    labor_total = _money_field("labor")
    parts_total = _money_field("parts")
    discount_total = _money_field("discount")
    fees_total = _money_field("fees")
    tax_total = _money_field("tax")
    total = _money_field("total")
    snapshot = models.JSONField(help_text="Lines, customer, vehicle, shop and totals as invoiced.")

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [
            models.Index(fields=["-issued_at", "-id"], name="invoice_issued_idx"),
            models.Index(
                fields=["location", "-issued_at", "-id"], name="invoice_location_issued_idx"
            ),
            # The report pages' sums of the invoices of a period, read from the index alone
            # (PostgreSQL; elsewhere a plain index on the date).
            models.Index(
                fields=["issued_at"],
                name="invoice_issued_totals_idx",
                include=["labor_total", "parts_total", "discount_total", "total", "repair_order"],
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["updated_at"],
                name="invoice_updated_at_unique",
                violation_error_message="Feed times are unique.",
            ),
            models.UniqueConstraint(
                fields=["location", "year", "sequence"],
                name="invoice_location_year_sequence",
                violation_error_message="Invoice numbers are unique per location and year.",
            ),
        ]

    def __str__(self):
        return self.number


class CreditNote(FinalDocument):
    """A correction of an invoice: an amount taken off what the customer owes (own numbers, in
    the series of the invoice's location: `location` is the invoice's, kept on the row so that
    the database holds each location's numbers unique)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        related_name="credit_notes",
        default=default_location_id,
        db_index=False,  # creditnote_location_issued_idx starts with it
        editable=False,
    )
    number = models.CharField(max_length=40, unique=True)
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=300)
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [
            models.Index(fields=["-issued_at", "-id"], name="creditnote_issued_idx"),
            models.Index(
                fields=["location", "-issued_at", "-id"], name="creditnote_location_issued_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["updated_at"],
                name="creditnote_updated_at_unique",
                violation_error_message="Feed times are unique.",
            ),
            models.UniqueConstraint(
                fields=["location", "year", "sequence"],
                name="creditnote_location_year_sequence",
                violation_error_message="Credit note numbers are unique per location and year.",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0),
                name="creditnote_amount_positive",
                violation_error_message="A credit note is for a positive amount.",
            ),
            models.CheckConstraint(
                condition=~models.Q(reason=""),
                name="creditnote_has_reason",
                violation_error_message="A credit note needs a reason.",
            ),
        ]

    def __str__(self):
        return self.number


class Payment(FinalDocument):
    """Money received against an invoice; several partial payments may settle one invoice. It
    belongs to the invoice's location (`invoice__location`)."""

    Method = PaymentMethod

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    method = models.CharField(max_length=12, choices=PaymentMethod.choices)
    reference = models.CharField(
        max_length=80, blank=True, help_text="Check number, card slip, transfer reference."
    )
    received_at = models.DateTimeField(default=timezone.now)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="payment_received_idx"),
            models.Index(fields=["method", "received_at"], name="payment_method_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["updated_at"],
                name="payment_updated_at_unique",
                violation_error_message="Feed times are unique.",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0),
                name="payment_amount_positive",
                violation_error_message="A payment is for a positive amount.",
            ),
        ]

    def __str__(self):
        return f"{self.get_method_display()} {self.amount} on {self.invoice}"
