"""Business rules of the lot's stock units: acquiring them, their status, their main photo.

Every change locks the unit's row (SELECT ... FOR UPDATE) and re-reads it, so two people acting
on one unit at the same moment see each other's change. Reserving and selling belong to deals
(sales.services), which hold the lock and call `transition`.

`transition` also publishes the webhook events partners with `listings:read` receive, in the
transaction of the change: `stock_unit.available` when a unit goes on sale, `stock_unit.sold`
when it is sold.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import limits, webhooks
from accounts.models import Location, User
from accounts.scopes import STOCK_UNIT_AVAILABLE, STOCK_UNIT_SOLD
from core.numbering import advance
from inventory.exceptions import StockUnitError
from inventory.lot import (
    StockNumberSeries,
    StockUnit,
    StockUnitMove,
    StockUnitPhoto,
    default_lot_id,
)
from inventory.models import Vehicle
from inventory.workflow import STOCK_UNIT_PIPELINE


def transition(unit: StockUnit, status: str, *, on: date | None = None) -> StockUnit:
    """Move a unit whose row the caller has locked to `status`, checked against the workflow."""
    STOCK_UNIT_PIPELINE.check(unit, status)
    unit.status = status
    if status == StockUnit.Status.AVAILABLE and unit.available_on is None:
        unit.available_on = max(on or timezone.localdate(), unit.acquired_on)
    if status in StockUnit.GONE:
        unit.disposed_on = max(on or timezone.localdate(), unit.acquired_on)
    else:
        unit.disposed_on = None
        unit.wholesale_price = None
    unit.save(
        update_fields=["status", "available_on", "disposed_on", "wholesale_price", "updated_at"]
    )
    _publish(unit)
    return unit


LISTING_EVENTS: dict[str, str] = {
    StockUnit.Status.AVAILABLE: STOCK_UNIT_AVAILABLE,
    StockUnit.Status.SOLD: STOCK_UNIT_SOLD,
}


def _publish(unit: StockUnit) -> None:
    event_type = LISTING_EVENTS.get(unit.status)
    if event_type is None:
        return
    webhooks.publish(
        event_type,
        {
            "stock_unit": unit.pk,
            "stock_number": unit.stock_number,
            "status": unit.status,
            "price": unit.internet_price or unit.asking_price,
            "vehicle": unit.vehicle_id,
        },
    )


def next_stock_number() -> str:
    """Take the series' next stock number (StockNumberSeries), skipping numbers already given
    by hand. The series' row stays locked until the caller's transaction ends, so units entered
    at the same moment get consecutive numbers, and a rollback gives the number back."""
    while True:
        series, number = advance(StockNumberSeries, "next_number", pk=1)
        stock_number = series.format(number)  # at most 8 + 10 characters: it fits
        if not StockUnit.objects.filter(stock_number=stock_number).exists():
            return stock_number


def acquire_unit(unit: StockUnit) -> StockUnit:
    """Put a new (unsaved) stock unit on the lot; the business becomes its vehicle's owner.
    Without a stock number it gets the series' next one (next_stock_number)."""
    if unit.pk is not None:
        raise StockUnitError("This stock unit is already on the lot.")
    with transaction.atomic():
        # Lock the vehicle so a second acquisition of the same car waits and then sees this one.
        vehicle = Vehicle.objects.select_for_update().get(pk=unit.vehicle_id)
        current = vehicle.stock_units.filter(status__in=StockUnit.IN_STOCK).first()
        if current is not None:
            raise StockUnitError(f"{vehicle} is already in stock as {current.stock_number}.")
        too_much = limits.message(limits.MAX_VEHICLE_AMOUNT, "for a vehicle")
        for name in ("acquisition_cost", "asking_price", "internet_price"):
            if (getattr(unit, name) or 0) > limits.MAX_VEHICLE_AMOUNT:
                label = StockUnit._meta.get_field(name).verbose_name.capitalize()
                raise StockUnitError(f"{label}: {too_much}")
        numbered = not unit.stock_number
        if numbered:
            unit.stock_number = next_stock_number()
        elif StockUnit.objects.filter(stock_number=unit.stock_number).exists():
            raise StockUnitError(f"Stock number {unit.stock_number} is already used.")
        if unit.location_id is None:
            unit.location = default_lot()
        if not unit.location.is_lot:
            raise StockUnitError(f"{unit.location} is not a car lot: a unit stands on a lot.")
        unit.status = StockUnit.Status.ACQUIRED
        unit.disposed_on = None
        try:
            with transaction.atomic():
                unit.save()
        except IntegrityError:
            taken = unit.stock_number
            if numbered:  # the rollback gives the number back to the series
                unit.stock_number = ""
            raise StockUnitError(
                f"Stock number {taken} or this vehicle is already in stock."
            ) from None
        if vehicle.owner_id is not None:
            vehicle.owner = None
            vehicle.save(update_fields=["owner", "updated_at"])
    return unit


def default_lot() -> Location:
    """Where a unit goes when no lot is named (inventory.lot.default_lot_id)."""
    return Location.objects.get(pk=default_lot_id())


def move_to_lot(
    unit: StockUnit, to_location: Location, user: User | None = None, *, note: str = ""
) -> StockUnitMove:
    """Move a unit still on the lot to another lot of the group; the move is kept in the unit's
    history (StockUnitMove) and the audit log. Its costs (reconditioning included, wherever it
    was done) go with it."""
    if not to_location.is_lot:
        raise StockUnitError(f"{to_location} is not a car lot.")
    if not to_location.is_active:
        raise StockUnitError(f"{to_location} is inactive: it takes no new units.")
    with transaction.atomic():
        locked = StockUnit.objects.select_for_update().get(pk=unit.pk)
        if locked.status not in StockUnit.IN_STOCK:
            raise StockUnitError(
                f"Stock unit {locked.stock_number} is {locked.get_status_display().lower()}: "
                "only a unit in stock moves between lots."
            )
        if locked.location_id == to_location.pk:
            raise StockUnitError(f"Stock unit {locked.stock_number} is at {to_location} already.")
        move = StockUnitMove.objects.create(
            unit=locked,
            from_location=locked.location,
            to_location=to_location,
            moved_by=user,
            note=(note or "").strip()[:200],
        )
        locked.location = to_location
        locked.save(update_fields=["location", "updated_at"])
    unit.location = to_location
    return move


def move_unit(unit: StockUnit, status: str, *, on: date | None = None) -> StockUnit:
    """A manual step of the workflow: start reconditioning, or make the unit available (on the
    front line `on` that day, today by default, the first time)."""
    if status in StockUnit.DEAL_ONLY:
        raise StockUnitError("A unit is reserved, sold or returned only through its deal.")
    if status == StockUnit.Status.WHOLESALED:
        raise StockUnitError("Wholesaling needs the price the unit went for.")
    with transaction.atomic():
        locked = StockUnit.objects.select_for_update().get(pk=unit.pk)
        transition(locked, status, on=on)
    _copy_state(locked, unit)
    return unit


def wholesale_unit(unit: StockUnit, price: Decimal, *, on: date | None = None) -> StockUnit:
    """The unit leaves the lot to another dealer or an auction for `price`."""
    price = Decimal(price)
    if price < 0:
        raise StockUnitError("A wholesale price cannot be negative.")
    if price > limits.MAX_VEHICLE_AMOUNT:
        raise StockUnitError(limits.message(limits.MAX_VEHICLE_AMOUNT, "for a vehicle"))
    with transaction.atomic():
        locked = StockUnit.objects.select_for_update().get(pk=unit.pk)
        if locked.status == StockUnit.Status.RESERVED:
            raise StockUnitError(
                f"Stock unit {locked.stock_number} is reserved by a signed deal; cancel the deal "
                "first."
            )
        transition(locked, StockUnit.Status.WHOLESALED, on=on)
        locked.wholesale_price = price
        locked.save(update_fields=["wholesale_price"])
    _copy_state(locked, unit)
    return unit


def set_main_photo(photo: StockUnitPhoto) -> StockUnitPhoto:
    """Make `photo` its unit's main photo (the previous main photo stays, as a normal one).
    Saved one by one (not a bulk update) so the audit log shows the change."""
    with transaction.atomic():
        StockUnit.objects.select_for_update().get(pk=photo.unit_id)
        for previous in StockUnitPhoto.objects.filter(unit_id=photo.unit_id, is_main=True).exclude(
            pk=photo.pk
        ):
            previous.is_main = False
            previous.save(update_fields=["is_main"])
        photo.is_main = True
        photo.save(update_fields=["is_main"])
    return photo


def ensure_main_photo(unit: StockUnit) -> None:
    """When a unit has photos but none is the main one, the first in order becomes it."""
    with transaction.atomic():
        StockUnit.objects.select_for_update().get(pk=unit.pk)
        photos = StockUnitPhoto.objects.filter(unit=unit).order_by("position", "id")
        if photos.exists() and not photos.filter(is_main=True).exists():
            first = cast(StockUnitPhoto, photos.first())  # photos.exists()
            first.is_main = True
            first.save(update_fields=["is_main"])


def _copy_state(source: StockUnit, target: StockUnit) -> None:
    for field in ("status", "available_on", "disposed_on", "wholesale_price", "updated_at"):
        setattr(target, field, getattr(source, field))


# A unit may be deleted (entered by mistake) only while it is on the lot and on no deal.
UNIT_DELETABLE = (
    StockUnit.Status.ACQUIRED,
    StockUnit.Status.RECONDITIONING,
    StockUnit.Status.AVAILABLE,
)


def unit_deletion_refusal(unit: StockUnit) -> str | None:
    """Why a stock unit may not be deleted (it stays for the record), or None when it may be."""
    if unit.status not in UNIT_DELETABLE or unit.deals.exists():
        return (
            f"{unit.stock_number} is {unit.get_status_display().lower()}"
            f"{' and has deals' if unit.status in UNIT_DELETABLE else ''}: a unit is "
            f"moved through its deals, wholesaled or returned, never deleted; only a "
            f"unit entered by mistake, with no deal, is."
        )
    return None
