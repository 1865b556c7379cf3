"""Things the business knows: vehicles and parts, with the parts stock ledger."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Length, Upper
from django.db.models.lookups import Exact

from accounts.models import Customer
from inventory.vin import validate_vin


class Vehicle(models.Model):
    """Every vehicle the business has met: customers' cars and its own stock."""

    vin = models.CharField("VIN", max_length=17, unique=True)
    # The last 8 characters, reversed-searchable: advisors search by the tail they read off a card.
    vin_tail = models.CharField(max_length=8, editable=False, db_index=True)
    make = models.CharField(max_length=60, blank=True)
    model = models.CharField(max_length=60, blank=True)
    model_year = models.PositiveSmallIntegerField(null=True, blank=True)
    trim = models.CharField(max_length=60, blank=True)
    engine = models.CharField(max_length=60, blank=True)
    color = models.CharField("colour", max_length=40, blank=True)
    plate = models.CharField(max_length=16, blank=True)
    country = models.CharField("made in", max_length=60, blank=True, editable=False)
    owner = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="vehicles",
        help_text="Empty while the business itself owns the vehicle.",
    )
    odometer = models.PositiveIntegerField("last odometer reading", null=True, blank=True,
                                           editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(Upper("plate"), name="vehicle_plate_upper_idx"),
            models.Index(fields=["make", "model"], name="vehicle_make_model_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Exact(Length("vin"), 17), name="vehicle_vin_17",
                                   violation_error_message="A VIN has 17 characters."),
        ]

    def __str__(self):
        label = " ".join(str(part) for part in (self.model_year, self.make, self.model) if part)
        return f"{label or 'Vehicle'} ({self.vin})"

    def clean(self):
        from django.core.exceptions import ValidationError

        try:
            self.vin = validate_vin(self.vin)
        except ValidationError as exc:
            raise ValidationError({"vin": exc.messages}) from None

    def save(self, *args, **kwargs):
        self.vin = (self.vin or "").strip().upper()
        self.vin_tail = self.vin[-8:]
        self.plate = (self.plate or "").strip().upper()
        super().save(*args, **kwargs)


class OdometerReading(models.Model):
    """A mileage seen on a date. Readings never go down without a note explaining why."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="readings")
    reading = models.PositiveIntegerField()
    read_on = models.DateField()
    note = models.CharField(max_length=200, blank=True,
                            help_text="Required when the reading is lower than an earlier one.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["vehicle", "-read_on", "-id"]
        indexes = [models.Index(fields=["vehicle", "-read_on"], name="odometer_vehicle_date_idx")]

    def __str__(self):
        return f"{self.reading:,} on {self.read_on}"


class Part(models.Model):
    """A part the shop stocks or orders. On hand is the sum of its stock movements."""

    sku = models.CharField("SKU", max_length=40, unique=True)
    description = models.CharField(max_length=200)
    brand = models.CharField(max_length=60, blank=True)
    category = models.CharField(max_length=60, blank=True, db_index=True)
    unit_cost = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"),
                                    validators=[MinValueValidator(Decimal("0"))],
                                    help_text="Average cost, updated on each receipt.")
    price_override = models.DecimalField(
        "selling price (override)", max_digits=10, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Leave empty to price from the markup matrix.")
    taxable = models.BooleanField(default=True)
    bin_location = models.CharField("bin", max_length=30, blank=True)
    reorder_point = models.PositiveIntegerField(default=0)
    reorder_quantity = models.PositiveIntegerField(default=0)
    # Kept equal to the sum of the ledger by inventory.services, in the same transaction.
    on_hand = models.IntegerField(default=0, editable=False)
    supplier = models.ForeignKey("inventory.Supplier", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="parts",
                                 help_text="Usual supplier, for reorders.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        permissions = [("view_part_cost", "Can see part costs")]
        indexes = [models.Index(Upper("description"), name="part_description_upper_idx")]
        constraints = [
            models.CheckConstraint(condition=models.Q(on_hand__gte=0),
                                   name="part_on_hand_not_negative",
                                   violation_error_message="Stock on hand cannot go below zero."),
            models.CheckConstraint(condition=models.Q(unit_cost__gte=0),
                                   name="part_unit_cost_not_negative",
                                   violation_error_message="A cost cannot be negative."),
        ]

    def __str__(self):
        return f"{self.sku} {self.description}"

    @property
    def selling_price(self):
        from inventory.pricing import selling_price

        return selling_price(self)


class Supplier(models.Model):
    """A business the shop buys parts from."""

    name = models.CharField(max_length=160, unique=True)
    account_number = models.CharField(max_length=60, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class StockMovement(models.Model):
    """One line of the parts ledger: a positive quantity adds stock, a negative one takes it."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "Receipt"
        ISSUE = "issue", "Issued to a repair order"
        RETURN = "return", "Returned from a repair order"
        ADJUSTMENT = "adjustment", "Adjustment"

    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    quantity = models.IntegerField()
    unit_cost = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    reason = models.CharField(max_length=200, blank=True)
    # What caused it, as "app.model:id" (a repair order's part line, a receipt line).
    reference = models.CharField(max_length=60, blank=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["part", "-created_at"], name="movement_part_date_idx")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(quantity=0), name="movement_not_zero",
                                   violation_error_message="A movement moves something."),
            models.CheckConstraint(
                condition=~models.Q(kind="adjustment") | ~models.Q(reason=""),
                name="adjustment_has_reason",
                violation_error_message="An adjustment needs a reason."),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.quantity:+d} {self.part.sku}"


from inventory.lot import StockUnit, StockUnitCost, StockUnitPhoto  # noqa: E402,F401
