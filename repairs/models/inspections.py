"""Digital vehicle inspections: canned checklists, an inspection per repair order made from one,
each point rated with notes, measurements and photos; and the customer's signed approval."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from inventory.files import private_storage
from repairs.choices import InspectionPurpose, InspectionRating, Measurement, MediaKind

# A tread depth is read in 32nds of an inch (a new tire has about 10/32, the legal minimum is
# 2/32); no measurement the templates ask for goes past this.
MAX_MEASUREMENT = 99


class InspectionTemplate(models.Model):
    """A canned checklist (multi-point, brakes, tires, pre-purchase): the points a technician
    goes through, in order."""

    name = models.CharField(max_length=80, unique=True)
    purpose = models.CharField(
        max_length=12, choices=InspectionPurpose.choices, default=InspectionPurpose.SERVICE
    )
    active = models.BooleanField(default=True, help_text="Offered for new inspections.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class InspectionTemplatePoint(models.Model):
    """One point of a checklist; `measurement` says when the technician also reads a value."""

    template = models.ForeignKey(
        InspectionTemplate, on_delete=models.CASCADE, related_name="points"
    )
    position = models.PositiveSmallIntegerField(default=1)
    section = models.CharField(max_length=60, blank=True)
    label = models.CharField(max_length=120)
    measurement = models.CharField(
        max_length=12, choices=Measurement.choices, blank=True, default=""
    )

    class Meta:
        ordering = ["template", "position", "id"]

    def __str__(self):
        return self.label


class Inspection(models.Model):
    """A vehicle inspection on a repair order, its points copied from a template when started
    (a later change to the template leaves it as it was)."""

    repair_order = models.ForeignKey(
        "repairs.RepairOrder", on_delete=models.CASCADE, related_name="inspections"
    )
    template = models.ForeignKey(
        InspectionTemplate, on_delete=models.PROTECT, related_name="+", editable=False
    )
    name = models.CharField(max_length=80, editable=False)
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inspections",
        editable=False,
    )
    started_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["repair_order", "started_at", "id"]
        indexes = [models.Index(fields=["repair_order", "started_at"], name="insp_order_idx")]

    def __str__(self):
        return f"{self.name} on {self.repair_order}"


class InspectionItem(models.Model):
    """One point of an inspection as the technician found it."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=1, editable=False)
    section = models.CharField(max_length=60, blank=True, editable=False)
    label = models.CharField(max_length=120, editable=False)
    measurement_kind = models.CharField(
        "measured in",
        max_length=12,
        choices=Measurement.choices,
        blank=True,
        default="",
        editable=False,
    )
    rating = models.CharField(
        max_length=10, choices=InspectionRating.choices, blank=True, default=""
    )
    measurement = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_MEASUREMENT)],
    )
    notes = models.TextField(blank=True)
    job = models.ForeignKey(
        "repairs.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inspection_items",
        editable=False,
        help_text="The recommended job this point became.",
    )

    class Meta:
        ordering = ["inspection", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(measurement__isnull=True)
                | models.Q(measurement__gte=0, measurement__lte=MAX_MEASUREMENT),
                name="inspitem_measurement_range",
                violation_error_message=f"A measurement is between 0 and {MAX_MEASUREMENT}.",
            ),
        ]

    def __str__(self):
        return self.label

    @property
    def needs_work(self):
        return self.rating in (InspectionRating.ATTENTION, InspectionRating.URGENT)


class InspectionMedia(models.Model):
    """A photo (resized, EXIF removed) or a short video of a point, in the private storage:
    served only through a view that checks who asks (repairs.inspection_views)."""

    item = models.ForeignKey(InspectionItem, on_delete=models.CASCADE, related_name="media")
    kind = models.CharField(max_length=5, choices=MediaKind.choices, editable=False)
    file = models.FileField(upload_to="inspections/%Y/%m", storage=private_storage, max_length=255)
    content_type = models.CharField(max_length=40, editable=False)
    width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    size = models.PositiveBigIntegerField(default=0, editable=False)
    uploaded_at = models.DateTimeField(default=timezone.now, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["item", "uploaded_at", "id"]
        verbose_name = "inspection photo or video"
        verbose_name_plural = "inspection photos and videos"

    def __str__(self):
        return f"{self.get_kind_display()} of {self.item}"


class EstimateSignature(models.Model):
    """The customer's signed approval from the estimate link: the name they typed, when, from
    which address, the total they agreed to and the jobs it covered (as they were then)."""

    repair_order = models.ForeignKey(
        "repairs.RepairOrder", on_delete=models.PROTECT, related_name="signatures"
    )
    signed_name = models.CharField("name typed", max_length=160)
    signed_at = models.DateTimeField(default=timezone.now)
    client_ip = models.GenericIPAddressField("client address", null=True, blank=True)
    total = models.DecimalField("estimate total", max_digits=12, decimal_places=2)
    jobs = models.JSONField(help_text="The jobs approved: id, position, title.")

    class Meta:
        ordering = ["repair_order", "signed_at", "id"]
        indexes = [models.Index(fields=["repair_order", "signed_at"], name="signature_order_idx")]

    def __str__(self):
        return f"{self.signed_name} at {self.signed_at:%Y-%m-%d %H:%M}"
