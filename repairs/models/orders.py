from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from accounts.limits import (
    MAX_LABOR_HOURS,
    MAX_LABOR_RATE,
    MAX_LINE_AMOUNT,
    MAX_LINE_QUANTITY,
    MAX_ODOMETER,
    MAX_PART_PRICE,
    at_most,
    bounded,
    product_bounded,
)
from accounts.models import Customer, Location, default_location_id
from core.hours import hours_text
from core.money import ZERO, money
from inventory.models import Part, Vehicle
from repairs.choices import (
    OPEN_STATUSES,
    Authorization,
    AuthorizationMethod,
    RepairOrderStatus,
)


class RepairOrderQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def for_technician(self, user):
        """Orders with at least one labor line assigned to the technician."""
        return self.filter(
            models.Exists(
                LaborLine.objects.filter(job__repair_order=models.OuterRef("pk"), technician=user)
            )
        )


class RepairOrder(models.Model):
    """The shop's work order for one visit of a vehicle: jobs, labor and parts, then the bill.

    Its status moves only through repairs.services (one function per step); every step is
    recorded as a RepairOrderEvent with its time and who made it.
    """

    Status = RepairOrderStatus

    number = models.CharField(max_length=40, unique=True, editable=False)
    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        related_name="repair_orders",
        default=default_location_id,
        db_index=False,  # the indexes below start with it
        help_text="The shop that does the work: its rates, its number series, its staff.",
    )
    status = models.CharField(
        max_length=12,
        choices=RepairOrderStatus.choices,
        default=RepairOrderStatus.ESTIMATE,
        editable=False,
    )
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="repair_orders",
        help_text="Who pays. Empty only for internal orders on the business's own vehicles.",
    )
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="repair_orders")
    appointment = models.OneToOneField(
        "repairs.Appointment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="repair_order",
        editable=False,
    )
    odometer_in = models.PositiveIntegerField(
        "odometer in", null=True, blank=True, validators=[at_most(MAX_ODOMETER, "on an odometer")]
    )
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="advised_repair_orders",
    )
    promised_at = models.DateTimeField("promised for", null=True, blank=True)
    internal = models.BooleanField(
        default=False,
        help_text="Work on the business's own vehicle (reconditioning): closed at cost, "
        "no tax, no invoice.",
    )
    comeback_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="comebacks",
        help_text="The earlier order whose work the vehicle came back for.",
    )
    discount_percent = models.DecimalField(
        "discount %",
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Taken off labor and parts before fees and taxes.",
    )
    hazardous_waste = models.BooleanField("charge hazardous waste fee", default=True)
    notes = models.TextField(blank=True)
    opened_at = models.DateTimeField(default=timezone.now, editable=False)
    status_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    # Every write through repairs.services locks the order first and touches this, so a change
    # to a job, a line, the invoice or a payment also counts as a change of the order.
    updated_at = models.DateTimeField(
        auto_now=True, help_text="Last change to the order, its jobs, lines or bill."
    )

    objects = RepairOrderQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["status", "opened_at"], name="ro_status_opened_idx"),
            models.Index(fields=["-opened_at", "-id"], name="ro_opened_idx"),
            models.Index(fields=["advisor", "status"], name="ro_advisor_status_idx"),
            # The lists of one location: newest first, and by status (the board).
            models.Index(fields=["location", "-opened_at", "-id"], name="ro_location_opened_idx"),
            models.Index(fields=["location", "status", "opened_at"], name="ro_location_status_idx"),
            models.Index(fields=["updated_at", "id"], name="ro_updated_idx"),
            models.Index(
                fields=["opened_at"],
                condition=models.Q(internal=True),
                name="ro_internal_opened_idx",
            ),
            # A stock unit's reconditioning: the internal orders of its vehicle (the stock list,
            # the unit page, the lot's reports).
            models.Index(
                fields=["vehicle", "opened_at"],
                condition=models.Q(internal=True),
                name="ro_internal_vehicle_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(internal=True, customer__isnull=True)
                | models.Q(internal=False, customer__isnull=False),
                name="ro_customer_unless_internal",
                violation_error_message="A customer's repair order needs a customer; an internal "
                "one has none.",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="closed") | models.Q(internal=True),
                name="ro_only_internal_closed_at_cost",
                violation_error_message="Only internal orders are closed at cost.",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=["invoiced", "paid"]) | models.Q(internal=False),
                name="ro_internal_never_invoiced",
                violation_error_message="Internal orders are not invoiced.",
            ),
            models.CheckConstraint(
                condition=models.Q(discount_percent__gte=0, discount_percent__lte=100),
                name="ro_discount_percent_range",
                violation_error_message="A discount is between 0 and 100 %.",
            ),
            bounded(
                "odometer_in",
                limit=MAX_ODOMETER,
                name="ro_odometer_in_bounded",
                what="on an odometer",
                nullable=True,
            ),
        ]

    def __str__(self):
        return self.number or "New repair order"


class RepairOrderEvent(models.Model):
    """One step of a repair order's life (opened, approved, started, ...), with when and who.

    The reports read these: time from estimate to approval, time in the shop, and so on.
    """

    repair_order = models.ForeignKey(RepairOrder, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, choices=RepairOrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=RepairOrderStatus.choices)
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["repair_order", "at", "id"]
        indexes = [
            models.Index(fields=["repair_order", "at"], name="roevent_order_at_idx"),
            models.Index(fields=["to_status", "at"], name="roevent_status_at_idx"),
        ]

    def __str__(self):
        return f"{self.from_status or 'new'} → {self.to_status} at {self.at:%Y-%m-%d %H:%M}"


class JobQuerySet(models.QuerySet):
    def recommendations(self):
        """Work the customer declined: still due on the vehicle, to offer again next visit."""
        return self.filter(authorization=Authorization.DECLINED)

    def for_vehicle(self, vehicle):
        return self.filter(repair_order__vehicle=vehicle)

    def for_technician(self, user):
        return self.filter(
            models.Exists(LaborLine.objects.filter(job=models.OuterRef("pk"), technician=user))
        )


class Job(models.Model):
    """One piece of work on an order: the customer's complaint, the cause found, the correction
    made, with its labor and part lines, and the customer's decision on it."""

    repair_order = models.ForeignKey(RepairOrder, on_delete=models.CASCADE, related_name="jobs")
    position = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(max_length=160)
    complaint = models.TextField(blank=True)
    cause = models.TextField(blank=True)
    correction = models.TextField(blank=True)
    canned_job = models.ForeignKey(
        "repairs.CannedJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    authorization = models.CharField(
        max_length=10, choices=Authorization.choices, default=Authorization.PENDING, editable=False
    )
    authorization_method = models.CharField(
        "authorized how",
        max_length=10,
        blank=True,
        choices=AuthorizationMethod.choices,
        editable=False,
    )
    authorized_by = models.CharField(
        "authorized by",
        max_length=160,
        blank=True,
        editable=False,
        help_text="The customer's name as given.",
    )
    authorized_at = models.DateTimeField("decided at", null=True, blank=True, editable=False)
    authorization_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["repair_order", "position", "id"]
        indexes = [
            models.Index(fields=["authorization", "repair_order"], name="job_authorization_idx"),
            # The approval-rate report: jobs decided in a date range.
            models.Index(fields=["authorized_at"], name="job_authorized_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    authorization="pending", authorized_at__isnull=True, authorization_method=""
                )
                | (
                    ~models.Q(authorization="pending")
                    & models.Q(authorized_at__isnull=False)
                    & ~models.Q(authorization_method="")
                ),
                name="job_decision_has_time_and_method",
                violation_error_message="An approval or a decline records when and how it was "
                "given.",
            ),
        ]

    def __str__(self):
        return f"{self.position}. {self.title}"


class LaborLine(models.Model):
    """Labor sold on a job: hours at a rate, done by a technician."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="labor_lines")
    operation = models.CharField(max_length=200)
    hours_sold = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), at_most(MAX_LABOR_HOURS, "hours per line")],
    )
    rate = models.DecimalField(
        "rate per hour",
        max_digits=8,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), at_most(MAX_LABOR_RATE, "per hour")],
    )
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="labor_lines",
    )

    class Meta:
        ordering = ["job", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hours_sold__gte=0, rate__gte=0),
                name="laborline_hours_rate_not_negative",
                violation_error_message="Hours and rate cannot be negative.",
            ),
            bounded(
                "hours_sold",
                limit=MAX_LABOR_HOURS,
                name="laborline_hours_bounded",
                what="hours per line",
            ),
            bounded("rate", limit=MAX_LABOR_RATE, name="laborline_rate_bounded", what="per hour"),
            product_bounded(
                "hours_sold",
                "rate",
                limit=MAX_LINE_AMOUNT,
                name="laborline_amount_bounded",
                what="on one line",
            ),
        ]

    def __str__(self):
        return f"{self.operation} ({hours_text(self.hours_sold)} h)"

    @property
    def amount(self):
        return money(self.hours_sold * self.rate)


class PartLine(models.Model):
    """A part used on a job, at a selling price; its cost is kept as it was when added.

    `issued_quantity` is what inventory.services took out of stock for this line: 0 until the
    parts are issued (work starts), then equal to the quantity.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="part_lines")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="repair_lines")
    quantity = models.PositiveIntegerField(
        default=1, validators=[at_most(MAX_LINE_QUANTITY, "per line")]
    )
    price = models.DecimalField(
        "unit price",
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), at_most(MAX_PART_PRICE, "per part")],
    )
    unit_cost = models.DecimalField(max_digits=10, decimal_places=2, default=ZERO, editable=False)
    taxable = models.BooleanField(default=True, editable=False)
    issued_quantity = models.PositiveIntegerField("issued from stock", default=0, editable=False)

    class Meta:
        ordering = ["job", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0),
                name="partline_quantity_positive",
                violation_error_message="A quantity is at least 1.",
            ),
            models.CheckConstraint(
                condition=models.Q(price__gte=0, unit_cost__gte=0),
                name="partline_price_cost_not_negative",
                violation_error_message="Prices and costs cannot be negative.",
            ),
            models.CheckConstraint(
                condition=models.Q(issued_quantity=0)
                | models.Q(issued_quantity=models.F("quantity")),
                name="partline_issued_all_or_nothing",
                violation_error_message="A part line is issued from stock whole or not at all.",
            ),
            bounded(
                "quantity",
                limit=MAX_LINE_QUANTITY,
                name="partline_quantity_bounded",
                what="per line",
            ),
            bounded("price", limit=MAX_PART_PRICE, name="partline_price_bounded", what="per part"),
            bounded(
                "unit_cost",
                limit=MAX_PART_PRICE,
                name="partline_unit_cost_bounded",
                what="per part",
            ),
            product_bounded(
                "quantity",
                "price",
                limit=MAX_LINE_AMOUNT,
                name="partline_amount_bounded",
                what="on one line",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.part}"

    @property
    def amount(self):
        return money(self.quantity * self.price)

    @property
    def stock_reference(self):
        return f"repairs.partline:{self.pk}"


class TimeEntry(models.Model):
    """A technician clocked on a job from `started` to `ended` (open while ended is empty).

    A technician works on one job at a time: at most one open entry each (a partial unique
    constraint).
    """

    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="time_entries"
    )
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="time_entries")
    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        related_name="time_entries",
        default=default_location_id,
        db_index=False,  # timeentry_location_started_idx starts with it
        editable=False,
        help_text="The location of the job's order, where the time was worked.",
    )
    started = models.DateTimeField(default=timezone.now)
    ended = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started", "-id"]
        verbose_name_plural = "time entries"
        permissions = [
            ("correct_timeentry", "Can correct another technician's or a clocked-off time entry"),
            (
                "use_technician_screen",
                "Can use the technician's screen: their jobs, clocking on and off",
            ),
        ]
        indexes = [
            models.Index(fields=["technician", "-started"], name="timeentry_tech_started_idx"),
            # The technicians' report: every technician's time in a date range.
            models.Index(fields=["started"], name="timeentry_started_idx"),
            models.Index(
                fields=["location", "-started", "-id"], name="timeentry_location_started_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["technician"],
                condition=models.Q(ended__isnull=True),
                name="timeentry_one_open_per_technician",
                violation_error_message="This technician is already clocked in on a job.",
            ),
            models.CheckConstraint(
                condition=models.Q(ended__isnull=True) | models.Q(ended__gte=models.F("started")),
                name="timeentry_ends_after_start",
                violation_error_message="A time entry cannot end before it starts.",
            ),
        ]

    def __str__(self):
        return f"{self.technician} on {self.job_id} from {self.started:%Y-%m-%d %H:%M}"

    @property
    def hours(self):
        end = self.ended or timezone.now()
        return (Decimal((end - self.started).total_seconds()) / Decimal(3600)).quantize(
            Decimal("0.01")
        )
