"""The used-car lot's stock: vehicles the business owns to sell, their costs and their photos.

A stock unit is one stay of a vehicle on the lot, from acquisition until it leaves (sold,
wholesaled, or given back when the deal that traded it in is unwound). The same vehicle can come
back later as a new stock unit, but it is never in stock twice at once.

Status changes go through inventory.lot_services (manual steps) and sales.services (a deal
reserves and sells a unit); the admin only calls them. Reconditioning cost comes from the service
shop's internal repair orders and is read by the sales layer (sales.services.unit_costs), because
inventory sits below repairs.
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import (
    FileExtensionValidator,
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.limits import MAX_VEHICLE_AMOUNT, at_most, bounded
from inventory.files import private_storage


def default_lot_id() -> int:
    """Where a unit goes when no lot is named: the default location when it is a lot, else the
    group's first lot (the default location when the group has none, refused on acquiring)."""
    from accounts.models import Location

    lot = (
        Location.objects.filter(kind__in=[Location.Kind.LOT, Location.Kind.BOTH])
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    return lot if lot is not None else Location.default().pk


# Prefix (8) and number fit the stock number's 20 characters.
MAX_SERIES_NUMBER = 99_999_999


class StockNumberSeries(models.Model):
    """How the shop numbers its stock units: a prefix and the next number, edited by a manager.

    One row. inventory.lot_services.number_unit takes the next number while it writes the unit,
    with this row locked (core.numbering): numbers have no gap and no duplicate, also when two
    units are entered at the same moment.
    """

    prefix = models.CharField(
        max_length=8,
        blank=True,
        default="L",
        validators=[RegexValidator(r"^[A-Za-z0-9-]*$", "Letters, digits and dashes only.")],
        help_text="Written before the number: L gives L0042.",
    )
    next_number = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_SERIES_NUMBER)],
        help_text="The number the next stock unit gets. Numbers already used are skipped.",
    )
    digits = models.PositiveSmallIntegerField(
        "minimum digits",
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(8)],
        help_text="Shorter numbers are padded with zeros: 4 gives 0042.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "inventory"
        verbose_name = "stock number series"
        verbose_name_plural = "stock number series"
        constraints = [
            models.CheckConstraint(
                condition=Q(id=1),
                name="stocknumberseries_single_row",
                violation_error_message="The shop has one stock number series.",
            ),
            models.CheckConstraint(
                condition=Q(next_number__gte=1),
                name="stocknumberseries_next_positive",
                violation_error_message="The next number is 1 or more.",
            ),
            models.CheckConstraint(
                condition=Q(digits__gte=1, digits__lte=8),
                name="stocknumberseries_digits_bounded",
                violation_error_message="Between 1 and 8 digits.",
            ),
        ]

    def __str__(self):
        return f"Stock numbers: next {self.format(self.next_number)}"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    def format(self, number: int) -> str:
        """The stock number `number` is written as: L0042."""
        return f"{self.prefix}{number:0{self.digits}d}"


class StockUnit(models.Model):
    """A vehicle the business owns to sell: acquisition, prices, status, title and days in stock."""

    class Status(models.TextChoices):
        ACQUIRED = "acquired", "Acquired"
        RECONDITIONING = "reconditioning", "In reconditioning"
        AVAILABLE = "available", "Available"
        RESERVED = "reserved", "Reserved (signed deal)"
        SOLD = "sold", "Sold"
        WHOLESALED = "wholesaled", "Wholesaled"
        RETURNED = "returned", "Returned to the trade-in's owner"

    class Source(models.TextChoices):
        TRADE_IN = "trade_in", "Trade-in"
        AUCTION = "auction", "Auction"
        PRIVATE = "private", "Private purchase"
        WHOLESALE = "wholesale", "Wholesale purchase"

    class TitleStatus(models.TextChoices):
        MISSING = "missing", "Missing"
        RECEIVED = "received", "Received"
        SENT_FOR_TRANSFER = "sent", "Sent for transfer"
        TRANSFERRED = "transferred", "Transferred"

    # Statuses where the unit is still on the lot (the rest have left it for good, or until an
    # unwind brings a sold unit back).
    IN_STOCK = (Status.ACQUIRED, Status.RECONDITIONING, Status.AVAILABLE, Status.RESERVED)
    GONE = (Status.SOLD, Status.WHOLESALED, Status.RETURNED)
    # Reached only through a deal (sales.services); the workflow is inventory.workflow.
    DEAL_ONLY = (Status.RESERVED, Status.SOLD, Status.RETURNED)

    # Given by the shop's series (StockNumberSeries) unless typed when the unit is entered.
    stock_number = models.CharField(max_length=20, unique=True)
    vehicle = models.ForeignKey(
        "inventory.Vehicle", on_delete=models.PROTECT, related_name="stock_units"
    )
    # The lot it stands on (a location of kind lot or both); moved by lot_services.move_to_lot.
    location = models.ForeignKey(
        "accounts.Location",
        on_delete=models.PROTECT,
        related_name="stock_units",
        default=default_lot_id,
        verbose_name="lot",
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACQUIRED, editable=False
    )
    source = models.CharField("acquired by", max_length=12, choices=Source.choices)
    acquired_from = models.CharField(
        max_length=160, blank=True, help_text="Seller, auction house or dealer."
    )
    acquired_on = models.DateField(default=timezone.localdate)
    acquisition_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), at_most(MAX_VEHICLE_AMOUNT, "for a vehicle")],
    )
    asking_price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), at_most(MAX_VEHICLE_AMOUNT, "for a vehicle")],
    )
    internet_price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), at_most(MAX_VEHICLE_AMOUNT, "for a vehicle")],
        help_text="Price advertised online, if different.",
    )
    title_status = models.CharField(
        max_length=12, choices=TitleStatus.choices, default=TitleStatus.MISSING
    )
    # The first day the unit was on sale during this stay (the front line): set when it first
    # becomes available, kept when it goes back to reconditioning or a deal is unwound.
    available_on = models.DateField(
        "on the front line since", null=True, blank=True, editable=False
    )
    # The day the unit left the lot (sold, wholesaled, returned); days in stock stop there.
    disposed_on = models.DateField(null=True, blank=True, editable=False)
    wholesale_price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        editable=False,
        validators=[at_most(MAX_VEHICLE_AMOUNT, "for a vehicle")],
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "inventory"
        ordering = ["acquired_on", "id"]
        indexes = [
            models.Index(fields=["status", "acquired_on"], name="stockunit_status_acq_idx"),
            models.Index(fields=["acquired_on"], name="stockunit_acquired_idx"),
            models.Index(fields=["title_status"], name="stockunit_title_idx"),
            models.Index(fields=["available_on"], name="stockunit_available_idx"),
            models.Index(fields=["location", "status"], name="stockunit_location_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["vehicle"],
                condition=~Q(status__in=["sold", "wholesaled", "returned"]),
                name="stockunit_one_in_stock_per_vehicle",
                violation_error_message="This vehicle is already in stock.",
            ),
            models.CheckConstraint(
                condition=Q(acquisition_cost__gte=0),
                name="stockunit_cost_not_negative",
                violation_error_message="An acquisition cost cannot be negative.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status__in=["sold", "wholesaled", "returned"], disposed_on__isnull=False)
                    | (
                        ~Q(status__in=["sold", "wholesaled", "returned"])
                        & Q(disposed_on__isnull=True)
                    )
                ),
                name="stockunit_disposed_iff_gone",
                violation_error_message="Only a unit that left the lot has a disposal date.",
            ),
            models.CheckConstraint(
                condition=Q(disposed_on__isnull=True) | Q(disposed_on__gte=F("acquired_on")),
                name="stockunit_disposed_after_acquired",
                violation_error_message="A unit cannot leave the lot before it was acquired.",
            ),
            models.CheckConstraint(
                condition=Q(available_on__isnull=True) | Q(available_on__gte=F("acquired_on")),
                name="stockunit_available_after_acquired",
                violation_error_message="A unit cannot go on sale before it was acquired.",
            ),
            bounded(
                "acquisition_cost",
                "asking_price",
                "internet_price",
                "wholesale_price",
                limit=MAX_VEHICLE_AMOUNT,
                name="stockunit_amounts_bounded",
                what="for a vehicle",
                nullable=True,
            ),
        ]

    def __str__(self):
        return f"{self.stock_number} {self.vehicle_label}"

    @property
    def vehicle_label(self):
        vehicle = self.vehicle
        parts = (vehicle.model_year, vehicle.make, vehicle.model)
        return " ".join(str(part) for part in parts if part) or vehicle.vin

    @property
    def in_stock(self):
        return self.status in self.IN_STOCK

    def days_in_stock(self, today=None):
        """Days from acquisition until it left the lot, or until today while it is here."""
        return self.days_between(self.acquired_on, self.disposed_on, today)

    @staticmethod
    def days_between(acquired_on, disposed_on, today=None):
        """days_in_stock() of a unit acquired and disposed of on these dates (rows read with
        .values())."""
        end = disposed_on or today or timezone.localdate()
        return max((end - acquired_on).days, 0)

    def is_aged(self, threshold_days, today=None):
        return self.in_stock and self.days_in_stock(today) > threshold_days

    @staticmethod
    def aged_on(day, threshold_days, field="acquired_on"):
        """Q: more than `threshold_days` in stock on `day` (is_aged for a query; `field` is
        the path to the acquisition day)."""
        return Q(**{f"{field}__lt": day - timedelta(days=threshold_days)})

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.acquired_on and self.acquired_on > timezone.localdate():
            raise ValidationError({"acquired_on": "The acquisition date is in the future."})


class StockUnitCost(models.Model):
    """A cost on a stock unit other than its purchase: transport, auction fee, detailing, ...

    One line per receipt; the receipt itself (a scan) is optional.
    """

    class Kind(models.TextChoices):
        TRANSPORT = "transport", "Transport"
        AUCTION_FEE = "auction_fee", "Auction fee"
        DETAILING = "detailing", "Detailing"
        INSPECTION = "inspection", "Inspection"
        TITLE = "title", "Title and registration"
        OTHER = "other", "Other"

    unit = models.ForeignKey(StockUnit, on_delete=models.CASCADE, related_name="costs")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.CharField(max_length=200, blank=True)
    vendor = models.CharField(max_length=160, blank=True)
    receipt_number = models.CharField(max_length=60, blank=True)
    # Private: a random folder per file, served only through a permission check
    # (inventory/files.py); receipts uploaded before keep their old names and work the same.
    receipt = models.FileField(
        upload_to="stock/receipts/%Y/%m/",
        storage=private_storage,
        blank=True,
        validators=[FileExtensionValidator(["pdf", "jpg", "jpeg", "png", "webp"])],
    )
    amount = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), at_most(MAX_VEHICLE_AMOUNT, "for a vehicle")],
    )
    incurred_on = models.DateField(default=timezone.localdate)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "inventory"
        ordering = ["unit", "incurred_on", "id"]
        verbose_name = "stock unit cost"
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0),
                name="stockunitcost_not_negative",
                violation_error_message="A cost cannot be negative.",
            ),
            bounded(
                "amount",
                limit=MAX_VEHICLE_AMOUNT,
                name="stockunitcost_amount_bounded",
                what="for a vehicle",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount}"


class StockUnitPhoto(models.Model):
    """A photo of a stock unit, kept in the configured storage; one of them is the main photo."""

    unit = models.ForeignKey(StockUnit, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to="stock/photos/%Y/%m/")
    caption = models.CharField(max_length=120, blank=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first.")
    is_main = models.BooleanField("main photo", default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "inventory"
        ordering = ["unit", "position", "id"]
        verbose_name = "stock unit photo"
        constraints = [
            models.UniqueConstraint(
                fields=["unit"],
                condition=Q(is_main=True),
                name="stockunitphoto_one_main",
                violation_error_message="A stock unit has one main photo.",
            ),
        ]

    def __str__(self):
        return self.caption or f"Photo {self.position}"


class StockUnitMove(models.Model):
    """A stock unit moved from one lot of the group to another (lot_services.move_to_lot)."""

    unit = models.ForeignKey(StockUnit, on_delete=models.CASCADE, related_name="moves")
    from_location = models.ForeignKey(
        "accounts.Location", on_delete=models.PROTECT, related_name="+", verbose_name="from"
    )
    to_location = models.ForeignKey(
        "accounts.Location", on_delete=models.PROTECT, related_name="+", verbose_name="to"
    )
    moved_at = models.DateTimeField(default=timezone.now)
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        app_label = "inventory"
        ordering = ["unit_id", "-moved_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_location=F("to_location")),
                name="stockunitmove_between_two_lots",
                violation_error_message="A unit moves to another lot.",
            ),
        ]

    def __str__(self):
        return f"{self.unit_id}: {self.from_location_id} -> {self.to_location_id}"
