"""Business rules of transfers of parts between locations (inventory.transfers).

Sending takes each line's parts out of the source at the source's average cost (one
`transfer_out` ledger line each, refused when the source has too few: nothing is sent then);
receiving puts them into the destination at that same cost (one `transfer_in` line each, the
destination's average cost recomputed exactly as for a purchase receipt); cancelling a transfer
in transit puts them back into the source at that cost.

Lock order: the transfer, then its lines, then parts in ascending id (then their stock row at the
location), as everywhere in inventory.services; two transfers sending the last units of a part
at once run one after the other, and the second is refused.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts import limits
from accounts.models import Location, User
from inventory.exceptions import InventoryError
from inventory.models import Part, StockMovement
from inventory.services import _location_id, _receive_into, _record
from inventory.transfers import StockTransfer, StockTransferLine
from inventory.workflow import TRANSFER_PIPELINE

Status = StockTransfer.Status


def _lock(transfer: StockTransfer) -> StockTransfer:
    return StockTransfer.objects.select_for_update().get(pk=transfer.pk)


def _refresh(transfer: StockTransfer, locked: StockTransfer) -> StockTransfer:
    for name in (
        "status",
        "sent_at",
        "sent_by_id",
        "received_at",
        "received_by_id",
        "cancelled_at",
        "cancel_reason",
        "updated_at",
    ):
        setattr(transfer, name, getattr(locked, name))
    return transfer


def _reference(transfer: StockTransfer) -> str:
    return f"inventory.stocktransfer:{transfer.pk}"


def create_transfer(
    from_location: Location | int,
    to_location: Location | int,
    lines: list[tuple[Part, int]] | tuple = (),
    *,
    user: User | None = None,
    notes: str = "",
) -> StockTransfer:
    """A draft transfer of `lines` ((part, quantity)) from one location to another."""
    source, destination = _location_id(from_location), _location_id(to_location)
    if source == destination:
        raise InventoryError("A transfer goes to another location.", field="to_location")
    with transaction.atomic():
        transfer = StockTransfer.objects.create(
            from_location_id=source, to_location_id=destination, created_by=user, notes=notes
        )
        for part, quantity in lines:
            add_transfer_line(transfer, part, quantity)
    return transfer


def add_transfer_line(transfer: StockTransfer, part: Part, quantity: int) -> StockTransferLine:
    """Add a part to a draft transfer (or add to its quantity if it is on it already)."""
    quantity = int(quantity)
    if quantity <= 0:
        raise InventoryError("Send at least one.", field="quantity")
    with transaction.atomic():
        locked = _lock(transfer)
        if locked.status != Status.DRAFT:
            raise InventoryError(
                f"{locked.number} is {locked.get_status_display().lower()}: its lines can only "
                "be changed while it is a draft."
            )
        line = locked.lines.filter(part=part).first()
        if (line.quantity if line else 0) + quantity > limits.MAX_STOCK_QUANTITY:
            raise InventoryError(
                limits.message(limits.MAX_STOCK_QUANTITY, "per line"), field="quantity"
            )
        if line is None:
            return StockTransferLine.objects.create(transfer=locked, part=part, quantity=quantity)
        line.quantity += quantity
        line.save(update_fields=["quantity"])
        return line


def _locked_lines(locked: StockTransfer) -> list[StockTransferLine]:
    return list(locked.lines.select_for_update().select_related("part").order_by("part_id", "id"))


def send_transfer(transfer: StockTransfer, *, user: User | None = None) -> StockTransfer:
    """draft -> in transit: every line's parts leave the source at its average cost. When the
    source lacks any of them, InsufficientStock names it and nothing is sent."""
    with transaction.atomic():
        locked = _lock(transfer)
        TRANSFER_PIPELINE.check(locked, Status.IN_TRANSIT)
        lines = _locked_lines(locked)
        if not lines:
            raise InventoryError(f"{locked.number} has no lines: add the parts to send first.")
        for line in lines:
            movement = _record(
                line.part_id,
                StockMovement.Kind.TRANSFER_OUT,
                -line.quantity,
                location_id=locked.from_location_id,
                reference=_reference(locked),
                user=user,
            )
            line.unit_cost = movement.unit_cost
            line.save(update_fields=["unit_cost"])
        locked.status = Status.IN_TRANSIT
        locked.sent_at = timezone.now()
        locked.sent_by = user
        locked.save()
    return _refresh(transfer, locked)


def receive_transfer(transfer: StockTransfer, *, user: User | None = None) -> StockTransfer:
    """in transit -> received: the parts enter the destination at the cost they were sent at."""
    with transaction.atomic():
        locked = _lock(transfer)
        TRANSFER_PIPELINE.check(locked, Status.RECEIVED)
        for line in _locked_lines(locked):
            _receive_into(
                line.part,
                locked.to_location_id,
                line.quantity,
                line.unit_cost,
                kind=StockMovement.Kind.TRANSFER_IN,
                reference=_reference(locked),
                user=user,
            )
        locked.status = Status.RECEIVED
        locked.received_at = timezone.now()
        locked.received_by = user
        locked.save()
    return _refresh(transfer, locked)


def cancel_transfer(
    transfer: StockTransfer, *, user: User | None = None, reason: str = ""
) -> StockTransfer:
    """draft or in transit -> cancelled; parts in transit go back into the source at the cost
    they left it at."""
    with transaction.atomic():
        locked = _lock(transfer)
        TRANSFER_PIPELINE.check(locked, Status.CANCELED)
        if locked.status == Status.IN_TRANSIT:
            for line in _locked_lines(locked):
                _receive_into(
                    line.part,
                    locked.from_location_id,
                    line.quantity,
                    line.unit_cost,
                    kind=StockMovement.Kind.TRANSFER_IN,
                    reference=_reference(locked),
                    user=user,
                )
        locked.status = Status.CANCELED
        locked.cancelled_at = timezone.now()
        locked.cancel_reason = (reason or "").strip()[:200]
        locked.save()
    return _refresh(transfer, locked)


def transfer_deletion_refusal(transfer: StockTransfer) -> str | None:
    """Only a draft is deleted; a sent transfer stays as the ledger's record."""
    if transfer.status != Status.DRAFT:
        return (
            f"{transfer.number} is {transfer.get_status_display().lower()}: it stays as the "
            "record of the stock it moved; only a draft is deleted."
        )
    return None
