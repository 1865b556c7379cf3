"""The repair order's workflow: from each status, the statuses it may move to (core.workflow).

repairs.services checks every step against `REPAIR_ORDER_PIPELINE` before making it; the admin
offers the steps of `repairs.services.TRANSITIONS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.workflow import Pipeline
from repairs.choices import RepairOrderStatus as Status
from repairs.exceptions import TransitionNotAllowed

if TYPE_CHECKING:
    from repairs.models import RepairOrder

# What each step is called in a refusal ("it can be approved only when estimate").
VERBS: dict[str, str] = {
    Status.APPROVED: "approved",
    Status.IN_PROGRESS: "started",
    Status.COMPLETED: "completed",
    Status.INVOICED: "invoiced",
    Status.PAID: "marked paid",
    Status.CLOSED: "closed at cost",
    Status.CANCELED: "canceled",
}


def _refusal(repair_order: RepairOrder, to_status: str) -> str:
    labels = " or ".join(
        Status(status).label.lower() for status in REPAIR_ORDER_PIPELINE.sources(to_status)
    )
    return (
        f"{repair_order.number} is {repair_order.get_status_display().lower()}: it can be "
        f"{VERBS[to_status]} only when {labels}."
    )


REPAIR_ORDER_PIPELINE = Pipeline(
    {
        Status.ESTIMATE: (Status.APPROVED, Status.CANCELED),
        Status.APPROVED: (Status.IN_PROGRESS, Status.CANCELED),
        Status.IN_PROGRESS: (Status.COMPLETED,),
        # Internal orders are closed at cost instead of invoiced.
        Status.COMPLETED: (Status.INVOICED, Status.CLOSED),
        Status.INVOICED: (Status.PAID,),
    },
    error=TransitionNotAllowed,
    refusal=_refusal,
)
