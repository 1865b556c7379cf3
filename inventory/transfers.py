"""Parts sent from one location of the group to another: a transfer document and its lines.

draft -> in transit (sent: the stock left the source) -> received (the stock entered the
destination); a draft or a transfer in transit can be cancelled (stock in transit goes back to the
source). Every change of status goes through inventory.transfer_services.
"""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from accounts.limits import MAX_PART_PRICE, MAX_STOCK_QUANTITY, at_most, bounded
from core.money import ZERO


class StockTransfer(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_TRANSIT = "in_transit", "In transit"
        RECEIVED = "received", "Received"
        CANCELED = "canceled", "Cancelled"

    from_location = models.ForeignKey(
        "accounts.Location",
        on_delete=models.PROTECT,
        related_name="transfers_out",
        verbose_name="from",
    )
    to_location = models.ForeignKey(
        "accounts.Location",
        on_delete=models.PROTECT,
        related_name="transfers_in",
        verbose_name="to",
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    received_at = models.DateTimeField(null=True, blank=True, editable=False)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancel_reason = models.CharField(max_length=200, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "inventory"
        ordering = ["-id"]
        verbose_name = "stock transfer"
        indexes = [
            models.Index(fields=["from_location", "status"], name="transfer_from_status_idx"),
            models.Index(fields=["to_location", "status"], name="transfer_to_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_location=F("to_location")),
                name="transfer_between_two_locations",
                violation_error_message="A transfer goes to another location.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "canceled"]) | Q(sent_at__isnull=False),
                name="transfer_sent_has_date",
                violation_error_message="A transfer that was sent has the date it was sent.",
            ),
            models.CheckConstraint(
                condition=~Q(status="received") | Q(received_at__isnull=False),
                name="transfer_received_has_date",
                violation_error_message="A received transfer has the date it was received.",
            ),
        ]

    def __str__(self):
        return self.number

    @property
    def number(self):
        return f"TR-{self.pk:05d}" if self.pk else "TR (new)"


class StockTransferLine(models.Model):
    """A part and quantity on a transfer, with the cost it travels at (the source's average
    cost when it was sent)."""

    transfer = models.ForeignKey(StockTransfer, on_delete=models.CASCADE, related_name="lines")
    part = models.ForeignKey("inventory.Part", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(
        validators=[MinValueValidator(1), at_most(MAX_STOCK_QUANTITY, "per line")]
    )
    unit_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=ZERO,
        editable=False,
        help_text="The source's average cost when the parts were sent.",
    )

    class Meta:
        app_label = "inventory"
        ordering = ["transfer_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["transfer", "part"],
                name="transfer_line_part_once",
                violation_error_message="This part is already on the transfer.",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0),
                name="transfer_line_quantity_positive",
                violation_error_message="Send at least one.",
            ),
            bounded(
                "quantity",
                limit=MAX_STOCK_QUANTITY,
                name="transfer_line_quantity_bounded",
                what="per line",
            ),
            bounded(
                "unit_cost",
                limit=MAX_PART_PRICE,
                name="transfer_line_cost_bounded",
                what="per part",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.part.sku}"
