"""Service shop business rules: every change of a repair order goes through these functions.

The admin, the API, the estimate link and commands call them and stay thin. Each function is one
transaction and raises repairs.exceptions.RepairError (or a subclass) with a message for the user;
nothing is changed when it raises.

Lock order, the same everywhere so two requests never wait on each other in a circle:
1. the RepairOrder row (every write to an order, its jobs, lines, invoice or payments locks it
   first: two advisors working on one order queue instead of overwriting each other);
2. Part rows (inside inventory.services.issue_part / return_part);
3. the DocumentSequence row of the series being numbered;
4. time entries;
5. last, the FeedClock row of the accounting feed an invoice, credit note or payment enters
   (taken when the document is inserted, held until commit: see repairs.models.FeedClock).

Webhook events (accounts.webhooks.publish) are written in the same transaction as the change:
`repair_order.status_changed` by every status step, `invoice.created` by invoicing.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime
from decimal import Decimal
from typing import cast

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from accounts import limits, webhooks
from accounts.locations import may_work_at
from accounts.models import Customer, Location, Partner, ShopSettings, User, default_location_id
from accounts.scopes import INVOICE_CREATED, REPAIR_ORDER_STATUS_CHANGED
from core.money import ZERO, money
from core.numbering import advance
from inventory import services as inventory_services
from inventory.exceptions import InventoryError
from inventory.models import Part, PartStock, Vehicle
from repairs.choices import (
    EDITABLE_STATUSES,
    AppointmentStatus,
    Authorization,
    AuthorizationMethod,
    DocumentSeries,
    RepairOrderStatus,
)
from repairs.costs import internal_cost
from repairs.documents import build_document, load_order, order_totals
from repairs.exceptions import RepairError
from repairs.models import (
    Appointment,
    CannedJob,
    CreditNote,
    DocumentSequence,
    Invoice,
    Job,
    LaborLine,
    PartLine,
    Payment,
    RepairOrder,
    RepairOrderEvent,
    TimeEntry,
)
from repairs.numbers import (
    credit_note_number,
    invoice_number,
    location_prefix,
    repair_order_number,
)
from repairs.totals import Rates
from repairs.workflow import REPAIR_ORDER_PIPELINE

Status = RepairOrderStatus

CreatedRepairOrder = namedtuple("CreatedRepairOrder", ["repair_order", "warnings"])

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _lock(repair_order: RepairOrder) -> RepairOrder:
    """Lock the order's row for this transaction and return it fresh from the database.

    Every write to an order, its jobs, lines, invoice or payments starts here, so this is also
    where the order is marked changed (`updated_at`, which partners sync on); a refused write
    rolls the mark back with everything else."""
    locked = RepairOrder.objects.select_for_update().get(pk=repair_order.pk)
    locked.updated_at = timezone.now()
    RepairOrder.objects.filter(pk=locked.pk).update(updated_at=locked.updated_at)
    return locked


def _name(user: User | None) -> str:
    return str(user) if user is not None else ""


def customer_decision_name(repair_order: RepairOrder, user: User | None = None) -> str:
    """The name a customer's decision is recorded under when nobody typed one: the customer as
    a person is addressed ("Grace Hopper", the way a signed approval reads, not the customer
    book's "Hopper, Grace"); without a customer, the member of staff who recorded it."""
    if repair_order.customer is not None:
        return repair_order.customer.addressed_name
    return _name(user)


def _move(
    repair_order: RepairOrder, to_status: str, user: User | None = None, note: str = ""
) -> None:
    """Record the status change on the (locked) order and in its history."""
    now = timezone.now()
    from_status = repair_order.status
    repair_order.status = to_status
    repair_order.status_changed_at = now
    repair_order.save(update_fields=["status", "status_changed_at", "updated_at"])
    RepairOrderEvent.objects.create(
        repair_order=repair_order,
        from_status=from_status,
        to_status=to_status,
        at=now,
        user=user,
        note=note[:300],
    )
    _publish_status_change(repair_order, from_status, now)


def _publish_status_change(repair_order: RepairOrder, from_status: str, at: datetime) -> None:
    """`repair_order.status_changed` for the partners that may read the order through the API:
    linked to the vehicle's owner and to the customer who pays (the same rule as the API's
    repair orders endpoint). Internal orders are never sent."""
    if repair_order.internal:
        return
    owner_id = (
        Vehicle.objects.filter(pk=repair_order.vehicle_id)
        .values_list("owner_id", flat=True)
        .first()
    )
    if owner_id is None:
        return
    partner_ids = list(
        Partner.objects.filter(customers=owner_id)
        .filter(customers=repair_order.customer_id)
        .values_list("pk", flat=True)
    )
    if not partner_ids:
        return  # nobody may receive it: no event to keep
    payload = {
        "repair_order": repair_order.pk,
        "number": repair_order.number,
        "status": repair_order.status,
        "from_status": from_status,
        "changed_at": at,
    }
    if repair_order.customer_id == owner_id:
        webhooks.publish(REPAIR_ORDER_STATUS_CHANGED, payload, customer=owner_id)
    else:  # paid by someone else than the owner: only partners linked to both
        for partner_id in partner_ids:
            webhooks.publish(
                REPAIR_ORDER_STATUS_CHANGED, payload, customer=owner_id, partner=partner_id
            )


def _check_editable(repair_order: RepairOrder) -> None:
    if repair_order.status not in EDITABLE_STATUSES:
        raise RepairError(
            f"{repair_order.number} is {repair_order.get_status_display().lower()}: its jobs and "
            "lines can no longer be changed."
        )


def _next_number(series: str, year: int, location: Location) -> int:
    """The next number of a location's series for a year; the counter row stays locked until
    commit (two locations numbering at once lock two rows and do not wait for each other)."""
    _counter, last = advance(
        DocumentSequence, "last_number", location=location, series=series, year=year
    )
    return last + 1


def _check_line(line: LaborLine | PartLine) -> None:
    """A labor or part line within its bounds (accounts.limits): each field, then what the line
    comes to. Raises RepairError with the bound in the message."""
    try:
        line.clean_fields(exclude=["job", "part", "technician"])
    except ValidationError as exc:
        raise RepairError(" ".join(exc.messages)) from None
    if line.amount > limits.MAX_LINE_AMOUNT:
        raise RepairError(limits.message(limits.MAX_LINE_AMOUNT, "on one line"))


def _check_technician(line: LaborLine, repair_order: RepairOrder) -> None:
    """RepairError when a labor line's technician, new on it, does not work at the order's
    location (a line kept as it was stays, whoever moved shop since)."""
    technician = line.technician
    if technician is None or may_work_at(technician, repair_order.location_id):
        return
    if line.pk and LaborLine.objects.filter(pk=line.pk, technician=technician).exists():
        return
    raise RepairError(
        f"{repair_order.number} is an order of {repair_order.location}, where "
        f"{_name(technician)} does not work."
    )


def default_labor_rate(repair_order: RepairOrder, shop: ShopSettings | None = None) -> Decimal:
    """What an hour of labor is charged on an order: the shop's labor rate; on an internal
    order (at cost), what a technician's hour costs the shop. `shop`: the settings when the
    caller has read them already."""
    shop = shop or ShopSettings.of(repair_order.location_id)
    return shop.technician_cost_rate if repair_order.internal else shop.labor_rate


def default_part_price(part: Part) -> Decimal:
    """What a part sells for on an order: the part's selling price from inventory."""
    return part.selling_price


def _issue(line: PartLine, user: User | None) -> None:
    if line.issued_quantity:
        return
    try:
        inventory_services.issue_part(
            line.part,
            line.quantity,
            reference=line.stock_reference,
            user=user,
            location=line.job.repair_order.location_id,
        )
    except InventoryError as exc:
        raise RepairError(f"{line.part.sku} for job {line.job.position}: {exc}") from None
    line.issued_quantity = line.quantity
    line.save(update_fields=["issued_quantity"])


def _return(line: PartLine, user: User | None) -> None:
    if not line.issued_quantity:
        return
    inventory_services.return_part(
        line.part,
        line.issued_quantity,
        reference=line.stock_reference,
        user=user,
        unit_cost=line.unit_cost,
        location=line.job.repair_order.location_id,
    )
    line.issued_quantity = 0
    line.save(update_fields=["issued_quantity"])


def _shortage_error(needed: dict[int, int], location_id: int | None) -> RepairError | None:
    """The refusal naming every part of `needed` ({part id: quantity}) that the stock at the
    order's location cannot cover, with what is needed and what is on hand there; None when
    stock covers them all."""
    parts = {part.pk: part for part in Part.objects.filter(pk__in=needed)}
    here = dict(
        PartStock.objects.filter(
            part_id__in=needed, location_id=location_id or default_location_id()
        ).values_list("part_id", "on_hand")
    )
    short = [
        part
        for pk, part in sorted(parts.items(), key=lambda item: item[1].sku)
        if here.get(pk, 0) < needed[pk]
    ]
    if not short:
        return None
    return RepairError(
        "Not enough stock: "
        + "; ".join(
            f"{part.sku} needs {needed[part.pk]}, {here.get(part.pk, 0)} on hand" for part in short
        )
        + ". Order the missing parts (a purchase order for each supplier) or change the "
        "quantities."
    )


def _issue_lines(lines: list[PartLine], user: User | None) -> None:
    """Issue these lines' parts from stock. When stock is short, nothing is issued and every
    shortage is reported at once (what is needed of each part, what is on hand)."""
    needed: dict[int, int] = {}
    for line in lines:
        if not line.issued_quantity:
            needed[line.part_id] = needed.get(line.part_id, 0) + line.quantity
    location_id = lines[0].job.repair_order.location_id if needed else None
    refusal = _shortage_error(needed, location_id) if needed else None
    if refusal:
        raise refusal
    for line in lines:
        _issue(line, user)


def check_parts_available(repair_order: RepairOrder, wanted: list[tuple[Job, Part, int]]) -> None:
    """Before lines are added or raised on an order: refuse with every shortage at once when
    the parts would be issued now (approved jobs on an approved or in-progress order) and stock
    cannot cover them all. `wanted` holds (job, part, extra quantity)."""
    needed: dict[int, int] = {}
    for job, part, quantity in wanted:
        if quantity > 0 and _parts_due_now(job, repair_order):
            needed[part.pk] = needed.get(part.pk, 0) + quantity
    refusal = _shortage_error(needed, repair_order.location_id) if needed else None
    if refusal:
        raise refusal


def _issue_job_parts(job: Job, user: User | None) -> None:
    _issue_lines(list(job.part_lines.select_related("part", "job").order_by("id")), user)


def _return_job_parts(job: Job, user: User | None) -> None:
    for line in job.part_lines.select_related("part").filter(issued_quantity__gt=0):
        _return(line, user)


# --------------------------------------------------------------------------------------------
# Opening orders
# --------------------------------------------------------------------------------------------


def open_orders_warning(
    vehicle: Vehicle, exclude: RepairOrder | None = None, location: Location | int | None = None
) -> str:
    """A message when the vehicle already has an open repair order, else an empty string. The
    orders of `location` are named by number; another shop's by its location only (its staff's
    record, not this one's)."""
    others = RepairOrder.objects.open().filter(vehicle=vehicle)
    if exclude is not None and exclude.pk:
        others = others.exclude(pk=exclude.pk)
    found = list(others.order_by("opened_at").values_list("number", "location_id")[:3])
    if not found:
        return ""
    here = getattr(location, "pk", location)
    numbers = [number for number, at in found if here is None or at == here]
    elsewhere = sorted({at for _number, at in found if here is not None and at != here})
    places = [str(place) for place in Location.objects.filter(pk__in=elsewhere).order_by("name")]
    named = [*numbers, *(f"at {place}" for place in places)]
    return (
        f"{vehicle} already has an open repair order ({', '.join(named)}); "
        "check it is not the same visit."
    )


def payer_warning(vehicle: Vehicle, customer: Customer | None) -> str:
    """A message when the customer who pays is not the vehicle's owner on file (a fleet's
    driver, a relative, a car sold on without the owner changed), else an empty string: not
    refused, but the advisor checks who pays before the work."""
    if customer is None or vehicle.owner_id == customer.pk:
        return ""
    owner = f"belongs to {vehicle.owner}" if vehicle.owner_id else "has no owner on file"
    return (
        f"{customer} pays for this order but {vehicle} {owner}: check who pays, or record the "
        "change of owner on the vehicle."
    )


def check_advisor(advisor: User | None, location: Location | None) -> None:
    """RepairError when `advisor` does not work at `location`: an order's advisor is one of its
    shop's own (its home location, or one of their other locations)."""
    if advisor is None or location is None or may_work_at(advisor, location):
        return
    raise RepairError(f"{_name(advisor)} does not work at {location}: choose one of its advisors.")


def check_new_repair_order(
    vehicle: Vehicle,
    *,
    customer: Customer | None = None,
    internal: bool | None = None,
    comeback_of: RepairOrder | None = None,
) -> tuple[Customer | None, bool]:
    """Who pays for a new order and whether it is internal; RepairError when it cannot be
    opened. Forms call it to show the reason next to the fields."""
    if internal is None:
        customer = customer or vehicle.owner
        internal = customer is None
    elif not internal:
        customer = customer or vehicle.owner
    if internal and vehicle.owner_id is not None:
        raise RepairError(
            f"{vehicle} belongs to {vehicle.owner}: only the business's own "
            "vehicles get internal orders."
        )
    if internal and customer is not None:
        raise RepairError(
            "An internal order is for the business's own vehicle and has no "
            "customer; clear the customer or the internal flag."
        )
    if not internal and customer is None:
        raise RepairError(f"{vehicle} has no owner on file: choose the customer who pays.")
    if comeback_of is not None:
        if comeback_of.vehicle_id != vehicle.pk:
            raise RepairError(
                f"{comeback_of.number} was for another vehicle; a comeback links "
                "to an earlier order of the same vehicle."
            )
        if comeback_of.status == Status.CANCELED:
            raise RepairError(f"{comeback_of.number} was canceled; no work to come back for.")
    return customer, internal


def create_repair_order(
    vehicle: Vehicle,
    *,
    customer: Customer | None = None,
    advisor: User | None = None,
    odometer_in: int | None = None,
    promised_at: datetime | None = None,
    comeback_of: RepairOrder | None = None,
    notes: str = "",
    internal: bool | None = None,
    discount_percent: Decimal = ZERO,
    hazardous_waste: bool = True,
    appointment: Appointment | None = None,
    user: User | None = None,
    instance: RepairOrder | None = None,
    location: Location | None = None,
) -> CreatedRepairOrder:
    """Open an estimate for a vehicle. Returns (repair_order, warnings).

    The customer defaults to the vehicle's owner. A vehicle the business owns (no owner) gets an
    internal order. `instance` is an unsaved RepairOrder to fill (the admin's form object).
    A vehicle that already has an open order is not refused, but a warning comes back.
    The order belongs to `location` (else the instance's, the appointment's, or the default
    location), numbered in that location's series.
    """
    customer, internal = check_new_repair_order(
        vehicle, customer=customer, internal=internal, comeback_of=comeback_of
    )
    if location is None:
        if instance is not None and instance.location_id is not None:
            location = instance.location
        elif appointment is not None:
            location = appointment.location
        else:
            location = Location.default()
    warnings = [
        w
        for w in [open_orders_warning(vehicle, location=location), payer_warning(vehicle, customer)]
        if w
    ]
    if not location.is_active:
        raise RepairError(f"{location} is inactive: it takes no new work.")
    check_advisor(advisor if instance is None else instance.advisor, location)
    with transaction.atomic():
        now = timezone.now()
        year = timezone.localdate(now).year
        number = _next_number(DocumentSeries.REPAIR_ORDER, year, location)
        repair_order = instance or RepairOrder()
        repair_order.location = location
        repair_order.number = repair_order_number(year, number, location_prefix(location))
        repair_order.status = Status.ESTIMATE
        repair_order.vehicle = vehicle
        repair_order.customer = customer
        repair_order.internal = internal
        repair_order.appointment = appointment
        repair_order.opened_at = repair_order.status_changed_at = now
        if instance is None:
            repair_order.advisor = advisor
            repair_order.odometer_in = odometer_in
            repair_order.promised_at = promised_at
            repair_order.comeback_of = comeback_of
            repair_order.notes = notes
            repair_order.discount_percent = discount_percent
            repair_order.hazardous_waste = hazardous_waste
        repair_order.full_clean(
            exclude=["number"], validate_unique=False, validate_constraints=False
        )
        repair_order.save()
        RepairOrderEvent.objects.create(
            repair_order=repair_order,
            to_status=Status.ESTIMATE,
            at=now,
            user=user,
            note=f"comeback of {comeback_of.number}" if comeback_of else "",
        )
    return CreatedRepairOrder(repair_order, warnings)


# --------------------------------------------------------------------------------------------
# Appointments
# --------------------------------------------------------------------------------------------


def _vehicle_owner_error(vehicle: Vehicle, customer: Customer) -> str:
    if vehicle.owner_id == customer.pk:
        return ""
    whose = f"belongs to {vehicle.owner}" if vehicle.owner_id else "is the business's own"
    return (
        f"{vehicle} is not a vehicle of {customer}: it {whose}. Choose one of the "
        "customer's vehicles, or record the change of owner on the vehicle first."
    )


def check_appointment(appointment: Appointment) -> None:
    """RepairError when `appointment` (saved or not) cannot be booked as it stands.

    The vehicle is the customer's; its advisor, when chosen, works at its location; a new
    booking, or one moved to another day or time, is not in the past; and a slot (a day and a
    time) holds one scheduled appointment.
    """
    if appointment.customer_id is None or appointment.vehicle_id is None:
        raise RepairError("An appointment needs a customer and one of their vehicles.")
    stored = (
        Appointment.objects.filter(pk=appointment.pk)
        .values("date", "time", "customer_id", "vehicle_id", "advisor_id")
        .first()
        if appointment.pk
        else None
    )
    if stored is None or stored["advisor_id"] != appointment.advisor_id:
        check_advisor(appointment.advisor, appointment.location)
    # A booking kept as it was (a no-show marked, a note added) is not checked again against
    # what changed since: the car sold on, the day gone by.
    relinked = stored is None or (stored["customer_id"], stored["vehicle_id"]) != (
        appointment.customer_id,
        appointment.vehicle_id,
    )
    if relinked:
        error = _vehicle_owner_error(appointment.vehicle, appointment.customer)
        if error:
            raise RepairError(error)
    moved = stored is None or (stored["date"], stored["time"]) != (
        appointment.date,
        appointment.time,
    )
    if moved and appointment.date < timezone.localdate():
        raise RepairError(f"{appointment.date:%Y-%m-%d} is in the past: book today or a later day.")
    if appointment.status == AppointmentStatus.SCHEDULED:
        taken = (
            Appointment.objects.filter(
                location_id=cast(int, appointment.location_id),
                date=appointment.date,
                time=appointment.time,
                status=AppointmentStatus.SCHEDULED,
            )
            .exclude(pk=appointment.pk)
            .select_related("customer")
            .first()
        )
        if taken is not None:
            raise RepairError(
                f"{taken.customer} is already booked on "
                f"{appointment.date:%Y-%m-%d} at {appointment.time:%H:%M}: choose "
                "another time."
            )


def save_appointment(appointment: Appointment, *, user: User | None = None) -> Appointment:
    """Book a new appointment or save changes to one, after check_appointment. Two bookings of
    one slot at the same moment: the slot's unique constraint lets one in, the other is told
    who holds the slot."""
    with transaction.atomic():
        if appointment.pk:
            Appointment.objects.select_for_update().filter(pk=appointment.pk).first()
        check_appointment(appointment)
        try:
            with transaction.atomic():
                appointment.save()
        except IntegrityError:
            check_appointment(appointment)  # names the booking that got the slot first
            raise RepairError(
                f"{appointment.date:%Y-%m-%d} at {appointment.time:%H:%M} was "
                "booked a moment ago: choose another time."
            ) from None
    return appointment


def create_repair_order_from_appointment(
    appointment: Appointment, *, user: User | None = None
) -> CreatedRepairOrder:
    """Turn a booked appointment into an estimate with a first job for the customer's concern."""
    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if appointment.status != AppointmentStatus.SCHEDULED:
            raise RepairError(
                f"The appointment of {appointment.customer} on "
                f"{appointment.date:%Y-%m-%d} is "
                f"{appointment.get_status_display().lower()}; only scheduled "
                "appointments become repair orders."
            )
        error = _vehicle_owner_error(appointment.vehicle, appointment.customer)
        if error:
            raise RepairError(
                f"The appointment of {appointment.customer} on {appointment.date:%Y-%m-%d}: {error}"
            )
        created = create_repair_order(
            appointment.vehicle,
            customer=appointment.customer,
            advisor=appointment.advisor or user,
            appointment=appointment,
            user=user,
            location=appointment.location,
        )
        concern = appointment.concern.strip()
        title = (concern.splitlines()[0] if concern else "Customer concern")[:160]
        add_job(created.repair_order, title=title, complaint=concern, user=user)
        appointment.status = AppointmentStatus.CONVERTED
        appointment.save(update_fields=["status"])
    return created


# --------------------------------------------------------------------------------------------
# Jobs and lines
# --------------------------------------------------------------------------------------------


def add_job(
    repair_order: RepairOrder,
    *,
    title: str,
    complaint: str = "",
    cause: str = "",
    correction: str = "",
    user: User | None = None,
    canned_job: CannedJob | None = None,
) -> Job:
    """Add a job at the end of the order. Jobs of internal orders need no customer decision."""
    if not (title or "").strip():
        raise RepairError("A job needs a title.")
    with transaction.atomic():
        repair_order = _lock(repair_order)
        _check_editable(repair_order)
        last = repair_order.jobs.aggregate(last=Max("position"))["last"] or 0
        job = Job(
            repair_order=repair_order,
            position=last + 1,
            title=title.strip()[:160],
            complaint=complaint,
            cause=cause,
            correction=correction,
            canned_job=canned_job,
        )
        if repair_order.internal:
            job.authorization = Authorization.APPROVED
            job.authorization_method = AuthorizationMethod.INTERNAL
            job.authorized_by = _name(user) or "Internal"
            job.authorized_at = timezone.now()
            job.authorization_recorded_by = user
        job.save()
    return job


def add_canned_job(
    repair_order: RepairOrder,
    canned_job: CannedJob,
    *,
    technician: User | None = None,
    user: User | None = None,
) -> Job:
    """Add a canned job in one step: the job, its labor at the shop's rate, its parts priced."""
    if not canned_job.active:
        raise RepairError(f"The canned job {canned_job} is no longer offered.")
    with transaction.atomic():
        job = add_job(
            repair_order,
            title=canned_job.name,
            complaint=canned_job.complaint,
            correction=canned_job.correction,
            user=user,
            canned_job=canned_job,
        )
        rate = default_labor_rate(job.repair_order)
        for template in canned_job.labor.all():
            add_labor_line(
                job,
                operation=template.operation,
                hours_sold=template.hours,
                rate=rate,
                technician=technician,
                user=user,
            )
        for part_template in canned_job.parts.select_related("part"):
            add_part_line(job, part_template.part, part_template.quantity, user=user)
    return job


def remove_job(job: Job, *, user: User | None = None) -> None:
    """Take a job off the order, returning its issued parts to stock."""
    with transaction.atomic():
        repair_order = _lock(job.repair_order)
        _check_editable(repair_order)
        job = Job.objects.get(pk=job.pk)
        if job.time_entries.exists():
            raise RepairError(
                f"Technicians clocked time on job {job.position}; decline it "
                "instead of removing it."
            )
        _return_job_parts(job, user)
        job.delete()
        _renumber_jobs(repair_order)


def _renumber_jobs(repair_order: RepairOrder) -> None:
    """Number the order's jobs 1, 2, 3 ... in their present order (after a removal)."""
    for position, job in enumerate(repair_order.jobs.order_by("position", "id"), start=1):
        if job.position != position:
            job.position = position
            job.save(update_fields=["position"])


def save_job_text(job: Job, *, user: User | None = None, **fields: str) -> Job:
    """Change a job's title, complaint, cause or correction (technicians write the last two)."""
    allowed = {"title", "complaint", "cause", "correction", "position"}
    unknown = set(fields) - allowed
    if unknown:
        raise RepairError(f"These job fields are not changed here: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        repair_order = _lock(job.repair_order)
        if repair_order.status not in (*EDITABLE_STATUSES, Status.COMPLETED):
            _check_editable(repair_order)
        for name, value in fields.items():
            setattr(job, name, value)
        job.save(update_fields=list(fields))
    return job


def add_labor_line(
    job: Job,
    *,
    operation: str,
    hours_sold: Decimal,
    rate: Decimal | None = None,
    technician: User | None = None,
    user: User | None = None,
) -> LaborLine:
    """Sell labor on a job; the rate defaults to the shop's labor rate."""
    with transaction.atomic():
        repair_order = _lock(job.repair_order)
        _check_editable(repair_order)
        if rate is None:
            rate = default_labor_rate(repair_order)
        line = LaborLine(
            job=job,
            operation=operation,
            hours_sold=Decimal(hours_sold),
            rate=Decimal(rate),
            technician=technician,
        )
        _check_line(line)
        _check_technician(line, repair_order)
        line.full_clean(exclude=["job"], validate_constraints=False)
        line.save()
    return line


def save_labor_line(line: LaborLine, *, user: User | None = None) -> LaborLine:
    """Save changes to an existing labor line (hours, rate, technician, operation)."""
    with transaction.atomic():
        repair_order = _lock(line.job.repair_order)
        _check_editable(repair_order)
        _check_line(line)
        _check_technician(line, repair_order)
        line.full_clean(exclude=["job"], validate_constraints=False)
        line.save()
    return line


def remove_labor_line(line: LaborLine, *, user: User | None = None) -> None:
    with transaction.atomic():
        repair_order = _lock(line.job.repair_order)
        _check_editable(repair_order)
        line.delete()


def _parts_due_now(job: Job, repair_order: RepairOrder) -> bool:
    """Lines added now are issued at once when the job is approved and work is on or about
    to start (order approved or in progress); otherwise when work starts."""
    return job.authorization == Authorization.APPROVED and repair_order.status in (
        Status.APPROVED,
        Status.IN_PROGRESS,
    )


def add_part_line(
    job: Job, part: Part, quantity: int, *, price: Decimal | None = None, user: User | None = None
) -> PartLine:
    """Put a part on a job at its selling price (internal orders: at cost), remembering its
    cost; issued from stock at once if the order is approved or in progress."""
    quantity = int(quantity)
    if quantity <= 0:
        raise RepairError("A quantity is at least 1.")
    with transaction.atomic():
        repair_order = _lock(job.repair_order)
        _check_editable(repair_order)
        job = Job.objects.get(pk=job.pk)
        # What the part costs where the work is done (its average cost at the order's location).
        cost = inventory_services.average_cost_at(part, repair_order.location_id)
        if price is None:
            price = cost if repair_order.internal else default_part_price(part)
        line = PartLine(
            job=job,
            part=part,
            quantity=quantity,
            price=money(price),
            unit_cost=cost,
            taxable=part.taxable,
        )
        _check_line(line)
        line.full_clean(exclude=["job", "part"], validate_constraints=False)
        line.save()
        if _parts_due_now(job, repair_order):
            _issue(line, user)
    return line


def change_part_line(
    line: PartLine,
    *,
    quantity: int | None = None,
    price: Decimal | None = None,
    user: User | None = None,
) -> PartLine:
    """Change a part line's quantity or price; issued stock follows the new quantity."""
    with transaction.atomic():
        repair_order = _lock(line.job.repair_order)
        _check_editable(repair_order)
        line = PartLine.objects.select_related("part", "job").get(pk=line.pk)
        if price is not None:
            if Decimal(price) < 0:
                raise RepairError("A price cannot be negative.")
            line.price = money(price)
        if quantity is not None and int(quantity) != line.quantity:
            quantity = int(quantity)
            if quantity <= 0:
                raise RepairError("A quantity is at least 1; remove the line instead.")
            line.quantity, previous = quantity, line.quantity
            _check_line(line)
            difference = quantity - previous
            if line.issued_quantity:
                if difference > 0:
                    try:
                        inventory_services.issue_part(
                            line.part,
                            difference,
                            reference=line.stock_reference,
                            user=user,
                            location=line.job.repair_order.location_id,
                        )
                    except InventoryError as exc:
                        raise RepairError(f"{line.part.sku}: {exc}") from None
                else:
                    inventory_services.return_part(
                        line.part,
                        -difference,
                        reference=line.stock_reference,
                        user=user,
                        unit_cost=line.unit_cost,
                        location=line.job.repair_order.location_id,
                    )
                line.issued_quantity = quantity
        _check_line(line)
        line.save()
    return line


def remove_part_line(line: PartLine, *, user: User | None = None) -> None:
    """Take a part off a job; what was issued goes back to stock."""
    with transaction.atomic():
        repair_order = _lock(line.job.repair_order)
        _check_editable(repair_order)
        line = PartLine.objects.select_related("part").get(pk=line.pk)
        _return(line, user)
        line.delete()


# --------------------------------------------------------------------------------------------
# Customer authorization
# --------------------------------------------------------------------------------------------


def authorize_job(
    job: Job,
    decision: str,
    *,
    method: str,
    authorized_by: str,
    user: User | None = None,
    only_pending: bool = False,
) -> Job:
    """Record the customer's approval or decline of a job: by whom, when and how.

    A declined job stays on the vehicle as a recommendation; its issued parts go back to stock.
    An approval on an approved order or one in progress issues the job's parts.
    """
    if decision not in (Authorization.APPROVED, Authorization.DECLINED):
        raise RepairError("A decision is an approval or a decline.")
    if method not in AuthorizationMethod.values:
        raise RepairError("Say how the customer decided: in person, by phone or online.")
    authorized_by = (authorized_by or "").strip()
    if not authorized_by:
        raise RepairError("Say who gave the decision (the customer's name).")
    with transaction.atomic():
        repair_order = _lock(job.repair_order)
        _check_editable(repair_order)
        job = Job.objects.get(pk=job.pk)
        if only_pending and job.authorization != Authorization.PENDING:
            raise RepairError(
                f"Job {job.position} was already {job.get_authorization_display().lower()}."
            )
        if decision == Authorization.DECLINED and job.time_entries.exists():
            raise RepairError(
                f"Work on job {job.position} has started (time was clocked); it "
                "cannot be declined now."
            )
        job.authorization = decision
        job.authorization_method = method
        job.authorized_by = authorized_by[:160]
        job.authorized_at = timezone.now()
        job.authorization_recorded_by = user
        job.save(
            update_fields=[
                "authorization",
                "authorization_method",
                "authorized_by",
                "authorized_at",
                "authorization_recorded_by",
            ]
        )
        if decision == Authorization.DECLINED:
            _return_job_parts(job, user)
        elif _parts_due_now(job, repair_order):
            _issue_job_parts(job, user)
    return job


def recommendations_for(vehicle: Vehicle) -> QuerySet[Job]:
    """Work declined on earlier visits of a vehicle, newest first: to offer again."""
    return (
        Job.objects.recommendations()
        .for_vehicle(vehicle)
        .select_related("repair_order")
        .order_by("-authorized_at", "-id")
    )


# --------------------------------------------------------------------------------------------
# Workflow: one function per step
# --------------------------------------------------------------------------------------------


def approve_repair_order(repair_order: RepairOrder, *, user: User | None = None) -> RepairOrder:
    """estimate → approved: the customer approved at least one job (internal orders: all)."""
    with transaction.atomic():
        repair_order = _lock(repair_order)
        REPAIR_ORDER_PIPELINE.check(repair_order, Status.APPROVED)
        jobs = repair_order.jobs.all()
        if repair_order.internal:
            jobs.filter(authorization=Authorization.PENDING).update(
                authorization=Authorization.APPROVED,
                authorization_method=AuthorizationMethod.INTERNAL,
                authorized_by=_name(user) or "Internal",
                authorized_at=timezone.now(),
                authorization_recorded_by=user,
            )
        if not jobs.filter(authorization=Authorization.APPROVED).exists():
            raise RepairError(
                f"{repair_order.number} has no approved job: record the "
                "customer's approval of at least one job first."
            )
        _move(repair_order, Status.APPROVED, user)
    return repair_order


InPersonApproval = namedtuple("InPersonApproval", "jobs total approved_earlier")


def in_person_approval(repair_order: RepairOrder) -> InPersonApproval:
    """What the customer at the counter agrees to by approving in person, for the advisor to go
    through with them first: each job still waiting for a decision with its amount (labor and
    parts), the order's total once they are approved (fees and tax included, declined jobs
    left out) and how many jobs were approved earlier (in that total too). A fixed number of
    queries, whatever the number of jobs."""
    order = load_order(repair_order.pk)
    jobs = [
        {
            "id": job.pk,
            "position": job.position,
            "title": job.title,
            "amount": money(
                sum(line.amount for line in job.labor_lines.all())
                + sum(line.amount for line in job.part_lines.all())
            ),
        }
        for job in order.jobs.all()
        if job.authorization == Authorization.PENDING
    ]
    totals = order_totals(order, Rates.from_settings(ShopSettings.of(order.location_id)))
    approved_earlier = sum(
        1 for job in order.jobs.all() if job.authorization == Authorization.APPROVED
    )
    return InPersonApproval(jobs, totals.total, approved_earlier)


def approve_in_person(
    repair_order: RepairOrder,
    *,
    authorized_by: str = "",
    user: User | None = None,
    confirmed: InPersonApproval | None = None,
) -> RepairOrder:
    """estimate → approved, the customer at the counter approving every job still waiting for
    a decision (jobs decided earlier keep their decision).

    `confirmed` is what the customer was shown (in_person_approval): if the jobs waiting or the
    total have changed since, nothing is approved and the advisor is asked to look again."""
    with transaction.atomic():
        repair_order = _lock(repair_order)
        REPAIR_ORDER_PIPELINE.check(repair_order, Status.APPROVED)
        if repair_order.internal:
            raise RepairError(f"{repair_order.number} is internal: no customer approves it.")
        if confirmed is not None:
            now = in_person_approval(repair_order)
            if {job["id"] for job in now.jobs} != {job["id"] for job in confirmed.jobs} or (
                now.total != confirmed.total
            ):
                raise RepairError(
                    f"{repair_order.number} changed since the customer was shown its jobs and "
                    "total: nothing was approved. Go through them with the customer again."
                )
        name = authorized_by or customer_decision_name(repair_order, user)
        for job in repair_order.jobs.filter(authorization=Authorization.PENDING):
            authorize_job(
                job,
                Authorization.APPROVED,
                method=AuthorizationMethod.IN_PERSON,
                authorized_by=name,
                user=user,
            )
        return approve_repair_order(repair_order, user=user)


def start_work(repair_order: RepairOrder, *, user: User | None = None) -> RepairOrder:
    """approved → in_progress: the parts of approved jobs are issued from stock."""
    with transaction.atomic():
        repair_order = _lock(repair_order)
        REPAIR_ORDER_PIPELINE.check(repair_order, Status.IN_PROGRESS)
        _issue_lines(
            list(
                PartLine.objects.filter(
                    job__repair_order=repair_order, job__authorization=Authorization.APPROVED
                )
                .select_related("part", "job")
                .order_by("job__position", "id")
            ),
            user,
        )
        _move(repair_order, Status.IN_PROGRESS, user)
    return repair_order


def complete_work(repair_order: RepairOrder, *, user: User | None = None) -> RepairOrder:
    """in_progress → completed: every job decided and nobody still clocked in."""
    with transaction.atomic():
        repair_order = _lock(repair_order)
        REPAIR_ORDER_PIPELINE.check(repair_order, Status.COMPLETED)
        pending = list(
            repair_order.jobs.filter(authorization=Authorization.PENDING).values_list(
                "position", flat=True
            )
        )
        if pending:
            raise RepairError(
                f"Job {', '.join(map(str, pending))} of {repair_order.number} "
                "still waits for the customer's decision."
            )
        clocked = (
            TimeEntry.objects.filter(job__repair_order=repair_order, ended__isnull=True)
            .select_related("technician", "job")
            .first()
        )
        if clocked:
            raise RepairError(
                f"{clocked.technician} is still clocked in on job "
                f"{clocked.job.position}; clock out first."
            )
        _move(repair_order, Status.COMPLETED, user)
    return repair_order


def invoice_repair_order(repair_order: RepairOrder, *, user: User | None = None) -> Invoice:
    """completed → invoiced: write the invoice with the next number of the year and a frozen
    snapshot of the lines and totals. An invoice for nothing is paid at once."""
    with transaction.atomic():
        repair_order = _lock(repair_order)
        REPAIR_ORDER_PIPELINE.check(repair_order, Status.INVOICED)
        if repair_order.internal:
            raise RepairError(
                f"{repair_order.number} is internal: it is closed at cost, not invoiced."
            )
        shop = ShopSettings.of(repair_order.location_id)
        rates = Rates.from_settings(shop)
        order = load_order(repair_order.pk)
        totals = order_totals(order, rates)
        document = build_document(order, shop, rates=rates, totals=totals)
        now = timezone.now()
        year = timezone.localdate(now).year
        location = repair_order.location
        sequence = _next_number(DocumentSeries.INVOICE, year, location)
        invoice = Invoice.objects.create(
            repair_order=repair_order,
            # Only internal orders have no customer, and they were refused above.
            customer_id=cast(int, repair_order.customer_id),
            location=location,
            number=invoice_number(year, sequence, location_prefix(location)),
            year=year,
            sequence=sequence,
            issued_at=now,
            issued_by=user,
            labor_total=totals.labor,
            parts_total=totals.parts,
            discount_total=totals.discount,
            fees_total=totals.fees,
            tax_total=totals.tax,
            total=totals.total,
            snapshot=document,
        )
        webhooks.publish(
            INVOICE_CREATED,
            {
                "invoice": invoice.pk,
                "number": invoice.number,
                "repair_order": repair_order.pk,
                "customer": invoice.customer_id,
                "issued_at": invoice.issued_at,
                "total": invoice.total,
                "tax_total": invoice.tax_total,
            },
            customer=invoice.customer_id,
        )  # accounting partners, and partners linked to the payer
        _move(repair_order, Status.INVOICED, user, note=f"invoice {invoice.number}")
        if invoice.total == 0:
            _move(repair_order, Status.PAID, user, note="nothing to pay")
    return invoice


def invoice_balance(invoice: Invoice) -> Decimal:
    """What the customer still owes: total less credit notes and payments (negative: refund)."""
    annotated = Invoice.objects.with_balance().get(pk=invoice.pk)
    return money(annotated.balance_amount)


def record_payment(
    invoice: Invoice,
    amount: Decimal,
    method: str,
    *,
    reference: str = "",
    user: User | None = None,
    received_at: datetime | None = None,
) -> Payment:
    """Take a payment (partial or full) against an invoice. More than the balance is refused;
    the order becomes paid when nothing is left to pay."""
    try:
        amount = money(amount)
    except ArithmeticError:
        raise RepairError(f"{amount!r} is not an amount of money.") from None
    if amount <= 0:
        raise RepairError("A payment is for a positive amount.")
    if method not in Payment.Method.values:
        raise RepairError(f"{method!r} is not a payment method.")
    with transaction.atomic():
        repair_order = _lock(invoice.repair_order)
        if repair_order.status != Status.INVOICED:
            raise RepairError(
                f"{repair_order.number} is "
                f"{repair_order.get_status_display().lower()}: payments are taken "
                "on invoiced orders."
            )
        balance = invoice_balance(invoice)
        if amount > balance:
            raise RepairError(
                f"A payment of {amount} is more than the balance of {balance} on "
                f"invoice {invoice.number}."
            )
        payment = Payment.objects.create(
            invoice=invoice,
            amount=amount,
            method=method,
            reference=reference,
            received_by=user,
            received_at=received_at or timezone.now(),
        )
        if amount == balance:
            _move(repair_order, Status.PAID, user, note=f"paid by {payment.get_method_display()}")
    return payment


def issue_credit_note(
    invoice: Invoice, amount: Decimal, reason: str, *, user: User | None = None
) -> CreditNote:
    """Correct an invoice by a credit note with its own number; never by editing the invoice."""
    try:
        amount = money(amount)
    except ArithmeticError:
        raise RepairError(f"{amount!r} is not an amount of money.") from None
    reason = (reason or "").strip()
    if amount <= 0:
        raise RepairError("A credit note is for a positive amount.")
    if not reason:
        raise RepairError("A credit note needs a reason.")
    with transaction.atomic():
        repair_order = _lock(invoice.repair_order)
        annotated = Invoice.objects.with_balance().get(pk=invoice.pk)
        creditable = money(annotated.total - annotated.credited_amount)
        if amount > creditable:
            raise RepairError(f"Invoice {invoice.number} can be credited {creditable} at most.")
        now = timezone.now()
        year = timezone.localdate(now).year
        location = repair_order.location
        sequence = _next_number(DocumentSeries.CREDIT_NOTE, year, location)
        note = CreditNote.objects.create(
            invoice=invoice,
            location=location,
            number=credit_note_number(year, sequence, location_prefix(location)),
            year=year,
            sequence=sequence,
            amount=amount,
            reason=reason[:300],
            issued_at=now,
            issued_by=user,
        )
        if repair_order.status == Status.INVOICED and money(annotated.balance_amount) <= amount:
            _move(repair_order, Status.PAID, user, note=f"settled by credit note {note.number}")
    return note


def close_internal_order(repair_order: RepairOrder, *, user: User | None = None) -> RepairOrder:
    """completed → closed: an internal order's cost goes to the vehicle; no invoice."""
    with transaction.atomic():
        repair_order = _lock(repair_order)
        REPAIR_ORDER_PIPELINE.check(repair_order, Status.CLOSED)
        if not repair_order.internal:
            raise RepairError(f"{repair_order.number} is a customer's order: invoice it.")
        parts_cost, labor_cost = internal_cost(repair_order)
        _move(
            repair_order, Status.CLOSED, user, note=f"cost: parts {parts_cost}, labor {labor_cost}"
        )
    return repair_order


def cancel_repair_order(
    repair_order: RepairOrder, *, user: User | None = None, reason: str = ""
) -> RepairOrder:
    """estimate or approved → canceled: issued parts go back to stock."""
    with transaction.atomic():
        repair_order = _lock(repair_order)
        REPAIR_ORDER_PIPELINE.check(repair_order, Status.CANCELED)
        lines = (
            PartLine.objects.filter(job__repair_order=repair_order, issued_quantity__gt=0)
            .select_related("part")
            .order_by("id")
        )
        for line in lines:
            _return(line, user)
        _move(repair_order, Status.CANCELED, user, note=reason)
    return repair_order


# The steps people take, in workflow order: (key, label, function). The admin's actions on
# repair orders are these; each step's function checks REPAIR_ORDER_PIPELINE.
TRANSITIONS = (
    ("approve", "Approve", approve_repair_order),
    ("start", "Start work", start_work),
    ("complete", "Complete work", complete_work),
    ("invoice", "Invoice", invoice_repair_order),
    ("close_internal", "Close internal order at cost", close_internal_order),
    ("cancel", "Cancel", cancel_repair_order),
)


# --------------------------------------------------------------------------------------------
# Technicians' time
# --------------------------------------------------------------------------------------------

# Who may be given a job: the role whose members clock time.
TECHNICIAN_PERMISSION = "repairs.use_technician_screen"


def assign_job(job: Job, technician: User | None, *, user: User | None = None) -> Job:
    """Give a job to a technician (their labor lines on it), or take it back (None): it is then
    on every technician's screen as unassigned work.

    A job is assigned through its labor lines, the hours the technician is credited with; a
    job without labor has nothing to assign yet."""
    if technician is not None and not (
        technician.is_active and technician.has_perm(TECHNICIAN_PERMISSION)
    ):
        raise RepairError(f"{technician} is not an active technician.")
    with transaction.atomic():
        repair_order = _lock(job.repair_order)
        _check_editable(repair_order)
        job = Job.objects.get(pk=job.pk)
        if job.authorization == Authorization.DECLINED:
            raise RepairError(f"Job {job} was declined by the customer: nothing to assign.")
        lines = list(job.labor_lines.select_for_update())
        if not lines:
            raise RepairError(f"Job {job} has no labor line yet: add the labor, then assign it.")
        if technician is not None and not may_work_at(technician, repair_order.location_id):
            raise RepairError(
                f"{repair_order.number} is an order of {repair_order.location}, where "
                f"{_name(technician)} does not work."
            )
        for line in lines:
            if line.technician_id != getattr(technician, "pk", None):
                line.technician = technician
                # Saved row by row: the audit log records each change with who made it.
                line.save(update_fields=["technician"])
    return job


def clock_in(technician: User, job: Job, *, at: datetime | None = None) -> TimeEntry:
    """Start a technician's time on a job of an order in progress (one job at a time)."""
    with transaction.atomic():
        repair_order = _lock(job.repair_order)
        if repair_order.status != Status.IN_PROGRESS:
            raise RepairError(
                f"{repair_order.number} is "
                f"{repair_order.get_status_display().lower()}: time is clocked "
                "only on orders in progress."
            )
        if not may_work_at(technician, repair_order.location_id):
            raise RepairError(
                f"{repair_order.number} is an order of {repair_order.location}, where "
                f"{_name(technician)} does not work."
            )
        job = Job.objects.get(pk=job.pk)
        if job.authorization != Authorization.APPROVED:
            raise RepairError(f"Job {job.position} is not approved by the customer.")
        current = (
            TimeEntry.objects.filter(technician=technician, ended__isnull=True)
            .select_related("job__repair_order")
            .first()
        )
        if current:
            raise RepairError(
                f"{technician} is already clocked in on "
                f"{current.job.repair_order.number} job {current.job.position}; "
                "clock out first."
            )
        started = at or timezone.now()
        _check_not_future(started, "start")
        try:
            with transaction.atomic():
                entry = TimeEntry.objects.create(
                    technician=technician,
                    job=job,
                    started=started,
                    location_id=cast(int, repair_order.location_id),
                )
        except IntegrityError:
            raise RepairError(f"{technician} is already clocked in on a job.") from None
    return entry


def clock_out(technician: User, *, at: datetime | None = None) -> TimeEntry:
    """End the technician's open time entry."""
    with transaction.atomic():
        entry = (
            TimeEntry.objects.select_for_update()
            .filter(technician=technician, ended__isnull=True)
            .first()
        )
        if entry is None:
            raise RepairError(f"{technician} is not clocked in.")
        ended = at or timezone.now()
        _check_not_future(ended, "end")
        if ended < entry.started:
            raise RepairError("A time entry cannot end before it starts.")
        entry.ended = ended
        entry.save(update_fields=["ended"])
    return entry


# Time on these orders was billed (or costed): it is history, nobody changes it any more.
TIME_LOCKED_STATUSES = (Status.INVOICED, Status.PAID, Status.CLOSED, Status.CANCELED)
# Who may correct another technician's time, or time already clocked off (managers).
CORRECT_TIME_PERMISSION = "repairs.correct_timeentry"


def _check_not_future(moment: datetime | None, verb: str) -> None:
    now = timezone.now()
    if moment is not None and moment > now:
        raise RepairError(
            f"A time entry cannot {verb} in the future (it is now "
            f"{timezone.localtime(now):%Y-%m-%d %H:%M})."
        )


def check_time_entry_change(
    entry: TimeEntry,
    *,
    started: datetime,
    ended: datetime | None,
    user: User,
    repair_order: RepairOrder | None = None,
) -> None:
    """RepairError when `user` may not set `entry` to run from `started` to `ended`.

    A technician moves the start of their own open entry or clocks it off; correcting a closed
    entry or someone else's is a manager's step. Nothing starts or ends in the future, and the
    time of an invoiced, paid or closed order is locked. `entry` holds the stored values.
    """
    repair_order = repair_order or entry.job.repair_order
    if repair_order.status in TIME_LOCKED_STATUSES:
        raise RepairError(
            f"{repair_order.number} is {repair_order.get_status_display().lower()}"
            ": its time entries are locked."
        )
    if started is None:
        raise RepairError("A time entry needs its start.")
    _check_not_future(started, "start")
    _check_not_future(ended, "end")
    if ended is not None and ended < started:
        raise RepairError("A time entry cannot end before it starts.")
    if entry.ended is not None and ended is None:
        raise RepairError("A clocked-off entry stays closed; clock in again instead.")
    may_correct = user is not None and user.has_perm(CORRECT_TIME_PERMISSION)
    if entry.technician_id != getattr(user, "pk", None) and not may_correct:
        raise RepairError(
            f"This is {entry.technician}'s time: only a manager corrects "
            "another technician's entry."
        )
    if entry.ended is not None and not may_correct:
        raise RepairError(
            f"This entry was clocked off at "
            f"{timezone.localtime(entry.ended):%Y-%m-%d %H:%M}: only a manager "
            "corrects a closed entry."
        )


def change_time_entry(
    entry: TimeEntry, *, started: datetime, ended: datetime | None, user: User
) -> TimeEntry:
    """Move a time entry's start or end (see check_time_entry_change for who may do what).

    The audit log keeps the old and new times with who changed them."""
    with transaction.atomic():
        repair_order = _lock(entry.job.repair_order)
        stored = TimeEntry.objects.select_for_update().select_related("technician").get(pk=entry.pk)
        check_time_entry_change(
            stored, started=started, ended=ended, user=user, repair_order=repair_order
        )
        stored.started, stored.ended = started, ended
        stored.save(update_fields=["started", "ended"])
    return stored


def actual_hours(job: Job) -> Decimal:
    """Hours technicians clocked on a job (open entries count up to now)."""
    return sum((entry.hours for entry in job.time_entries.all()), ZERO)


# --------------------------------------------------------------------------------------------
# Deleting: only what is not yet part of the shop's record
# --------------------------------------------------------------------------------------------


def appointment_deletion_refusal(appointment: Appointment) -> str | None:
    """Why an appointment may not be deleted (it stays for the record), or None when it may be."""
    if appointment.status != AppointmentStatus.SCHEDULED:
        return (
            f"The appointment of {appointment.customer} on {appointment.date} is "
            f"{appointment.get_status_display().lower()}: it stays for the shop's history; "
            f"only a scheduled appointment is deleted (or canceled)."
        )
    return None


def job_deletion_refusal(job: Job) -> str | None:
    """Why a job may not be deleted (it stays for the record), or None when it may be."""
    order = job.repair_order
    if order.status not in EDITABLE_STATUSES:
        return (
            f"Job {job} is on {order.number}, which is "
            f"{order.get_status_display().lower()}: a job is removed only while its "
            f"order is open (estimate, approved or in progress)."
        )
    if job.time_entries.exists():
        return f"Technicians clocked time on job {job}: decline it instead of removing it."
    return None


def time_entry_deletion_refusal(entry: TimeEntry) -> str | None:
    """Why a time entry may not be deleted (it stays for the record), or None when it may be."""
    order = entry.job.repair_order
    if order.status not in EDITABLE_STATUSES:
        return (
            f"The time clocked on {order.number} stays: the order is "
            f"{order.get_status_display().lower()}, and its hours are the "
            f"technician's record."
        )
    return None
