"""Things the business knows: vehicles and parts, with the parts stock ledger and purchasing."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Length, NullIf, Upper
from django.db.models.lookups import Exact
from django.utils import timezone

from accounts.limits import (
    MAX_MARKUP,
    MAX_ODOMETER,
    MAX_PART_PRICE,
    MAX_STOCK_QUANTITY,
    at_most,
    bounded,
)
from accounts.models import Customer, Location, default_location_id
from core.money import ZERO
from inventory import pricing
from inventory.vin import normalize_vin, validate_vin

# Owners matching a name or phone are looked up first, so the vehicle query filters on a list of
# ids (an index lookup) instead of a subquery PostgreSQL can only apply row by row. Above this
# many owners the subquery is used: slower, never wrong.
OWNER_MATCH_LIMIT = 500
_NAME_PUNCTUATION = set(" '-.,&")


class VehicleQuerySet(models.QuerySet):
    def search(self, text, *, owners=True):
        """Vehicles matching every word of `text`: VIN (whole, its start or its last characters),
        plate, or (unless `owners` is false) the owner's name or phone.

        Each condition can use an index: VIN tails are matched on `vin_reversed` with a prefix
        (LIKE 'x%'), so "the last 6 of the VIN" is as quick as a whole VIN; owners are found
        through the customer search's trigram indexes.
        """
        words = (text or "").split()
        condition = Q()
        for word in words:
            condition &= self._word_condition(word, owners=owners)
        if len(words) > 1:
            # A plate is written with its space ("GRC 1906"): the words together, as stored.
            condition |= Q(plate=" ".join(words).upper())
        return self.filter(condition)

    @staticmethod
    def _word_condition(word, *, owners=True):
        compact = normalize_vin(word).replace("-", "")
        # The plate as typed ("KT-4471", stored with its dash) or without its dash.
        condition = Q(plate__in={compact, word.upper()})
        if compact.isalnum() and len(compact) >= 4:
            if len(compact) == 17:
                condition |= Q(vin=compact)
            else:
                condition |= Q(vin_reversed__startswith=compact[::-1]) | Q(vin__startswith=compact)
        if not owners:
            return condition
        digits = sum(char.isdigit() for char in word)
        if not digits and all(char.isalpha() or char in _NAME_PUNCTUATION for char in word):
            matched = Customer.objects.filter(display_name__icontains=word)
        elif (digits >= 7 or (digits >= 4 and not word.isdigit())) and all(
            char.isdigit() or char in "()+-. " for char in word
        ):
            # Six digits alone are the tail of a VIN, not a phone number.
            matched = Customer.objects.search(word)
        else:
            return condition
        ids = list(matched.order_by().values_list("pk", flat=True)[: OWNER_MATCH_LIMIT + 1])
        if len(ids) > OWNER_MATCH_LIMIT:
            return condition | Q(owner__in=matched.values("pk"))
        return condition | Q(owner_id__in=ids) if ids else condition


class Vehicle(models.Model):
    """Every vehicle the business has met: customers' cars and its own stock."""

    vin = models.CharField("VIN", max_length=17, unique=True)
    # The VIN read backwards: "last 6 of the VIN" becomes a prefix search the index can answer.
    vin_reversed = models.CharField(max_length=17, editable=False, db_index=True)
    make = models.CharField(
        max_length=60, blank=True, help_text="Filled from the VIN when left empty."
    )
    model = models.CharField(max_length=60, blank=True)
    model_year = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Filled from the VIN when left empty."
    )
    trim = models.CharField(max_length=60, blank=True)
    engine = models.CharField(max_length=60, blank=True)
    color = models.CharField("colour", max_length=40, blank=True)
    plate = models.CharField(max_length=16, blank=True)
    country = models.CharField("made in", max_length=60, blank=True, editable=False)
    owner = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="vehicles",
        help_text="Empty while the business itself owns the vehicle.",
    )
    # The latest reading (by date), kept by inventory.services.record_odometer.
    odometer = models.PositiveIntegerField(
        "last odometer reading",
        null=True,
        blank=True,
        editable=False,
        validators=[at_most(MAX_ODOMETER, "on an odometer")],
    )
    odometer_read_on = models.DateField("odometer read on", null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VehicleQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # Plates are stored upper-case, so the plain index answers an exact search.
            models.Index(fields=["plate"], name="vehicle_plate_idx"),
            models.Index(fields=["make", "model"], name="vehicle_make_model_idx"),
            models.Index(fields=["model_year"], name="vehicle_model_year_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("vin"), 17),
                name="vehicle_vin_17",
                violation_error_message="A VIN has 17 characters.",
            ),
            bounded(
                "odometer",
                limit=MAX_ODOMETER,
                name="vehicle_odometer_bounded",
                what="on an odometer",
                nullable=True,
            ),
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
        self.vin = normalize_vin(self.vin)
        self.vin_reversed = self.vin[::-1]
        self.plate = (self.plate or "").strip().upper()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "vin_reversed", "plate"}
        super().save(*args, **kwargs)


class OdometerReading(models.Model):
    """A mileage seen on a date. Readings never go down without a note explaining why."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="readings")
    reading = models.PositiveIntegerField(validators=[at_most(MAX_ODOMETER, "on an odometer")])
    read_on = models.DateField()
    note = models.CharField(
        max_length=200,
        blank=True,
        help_text="Required when the reading is lower than an earlier one.",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["vehicle_id", "-read_on", "-id"]
        indexes = [
            models.Index(fields=["vehicle", "-read_on"], name="odometer_vehicle_date_idx"),
            models.Index(fields=["read_on"], name="odometer_read_on_idx"),
        ]
        constraints = [
            bounded(
                "reading",
                limit=MAX_ODOMETER,
                name="odometer_reading_bounded",
                what="on an odometer",
            ),
        ]

    def __str__(self):
        return f"{self.reading:,} on {self.read_on}"


class PartQuerySet(models.QuerySet):
    def low_stock(self):
        """Stocked parts at or below their reorder point: what a manager reorders.

        A part with neither a reorder point nor a reorder quantity is not kept in stock (ordered
        when a job needs it), so being at zero is normal for it.
        """
        return self.filter(active=True, on_hand__lte=F("reorder_point")).exclude(
            reorder_point=0, reorder_quantity=0
        )

    def low_stock_at(self, location):
        """Parts at or below their reorder point at `location` (its own reorder levels where
        set, else the part's); a part never stocked there counts as none on hand."""
        low = PartStock.objects.filter(location=location).low_stock().values("part_id")
        stocked = PartStock.objects.filter(location=location, part=models.OuterRef("pk"))
        never_stocked = (
            Q(active=True) & ~models.Exists(stocked) & ~Q(reorder_point=0, reorder_quantity=0)
        )
        return self.filter(Q(pk__in=low) | never_stocked)


class Part(models.Model):
    """A part the shop stocks or orders. On hand is the sum of its stock movements."""

    sku = models.CharField("SKU", max_length=40, unique=True)
    description = models.CharField(max_length=200)
    brand = models.CharField(max_length=60, blank=True)
    category = models.CharField(max_length=60, blank=True, db_index=True)
    unit_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(Decimal("0")), at_most(MAX_PART_PRICE, "per part")],
        help_text="Average cost, updated on each receipt.",
    )
    price_override = models.DecimalField(
        "selling price (override)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), at_most(MAX_PART_PRICE, "per part")],
        help_text="Leave empty to price from the markup matrix.",
    )
    taxable = models.BooleanField(default=True)
    bin_location = models.CharField("bin", max_length=30, blank=True)
    reorder_point = models.PositiveIntegerField(
        default=0,
        validators=[at_most(MAX_STOCK_QUANTITY, "parts")],
        help_text="Reorder when stock on hand is at or below this.",
    )
    reorder_quantity = models.PositiveIntegerField(
        default=0,
        validators=[at_most(MAX_STOCK_QUANTITY, "parts")],
        help_text="How many to order when reordering.",
    )
    # Kept equal to the sum of the ledger by inventory.services, in the same transaction.
    on_hand = models.IntegerField(default=0, editable=False)
    supplier = models.ForeignKey(
        "inventory.Supplier",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="parts",
        help_text="Usual supplier, for reorders.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PartQuerySet.as_manager()

    class Meta:
        ordering = ["sku"]
        permissions = [("view_part_cost", "Can see part costs")]
        indexes = [
            models.Index(Upper("description"), name="part_description_upper_idx"),
            # The low-stock list: small, and read by managers every morning.
            models.Index(
                fields=["sku"],
                name="part_low_stock_idx",
                condition=Q(active=True, on_hand__lte=F("reorder_point")),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(on_hand__gte=0),
                name="part_on_hand_not_negative",
                violation_error_message="Stock on hand cannot go below zero.",
            ),
            models.CheckConstraint(
                condition=models.Q(unit_cost__gte=0),
                name="part_unit_cost_not_negative",
                violation_error_message="A cost cannot be negative.",
            ),
            models.CheckConstraint(
                condition=models.Q(price_override__isnull=True) | models.Q(price_override__gte=0),
                name="part_price_override_not_negative",
                violation_error_message="A price cannot be negative.",
            ),
            bounded(
                "unit_cost",
                "price_override",
                limit=MAX_PART_PRICE,
                name="part_prices_bounded",
                what="per part",
                nullable=True,
            ),
            bounded(
                "reorder_point",
                "reorder_quantity",
                limit=MAX_STOCK_QUANTITY,
                name="part_reorder_levels_bounded",
                what="parts",
            ),
        ]

    def __str__(self):
        return f"{self.sku} {self.description}"

    def save(self, *args, **kwargs):
        self.sku = (self.sku or "").strip().upper()
        super().save(*args, **kwargs)

    @property
    def selling_price(self):
        return pricing.selling_price(self)


class PartStockQuerySet(models.QuerySet):
    def low_stock(self):
        """Stock rows at or below their reorder point (the location's own, else the part's)."""
        point = Coalesce("reorder_point", "part__reorder_point")
        quantity = Coalesce("reorder_quantity", "part__reorder_quantity")
        return (
            self.filter(part__active=True)
            .alias(_point=point, _quantity=quantity)
            .filter(on_hand__lte=F("_point"))
            .exclude(_point=0, _quantity=0)
        )


class PartStock(models.Model):
    """One part's stock at one location: on hand and average cost there, kept by
    inventory.services with the ledger (StockMovement) in the same transaction, and the
    location's own reorder point, reorder quantity and bin (empty: the part's)."""

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="stocks")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="part_stocks")
    on_hand = models.IntegerField(default=0, editable=False)
    average_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=ZERO,
        editable=False,
        help_text="Average cost of the stock at this location, updated on each receipt.",
    )
    reorder_point = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[at_most(MAX_STOCK_QUANTITY, "parts")],
        help_text="Empty: the part's reorder point.",
    )
    reorder_quantity = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[at_most(MAX_STOCK_QUANTITY, "parts")],
        help_text="Empty: the part's reorder quantity.",
    )
    bin = models.CharField(max_length=30, blank=True, help_text="Empty: the part's bin.")

    objects = PartStockQuerySet.as_manager()

    class Meta:
        ordering = ["part_id", "location_id"]
        verbose_name = "part stock at a location"
        verbose_name_plural = "parts stock by location"
        indexes = [models.Index(fields=["location", "part"], name="partstock_location_part_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["part", "location"],
                name="partstock_part_location_once",
                violation_error_message="This part already has a stock row at this location.",
            ),
            models.CheckConstraint(
                condition=models.Q(on_hand__gte=0),
                name="partstock_on_hand_not_negative",
                violation_error_message="Stock on hand at a location cannot go below zero.",
            ),
            models.CheckConstraint(
                condition=models.Q(average_cost__gte=0),
                name="partstock_average_cost_not_negative",
                violation_error_message="A cost cannot be negative.",
            ),
            bounded(
                "average_cost",
                limit=MAX_PART_PRICE,
                name="partstock_average_cost_bounded",
                what="per part",
            ),
            bounded(
                "reorder_point",
                "reorder_quantity",
                limit=MAX_STOCK_QUANTITY,
                name="partstock_reorder_levels_bounded",
                what="parts",
                nullable=True,
            ),
        ]

    def __str__(self):
        return f"{self.part.sku} at {self.location.name}: {self.on_hand}"

    @property
    def effective_reorder_point(self) -> int:
        return self.part.reorder_point if self.reorder_point is None else self.reorder_point

    @property
    def effective_reorder_quantity(self) -> int:
        return (
            self.part.reorder_quantity if self.reorder_quantity is None else self.reorder_quantity
        )

    @property
    def effective_bin(self) -> str:
        return self.bin or self.part.bin_location


def stock_at(location, *, part: str = "pk") -> dict[str, models.Expression]:
    """Annotations with a part's stock at `location` (an id, or an OuterRef to one), for rows
    that are parts (`part="pk"`) or reach one by the foreign key `part`: `on_hand_here`, none
    when never stocked there, and `bin_here`, that location's bin, else the part's. What an
    advisor at one shop of a group reads, rather than the group's stock (Part.on_hand)."""
    row = PartStock.objects.filter(part=models.OuterRef(part), location=location)
    part_bin = "bin_location" if part == "pk" else f"{part}__bin_location"
    return {
        "on_hand_here": Coalesce(
            models.Subquery(row.values("on_hand")[:1]), 0, output_field=models.IntegerField()
        ),
        "bin_here": Coalesce(
            NullIf(models.Subquery(row.values("bin")[:1]), models.Value("")),
            F(part_bin),
            output_field=models.CharField(),
        ),
    }


class MarkupRule(models.Model):
    """One band of the parts markup matrix, edited by a manager.

    A part whose unit cost is at most `up_to` (and above the band below) sells at cost x
    `multiplier`; costs above the highest band use its multiplier. While no band exists,
    inventory.pricing.DEFAULT_MATRIX applies.
    """

    up_to = models.DecimalField(
        "unit cost up to",
        max_digits=10,
        decimal_places=2,
        unique=True,
        validators=[MinValueValidator(Decimal("0.01")), at_most(MAX_PART_PRICE, "per part")],
    )
    multiplier = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        validators=[MinValueValidator(Decimal("1")), at_most(MAX_MARKUP, "times the cost")],
        help_text="2.000 sells a part at twice its cost.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["up_to"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(up_to__gt=0),
                name="markup_up_to_positive",
                violation_error_message="A cost band ends above zero.",
            ),
            models.CheckConstraint(
                condition=models.Q(multiplier__gte=1),
                name="markup_multiplier_at_least_one",
                violation_error_message="A multiplier below 1 sells at a loss.",
            ),
            bounded("up_to", limit=MAX_PART_PRICE, name="markup_up_to_bounded", what="per part"),
            bounded(
                "multiplier",
                limit=MAX_MARKUP,
                name="markup_multiplier_bounded",
                what="times the cost",
            ),
        ]

    def __str__(self):
        return f"up to {self.up_to}: x {self.multiplier}"


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
        TRANSFER_OUT = "transfer_out", "Sent to another location"
        TRANSFER_IN = "transfer_in", "Received from another location"

    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="movements")
    # Where the stock moved: each location has its own stock of the part (PartStock).
    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # indexed by movement_location_part_idx
        default=default_location_id,
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    quantity = models.IntegerField(
        validators=[
            at_most(MAX_STOCK_QUANTITY, "parts in one movement"),
            MinValueValidator(
                -MAX_STOCK_QUANTITY,
                message=f"At most {MAX_STOCK_QUANTITY:,} parts in one movement.",
            ),
        ]
    )
    unit_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=ZERO,
        validators=[at_most(MAX_PART_PRICE, "per part")],
    )
    reason = models.CharField(max_length=200, blank=True)
    # What caused it, as "app.model:id" (a repair order's part line, a receipt line).
    reference = models.CharField(max_length=60, blank=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["part", "-created_at"], name="movement_part_date_idx"),
            models.Index(fields=["kind", "-created_at"], name="movement_kind_date_idx"),
            models.Index(
                fields=["location", "part", "-created_at"], name="movement_location_part_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(quantity=0),
                name="movement_not_zero",
                violation_error_message="A movement moves something.",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="adjustment") | ~models.Q(reason=""),
                name="adjustment_has_reason",
                violation_error_message="An adjustment needs a reason.",
            ),
            models.CheckConstraint(
                condition=Q(quantity__lte=MAX_STOCK_QUANTITY, quantity__gte=-MAX_STOCK_QUANTITY),
                name="movement_quantity_bounded",
                violation_error_message=f"At most {MAX_STOCK_QUANTITY:,} parts in one movement.",
            ),
            bounded(
                "unit_cost",
                limit=MAX_PART_PRICE,
                name="movement_unit_cost_bounded",
                what="per part",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.quantity:+d} {self.part.sku}"


class PurchaseOrder(models.Model):
    """Parts ordered from one supplier.

    draft -> ordered -> partially received -> received; a draft or an order nothing was received
    on yet can be cancelled. Every change of status goes through inventory.services.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ORDERED = "ordered", "Ordered"
        PARTIALLY_RECEIVED = "partially_received", "Partially received"
        RECEIVED = "received", "Received"
        CANCELED = "cancelled", "Cancelled"  # the stored value keeps its spelling

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        related_name="purchase_orders",
        default=default_location_id,
        help_text="Where the parts are delivered and received into stock.",
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    supplier_reference = models.CharField(
        max_length=60, blank=True, help_text="The supplier's order or confirmation number."
    )
    expected_on = models.DateField("expected on", null=True, blank=True)
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
    ordered_at = models.DateTimeField(null=True, blank=True, editable=False)
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    received_at = models.DateTimeField("fully received at", null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancel_reason = models.CharField(max_length=200, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="po_status_created_idx"),
            models.Index(fields=["supplier", "status"], name="po_supplier_status_idx"),
            models.Index(fields=["-created_at"], name="po_created_idx"),
            models.Index(fields=["location", "status"], name="po_location_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "cancelled"]) | Q(ordered_at__isnull=False),
                name="po_ordered_has_date",
                violation_error_message="An order that was placed has the date it was placed.",
            ),
            models.CheckConstraint(
                condition=~Q(status="received") | Q(received_at__isnull=False),
                name="po_received_has_date",
                violation_error_message="A received order has the date it was received.",
            ),
        ]

    def __str__(self):
        return f"{self.number} {self.supplier.name}" if self.supplier_id else self.number

    @property
    def number(self):
        return f"PO-{self.pk:05d}" if self.pk else "PO (new)"

    @staticmethod
    def parse_number(text):
        """The id in "PO-00012", "po12" or "12"; None if `text` is no order number."""
        digits = (text or "").strip().upper().removeprefix("PO").lstrip("-# ")
        return int(digits) if digits.isdigit() else None


class PurchaseOrderLine(models.Model):
    """A part and quantity on a purchase order, with what was received of it so far."""

    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="order_lines")
    quantity_ordered = models.PositiveIntegerField(
        validators=[MinValueValidator(1), at_most(MAX_STOCK_QUANTITY, "per line")]
    )
    quantity_received = models.PositiveIntegerField(default=0, editable=False)
    unit_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), at_most(MAX_PART_PRICE, "per part")],
        help_text="Cost per unit agreed with the supplier.",
    )

    class Meta:
        ordering = ["order_id", "id"]
        indexes = [models.Index(fields=["part", "order"], name="po_line_part_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "part"],
                name="po_line_part_once",
                violation_error_message="This part is already on the order.",
            ),
            models.CheckConstraint(
                condition=Q(quantity_ordered__gt=0),
                name="po_line_quantity_positive",
                violation_error_message="Order at least one.",
            ),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity_ordered")),
                name="po_line_not_over_received",
                violation_error_message="More received than ordered.",
            ),
            models.CheckConstraint(
                condition=Q(unit_cost__gte=0),
                name="po_line_cost_positive",
                violation_error_message="A cost cannot be negative.",
            ),
            bounded(
                "quantity_ordered",
                limit=MAX_STOCK_QUANTITY,
                name="po_line_quantity_bounded",
                what="per line",
            ),
            bounded(
                "unit_cost", limit=MAX_PART_PRICE, name="po_line_cost_bounded", what="per part"
            ),
        ]

    def __str__(self):
        return f"{self.quantity_ordered} x {self.part.sku}"

    @property
    def outstanding(self):
        return self.quantity_ordered - self.quantity_received


class PurchaseReceipt(models.Model):
    """One delivery received against a purchase order."""

    order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="receipts")
    received_at = models.DateTimeField(default=timezone.now)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    packing_slip = models.CharField(
        max_length=60, blank=True, help_text="The supplier's packing slip or invoice number."
    )
    notes = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["-received_at"], name="receipt_received_idx")]

    def __str__(self):
        return f"Receipt {self.pk} of PO-{self.order_id:05d}"


class PurchaseReceiptLine(models.Model):
    """What one delivery brought of one order line, and the stock movement it made."""

    receipt = models.ForeignKey(PurchaseReceipt, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines"
    )
    quantity = models.PositiveIntegerField(validators=[at_most(MAX_STOCK_QUANTITY, "per line")])
    unit_cost = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[at_most(MAX_PART_PRICE, "per part")]
    )
    movement = models.OneToOneField(
        StockMovement, on_delete=models.PROTECT, related_name="receipt_line"
    )

    class Meta:
        ordering = ["receipt_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0),
                name="receipt_line_quantity_positive",
                violation_error_message="A receipt line receives something.",
            ),
            bounded(
                "quantity",
                limit=MAX_STOCK_QUANTITY,
                name="receipt_line_quantity_bounded",
                what="per line",
            ),
            bounded(
                "unit_cost", limit=MAX_PART_PRICE, name="receipt_line_cost_bounded", what="per part"
            ),
        ]

    def __str__(self):
        return f"{self.quantity} received on receipt {self.receipt_id}"


from inventory.lot import (  # noqa: E402,F401
    StockNumberSeries,
    StockUnit,
    StockUnitCost,
    StockUnitMove,
    StockUnitPhoto,
)
from inventory.transfers import StockTransfer, StockTransferLine  # noqa: E402,F401
