"""Keeping the daily summaries right when the records of a summarized day change.

A service that changes a record counted in an earlier day's summary (a decision changed on a
job decided that day, a line added to such a job, a time entry moved, a back-dated invoice, an
order of that day canceled, a stock movement of that day, a part issued that day moved to
another category) marks that day stale in its own transaction: the figures then count it from
the records until the next refresh counts it again (`reports.summaries`). Connected to the
records' signals by the reports app, so the services below it need not know of the summaries.

An internal order's reconditioning (ReconditioningOrder) is kept by its opening day: a line of
it or a decision on its jobs changed, its status, vehicle or opening changed, or a stock unit's
stay on the lot changed (or a unit added for a vehicle with earlier internal orders) marks the
opening days of the orders concerned.
"""

from django.db.models.functions import TruncDate
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

from inventory.models import Part, StockMovement, StockUnit
from repairs.choices import Authorization, RepairOrderStatus
from repairs.models import (
    CreditNote,
    Invoice,
    Job,
    LaborLine,
    PartLine,
    RepairOrder,
    TimeEntry,
)
from reports.models import PartMoved, PartStockMoved, StaleDay
from reports.summaries import TURNOVER_KINDS, midnight

DECIDED = (Authorization.APPROVED, Authorization.DECLINED)


def mark(*moments):
    """Mark the local days of `moments` (None left out) stale, those before today only: today
    is never summarized."""
    mark_days(timezone.localdate(moment) for moment in moments if moment is not None)


def mark_days(days):
    """Mark `days` (local dates) stale, those before today only."""
    today = timezone.localdate()
    days = sorted({day for day in days if day < today})
    if days:
        now = timezone.now()
        StaleDay.objects.bulk_create(
            [StaleDay(day=day, marked_at=now) for day in days],
            update_conflicts=True,
            unique_fields=["day"],
            update_fields=["marked_at"],
        )


def _job_days(job_id):
    """The moments a job's records are summarized on: its decision, its order's invoice, the
    closing of its internal order and that order's opening (its reconditioning)."""
    found = (
        Job.objects.filter(pk=job_id)
        .values_list(
            "authorization",
            "authorized_at",
            "repair_order__invoice__issued_at",
            "repair_order__status",
            "repair_order__status_changed_at",
            "repair_order__internal",
            "repair_order__opened_at",
        )
        .first()
    )
    if found is None:
        return ()
    authorization, authorized_at, issued_at, status, changed_at, internal, opened_at = found
    return (
        authorized_at if authorization in DECIDED else None,
        issued_at,
        changed_at if status == RepairOrderStatus.CLOSED else None,
        opened_at if internal else None,
    )


def _remember(model, fields):
    def handler(sender, instance, raw=False, **kwargs):
        if raw or instance.pk is None:
            instance._summarized_before = None
            return
        instance._summarized_before = model.objects.filter(pk=instance.pk).values(*fields).first()

    return handler


JOB_FIELDS = (
    "authorization",
    "authorized_at",
    "repair_order",
    "repair_order__internal",
    "repair_order__opened_at",
)


def _job_saved(sender, instance, raw=False, **kwargs):
    if raw:
        return
    before = getattr(instance, "_summarized_before", None) or {}
    moments = [
        before.get("authorized_at") if before.get("authorization") in DECIDED else None,
        instance.authorized_at if instance.authorization in DECIDED else None,
    ]
    # A decision changed on an internal order's job (or the job moved): its lines count, or
    # no longer count, in that order's reconditioning.
    if before.get("repair_order__internal") and (
        before["authorization"] != instance.authorization
        or before["repair_order"] != instance.repair_order_id
    ):
        moments.append(before["repair_order__opened_at"])
    if before and before["repair_order"] != instance.repair_order_id:
        moments.extend(_job_days(instance.pk))
    mark(*moments)


def _job_deleted(sender, instance, **kwargs):
    mark(instance.authorized_at if instance.authorization in DECIDED else None)


def _line_changed(sender, instance, raw=False, **kwargs):
    if raw:
        return
    mark(*_job_days(instance.job_id))


def _time_entry_saved(sender, instance, raw=False, **kwargs):
    if raw:
        return
    before = getattr(instance, "_summarized_before", None) or {}
    mark(before.get("started"), instance.started, *_job_days(instance.job_id))


def _time_entry_deleted(sender, instance, **kwargs):
    mark(instance.started, *_job_days(instance.job_id))


def _issued(sender, instance, raw=False, **kwargs):
    if raw:
        return
    before = getattr(instance, "_summarized_before", None) or {}
    mark(before.get("issued_at"), instance.issued_at)


ORDER_FIELDS = ("opened_at", "status", "internal", "comeback_of_id", "vehicle_id")


def _remember_order(sender, instance, raw=False, **kwargs):
    """An order opened before today: what the summaries counted of it (its day, whether it was
    a customer's order not canceled, a comeback)."""
    instance._summarized_before = None
    if raw or instance.pk is None or instance.opened_at is None:
        return
    if timezone.localdate(instance.opened_at) >= timezone.localdate():
        return
    instance._summarized_before = (
        RepairOrder.objects.filter(pk=instance.pk).values(*ORDER_FIELDS).first()
    )


def _counted_as(values):
    return (
        values["opened_at"],
        values["status"] == RepairOrderStatus.CANCELED,
        values["internal"],
        values["comeback_of_id"] is not None,
    )


def _order_saved(sender, instance, raw=False, created=False, **kwargs):
    if raw:
        return
    if created and instance.internal:
        # An internal order entered with an earlier opening: that day's reconditioning.
        mark(instance.opened_at)
    before = getattr(instance, "_summarized_before", None)
    if before is None:
        return
    after = {name: getattr(instance, name) for name in ORDER_FIELDS}
    # An internal order's status (its jobs approved, canceled), vehicle or opening changed:
    # its reconditioning is counted again.
    reconditioning = (before["internal"] or instance.internal) and before != after
    if reconditioning or _counted_as(before) != _counted_as(after):
        mark(before["opened_at"], instance.opened_at)


def _order_deleted(sender, instance, **kwargs):
    mark(instance.opened_at)


def _movement_changed(sender, instance, raw=False, **kwargs):
    """A stock movement of an earlier day changed or deleted (the services only add them, at
    the moment they are made): its day's parts are counted again, its part's last movement (at
    its location too) is looked up in its movements."""
    if raw or instance.created_at is None:
        return
    if timezone.localdate(instance.created_at) < timezone.localdate():
        PartMoved.objects.filter(part_id=instance.part_id).delete()
        PartStockMoved.objects.filter(
            part_stock__part_id=instance.part_id, part_stock__location_id=instance.location_id
        ).delete()
        if instance.kind in TURNOVER_KINDS:
            mark(instance.created_at)


def _part_saved(sender, instance, raw=False, **kwargs):
    """A part moved to another category: the days it was issued or returned on before today
    are counted again (their sums are by category)."""
    before = getattr(instance, "_summarized_before", None)
    if raw or before is None or before["category"] == instance.category:
        return
    mark_days(
        StockMovement.objects.filter(
            part=instance.pk,
            kind__in=TURNOVER_KINDS,
            created_at__lt=midnight(timezone.localdate()),
        )
        .order_by()
        .values_list(TruncDate("created_at"), flat=True)
        .distinct()
    )


UNIT_FIELDS = ("vehicle_id", "acquired_on", "disposed_on")


def _unit_saved(sender, instance, raw=False, created=False, **kwargs):
    """A stock unit added, or its vehicle or its stay (acquisition, leaving) changed: the
    opening days, before today, of the internal orders of its vehicle (before and after) are
    counted again (which of them are its reconditioning may have changed)."""
    if raw:
        return
    before = getattr(instance, "_summarized_before", None)
    after = {name: getattr(instance, name) for name in UNIT_FIELDS}
    if not created and (before is None or before == after):
        return
    vehicles = {instance.vehicle_id, (before or after)["vehicle_id"]}
    mark_days(
        RepairOrder.objects.filter(
            vehicle__in=vehicles, internal=True, opened_at__lt=midnight(timezone.localdate())
        )
        .order_by()
        .values_list(TruncDate("opened_at"), flat=True)
        .distinct()
    )


def connect():
    uid = "reports.stale"
    pre_save.connect(_remember(Job, JOB_FIELDS), sender=Job, dispatch_uid=uid, weak=False)
    post_save.connect(_job_saved, sender=Job, dispatch_uid=uid)
    post_delete.connect(_job_deleted, sender=Job, dispatch_uid=uid)
    for model in (LaborLine, PartLine):
        post_save.connect(_line_changed, sender=model, dispatch_uid=uid)
        post_delete.connect(_line_changed, sender=model, dispatch_uid=uid)
    pre_save.connect(
        _remember(TimeEntry, ("started",)), sender=TimeEntry, dispatch_uid=uid, weak=False
    )
    post_save.connect(_time_entry_saved, sender=TimeEntry, dispatch_uid=uid)
    post_delete.connect(_time_entry_deleted, sender=TimeEntry, dispatch_uid=uid)
    pre_save.connect(_remember_order, sender=RepairOrder, dispatch_uid=uid)
    post_save.connect(_order_saved, sender=RepairOrder, dispatch_uid=uid)
    post_delete.connect(_order_deleted, sender=RepairOrder, dispatch_uid=uid)
    for model in (Invoice, CreditNote):
        pre_save.connect(
            _remember(model, ("issued_at",)), sender=model, dispatch_uid=uid, weak=False
        )
        post_save.connect(_issued, sender=model, dispatch_uid=uid)
        post_delete.connect(_issued, sender=model, dispatch_uid=uid)
    post_save.connect(_movement_changed, sender=StockMovement, dispatch_uid=uid)
    post_delete.connect(_movement_changed, sender=StockMovement, dispatch_uid=uid)
    pre_save.connect(_remember(Part, ("category",)), sender=Part, dispatch_uid=uid, weak=False)
    post_save.connect(_part_saved, sender=Part, dispatch_uid=uid)
    pre_save.connect(
        _remember(StockUnit, UNIT_FIELDS), sender=StockUnit, dispatch_uid=uid, weak=False
    )
    post_save.connect(_unit_saved, sender=StockUnit, dispatch_uid=uid)
