"""Reminders and follow-ups the shop sends by itself, from the rules a manager sets up
(ReminderRule), run by `python manage.py send_reminders` (daily timer).

Each message a rule would send has a key made of the rule, the target (vehicle, declined job,
appointment) and the due date (or the mileage due): the key is the message's idempotency key,
unique in the database, so running the command twice sends nothing twice. A rule looks back
REMINDER_LOOKBACK_DAYS for what fell due (so a day the timer missed is caught up), never
further: a new rule does not write to every customer about years-old visits.

Only customers who agreed to reminders (Customer.consent_reminders) and did not opt out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Max, Prefetch, Q
from django.utils import timezone

from accounts.models import Customer
from inventory.models import OdometerReading, Vehicle
from messaging import services
from messaging.choices import RULE_MESSAGE_KIND, RuleKind
from messaging.exceptions import MessagingError
from messaging.models import Message, ReminderRule
from messaging.orders import vehicle_label
from repairs.choices import AppointmentStatus, RepairOrderStatus
from repairs.models import Appointment, Job, RepairOrder

# Readings older than this do not tell how much a car is driven now.
MILEAGE_HISTORY = timedelta(days=730)


@dataclass
class Planned:
    rule: ReminderRule
    customer: Customer
    key: str
    about: str
    due: date
    values: dict[str, str] = field(default_factory=dict)
    outcome: str = ""


def _reachable(prefix: str = "") -> Q:
    return Q(**{f"{prefix}consent_reminders": True, f"{prefix}opt_out__isnull": True})


def _visits():
    return RepairOrder.objects.filter(internal=False).exclude(status=RepairOrderStatus.CANCELED)


def _service_due_by_date(rule: ReminderRule, today: date, lookback: int) -> list[Planned]:
    days = rule.interval_days or 0
    newest = today - timedelta(days=days)
    oldest = newest - timedelta(days=lookback)
    vehicles = (
        Vehicle.objects.filter(owner__isnull=False)
        .filter(_reachable("owner__"))
        .annotate(last_visit=Max("repair_orders__opened_at", filter=Q(repair_orders__in=_visits())))
        .filter(last_visit__date__gt=oldest, last_visit__date__lte=newest)
        .select_related("owner")
        .order_by("pk")
    )
    planned = []
    for vehicle in vehicles:
        if vehicle.owner is None:  # filtered out above
            continue
        # The shop's day of the visit, as the filter above counts it (not the UTC date).
        due = timezone.localdate(vehicle.last_visit) + timedelta(days=days)
        planned.append(
            Planned(
                rule,
                vehicle.owner,
                f"reminder:{rule.pk}:vehicle:{vehicle.pk}:{due.isoformat()}",
                vehicle_label(vehicle),
                due,
                {"vehicle": vehicle_label(vehicle), "due_date": due.isoformat()},
            )
        )
    return planned


def estimated_mileage_date(readings, target: int) -> date | None:
    """The day the odometer reaches `target`, from the rate the readings show (miles a day
    between the first and the last of them); None when they cannot tell (fewer than two days,
    no miles driven)."""
    readings = sorted(readings, key=lambda reading: (reading.read_on, reading.pk))
    if len(readings) < 2:
        return None
    first, last = readings[0], readings[-1]
    days = (last.read_on - first.read_on).days
    if days <= 0 or last.reading <= first.reading:
        return None
    if last.reading >= target:
        return next(reading.read_on for reading in readings if reading.reading >= target)
    per_day = (last.reading - first.reading) / days
    return last.read_on + timedelta(days=math.ceil((target - last.reading) / per_day))


def _service_due_by_mileage(rule: ReminderRule, today: date, lookback: int) -> list[Planned]:
    miles = rule.interval_miles or 0
    since = today - MILEAGE_HISTORY
    vehicles = (
        Vehicle.objects.filter(owner__isnull=False)
        .filter(_reachable("owner__"))
        .annotate(last_visit=Max("repair_orders__opened_at", filter=Q(repair_orders__in=_visits())))
        .filter(last_visit__isnull=False)
        .select_related("owner")
        .prefetch_related(
            Prefetch(
                "readings",
                queryset=OdometerReading.objects.filter(read_on__gte=since),
                to_attr="recent_readings",
            )
        )
        .order_by("pk")
    )
    planned = []
    for vehicle in vehicles:
        if vehicle.owner is None:  # filtered out above
            continue
        visit = (
            _visits()
            .filter(vehicle=vehicle, odometer_in__isnull=False)
            .order_by("-opened_at", "-id")
            .values_list("odometer_in", flat=True)
            .first()
        )
        if visit is None:
            continue
        target = visit + miles
        due = estimated_mileage_date(vehicle.recent_readings, target)
        if due is None or due > today or due <= today - timedelta(days=lookback):
            continue
        planned.append(
            Planned(
                rule,
                vehicle.owner,
                f"reminder:{rule.pk}:vehicle:{vehicle.pk}:miles:{target}",
                f"{vehicle_label(vehicle)} at about {target} miles",
                due,
                {"vehicle": vehicle_label(vehicle), "due_date": f"about {target} miles"},
            )
        )
    return planned


def _declined_followups(rule: ReminderRule, today: date, lookback: int) -> list[Planned]:
    days = rule.interval_days or 0
    newest = today - timedelta(days=days)
    oldest = newest - timedelta(days=lookback)
    jobs = (
        Job.objects.recommendations()
        .filter(authorized_at__date__gt=oldest, authorized_at__date__lte=newest)
        .filter(repair_order__customer__isnull=False)
        .filter(_reachable("repair_order__customer__"))
        .select_related("repair_order__customer", "repair_order__vehicle")
        .order_by("pk")
    )
    planned = []
    for job in jobs:
        due = timezone.localdate(job.authorized_at) + timedelta(days=days)
        vehicle = vehicle_label(job.repair_order.vehicle)
        planned.append(
            Planned(
                rule,
                job.repair_order.customer,
                f"reminder:{rule.pk}:job:{job.pk}:{due.isoformat()}",
                f"{job.title} on {vehicle}",
                due,
                {"vehicle": vehicle, "job_title": job.title, "due_date": due.isoformat()},
            )
        )
    return planned


def _appointment_reminders(rule: ReminderRule, today: date, lookback: int) -> list[Planned]:
    tomorrow = today + timedelta(days=1)
    appointments = (
        Appointment.objects.filter(status=AppointmentStatus.SCHEDULED, date=tomorrow)
        .filter(_reachable("customer__"))
        .select_related("customer", "vehicle")
        .order_by("time", "pk")
    )
    return [
        Planned(
            rule,
            appointment.customer,
            f"reminder:{rule.pk}:appointment:{appointment.pk}:{appointment.date.isoformat()}",
            f"{vehicle_label(appointment.vehicle)} on {appointment.date} {appointment.time:%H:%M}",
            appointment.date,
            {
                "vehicle": vehicle_label(appointment.vehicle),
                "appointment_date": appointment.date.isoformat(),
                "appointment_time": f"{appointment.time:%H:%M}",
                "due_date": appointment.date.isoformat(),
            },
        )
        for appointment in appointments
    ]


FINDERS = {
    RuleKind.SERVICE_DUE_DATE: _service_due_by_date,
    RuleKind.SERVICE_DUE_MILEAGE: _service_due_by_mileage,
    RuleKind.DECLINED_FOLLOWUP: _declined_followups,
    RuleKind.APPOINTMENT_REMINDER: _appointment_reminders,
}


def plan(today: date) -> list[Planned]:
    """Every message the active rules call for on `today`."""
    lookback = settings.REMINDER_LOOKBACK_DAYS
    planned: list[Planned] = []
    for rule in ReminderRule.objects.filter(is_active=True).select_related("location"):
        planned.extend(FINDERS[RuleKind(rule.kind)](rule, today, lookback))
    return planned


def run(today: date, *, dry_run: bool = False) -> list[Planned]:
    """Send what the rules call for (or, dry, say what would be sent). Each Planned gets its
    outcome: "sent" (queued to the worker), "would send", "already sent" or "skipped: why"."""
    planned = plan(today)
    done = set(
        Message.objects.filter(idempotency_key__in=[item.key for item in planned]).values_list(
            "idempotency_key", flat=True
        )
    )
    for item in planned:
        if item.key in done:
            item.outcome = "already sent"
            continue
        try:
            services.address_for(item.customer, item.rule.channel)
            if dry_run:
                item.outcome = "would send"
                continue
            _message, created = services.request_message(
                item.customer,
                RULE_MESSAGE_KIND[RuleKind(item.rule.kind)],
                item.rule.channel,
                item.values,
                idempotency_key=item.key,
                location=item.rule.location,
            )
        except MessagingError as exc:
            item.outcome = f"skipped: {exc}"
            continue
        item.outcome = "sent" if created else "already sent"
    return planned
