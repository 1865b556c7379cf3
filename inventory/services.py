"""Inventory business rules: the parts ledger and vehicles.

Stock on hand never goes below zero. Every change of stock is one StockMovement plus an update of
Part.on_hand in the same transaction, with the part's row locked (SELECT ... FOR UPDATE), so two
advisors issuing the last unit at the same moment get one success and one InsufficientStock. The
CHECK constraint on on_hand is the last line of defence.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F

from inventory.exceptions import InsufficientStock, InventoryError
from inventory.models import Part, StockMovement

CENT = Decimal("0.01")


def _record(part_id, kind, quantity, *, unit_cost=None, reason="", reference="", user=None):
    with transaction.atomic():
        part = Part.objects.select_for_update().get(pk=part_id)
        if part.on_hand + quantity < 0:
            raise InsufficientStock(
                f"Only {part.on_hand} of {part.sku} in stock; cannot take {-quantity}."
            )
        movement = StockMovement.objects.create(
            part=part, kind=kind, quantity=quantity,
            unit_cost=part.unit_cost if unit_cost is None else unit_cost,
            reason=reason, reference=reference, user=user,
        )
        try:
            with transaction.atomic():
                Part.objects.filter(pk=part.pk).update(on_hand=F("on_hand") + quantity)
        except IntegrityError:
            raise InsufficientStock(f"Not enough {part.sku} in stock.") from None
        part.on_hand += quantity
        return movement


def issue_part(part, quantity, *, reference="", user=None):
    """Take `quantity` of a part out of stock for a repair order."""
    if quantity <= 0:
        raise InventoryError("Quantity to issue must be positive.")
    return _record(part.pk, StockMovement.Kind.ISSUE, -quantity, reference=reference, user=user)


def return_part(part, quantity, *, reference="", user=None, unit_cost=None):
    """Put parts back into stock (removed from a repair order, or the order was canceled)."""
    if quantity <= 0:
        raise InventoryError("Quantity to return must be positive.")
    return _record(part.pk, StockMovement.Kind.RETURN, quantity, reference=reference, user=user,
                   unit_cost=unit_cost)


def adjust_stock(part, quantity, *, reason, user=None):
    """Correct stock after a count: positive or negative, always with a reason."""
    if not quantity:
        raise InventoryError("An adjustment changes the quantity.")
    if not (reason or "").strip():
        raise InventoryError("An adjustment needs a reason.")
    return _record(part.pk, StockMovement.Kind.ADJUSTMENT, quantity, reason=reason.strip(),
                   user=user)


def receive_part(part, quantity, unit_cost, *, reference="", user=None):
    """Add received parts to stock and move the part's average cost toward the new cost."""
    if quantity <= 0:
        raise InventoryError("Quantity received must be positive.")
    unit_cost = Decimal(unit_cost)
    if unit_cost < 0:
        raise InventoryError("A cost cannot be negative.")
    with transaction.atomic():
        locked = Part.objects.select_for_update().get(pk=part.pk)
        on_hand = max(locked.on_hand, 0)
        total = on_hand + quantity
        average = ((locked.unit_cost * on_hand) + (unit_cost * quantity)) / total
        Part.objects.filter(pk=part.pk).update(
            unit_cost=average.quantize(CENT, rounding=ROUND_HALF_UP)
        )
        movement = _record(part.pk, StockMovement.Kind.RECEIPT, quantity, unit_cost=unit_cost,
                           reference=reference, user=user)
    part.refresh_from_db(fields=["on_hand", "unit_cost"])
    return movement


def ledger_balance(part):
    """Stock on hand recomputed from the ledger (what on_hand must always equal)."""
    from django.db.models import Sum

    return part.movements.aggregate(total=Sum("quantity"))["total"] or 0
