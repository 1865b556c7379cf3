"""Who works on what: a technician's jobs of the day, and what an open order waits for.

Read-only queries shared by the technician's screen and the advisors' status board; the changes
(clocking on and off, assigning a job) are repairs.services functions.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet

from accounts.locations import allowed_location_ids
from accounts.models import User
from inventory.models import PurchaseOrder, PurchaseOrderLine
from repairs.choices import Authorization, RepairOrderStatus
from repairs.models import Job, LaborLine, PartLine, RepairOrder, TimeEntry

# Orders whose approved jobs a technician may be working on.
WORKABLE_STATUSES = (RepairOrderStatus.APPROVED, RepairOrderStatus.IN_PROGRESS)
# Purchase orders sent to the supplier and not fully received: the parts are on their way.
OPEN_PURCHASE_STATUSES = (
    PurchaseOrder.Status.ORDERED,
    PurchaseOrder.Status.PARTIALLY_RECEIVED,
)
JOBS_SHOWN = 50


def assigned_to(user: User) -> Exists:
    return Exists(LaborLine.objects.filter(job=OuterRef("pk"), technician=user))


def assigned_to_anyone() -> Exists:
    return Exists(LaborLine.objects.filter(job=OuterRef("pk"), technician__isnull=False))


def technician_jobs(user: User, locations: Iterable[int] | None = None) -> QuerySet[Job]:
    """The jobs a technician may work on now: approved jobs of approved or started orders of the
    locations they work at (`locations`: those of them the screen shows) that are assigned to
    them (a labor line of theirs) or to nobody yet; the earliest promise first.
    """
    if locations is None:
        locations = allowed_location_ids(user)
    return (
        Job.objects.filter(
            authorization=Authorization.APPROVED,
            repair_order__status__in=WORKABLE_STATUSES,
            repair_order__location__in=locations,
        )
        .filter(Q(assigned_to(user)) | ~Q(assigned_to_anyone()))
        .annotate(mine=assigned_to(user))
        .select_related("repair_order__vehicle")
        .order_by(
            F("repair_order__promised_at").asc(nulls_last=True),
            "repair_order__opened_at",
            "repair_order_id",
            "position",
            "id",
        )
    )


def technician_day(user: User, locations: Iterable[int] | None = None) -> list[Job]:
    """technician_jobs with what the screen shows of each: the parts to fit (no prices)."""
    parts = PartLine.objects.select_related("part").only(
        "id",
        "job_id",
        "quantity",
        "issued_quantity",
        "part__sku",
        "part__description",
        "part__bin_location",
    )
    jobs = technician_jobs(user, locations).prefetch_related(Prefetch("part_lines", parts))
    return list(jobs[:JOBS_SHOWN])


def open_time_entry(user: User) -> TimeEntry | None:
    """What the technician is clocked on, if anything."""
    return (
        TimeEntry.objects.filter(technician=user, ended__isnull=True)
        .select_related("job__repair_order__vehicle")
        .first()
    )


def with_waiting_states(queryset: QuerySet[RepairOrder]) -> QuerySet[RepairOrder]:
    """Annotate what an open order waits for, from its data (no query per order):

    - waiting_for_approval: a job the customer has not decided yet (an estimate sent, or work
      found during the repair);
    - waiting_for_parts: a part of an approved job not issued yet and short in stock;
    - parts_on_order: one of those short parts is on a purchase order sent to a supplier.
    """
    short_lines = PartLine.objects.filter(
        job__repair_order=OuterRef("pk"),
        job__authorization=Authorization.APPROVED,
        issued_quantity=0,
        part__on_hand__lt=F("quantity"),
    )
    on_order = PurchaseOrderLine.objects.filter(
        order__status__in=OPEN_PURCHASE_STATUSES,
        part_id=OuterRef("part_id"),
    )
    return queryset.annotate(
        waiting_for_approval=Exists(
            Job.objects.filter(repair_order=OuterRef("pk"), authorization=Authorization.PENDING)
        ),
        waiting_for_parts=Exists(short_lines),
        parts_on_order=Exists(short_lines.filter(Exists(on_order))),
    )
