"""Reminders and follow-ups from the manager's rules: what send_reminders would send, what it
sends, and that running it twice sends nothing twice."""

import datetime
import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory.models import OdometerReading
from messaging import defaults
from messaging.choices import Channel, RuleKind, Status
from messaging.models import Message, MessageTemplate, OptOut, ReminderRule
from messaging.reminders import estimated_mileage_date
from repairs import services as repair_services
from repairs.choices import Authorization, AuthorizationMethod
from repairs.models import Appointment, Job, RepairOrder
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_customer,
    make_order,
    make_vehicle,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_templates(db):
    """The templates the migration seeds (a transactional test's flush may have taken them)."""
    defaults.seed(MessageTemplate)


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MESSAGING_BASE_URL = "https://shop.example.com"


def customer(name="Garcia", *, consent=True, email=None):
    return make_customer(
        last_name=name, email=email or f"{name.lower()}@example.com", consent_reminders=consent
    )


def visit(vehicle, days_ago, odometer=None):
    order = make_order(vehicle, customer=vehicle.owner, odometer_in=odometer)
    RepairOrder.objects.filter(pk=order.pk).update(
        opened_at=timezone.now() - timedelta(days=days_ago)
    )
    return order


def run(*args):
    out = io.StringIO()
    call_command("send_reminders", *args, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def test_dry_run_lists_what_would_go_out_and_sends_nothing(mailoutbox):
    ReminderRule.objects.create(
        name="Six months", kind=RuleKind.SERVICE_DUE_DATE, interval_days=180
    )
    due = make_vehicle(owner=customer("Due"))
    visit(due, 181)
    visit(make_vehicle(owner=customer("Early")), 100)
    visit(make_vehicle(owner=customer("Refused", consent=False)), 181)
    out = run("--dry-run")
    assert out["dry_run"] is True
    assert [(row["customer"], row["outcome"]) for row in out["reminders"]] == [
        (str(due.owner), "would send")
    ]
    assert not Message.objects.exists() and mailoutbox == []


def test_running_twice_sends_each_reminder_once(mailoutbox, django_capture_on_commit_callbacks):
    ReminderRule.objects.create(
        name="Six months", kind=RuleKind.SERVICE_DUE_DATE, interval_days=180
    )
    vehicle = make_vehicle(owner=customer())
    visit(vehicle, 182)
    with django_capture_on_commit_callbacks(execute=True):
        first = run()
    with django_capture_on_commit_callbacks(execute=True):
        second = run()
    assert [row["outcome"] for row in first["reminders"]] == ["sent"]
    assert [row["outcome"] for row in second["reminders"]] == ["already sent"]
    assert len(mailoutbox) == 1
    message = Message.objects.get()
    assert message.status == Status.SENT and "is due for service" in message.body
    assert "opt-out" in message.body


def test_the_opted_out_and_the_unreachable_are_left_out(mailoutbox):
    ReminderRule.objects.create(
        name="Six months", kind=RuleKind.SERVICE_DUE_DATE, interval_days=180
    )
    out_customer = customer("Gone")
    OptOut.objects.create(customer=out_customer)
    visit(make_vehicle(owner=out_customer), 181)
    no_mail = make_customer(last_name="Nomail", consent_reminders=True)
    visit(make_vehicle(owner=no_mail), 181)
    rows = run()["reminders"]
    assert [row["outcome"] for row in rows] == ["skipped: The customer has no email address."]
    assert not Message.objects.exists()


def test_service_due_by_mileage_uses_the_rate_the_odometer_readings_show():
    readings = [
        OdometerReading(pk=1, reading=10000, read_on=datetime.date(2026, 1, 1)),
        OdometerReading(pk=2, reading=11000, read_on=datetime.date(2026, 2, 10)),
    ]
    # 1,000 miles in 40 days: 25 a day; 13,000 is 2,000 further, 80 days after the last one.
    assert estimated_mileage_date(readings, 13000) == datetime.date(2026, 5, 1)
    assert estimated_mileage_date(readings, 10500) == datetime.date(2026, 2, 10)
    assert estimated_mileage_date(readings[:1], 13000) is None


def test_service_due_by_mileage_sends_when_the_estimate_passes_the_interval(mailoutbox):
    ReminderRule.objects.create(
        name="5,000 miles", kind=RuleKind.SERVICE_DUE_MILEAGE, interval_miles=5000
    )
    vehicle = make_vehicle(owner=customer())
    visit(vehicle, 200, odometer=20000)
    today = timezone.localdate()
    OdometerReading.objects.create(
        vehicle=vehicle, reading=20000, read_on=today - timedelta(days=200)
    )
    OdometerReading.objects.create(
        vehicle=vehicle, reading=24000, read_on=today - timedelta(days=40)
    )
    # 4,000 miles in 160 days: 25 a day; the last 1,000 to 25,000 took 40 days: due today.
    rows = run()["reminders"]
    assert [(row["about"], row["outcome"]) for row in rows] == [
        (f"{vehicle.model_year} {vehicle.make} {vehicle.model} at about 25000 miles", "sent")
    ]
    assert run()["reminders"][0]["outcome"] == "already sent"


def test_declined_work_is_followed_up_after_n_days_and_appointments_the_day_before():
    ReminderRule.objects.create(
        name="Declined", kind=RuleKind.DECLINED_FOLLOWUP, interval_days=30, channel=Channel.SMS
    )
    ReminderRule.objects.create(name="Tomorrow", kind=RuleKind.APPOINTMENT_REMINDER)
    owner = customer()
    vehicle = make_vehicle(owner=owner)
    order = make_order(vehicle, customer=owner)
    job = add_job_with_lines(order, title="Rear shocks", labor=[("2", "100")], approve=False)
    repair_services.authorize_job(
        job, Authorization.DECLINED, method=AuthorizationMethod.IN_PERSON, authorized_by="M"
    )
    Job.objects.filter(pk=job.pk).update(authorized_at=timezone.now() - timedelta(days=31))
    Appointment.objects.create(
        date=timezone.localdate() + timedelta(days=1),
        time=datetime.time(9, 30),
        customer=owner,
        vehicle=vehicle,
        concern="Noise",
    )
    rows = run()["reminders"]
    assert sorted((row["rule"], row["outcome"]) for row in rows) == [
        ("Declined", "sent"),
        ("Tomorrow", "sent"),
    ]
    texts = {message.kind: message for message in Message.objects.all()}
    assert "Rear shocks" in texts["declined_followup"].body
    assert texts["declined_followup"].to == "+12175550142"
    assert "Reply STOP" in texts["declined_followup"].body
    assert "09:30" in texts["appointment_reminder"].body


def shop_evening(days_ago):
    """22:00 in the shop's time zone, `days_ago` shop days before today: in New York that is
    already the next day in UTC."""
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(22)))


def test_a_visit_late_in_the_evening_is_due_on_the_shops_day_not_the_utc_one():
    ReminderRule.objects.create(
        name="Six months", kind=RuleKind.SERVICE_DUE_DATE, interval_days=180
    )
    vehicle = make_vehicle(owner=customer())
    order = make_order(vehicle, customer=vehicle.owner)
    RepairOrder.objects.filter(pk=order.pk).update(opened_at=shop_evening(180))
    rows = run("--dry-run")["reminders"]
    assert [(row["due"], row["outcome"]) for row in rows] == [
        (timezone.localdate().isoformat(), "would send")
    ]


def test_declined_work_decided_late_in_the_evening_is_due_on_the_shops_day():
    ReminderRule.objects.create(
        name="Declined", kind=RuleKind.DECLINED_FOLLOWUP, interval_days=30, channel=Channel.SMS
    )
    owner = customer()
    order = make_order(make_vehicle(owner=owner), customer=owner)
    job = add_job_with_lines(order, title="Rear shocks", labor=[("2", "100")], approve=False)
    repair_services.authorize_job(
        job, Authorization.DECLINED, method=AuthorizationMethod.IN_PERSON, authorized_by="M"
    )
    Job.objects.filter(pk=job.pk).update(authorized_at=shop_evening(30))
    rows = run("--dry-run")["reminders"]
    assert [(row["due"], row["outcome"]) for row in rows] == [
        (timezone.localdate().isoformat(), "would send")
    ]
