"""The inventory's status machines, each declared once (core.workflow): purchase orders and the
lot's stock units. inventory.services and inventory.lot_services check every move against
them; the admin offers the buttons and actions they allow.
"""

from core.workflow import Pipeline
from inventory.exceptions import InvalidTransition, StockUnitError
from inventory.lot import StockUnit
from inventory.models import PurchaseOrder
from inventory.transfers import StockTransfer

# ---------------------------------------------------------------------------------------------
# Purchase orders
# ---------------------------------------------------------------------------------------------
Status = PurchaseOrder.Status

_STATUS_PHRASES: dict[str, str] = {Status.DRAFT: "a draft"}


def status_phrase(order: PurchaseOrder) -> str:
    """An order's status as a refusal words it ("PO-00001 is a draft: ...")."""
    return _STATUS_PHRASES.get(order.status, order.get_status_display().lower())


# Why a step is refused, by the status it moves to.
_REFUSALS: dict[str, str] = {
    Status.ORDERED: "only a draft can be placed with the supplier",
    Status.CANCELED: "only a draft, or an order nothing was received on yet, can be cancelled",
    Status.PARTIALLY_RECEIVED: "only an ordered or partially received order can be received",
    Status.RECEIVED: "only an ordered or partially received order can be received",
}


def _order_refusal(order: PurchaseOrder, *targets: str) -> str:
    return f"{order.number} is {status_phrase(order)}: {_REFUSALS[targets[0]]}."


# Placing orders a draft; receiving moves an order to partially received or received.
PURCHASE_ORDER_PIPELINE = Pipeline(
    {
        Status.DRAFT: (Status.ORDERED, Status.CANCELED),
        Status.ORDERED: (Status.PARTIALLY_RECEIVED, Status.RECEIVED, Status.CANCELED),
        Status.PARTIALLY_RECEIVED: (Status.PARTIALLY_RECEIVED, Status.RECEIVED),
    },
    error=InvalidTransition,
    refusal=_order_refusal,
)
RECEIVED_STATUSES = (Status.PARTIALLY_RECEIVED, Status.RECEIVED)

# ---------------------------------------------------------------------------------------------
# Stock units
# ---------------------------------------------------------------------------------------------
Unit = StockUnit.Status


def _unit_refusal(unit: StockUnit, status: str) -> str:
    return (
        f"Stock unit {unit.stock_number} is “{unit.get_status_display()}”; "
        f"it cannot move to “{Unit(status).label}”."
    )


# Reserved and sold are reached only through a deal (sales.services); returned only by
# unwinding the deal that traded the unit in (StockUnit.DEAL_ONLY). Wholesaled and returned
# units move nowhere.
STOCK_UNIT_PIPELINE = Pipeline(
    {
        Unit.ACQUIRED: (Unit.RECONDITIONING, Unit.AVAILABLE, Unit.WHOLESALED, Unit.RETURNED),
        Unit.RECONDITIONING: (Unit.AVAILABLE, Unit.WHOLESALED, Unit.RETURNED),
        Unit.AVAILABLE: (Unit.RECONDITIONING, Unit.RESERVED, Unit.WHOLESALED, Unit.RETURNED),
        Unit.RESERVED: (Unit.AVAILABLE, Unit.SOLD),
        Unit.SOLD: (Unit.AVAILABLE,),
    },
    error=StockUnitError,
    refusal=_unit_refusal,
)

# ---------------------------------------------------------------------------------------------
# Transfers between locations
# ---------------------------------------------------------------------------------------------
Transfer = StockTransfer.Status

_TRANSFER_REFUSALS: dict[str, str] = {
    Transfer.IN_TRANSIT: "only a draft can be sent",
    Transfer.RECEIVED: "only a transfer in transit can be received",
    Transfer.CANCELED: "only a draft, or a transfer not yet received, can be cancelled",
}


def _transfer_refusal(transfer: StockTransfer, *targets: str) -> str:
    return (
        f"{transfer.number} is {transfer.get_status_display().lower()}: "
        f"{_TRANSFER_REFUSALS[targets[0]]}."
    )


# Sending takes the parts out of the source; receiving puts them into the destination;
# cancelling a transfer in transit puts them back at the source.
TRANSFER_PIPELINE = Pipeline(
    {
        Transfer.DRAFT: (Transfer.IN_TRANSIT, Transfer.CANCELED),
        Transfer.IN_TRANSIT: (Transfer.RECEIVED, Transfer.CANCELED),
    },
    error=InvalidTransition,
    refusal=_transfer_refusal,
)
