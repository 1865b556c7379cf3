from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

from accounts.limits import MAX_LABOR_HOURS, MAX_LINE_QUANTITY, at_most, bounded
from inventory.models import Part


class CannedJob(models.Model):
    """A job the shop does often (oil change, front brakes), added to an order in one step."""

    name = models.CharField(max_length=120, unique=True)
    complaint = models.TextField(blank=True, help_text="Copied to the job; may be edited there.")
    correction = models.TextField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["active", "name"], name="cannedjob_active_name_idx")]

    def __str__(self):
        return self.name


class CannedJobLabor(models.Model):
    """A labor operation of a canned job; priced at the shop's labor rate when added."""

    canned_job = models.ForeignKey(CannedJob, on_delete=models.CASCADE, related_name="labor")
    operation = models.CharField(max_length=200)
    hours = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), at_most(MAX_LABOR_HOURS, "hours per line")],
    )

    class Meta:
        ordering = ["canned_job", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hours__gte=0),
                name="cannedjoblabor_hours_not_negative",
                violation_error_message="Hours cannot be negative.",
            ),
            bounded(
                "hours",
                limit=MAX_LABOR_HOURS,
                name="cannedjoblabor_hours_bounded",
                what="hours per line",
            ),
        ]

    def __str__(self):
        return f"{self.operation} ({self.hours} h)"


class CannedJobPart(models.Model):
    """A part a canned job uses; priced at the part's selling price when added."""

    canned_job = models.ForeignKey(CannedJob, on_delete=models.CASCADE, related_name="parts")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(
        default=1, validators=[at_most(MAX_LINE_QUANTITY, "per line")]
    )

    class Meta:
        ordering = ["canned_job", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0),
                name="cannedjobpart_quantity_positive",
                violation_error_message="A quantity is at least 1.",
            ),
            bounded(
                "quantity",
                limit=MAX_LINE_QUANTITY,
                name="cannedjobpart_quantity_bounded",
                what="per line",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.part}"
