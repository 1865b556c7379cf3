"""Demo data for the service shop: canned jobs, repair orders in every status (with invoices,
payments, time clocked, a cancellation, a comeback, declined work), two internal orders on the
business's own vehicles, and appointments for today and tomorrow. The second shop (East Side
Service, when the accounts demo made it) gets its own orders, invoices and appointments, worked
by its own advisor and technician and numbered in its own series (EAST-RO-...).

Everything goes through repairs.services, so the demo obeys the same rules as real work.
"""

import datetime
import random
from decimal import Decimal

from auditlog.context import disable_auditlog
from django.db.models import F
from django.utils import timezone

from inventory import services as inventory_services
from inventory.models import Part, Vehicle
from inventory.vin import check_digit
from repairs import inspections, services
from repairs.choices import Authorization, AuthorizationMethod, PaymentMethod
from repairs.models import (
    Appointment,
    CannedJob,
    CannedJobLabor,
    CannedJobPart,
    InspectionTemplate,
    Invoice,
    Payment,
    RepairOrder,
    RepairOrderEvent,
    TimeEntry,
)

# Used only when inventory's demo did not provide vehicles and parts.
SAMPLE_VEHICLES = [
    ("1HGCM82633A004352", "Honda", "Accord", 2003),
    ("1FTFW1ET5DFC10312", "Ford", "F-150", 2013),
    ("2T1BURHE0JC074363", "Toyota", "Corolla", 2018),
]
SAMPLE_PARTS = [
    # sku, description, cost, price, taxable
    ("OF-4967", "Oil filter", "3.80", "9.95", True),
    ("OIL-5W30-QT", "Engine oil 5W-30, quart", "4.10", "8.49", True),
    ("BP-F-1210", "Front brake pads, ceramic", "31.17", "69.95", True),
    ("BR-F-5521", "Front brake rotor", "38.40", "84.50", True),
    ("WB-22", "Wiper blade 22 in", "6.25", "17.99", True),
    ("CAF-118", "Cabin air filter", "7.10", "24.95", True),
    ("BAT-H6", "Battery group H6", "98.00", "189.00", True),
    ("CORE-BAT", "Battery core charge", "0.00", "18.00", False),
]
CANNED = [
    # name, complaint, correction, [(operation, hours)], [(sku, qty)]
    (
        "Oil and filter change",
        "Due for oil service",
        "Changed oil and filter, reset reminder",
        [("Drain oil, replace filter, refill", "0.5")],
        [("OF-4967", 1), ("OIL-5W30-QT", 5)],
    ),
    (
        "Front brake pads and rotors",
        "Brakes squeal / pulsate",
        "Replaced front pads and rotors",
        [("R&R front pads and rotors", "1.8")],
        [("BP-F-1210", 1), ("BR-F-5521", 2)],
    ),
    (
        "Replace wiper blades",
        "Wipers streak",
        "Replaced both wiper blades",
        [("R&R wiper blades", "0.2")],
        [("WB-22", 2)],
    ),
    (
        "Cabin air filter",
        "Musty smell from vents",
        "Replaced cabin air filter",
        [("R&R cabin air filter", "0.3")],
        [("CAF-118", 1)],
    ),
    (
        "Battery replacement",
        "Slow crank",
        "Tested and replaced battery",
        [("Test charging system", "0.3"), ("R&R battery", "0.4")],
        [("BAT-H6", 1), ("CORE-BAT", 1)],
    ),
]
CONCERNS = [
    "Check engine light on",
    "Noise from front end over bumps",
    "A/C blows warm",
    "Pulls to the right",
    "Oil leak under the car",
    "Due for 60k service",
    "Brakes squeal when stopping",
    "Vibration at highway speed",
]
DECLINED = [
    ("Timing belt due", "Recommended at 105k miles"),
    ("Rear tires worn", "3/32 in tread left"),
    ("Coolant flush", "Coolant tested weak"),
]

# How many orders of the second shop end in each status at scale 1.
EAST_PLAN = [
    ("estimate", 2),
    ("approved", 1),
    ("in_progress", 2),
    ("completed", 1),
    ("invoiced", 2),
    ("paid", 3),
]
# How many orders end in each status at scale 1 (40 in all with the two internal ones).
PLAN = [
    ("estimate", 6),
    ("approved", 5),
    ("in_progress", 7),
    ("completed", 5),
    ("invoiced", 6),
    ("paid", 8),
    ("canceled", 1),
]


def _vin_variant(base, serial):
    vin = base[:11] + f"{serial:06d}"
    return vin[:8] + check_digit(vin) + vin[9:]


def _vehicles(rng, scale, context):
    vehicles = list(context.get("vehicles") or [])
    owned = [v for v in vehicles if v.owner_id]
    business = [v for v in vehicles if v.owner_id is None]
    customers = context.get("customers") or []
    if len(owned) < 12 * scale and customers:
        for index in range(12 * scale - len(owned)):
            base, make, model, year = SAMPLE_VEHICLES[index % len(SAMPLE_VEHICLES)]
            vin = base if index < len(SAMPLE_VEHICLES) else _vin_variant(base, 500000 + index)
            vehicle, _ = Vehicle.objects.get_or_create(
                vin=vin,
                defaults={
                    "make": make,
                    "model": model,
                    "model_year": year,
                    "owner": customers[index % len(customers)],
                    "plate": f"DEM{index:04d}",
                },
            )
            owned.append(vehicle)
    while len(business) < 2:
        base, make, model, year = SAMPLE_VEHICLES[len(business) % len(SAMPLE_VEHICLES)]
        vehicle, _ = Vehicle.objects.get_or_create(
            vin=_vin_variant(base, 900000 + len(business)),
            defaults={"make": make, "model": model, "model_year": year},
        )
        business.append(vehicle)
    return owned, business


def _parts(context):
    parts = {part.sku: part for part in context.get("parts") or []}
    for sku, description, cost, price, taxable in SAMPLE_PARTS:
        if sku in parts:
            continue
        part, created = Part.objects.get_or_create(
            sku=sku,
            defaults={
                "description": description,
                "unit_cost": Decimal(cost),
                "price_override": Decimal(price),
                "taxable": taxable,
            },
        )
        if created:
            inventory_services.adjust_stock(part, 400, reason="demo opening stock")
        parts[sku] = part
    return parts


def _canned_jobs(parts):
    jobs = []
    for name, complaint, correction, labor, used in CANNED:
        canned, created = CannedJob.objects.get_or_create(
            name=name, defaults={"complaint": complaint, "correction": correction}
        )
        if created:
            for operation, hours in labor:
                CannedJobLabor.objects.create(
                    canned_job=canned, operation=operation, hours=Decimal(hours)
                )
            for sku, quantity in used:
                if sku in parts:
                    CannedJobPart.objects.create(
                        canned_job=canned, part=parts[sku], quantity=quantity
                    )
        jobs.append(canned)
    return jobs


def _approve_all(order, advisor, rng):
    for job in order.jobs.filter(authorization=Authorization.PENDING):
        method = rng.choice(
            [AuthorizationMethod.IN_PERSON, AuthorizationMethod.PHONE, AuthorizationMethod.ONLINE]
        )
        services.authorize_job(
            job,
            Authorization.APPROVED,
            method=method,
            authorized_by=services.customer_decision_name(order, advisor),
            user=advisor,
        )


def _clock(order, techs, rng, start):
    """Time on each approved job, one technician at a time, closed."""
    moment = start
    for job in order.jobs.filter(authorization=Authorization.APPROVED):
        tech = rng.choice(techs)
        services.clock_in(tech, job, at=moment)
        moment += datetime.timedelta(minutes=rng.randint(20, 150))
        services.clock_out(tech, at=moment)
        moment += datetime.timedelta(minutes=5)


def _backdate(order, days_ago, rng):
    """Spread the demo over the past weeks: the order and its history move back in time."""
    shift = datetime.timedelta(days=days_ago, hours=rng.randint(0, 6))
    for event in order.events.all():
        RepairOrderEvent.objects.filter(pk=event.pk).update(at=event.at - shift)
    RepairOrder.objects.filter(pk=order.pk).update(
        opened_at=order.opened_at - shift, status_changed_at=order.status_changed_at - shift
    )
    Invoice.objects.filter(repair_order=order).update(issued_at=F("issued_at") - shift)
    Payment.objects.filter(invoice__repair_order=order).update(received_at=F("received_at") - shift)
    TimeEntry.objects.filter(job__repair_order=order).update(
        started=F("started") - shift, ended=F("ended") - shift
    )


def _build_order(
    rng, vehicle, status, canned, users, *, comeback_of=None, location=None, staff=None
):
    """An order of `location` (the default one when None) taken to `status`; `staff` is
    (advisor, technicians) working there (the default location's demo staff when None)."""
    if staff is None:
        staff = users.get("advisor"), [u for u in (users.get("tech"), users.get("tech2")) if u]
    advisor, techs = staff
    order = services.create_repair_order(
        vehicle,
        location=location,
        advisor=advisor,
        user=advisor,
        comeback_of=comeback_of,
        odometer_in=rng.randint(8000, 160000),
        promised_at=timezone.now() + datetime.timedelta(hours=rng.randint(2, 48)),
    ).repair_order
    for template in rng.sample(canned, min(len(canned), rng.randint(1, 3))):
        services.add_canned_job(
            order, template, technician=rng.choice(techs) if techs else None, user=advisor
        )
    if not order.internal and rng.random() < 0.35:
        title, complaint = rng.choice(DECLINED)
        declined = services.add_job(order, title=title, complaint=complaint, user=advisor)
        services.add_labor_line(
            declined,
            operation=title,
            hours_sold=Decimal("2.5"),
            technician=rng.choice(techs) if techs else None,
            user=advisor,
        )
        if status != "estimate":
            services.authorize_job(
                declined,
                Authorization.DECLINED,
                method=AuthorizationMethod.PHONE,
                authorized_by=services.customer_decision_name(order),
                user=advisor,
            )
    if status == "estimate":
        return order
    if status == "canceled":
        services.cancel_repair_order(order, user=advisor, reason="Customer chose another shop")
        return order
    _approve_all(order, advisor, rng)
    services.approve_repair_order(order, user=advisor)
    if status == "approved":
        return order
    services.start_work(order, user=advisor)
    if status == "in_progress":
        return order
    if techs:
        _clock(order, techs, rng, timezone.now() - datetime.timedelta(hours=8))
    services.complete_work(order, user=advisor)
    if status == "completed":
        return order
    if order.internal:
        services.close_internal_order(order, user=advisor)
        return order
    invoice = services.invoice_repair_order(order, user=advisor)
    balance = services.invoice_balance(invoice)
    if balance > 0:
        method = rng.choice(PaymentMethod.values)
        if status == "paid":
            services.record_payment(invoice, balance, method, user=advisor)
        elif rng.random() < 0.5:
            services.record_payment(
                invoice, (balance / 2).quantize(Decimal("0.01")), method, user=advisor
            )
    return order


def seed(rng, scale, context):
    # Demo rows need no audit trail of their own making, and writing it triples the time.
    with disable_auditlog():
        summary = _seed(rng, scale, context)
        _link_fleet_partner()
        return summary


def _link_fleet_partner():
    """The demo fleet partner follows the customers of a few customer orders."""
    from accounts.models import Partner

    fleet = Partner.objects.filter(kind=Partner.Kind.FLEET).order_by("pk").first()
    if fleet is None:
        return
    orders = (
        RepairOrder.objects.filter(internal=False, customer__isnull=False)
        .select_related("vehicle")
        .order_by("pk")
    )
    owners = {order.customer_id for order in orders if order.vehicle.owner_id == order.customer_id}
    fleet.customers.add(*sorted(owners)[:4])


def _seed(rng, scale, context):
    users = context.get("users") or {}
    owned, business = _vehicles(rng, scale, context)
    parts = _parts(context)
    canned = _canned_jobs(parts)
    if not owned:
        return f"{len(canned)} canned jobs (no customers to repair cars for)"

    orders = []
    statuses = [status for status, count in PLAN for _ in range(count * scale)]
    rng.shuffle(statuses)
    for index, status in enumerate(statuses):
        vehicle = owned[index % len(owned)]
        order = _build_order(rng, vehicle, status, canned, users)
        _backdate(order, rng.randint(0, 45) if status not in ("estimate", "approved") else 0, rng)
        orders.append(order)

    # A comeback: the vehicle of a paid order is back with the same trouble.
    earlier = RepairOrder.objects.filter(pk__in=[o.pk for o in orders], status="paid").first()
    if earlier is not None:
        orders.append(
            _build_order(
                rng, earlier.vehicle, "in_progress", canned[:1], users, comeback_of=earlier
            )
        )

    # Internal orders recondition the business's own vehicles, at cost.
    internal = [
        _build_order(rng, business[0], "in_progress", canned, users),
        _build_order(rng, business[1], "completed", canned, users),
    ]
    services.close_internal_order(internal[1], user=users.get("advisor"))
    orders += internal

    # A technician on the clock right now.
    tech = users.get("tech")
    running = (
        RepairOrder.objects.filter(
            pk__in=[o.pk for o in orders], status="in_progress", internal=False
        )
        .order_by("pk")
        .first()
    )
    if tech and running:
        services.clock_in(tech, running.jobs.filter(authorization=Authorization.APPROVED).first())

    inspected = _inspect_an_estimate(orders, users)

    appointments = []
    today = timezone.localdate()
    customers_vehicles = [v for v in owned if v.owner_id]
    for day, count in ((today, 5 * scale), (today + datetime.timedelta(days=1), 4 * scale)):
        for index in range(count):
            vehicle = rng.choice(customers_vehicles)
            appointments.append(
                Appointment.objects.create(
                    # One booking per slot: a quarter hour from 8:00, each hour filled in turn.
                    date=day,
                    time=datetime.time(8 + index % 9, index // 9 % 4 * 15),
                    customer=vehicle.owner,
                    vehicle=vehicle,
                    concern=rng.choice(CONCERNS),
                    advisor=users.get("advisor"),
                )
            )

    east = (context.get("locations") or {}).get("east")
    if east is not None:
        # Its own generator, a copy of this one: the default location's data stays as it was.
        east_rng = random.Random()  # noqa: S311 - demo data, not a secret
        east_rng.setstate(rng.getstate())
        east_orders, east_appointments = _seed_second_shop(
            east_rng, scale, east, owned, parts, canned, users
        )
        orders += east_orders
        appointments += east_appointments

    context["repair_orders"] = orders
    context["internal_repair_orders"] = internal
    return (
        f"{len(canned)} canned jobs, {len(orders)} repair orders "
        f"({Invoice.objects.count()} invoiced), {len(appointments)} appointments"
        + (", an inspection" if inspected else "")
        + (f"; {len(east_orders)} of the orders at {east}" if east is not None else "")
    )


def _seed_second_shop(rng, scale, east, owned, parts, canned, users):
    """East Side Service: its own orders (the group's customers, its own staff and rates), a
    technician on the clock there, and its appointments for today and tomorrow."""
    advisor, tech = users.get("eastadvisor"), users.get("easttech")
    if advisor is None or tech is None:
        return [], []
    # Its shelves hold what the canned jobs use (the inventory demo stocked its own catalogue).
    for sku in {item.part.sku for job in canned for item in job.parts.select_related("part")}:
        if inventory_services.on_hand_at(parts[sku], east) < 60 * scale:
            inventory_services.adjust_stock(
                parts[sku], 60 * scale, reason="demo opening stock", location=east
            )
    orders = []
    statuses = [status for status, count in EAST_PLAN for _ in range(count * scale)]
    rng.shuffle(statuses)
    vehicles = owned[::-1]
    for index, status in enumerate(statuses):
        order = _build_order(
            rng,
            vehicles[index % len(vehicles)],
            status,
            canned,
            users,
            location=east,
            staff=(advisor, [tech]),
        )
        _backdate(order, rng.randint(0, 30) if status not in ("estimate", "approved") else 0, rng)
        orders.append(order)
    running = next((o for o in orders if o.status == "in_progress"), None)
    if running is not None:
        job = running.jobs.filter(authorization=Authorization.APPROVED).first()
        if job is not None:
            services.clock_in(tech, job)

    appointments = []
    today = timezone.localdate()
    customers_vehicles = [v for v in owned if v.owner_id]
    for day, count in ((today, 3 * scale), (today + datetime.timedelta(days=1), 2 * scale)):
        for index in range(count):
            vehicle = rng.choice(customers_vehicles)
            appointments.append(
                Appointment.objects.create(
                    location=east,
                    date=day,
                    time=datetime.time(8 + index % 9, index // 9 % 4 * 15),
                    customer=vehicle.owner,
                    vehicle=vehicle,
                    concern=rng.choice(CONCERNS),
                    advisor=advisor,
                )
            )
    return orders, appointments


# What the demo's technician found on the first estimate's multi-point inspection.
FINDINGS = {
    "Brake pads and rotors": ("urgent", None, "Front pads at 2 mm, rotors scored."),
    "Wiper blades": ("attention", None, "Streaking on the driver's side."),
    "Tread depth left front": ("attention", "4", ""),
    "Tread depth right front": ("attention", "4", ""),
    "Tread depth right rear": ("good", "7", ""),
    "Tread depth left rear": ("good", "7", ""),
}


def _inspect_an_estimate(orders, users):
    """A multi-point inspection on the first customer's estimate: most points good, the brakes
    urgent and made a job waiting for the customer (no photo: the demo writes no files)."""
    template = InspectionTemplate.objects.filter(name="Multi-point inspection").first()
    order = next((o for o in orders if o.status == "estimate" and not o.internal), None)
    if template is None or order is None:
        return None
    inspection = inspections.start_inspection(order, template, user=users.get("tech"))
    for item in inspection.items.all():
        rating, measurement, notes = FINDINGS.get(item.label, ("good", None, ""))
        inspections.rate_item(item, rating=rating, measurement=measurement, notes=notes)
    brakes = inspection.items.get(label="Brake pads and rotors")
    inspections.recommend_job(brakes, user=users.get("advisor"))
    return inspection
