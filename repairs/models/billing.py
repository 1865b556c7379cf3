from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Customer
from repairs.choices import DocumentSeries, PaymentMethod
from repairs.exceptions import InvoiceIsFinal

ZERO = Decimal("0")


def _money_field(label=None):
    return models.DecimalField(label, max_digits=12, decimal_places=2, default=ZERO)


class DocumentSequence(models.Model):
    """The last number used in a series (invoices, credit notes, repair orders) for one year.

    repairs.services locks this row (SELECT ... FOR UPDATE) while it writes the document, in the
    same transaction: numbers are sequential and have no gap, also under concurrent invoicing,
    and a rolled-back transaction gives its number back.
    """

    series = models.CharField(max_length=14, choices=DocumentSeries.choices)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["series", "year"]
        constraints = [
            models.UniqueConstraint(fields=["series", "year"], name="documentsequence_series_year",
                                    violation_error_message="One counter per series and year."),
        ]

    def __str__(self):
        return f"{self.get_series_display()} {self.year}: {self.last_number}"


class FinalDocument(models.Model):
    """Written once, never changed: corrections are new documents (credit notes, refunds)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise InvoiceIsFinal(f"{self._meta.verbose_name.capitalize()} {self} is final and "
                                 "cannot be changed; issue a credit note instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise InvoiceIsFinal(f"{self._meta.verbose_name.capitalize()} {self} is final and "
                             "cannot be deleted; issue a credit note instead.")


class InvoiceQuerySet(models.QuerySet):
    def with_balance(self):
        """Annotate paid, credited and balance with subqueries (no query per row)."""
        paid = Payment.objects.filter(invoice=models.OuterRef("pk")).values("invoice").annotate(
            s=models.Sum("amount")).values("s")
        credited = CreditNote.objects.filter(invoice=models.OuterRef("pk")).values(
            "invoice").annotate(s=models.Sum("amount")).values("s")
        money = models.DecimalField(max_digits=12, decimal_places=2)
        return self.annotate(
            paid_amount=Coalesce(models.Subquery(paid, output_field=money),
                                                  ZERO, output_field=money),
            credited_amount=Coalesce(
                models.Subquery(credited, output_field=money), ZERO, output_field=money),
        ).annotate(
            balance_amount=models.ExpressionWrapper(
                models.F("total") - models.F("paid_amount") - models.F("credited_amount"),
                output_field=money),
        )


class Invoice(FinalDocument):
    """The bill for a completed repair order: totals and a snapshot of every line, customer and
    vehicle as they were when invoiced. Never edited; corrected only by a credit note."""

    repair_order = models.OneToOneField("repairs.RepairOrder", on_delete=models.PROTECT,
                                        related_name="invoice")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=20, unique=True)
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    labor_total = _money_field("labor")
    parts_total = _money_field("parts")
    discount_total = _money_field("discount")
    fees_total = _money_field("fees")
    tax_total = _money_field("tax")
    total = _money_field("total")
    snapshot = models.JSONField(help_text="Lines, customer, vehicle, shop and totals as "
                                          "invoiced.")

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [models.Index(fields=["-issued_at", "-id"], name="invoice_issued_idx")]
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="invoice_year_sequence",
                                    violation_error_message="Invoice numbers are unique per "
                                                            "year."),
        ]

    def __str__(self):
        return self.number


class CreditNote(FinalDocument):
    """A correction of an invoice: an amount taken off what the customer owes (own numbers)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=20, unique=True)
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=300)
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [models.Index(fields=["-issued_at", "-id"], name="creditnote_issued_idx")]
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="creditnote_year_sequence",
                                    violation_error_message="Credit note numbers are unique per "
                                                            "year."),
            models.CheckConstraint(condition=models.Q(amount__gt=0),
                                   name="creditnote_amount_positive",
                                   violation_error_message="A credit note is for a positive "
                                                           "amount."),
            models.CheckConstraint(condition=~models.Q(reason=""), name="creditnote_has_reason",
                                   violation_error_message="A credit note needs a reason."),
        ]

    def __str__(self):
        return self.number


class Payment(FinalDocument):
    """Money received against an invoice; several partial payments may settle one invoice."""

    Method = PaymentMethod

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    method = models.CharField(max_length=12, choices=PaymentMethod.choices)
    reference = models.CharField(max_length=80, blank=True,
                                 help_text="Check number, card slip, transfer reference.")
    received_at = models.DateTimeField(default=timezone.now)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="payment_received_idx"),
            models.Index(fields=["method", "received_at"], name="payment_method_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0),
                                   name="payment_amount_positive",
                                   violation_error_message="A payment is for a positive amount."),
        ]

    def __str__(self):
        return f"{self.get_method_display()} {self.amount} on {self.invoice}"
