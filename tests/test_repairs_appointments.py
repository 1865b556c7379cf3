"""Booking appointments: the customer's own vehicle, never a day already gone, one booking per
slot (a day and a time); a booking with someone else's car never becomes that customer's bill."""

import datetime
from html import unescape

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from repairs import services
from repairs.choices import AppointmentStatus
from repairs.exceptions import RepairError
from repairs.models import Appointment, RepairOrder
from tests.helpers.barrier import run_together
from tests.helpers.builders.repairs import make_customer, make_vehicle

pytestmark = pytest.mark.django_db

NOT_DANAS = "is not a vehicle of Lee, Dana: it belongs to Garcia, Maria"

TOMORROW = datetime.timedelta(days=1)
NINE = datetime.time(9, 0)


@pytest.fixture
def dana():
    return make_customer("Lee", "Dana", phone="(217) 555-0100")


@pytest.fixture
def maria():
    return make_customer()


def _booking(customer, vehicle, *, date=None, time=NINE, **fields):
    return Appointment(
        date=date or timezone.localdate() + TOMORROW,
        time=time,
        customer=customer,
        vehicle=vehicle,
        concern="Brakes squeal",
        **fields,
    )


def _form(customer, vehicle, *, date=None, time=NINE, status="scheduled"):
    date = date or timezone.localdate() + TOMORROW
    return {
        "date": f"{date:%Y-%m-%d}",
        "time": f"{time:%H:%M}",
        "customer": customer.pk,
        "vehicle": vehicle.pk,
        "concern": "Brakes squeal",
        "advisor": "",
        "status": status,
    }


# Services ---------------------------------------------------------------------------------------


def test_a_booking_is_for_a_vehicle_the_customer_owns(dana, maria):
    marias_car = make_vehicle(owner=maria)
    with pytest.raises(RepairError, match=NOT_DANAS):
        services.save_appointment(_booking(dana, marias_car))
    business_car = make_vehicle(owner=None)
    with pytest.raises(RepairError, match="Lee, Dana: it is the business's own"):
        services.save_appointment(_booking(dana, business_car))
    assert not Appointment.objects.exists()
    services.save_appointment(_booking(dana, make_vehicle(owner=dana)))
    assert Appointment.objects.count() == 1


def test_a_booking_whose_car_was_sold_since_can_still_be_marked_a_no_show(dana, maria):
    car = make_vehicle(owner=dana)
    booked = services.save_appointment(_booking(dana, car))
    car.owner = maria
    car.save()
    booked.status = AppointmentStatus.NO_SHOW
    services.save_appointment(booked)
    assert Appointment.objects.get().status == AppointmentStatus.NO_SHOW
    # Giving the booking to the new owner's car is checked as a new link.
    booked.vehicle = make_vehicle(owner=maria)
    with pytest.raises(RepairError, match=NOT_DANAS):
        services.save_appointment(booked)


def test_a_booking_with_another_customers_car_never_becomes_a_repair_order(dana, maria):
    # Booked before the rule (or written straight to the table): refused when it is converted.
    appointment = Appointment.objects.create(
        date=timezone.localdate(),
        time=NINE,
        customer=dana,
        vehicle=make_vehicle(owner=maria),
        concern="Oil change",
    )
    with pytest.raises(RepairError, match=NOT_DANAS):
        services.create_repair_order_from_appointment(appointment)
    assert not RepairOrder.objects.exists()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.SCHEDULED


def test_a_day_already_gone_is_refused_on_booking_but_a_past_booking_can_still_be_closed(dana):
    car = make_vehicle(owner=dana)
    yesterday = timezone.localdate() - TOMORROW
    with pytest.raises(RepairError, match=f"{yesterday:%Y-%m-%d} is in the past"):
        services.save_appointment(_booking(dana, car, date=yesterday))
    assert not Appointment.objects.exists()
    # Yesterday's booking (made the day before) is marked a no-show today.
    booked = Appointment.objects.create(
        date=yesterday, time=NINE, customer=dana, vehicle=car, concern="Brakes"
    )
    booked.status = AppointmentStatus.NO_SHOW
    services.save_appointment(booked)
    assert Appointment.objects.get().status == AppointmentStatus.NO_SHOW
    # ... but not moved to another day already gone.
    booked.date = yesterday - TOMORROW
    with pytest.raises(RepairError, match="is in the past"):
        services.save_appointment(booked)
    assert Appointment.objects.get().date == yesterday


def test_a_slot_holds_one_scheduled_booking(dana, maria):
    services.save_appointment(_booking(maria, make_vehicle(owner=maria)))
    danas_car = make_vehicle(owner=dana)
    day = timezone.localdate() + TOMORROW
    with pytest.raises(
        RepairError,
        match=f"Garcia, Maria is already booked on {day:%Y-%m-%d} at 09:00: choose another time",
    ):
        services.save_appointment(_booking(dana, danas_car))
    assert Appointment.objects.count() == 1
    services.save_appointment(_booking(dana, danas_car, time=datetime.time(9, 30)))
    # A canceled booking frees its slot.
    Appointment.objects.filter(customer=maria).update(status=AppointmentStatus.CANCELED)
    services.save_appointment(_booking(dana, make_vehicle(owner=dana)))
    assert Appointment.objects.filter(status=AppointmentStatus.SCHEDULED).count() == 2


# Through the admin ------------------------------------------------------------------------------


@pytest.fixture
def advisor_client(client, advisor):
    client.force_login(advisor)
    return client


def test_the_admin_refuses_another_customers_vehicle_with_a_message(advisor_client, dana, maria):
    response = advisor_client.post(
        reverse("admin:repairs_appointment_add"), _form(dana, make_vehicle(owner=maria))
    )
    assert response.status_code == 200
    assert NOT_DANAS in unescape(response.content.decode())
    assert not Appointment.objects.exists()


def test_the_admin_refuses_a_past_day_and_a_taken_slot_with_a_message(advisor_client, dana, maria):
    car = make_vehicle(owner=dana)
    yesterday = timezone.localdate() - TOMORROW
    response = advisor_client.post(
        reverse("admin:repairs_appointment_add"), _form(dana, car, date=yesterday)
    )
    assert f"{yesterday:%Y-%m-%d} is in the past" in unescape(response.content.decode())
    assert not Appointment.objects.exists()

    services.save_appointment(_booking(maria, make_vehicle(owner=maria)))
    response = advisor_client.post(reverse("admin:repairs_appointment_add"), _form(dana, car))
    assert (
        "Another appointment is already booked on this day at this time: choose another time."
    ) in unescape(response.content.decode())
    assert Appointment.objects.count() == 1

    response = advisor_client.post(
        reverse("admin:repairs_appointment_add"), _form(dana, car, time=datetime.time(10, 0))
    )
    assert response.status_code == 302
    assert Appointment.objects.filter(customer=dana).count() == 1


def test_the_vehicle_picker_lists_only_the_chosen_customers_vehicles(advisor_client, dana, maria):
    danas = make_vehicle(owner=dana, make="Mazda")
    marias = make_vehicle(owner=maria, make="Ford")
    picker = {
        "app_label": "repairs",
        "model_name": "appointment",
        "field_name": "vehicle",
        "term": "",
    }

    def listed(**extra):
        response = advisor_client.get(reverse("admin:autocomplete"), {**picker, **extra})
        return {int(row["id"]) for row in response.json()["results"]}

    assert listed() == {danas.pk, marias.pk}  # no customer chosen yet
    assert listed(vehicle_owner=dana.pk) == {danas.pk}
    assert listed(vehicle_owner=maria.pk, term=marias.vin[-6:]) == {marias.pk}
    assert listed(vehicle_owner=dana.pk, term=marias.vin[-6:]) == set()
    page = advisor_client.get(reverse("admin:repairs_appointment_add")).content.decode()
    assert "repairs/admin/appointment_vehicle.js" in page


def test_the_database_holds_one_scheduled_booking_per_slot(dana, maria):
    services.save_appointment(_booking(maria, make_vehicle(owner=maria)))
    with pytest.raises(IntegrityError), transaction.atomic():
        _booking(dana, make_vehicle(owner=dana)).save()
    assert Appointment.objects.count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_advisors_booking_one_slot_at_the_same_moment_get_one_booking(dana, maria):
    bookings = [
        _booking(dana, make_vehicle(owner=dana)),
        _booking(maria, make_vehicle(owner=maria)),
    ]
    outcomes = run_together(
        *(lambda booking=booking: services.save_appointment(booking) for booking in bookings)
    )

    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"]
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, RepairError)
    assert "is already booked on" in str(error) and "choose another time" in str(error)
    assert Appointment.objects.filter(status=AppointmentStatus.SCHEDULED).count() == 1
