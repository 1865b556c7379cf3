"""Inventory business rules: vehicles, the parts ledger and purchasing.

Stock on hand never goes below zero. Every change of stock is one StockMovement plus an update of
Part.on_hand in the same transaction, with the part's row locked (SELECT ... FOR UPDATE), so two
advisors issuing the last unit at the same moment get one success and one InsufficientStock. The
CHECK constraint on on_hand is the last line of defence.

Lock order, everywhere, to rule out deadlocks: purchase order, then its lines, then parts in
ascending id. Functions that take several parts lock them in that order too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts import limits
from accounts.locations import location_count
from accounts.models import Location, User, default_location_id
from core.money import money
from inventory.exceptions import InsufficientStock, InvalidTransition, InvalidVin, InventoryError
from inventory.models import (
    OdometerReading,
    Part,
    PartStock,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseReceipt,
    PurchaseReceiptLine,
    StockMovement,
    Supplier,
    Vehicle,
)
from inventory.vin import decode_vin, validate_vin
from inventory.workflow import PURCHASE_ORDER_PIPELINE, RECEIVED_STATUSES, status_phrase


# ---------------------------------------------------------------------------------------------
# Vehicles
# ---------------------------------------------------------------------------------------------
def save_vehicle(vehicle: Vehicle) -> Vehicle:
    """Validate and decode the VIN, fill make and model year from it when empty, and save.

    Works for a new vehicle and for changes to a known one. Raises InvalidVin (message naming the
    bad character or digit) or InventoryError for a VIN already on file; nothing is saved then.
    """
    try:
        vin = validate_vin(vehicle.vin)
    except ValidationError as exc:
        raise InvalidVin(exc.messages[0]) from None
    vehicle.vin = vin
    decoded = decode_vin(vin)
    if not (vehicle.make or "").strip():
        vehicle.make = decoded.make
    if vehicle.model_year is None:
        vehicle.model_year = decoded.model_year
    vehicle.country = decoded.country
    duplicate = Vehicle.objects.filter(vin=vin).exclude(pk=vehicle.pk).first()
    if duplicate is not None:
        raise InventoryError(f"VIN {vin} is already on file: {duplicate}.", field="vin")
    try:
        with transaction.atomic():
            vehicle.save()
    except IntegrityError:
        # Someone entered the same VIN a moment ago.
        raise InventoryError(f"VIN {vin} is already on file.", field="vin") from None
    return vehicle


def create_vehicle(vin: str, **details: Any) -> Vehicle:
    """A new vehicle from its VIN and any of make, model, trim, engine, color, plate, owner."""
    return save_vehicle(Vehicle(vin=vin, **details))


def check_odometer(vehicle: Vehicle, reading: int, read_on: date, note: str = "") -> None:
    """Refuse a reading that breaks the odometer rule (InventoryError naming the field).

    A reading may not be lower than one taken on or before its date, nor higher than one taken
    after it, unless a note says why (instrument cluster replaced, an earlier typing mistake).
    """
    if reading is None or int(reading) < 0:
        raise InventoryError("An odometer reading is a whole number, 0 or more.", field="reading")
    if int(reading) > limits.MAX_ODOMETER:
        raise InventoryError(limits.message(limits.MAX_ODOMETER, "on an odometer"), field="reading")
    if read_on is None:
        raise InventoryError("Give the date of the reading.", field="read_on")
    if read_on > timezone.localdate():
        raise InventoryError("A reading cannot be dated in the future.", field="read_on")
    if (note or "").strip() or vehicle.pk is None:
        return
    readings = OdometerReading.objects.filter(vehicle_id=vehicle.pk)
    before = readings.filter(read_on__lte=read_on).order_by("-reading").first()
    if before is not None and reading < before.reading:
        raise InventoryError(
            f"The odometer read {before.reading:,} on {before.read_on:%Y-%m-%d}; a lower "
            f"reading needs a note saying why (cluster replaced, earlier typing mistake).",
            field="note",
        )
    after = readings.filter(read_on__gt=read_on).order_by("reading").first()
    if after is not None and reading > after.reading:
        raise InventoryError(
            f"A later reading is lower ({after.reading:,} on {after.read_on:%Y-%m-%d}); a "
            f"higher one before it needs a note saying why.",
            field="note",
        )


def record_odometer(
    vehicle: Vehicle, reading: int, read_on: date, note: str = "", user: User | None = None
) -> OdometerReading:
    """Record a mileage seen on a date; the vehicle's last odometer follows the latest date."""
    with transaction.atomic():
        # The vehicle's row lock makes two readings recorded at once check one after the other.
        locked = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
        check_odometer(locked, reading, read_on, note)
        entry = OdometerReading.objects.create(
            vehicle=locked,
            reading=reading,
            read_on=read_on,
            note=(note or "").strip(),
            recorded_by=user,
        )
        # Never None: the reading just recorded is one of them.
        latest = cast(OdometerReading, locked.readings.order_by("-read_on", "-id").first())
        Vehicle.objects.filter(pk=locked.pk).update(
            odometer=latest.reading, odometer_read_on=latest.read_on
        )
    vehicle.odometer, vehicle.odometer_read_on = latest.reading, latest.read_on
    return entry


# ---------------------------------------------------------------------------------------------
# Parts ledger
# ---------------------------------------------------------------------------------------------
def _location_id(location: Location | int | None) -> int:
    """The id of `location`; the default location when None."""
    if location is None:
        return default_location_id()
    if isinstance(location, Location):
        return location.pk
    return int(location)


def _where(location_id: int) -> str:
    """ " at <location>" in a group, nothing in a single-shop install (its messages stay)."""
    if location_count() < 2:
        return ""
    name = Location.objects.filter(pk=location_id).values_list("name", flat=True).first()
    return f" at {name}" if name else ""


def _locked_stock(part: Part, location_id: int) -> PartStock:
    """The part's stock row at the location, locked (the part's row is locked already). A
    location that never had the part gets a row, starting at the part's average cost."""
    stock = PartStock.objects.select_for_update().filter(part=part, location_id=location_id).first()
    if stock is None:
        stock = PartStock.objects.create(
            part=part, location_id=location_id, average_cost=part.unit_cost
        )
    return stock


def _record(
    part_id: int,
    kind: str,
    quantity: int,
    *,
    location_id: int,
    unit_cost: Decimal | None = None,
    reason: str = "",
    reference: str = "",
    user: User | None = None,
) -> StockMovement:
    if abs(quantity) > limits.MAX_STOCK_QUANTITY:
        raise InventoryError(
            limits.message(limits.MAX_STOCK_QUANTITY, "parts in one movement"), field="quantity"
        )
    if unit_cost is not None and Decimal(unit_cost) > limits.MAX_PART_PRICE:
        raise InventoryError(limits.message(limits.MAX_PART_PRICE, "per part"), field="unit_cost")
    with transaction.atomic():
        # Lock order: the part, then its stock row at the location.
        part = Part.objects.select_for_update().get(pk=part_id)
        stock = _locked_stock(part, location_id)
        if stock.on_hand + quantity < 0:
            raise InsufficientStock(
                f"Only {stock.on_hand} of {part.sku} in stock{_where(location_id)}; "
                f"cannot take {-quantity}."
            )
        movement = StockMovement.objects.create(
            part=part,
            location_id=location_id,
            kind=kind,
            quantity=quantity,
            unit_cost=stock.average_cost if unit_cost is None else unit_cost,
            reason=reason,
            reference=reference,
            user=user,
        )
        try:
            with transaction.atomic():
                PartStock.objects.filter(pk=stock.pk).update(on_hand=F("on_hand") + quantity)
                Part.objects.filter(pk=part.pk).update(on_hand=F("on_hand") + quantity)
        except IntegrityError:
            raise InsufficientStock(
                f"Not enough {part.sku} in stock{_where(location_id)}."
            ) from None
        part.on_hand += quantity
        return movement


def _receive_into(
    part: Part,
    location_id: int,
    quantity: int,
    unit_cost: Decimal,
    *,
    kind: str,
    reference: str = "",
    user: User | None = None,
) -> StockMovement:
    """Add stock at a location at `unit_cost`: the location's average cost moves toward it, and
    the part's (the group's) average cost is the stock-weighted average of its locations'."""
    with transaction.atomic():
        locked = Part.objects.select_for_update().get(pk=part.pk)
        stock = _locked_stock(locked, location_id)
        on_hand = max(stock.on_hand, 0)
        total = on_hand + quantity
        average = money(((stock.average_cost * on_hand) + (unit_cost * quantity)) / total)
        PartStock.objects.filter(pk=stock.pk).update(average_cost=average)
        movement = _record(
            part.pk,
            kind,
            quantity,
            location_id=location_id,
            unit_cost=unit_cost,
            reference=reference,
            user=user,
        )
        Part.objects.filter(pk=part.pk).update(unit_cost=_group_average(part.pk, average))
    return movement


def _group_average(part_id: int, fallback: Decimal) -> Decimal:
    """The part's average cost over every location holding it (`fallback` when none does)."""
    value, count = Decimal(0), 0
    for on_hand, average in PartStock.objects.filter(part_id=part_id, on_hand__gt=0).values_list(
        "on_hand", "average_cost"
    ):
        value += average * on_hand
        count += on_hand
    return money(value / count) if count else fallback


def issue_part(
    part: Part,
    quantity: int,
    *,
    reference: str = "",
    user: User | None = None,
    location: Location | int | None = None,
) -> StockMovement:
    """Take `quantity` of a part out of stock at `location` (default: the default location) for
    a repair order, at the location's average cost."""
    if quantity <= 0:
        raise InventoryError("Quantity to issue must be positive.")
    movement = _record(
        part.pk,
        StockMovement.Kind.ISSUE,
        -quantity,
        location_id=_location_id(location),
        reference=reference,
        user=user,
    )
    part.on_hand = movement.part.on_hand
    return movement


def return_part(
    part: Part,
    quantity: int,
    *,
    reference: str = "",
    user: User | None = None,
    unit_cost: Decimal | None = None,
    location: Location | int | None = None,
) -> StockMovement:
    """Put parts back into stock at `location` (removed from a repair order, or the order was
    canceled)."""
    if quantity <= 0:
        raise InventoryError("Quantity to return must be positive.")
    movement = _record(
        part.pk,
        StockMovement.Kind.RETURN,
        quantity,
        location_id=_location_id(location),
        reference=reference,
        user=user,
        unit_cost=unit_cost,
    )
    part.on_hand = movement.part.on_hand
    return movement


def adjust_stock(
    part: Part,
    quantity: int,
    *,
    reason: str,
    user: User | None = None,
    location: Location | int | None = None,
) -> StockMovement:
    """Correct stock at `location` after a count: positive or negative, always with a reason."""
    if not quantity:
        raise InventoryError("An adjustment changes the quantity.", field="quantity")
    if not (reason or "").strip():
        raise InventoryError("An adjustment needs a reason.", field="reason")
    movement = _record(
        part.pk,
        StockMovement.Kind.ADJUSTMENT,
        quantity,
        location_id=_location_id(location),
        reason=reason.strip(),
        user=user,
    )
    part.on_hand = movement.part.on_hand
    return movement


def receive_part(
    part: Part,
    quantity: int,
    unit_cost: Decimal,
    *,
    reference: str = "",
    user: User | None = None,
    location: Location | int | None = None,
) -> StockMovement:
    """Add received parts to stock at `location` and move its average cost (and the part's)
    toward the new cost."""
    if quantity <= 0:
        raise InventoryError("Quantity received must be positive.")
    unit_cost = Decimal(unit_cost)
    if unit_cost < 0:
        raise InventoryError("A cost cannot be negative.")
    if unit_cost > limits.MAX_PART_PRICE:
        raise InventoryError(limits.message(limits.MAX_PART_PRICE, "per part"))
    movement = _receive_into(
        part,
        _location_id(location),
        quantity,
        unit_cost,
        kind=StockMovement.Kind.RECEIPT,
        reference=reference,
        user=user,
    )
    part.refresh_from_db(fields=["on_hand", "unit_cost"])
    return movement


def ledger_balance(part: Part, *, location: Location | int | None = None) -> int:
    """Stock on hand recomputed from the ledger (what on_hand must always equal): of the whole
    group when `location` is None, else at that location (what its PartStock.on_hand equals)."""
    movements = part.movements.all()
    if location is not None:
        movements = movements.filter(location_id=_location_id(location))
    return movements.aggregate(total=Sum("quantity"))["total"] or 0


def on_hand_at(part: Part, location: Location | int | None = None) -> int:
    """The part's stock on hand at `location` (default: the default location)."""
    value = (
        PartStock.objects.filter(part_id=part.pk, location_id=_location_id(location))
        .values_list("on_hand", flat=True)
        .first()
    )
    return value or 0


def average_cost_at(part: Part, location: Location | int | None = None) -> Decimal:
    """The part's average cost at `location` (the part's own when it was never stocked there)."""
    value = (
        PartStock.objects.filter(part_id=part.pk, location_id=_location_id(location))
        .values_list("average_cost", flat=True)
        .first()
    )
    return part.unit_cost if value is None else value


def set_average_cost(
    part: Part, unit_cost: Decimal, *, location: Location | int | None = None
) -> None:
    """A manager corrects the average cost by hand (the part's page): at `location`, and the
    part's own figure follows (the group's weighted average)."""
    unit_cost = Decimal(unit_cost)
    if unit_cost < 0:
        raise InventoryError("A cost cannot be negative.", field="unit_cost")
    with transaction.atomic():
        locked = Part.objects.select_for_update().get(pk=part.pk)
        stock = _locked_stock(locked, _location_id(location))
        PartStock.objects.filter(pk=stock.pk).update(average_cost=money(unit_cost))
        Part.objects.filter(pk=part.pk).update(unit_cost=_group_average(part.pk, money(unit_cost)))
    part.refresh_from_db(fields=["unit_cost"])


# ---------------------------------------------------------------------------------------------
# Purchase orders
# ---------------------------------------------------------------------------------------------
Status = PurchaseOrder.Status

# Statuses whose lines are still expected from the supplier (or about to be ordered).
OPEN_STATUSES = (Status.DRAFT, Status.ORDERED, Status.PARTIALLY_RECEIVED)

_EDIT_REFUSAL = "its lines can only be changed while it is a draft"


def _lock_order(order: PurchaseOrder) -> PurchaseOrder:
    return PurchaseOrder.objects.select_for_update().get(pk=order.pk)


def _refresh(order: PurchaseOrder, locked: PurchaseOrder) -> PurchaseOrder:
    for name in (
        "status",
        "ordered_at",
        "ordered_by_id",
        "received_at",
        "cancelled_at",
        "cancel_reason",
        "supplier_reference",
        "updated_at",
    ):
        setattr(order, name, getattr(locked, name))
    return order


def create_purchase_order(
    supplier: Supplier,
    lines: Iterable[tuple[Any, ...]] = (),
    *,
    user: User | None = None,
    notes: str = "",
    expected_on: date | None = None,
    location: Location | int | None = None,
) -> PurchaseOrder:
    """A draft order to `supplier`, delivered to `location` (default: the default location);
    `lines` are (part, quantity) or (part, quantity, unit cost) (the part's average cost when
    not given)."""
    with transaction.atomic():
        order = PurchaseOrder.objects.create(
            supplier=supplier,
            created_by=user,
            notes=notes,
            expected_on=expected_on,
            location_id=_location_id(location),
        )
        for line in lines:
            add_purchase_order_line(order, *line)
    return order


def add_purchase_order_line(
    order: PurchaseOrder, part: Part, quantity: int, unit_cost: Decimal | None = None
) -> PurchaseOrderLine:
    """Add a part to a draft order (or add to its quantity if it is already on it)."""
    quantity = int(quantity)
    if quantity <= 0:
        raise InventoryError("Order at least one.", field="quantity_ordered")
    if unit_cost is not None and Decimal(unit_cost) < 0:
        raise InventoryError("A cost cannot be negative.", field="unit_cost")
    if unit_cost is not None and Decimal(unit_cost) > limits.MAX_PART_PRICE:
        raise InventoryError(limits.message(limits.MAX_PART_PRICE, "per part"), field="unit_cost")
    with transaction.atomic():
        locked = _lock_order(order)
        if locked.status != Status.DRAFT:
            raise InvalidTransition(f"{locked.number} is {status_phrase(locked)}: {_EDIT_REFUSAL}.")
        line = locked.lines.filter(part=part).first()
        if (line.quantity_ordered if line else 0) + quantity > limits.MAX_STOCK_QUANTITY:
            raise InventoryError(
                limits.message(limits.MAX_STOCK_QUANTITY, "per line"), field="quantity_ordered"
            )
        if line is None:
            return PurchaseOrderLine.objects.create(
                order=locked,
                part=part,
                quantity_ordered=quantity,
                unit_cost=part.unit_cost if unit_cost is None else Decimal(unit_cost),
            )
        line.quantity_ordered += quantity
        if unit_cost is not None:
            line.unit_cost = Decimal(unit_cost)
        line.save(update_fields=["quantity_ordered", "unit_cost"])
        return line


def place_purchase_order(
    order: PurchaseOrder, *, user: User | None = None, supplier_reference: str = ""
) -> PurchaseOrder:
    """draft -> ordered: the order went to the supplier."""
    with transaction.atomic():
        locked = _lock_order(order)
        PURCHASE_ORDER_PIPELINE.check(locked, Status.ORDERED)
        if not locked.lines.exists():
            raise InventoryError(f"{locked.number} has no lines: add the parts to order first.")
        locked.status = Status.ORDERED
        locked.ordered_at = timezone.now()
        locked.ordered_by = user
        if supplier_reference:
            locked.supplier_reference = supplier_reference
        locked.save()
    return _refresh(order, locked)


def cancel_purchase_order(
    order: PurchaseOrder, *, user: User | None = None, reason: str = ""
) -> PurchaseOrder:
    """draft or ordered (nothing received) -> cancelled."""
    with transaction.atomic():
        locked = _lock_order(order)
        PURCHASE_ORDER_PIPELINE.check(locked, Status.CANCELED)
        locked.status = Status.CANCELED
        locked.cancelled_at = timezone.now()
        locked.cancel_reason = (reason or "").strip()[:200]
        locked.save()
    return _refresh(order, locked)


def receive_purchase_order(
    order: PurchaseOrder,
    quantities: Mapping[Any, int | str | None] | None = None,
    *,
    user: User | None = None,
    packing_slip: str = "",
    notes: str = "",
) -> PurchaseReceipt:
    """Receive a delivery: the quantities per line (a mapping of line or line id to quantity;
    everything still outstanding when None). Each line received goes through receive_part
    (stock and average cost); the order becomes partially received or received.

    Returns the PurchaseReceipt. Refuses (and changes nothing) on a quantity above what is still
    expected, a line of another order, or nothing to receive.
    """
    with transaction.atomic():
        locked = _lock_order(order)
        PURCHASE_ORDER_PIPELINE.check(locked, *RECEIVED_STATUSES)
        lines = {
            line.pk: line for line in locked.lines.select_for_update().order_by("part_id", "id")
        }
        wanted = _quantities_to_receive(locked, lines, quantities)
        receipt = PurchaseReceipt.objects.create(
            order=locked,
            received_by=user,
            packing_slip=(packing_slip or "").strip(),
            notes=(notes or "").strip(),
        )
        parts = Part.objects.in_bulk([lines[pk].part_id for pk in wanted])
        for pk in sorted(wanted, key=lambda pk: (lines[pk].part_id, pk)):
            line, quantity = lines[pk], wanted[pk]
            movement = receive_part(
                parts[line.part_id],
                quantity,
                line.unit_cost,
                reference=f"inventory.purchasereceipt:{receipt.pk}",
                user=user,
                location=locked.location_id,
            )
            PurchaseReceiptLine.objects.create(
                receipt=receipt,
                order_line=line,
                quantity=quantity,
                unit_cost=line.unit_cost,
                movement=movement,
            )
            line.quantity_received += quantity
            line.save(update_fields=["quantity_received"])
        if all(line.outstanding == 0 for line in lines.values()):
            locked.status = Status.RECEIVED
            locked.received_at = receipt.received_at
        else:
            locked.status = Status.PARTIALLY_RECEIVED
        locked.save()
    _refresh(order, locked)
    return receipt


def _quantities_to_receive(
    order: PurchaseOrder,
    lines: dict[int, PurchaseOrderLine],
    quantities: Mapping[Any, int | str | None] | None,
) -> dict[int, int]:
    if quantities is None:
        wanted = {pk: line.outstanding for pk, line in lines.items() if line.outstanding}
    else:
        wanted = {}
        for key, quantity in quantities.items():
            pk = getattr(key, "pk", key)
            line = lines.get(pk)
            if line is None:
                raise InventoryError(f"Line {pk} is not on {order.number}.")
            quantity = int(quantity or 0)
            if quantity < 0:
                raise InventoryError("A quantity received cannot be negative.")
            if quantity > line.outstanding:
                raise InventoryError(
                    f"Only {line.outstanding} of {line.part.sku} are still expected on "
                    f"{order.number}; {quantity} cannot be received."
                )
            if quantity:
                wanted[pk] = quantity
    if not wanted:
        raise InventoryError(f"Nothing to receive on {order.number}.")
    return wanted


@dataclass
class ReorderResult:
    orders: list = field(default_factory=list)
    # (part, why it was left out)
    skipped: list = field(default_factory=list)


def reorder_parts(
    parts: Iterable[Part], *, user: User | None = None, location: Location | int | None = None
) -> ReorderResult:
    """One draft purchase order per usual supplier for the given parts, delivered to `location`
    (default: the default location), each for its reorder quantity there (the location's own,
    else the part's). Parts without a supplier or a reorder quantity, inactive ones, and parts
    already on an open order to that location are left out, with the reason."""
    location_id = _location_id(location)
    parts = sorted(parts, key=lambda part: part.sku)
    own_quantity = dict(
        PartStock.objects.filter(
            part__in=[part.pk for part in parts],
            location_id=location_id,
            reorder_quantity__isnull=False,
        ).values_list("part_id", "reorder_quantity")
    )
    for part in parts:
        if part.pk in own_quantity:
            part.reorder_quantity = int(own_quantity[part.pk] or 0)
    on_order = dict(
        PurchaseOrderLine.objects.filter(
            part__in=[part.pk for part in parts],
            order__location_id=location_id,
            order__status__in=OPEN_STATUSES,
            quantity_received__lt=F("quantity_ordered"),
        ).values_list("part_id", "order_id")
    )
    result = ReorderResult()
    by_supplier = defaultdict(list)
    for part in parts:
        if not part.active:
            result.skipped.append((part, "inactive"))
        elif part.supplier_id is None:
            result.skipped.append((part, "no usual supplier"))
        elif not part.reorder_quantity:
            result.skipped.append((part, "no reorder quantity"))
        elif part.pk in on_order:
            result.skipped.append((part, f"already on PO-{on_order[part.pk]:05d}"))
        else:
            by_supplier[part.supplier_id].append(part)
    with transaction.atomic():
        for supplier_id in sorted(by_supplier):
            items = by_supplier[supplier_id]
            order = create_purchase_order(
                items[0].supplier,  # type: ignore[arg-type]  # parts without one were skipped
                [(part, part.reorder_quantity, part.unit_cost) for part in items],
                user=user,
                notes="Reorder of parts at or below their reorder point.",
                location=location_id,
            )
            result.orders.append(order)
    return result


def purchase_order_deletion_refusal(order: PurchaseOrder) -> str | None:
    """Why a purchase order may not be deleted (it stays for the record), or None when it may be."""
    if order.status != Status.DRAFT:
        return (
            f"{order.number} is {order.get_status_display().lower()}: it stays as history "
            f"(cancel it if it is still open); only a draft is deleted."
        )
    return None
