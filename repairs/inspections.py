"""Digital vehicle inspections and the customer's signed approval: the rules (the admin, the
technician and the estimate link call these and stay thin).

Each function is one transaction and raises RepairError with a message for the person; nothing
is changed when it raises. Writes that touch an order lock its row first (repairs.services'
lock order), so an inspection point turned into a job, a photo added while the advisor edits
the order, or a signature while the advisor changes a line, queue instead of crossing.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from accounts.models import ShopSettings
from repairs import media, services
from repairs.choices import (
    OPEN_STATUSES,
    Authorization,
    AuthorizationMethod,
    InspectionRating,
    RepairOrderStatus,
)
from repairs.documents import job_items, load_order
from repairs.exceptions import RepairError
from repairs.models import (
    EstimateSignature,
    Inspection,
    InspectionItem,
    InspectionMedia,
    InspectionTemplate,
    Job,
    RepairOrder,
)
from repairs.models.inspections import MAX_MEASUREMENT
from repairs.totals import Rates, compute_totals

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

    from accounts.models import User

# Longest name a customer may type to sign (what Job.authorized_by keeps).
MAX_SIGNED_NAME = 160


def _lock_open(repair_order: RepairOrder) -> RepairOrder:
    locked = services._lock(repair_order)
    if locked.status not in OPEN_STATUSES:
        raise RepairError(
            f"{locked.number} is {locked.get_status_display().lower()}: it takes no inspection "
            "any more."
        )
    return locked


def start_inspection(
    repair_order: RepairOrder, template: InspectionTemplate, *, user: User | None = None
) -> Inspection:
    """An inspection on an open order, its points copied from the template."""
    if template is None or not template.active:
        raise RepairError("Choose a checklist that is still offered.")
    with transaction.atomic():
        repair_order = _lock_open(repair_order)
        inspection = Inspection.objects.create(
            repair_order=repair_order, template=template, name=template.name, technician=user
        )
        InspectionItem.objects.bulk_create(
            InspectionItem(
                inspection=inspection,
                position=position,
                section=point.section,
                label=point.label,
                measurement_kind=point.measurement,
            )
            for position, point in enumerate(template.points.all(), start=1)
        )
    return inspection


def _measurement(item: InspectionItem, value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    if not item.measurement_kind:
        raise RepairError(f"{item.label} takes no measurement.")
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise RepairError(f"{item.label}: {value!r} is not a number.") from None
    if not number.is_finite() or not 0 <= number <= MAX_MEASUREMENT:
        raise RepairError(f"{item.label}: a measurement is between 0 and {MAX_MEASUREMENT}.")
    return number.quantize(Decimal("0.1"))


def rate_item(
    item: InspectionItem,
    *,
    rating: str,
    measurement: object = None,
    notes: str = "",
    user: User | None = None,
) -> InspectionItem:
    """What the technician found on one point: good, needs attention or urgent (or not rated
    yet), a measurement where the point asks for one, notes."""
    if rating not in ("", *InspectionRating.values):
        raise RepairError("Rate a point good, needs attention or urgent.")
    value = _measurement(item, measurement)
    with transaction.atomic():
        _lock_open(item.inspection.repair_order)
        item = InspectionItem.objects.select_related("inspection").get(pk=item.pk)
        item.rating = rating
        item.measurement = value
        item.notes = (notes or "").strip()
        item.save(update_fields=["rating", "measurement", "notes"])
    return item


def add_media(
    item: InspectionItem,
    upload: UploadedFile | None = None,
    *,
    prepared: media.PreparedMedia | None = None,
    user: User | None = None,
) -> InspectionMedia:
    """A photo (resized, EXIF removed) or a short video of a point, kept privately. `prepared`
    is an upload a form already checked with media.prepare()."""
    if prepared is None:
        if upload is None:
            raise RepairError("Choose a photo or a video.")
        prepared = media.prepare(upload)
    with transaction.atomic():
        _lock_open(item.inspection.repair_order)
        stored = InspectionMedia(
            item=item,
            kind=prepared.kind,
            content_type=prepared.content_type,
            width=prepared.width,
            height=prepared.height,
            size=prepared.content.size,
            uploaded_by=user,
        )
        stored.file.save(prepared.content.name or "upload", prepared.content, save=False)
        try:
            stored.save()
        except Exception:
            stored.file.delete(save=False)
            raise
    return stored


def recommend_job(item: InspectionItem, *, user: User | None = None) -> Job:
    """Turn a point that needs attention into a job on the order, waiting for the customer's
    decision; the job's complaint says what the inspection found."""
    with transaction.atomic():
        repair_order = services._lock(item.inspection.repair_order)
        item = InspectionItem.objects.select_related("inspection").get(pk=item.pk)
        if item.job_id is not None:
            raise RepairError(f"{item.label} is already job {item.job}.")
        if not item.needs_work:
            raise RepairError(
                f"{item.label} is not rated needs attention or urgent: nothing to recommend."
            )
        found = [f"{item.get_rating_display()} ({item.inspection.name})"]
        if item.measurement is not None:
            found.append(f"measured {item.measurement} {item.get_measurement_kind_display()}")
        if item.notes:
            found.append(item.notes)
        job = services.add_job(
            repair_order,
            title=item.label if not item.section else f"{item.section}: {item.label}",
            complaint="Inspection: " + "; ".join(found),
            user=user,
        )
        item.job = job
        item.save(update_fields=["job"])
    return job


def sign_estimate(
    repair_order: RepairOrder,
    *,
    job_ids: list[int],
    name: str,
    client_ip: str | None,
) -> EstimateSignature:
    """The customer approves the jobs they ticked on the estimate link and signs with their
    typed name: each job is approved online in their name, and the signature keeps the name,
    the time, the address the request came from, the estimate's total at that moment and the
    jobs approved. When no job is left waiting, the order is approved."""
    name = " ".join((name or "").split())
    if not name:
        raise RepairError("Type your full name to sign the approval.")
    if len(name) > MAX_SIGNED_NAME:
        raise RepairError(f"A name is at most {MAX_SIGNED_NAME} characters.")
    if not job_ids:
        raise RepairError("Tick at least one job to approve.")
    with transaction.atomic():
        locked = services._lock(repair_order)
        jobs = list(locked.jobs.filter(pk__in=job_ids))
        if len(jobs) != len(set(job_ids)):
            raise RepairError("One of the jobs is not on this estimate.")
        for job in jobs:
            services.authorize_job(
                job,
                Authorization.APPROVED,
                method=AuthorizationMethod.ONLINE,
                authorized_by=name,
                only_pending=True,
            )
        total = approved_total(load_order(locked.pk))
        signature = EstimateSignature.objects.create(
            repair_order=locked,
            signed_name=name,
            signed_at=timezone.now(),
            client_ip=client_ip or None,
            total=total,
            jobs=[
                {"id": job.pk, "position": job.position, "title": job.title}
                for job in sorted(jobs, key=lambda job: (job.position, job.pk))
            ],
        )
        approve_when_all_decided(locked)
    return signature


def approved_total(repair_order: RepairOrder) -> Decimal:
    """What the approved jobs of an order come to, fees and taxes included (the figure the
    customer signs for; jobs still waiting or declined are not in it)."""
    labor, parts = [], []
    for job in repair_order.jobs.all():
        if job.authorization == Authorization.APPROVED:
            job_labor, job_parts = job_items(job)
            labor += job_labor
            parts += job_parts
    totals = compute_totals(
        labor,
        parts,
        Rates.from_settings(ShopSettings.current()),
        discount_percent=repair_order.discount_percent,
        hazardous_waste=repair_order.hazardous_waste,
        internal=repair_order.internal,
    )
    return totals.total


def approve_when_all_decided(repair_order: RepairOrder) -> None:
    """Once the customer has decided every job online and approved one, the estimate is
    approved: the shop may order parts and schedule the work."""
    jobs = repair_order.jobs.all()
    if (
        RepairOrder.objects.filter(pk=repair_order.pk, status=RepairOrderStatus.ESTIMATE).exists()
        and not jobs.filter(authorization=Authorization.PENDING).exists()
        and jobs.filter(authorization=Authorization.APPROVED).exists()
    ):
        services.approve_repair_order(repair_order)
