"""The repair order workflow: every step allowed from the right status and refused otherwise,
each one timestamped; opening orders, appointments, canned jobs, comebacks, internal orders."""

import datetime
from decimal import Decimal as D

import pytest
from django.utils import timezone

from repairs import services
from repairs.choices import AppointmentStatus, Authorization, AuthorizationMethod
from repairs.exceptions import RepairError, TransitionNotAllowed
from repairs.models import Appointment, CannedJob, CannedJobLabor, CannedJobPart, RepairOrder
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_customer,
    make_order,
    make_part,
    make_vehicle,
    set_rates,
    take_to,
)

pytestmark = pytest.mark.django_db

S = RepairOrder.Status


@pytest.fixture
def order():
    order = make_order()
    add_job_with_lines(order, labor=[("1.0", "100.00")])
    return order


def _steps(order):
    return [(e.from_status, e.to_status) for e in order.events.all()]


def test_an_order_goes_from_estimate_to_paid_and_every_step_is_timestamped(order):
    take_to(order, "completed")
    invoice = services.invoice_repair_order(order)
    services.record_payment(invoice, invoice.total, "card")
    order.refresh_from_db()
    assert order.status == S.PAID
    assert _steps(order) == [
        ("", "estimate"),
        ("estimate", "approved"),
        ("approved", "in_progress"),
        ("in_progress", "completed"),
        ("completed", "invoiced"),
        ("invoiced", "paid"),
    ]
    times = [event.at for event in order.events.all()]
    assert times == sorted(times)
    assert order.status_changed_at == times[-1]


ALLOWED = {
    "approve": {S.ESTIMATE},
    "start": {S.APPROVED},
    "complete": {S.IN_PROGRESS},
    "invoice": {S.COMPLETED},
    "cancel": {S.ESTIMATE, S.APPROVED},
}
FUNCTIONS = {key: function for key, _label, function in services.TRANSITIONS}
REACH = {
    S.ESTIMATE: [],
    S.APPROVED: ["approve"],
    S.IN_PROGRESS: ["approve", "start"],
    S.COMPLETED: ["approve", "start", "complete"],
    S.INVOICED: ["approve", "start", "complete", "invoice"],
    S.CANCELED: ["cancel"],
}


@pytest.mark.parametrize("step", sorted(ALLOWED))
@pytest.mark.parametrize("status", list(REACH))
def test_each_step_runs_only_from_its_statuses(order, step, status):
    for previous in REACH[status]:
        FUNCTIONS[previous](order)
    order.refresh_from_db()
    events_before = order.events.count()
    if status in ALLOWED[step]:
        FUNCTIONS[step](order)
        order.refresh_from_db()
        assert order.events.count() == events_before + 1
    else:
        with pytest.raises(TransitionNotAllowed, match=order.number):
            FUNCTIONS[step](order)
        order.refresh_from_db()
        assert order.status == status
        assert order.events.count() == events_before


def test_refusal_says_what_the_order_is_and_when_the_step_is_possible(order):
    take_to(order, "in_progress")
    with pytest.raises(TransitionNotAllowed) as refused:
        services.cancel_repair_order(order)
    assert str(refused.value) == (
        f"{order.number} is in progress: it can be canceled only when estimate or approved."
    )


def test_an_estimate_without_an_approved_job_cannot_be_approved():
    order = make_order()
    add_job_with_lines(order, approve=False)
    with pytest.raises(RepairError, match="no approved job"):
        services.approve_repair_order(order)
    order.refresh_from_db()
    assert order.status == S.ESTIMATE


def test_work_cannot_be_completed_while_a_job_waits_for_the_customer(order):
    take_to(order, "in_progress")
    add_job_with_lines(order, title="Wipers", approve=False)
    with pytest.raises(RepairError, match="still waits for the customer's decision"):
        services.complete_work(order)


def test_work_cannot_be_completed_while_a_technician_is_clocked_in(order):
    from tests.helpers.builders.repairs import make_staff

    take_to(order, "in_progress")
    tech = make_staff("terry")
    services.clock_in(tech, order.jobs.get())
    with pytest.raises(RepairError, match="still clocked in"):
        services.complete_work(order)
    services.clock_out(tech)
    services.complete_work(order)


def test_a_second_open_order_for_the_same_vehicle_comes_with_a_warning(order):
    second = services.create_repair_order(order.vehicle)
    assert second.repair_order.pk
    assert len(second.warnings) == 1
    assert order.number in second.warnings[0]
    services.cancel_repair_order(order)
    services.cancel_repair_order(second.repair_order)
    assert services.create_repair_order(order.vehicle).warnings == []


def test_order_numbers_follow_each_other_within_the_year(order):
    second = make_order()
    year = timezone.localdate().year
    assert order.number == f"RO-{year}-00001"
    assert second.number == f"RO-{year}-00002"


def test_an_appointment_becomes_an_estimate_with_the_customer_concern_as_first_job():
    customer = make_customer()
    vehicle = make_vehicle(owner=customer)
    appointment = Appointment.objects.create(
        date=timezone.localdate(),
        time=datetime.time(9, 30),
        customer=customer,
        vehicle=vehicle,
        concern="Squeal when braking\nmostly in the morning",
    )
    created = services.create_repair_order_from_appointment(appointment)
    order = created.repair_order
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONVERTED
    assert order.appointment == appointment
    job = order.jobs.get()
    assert job.title == "Squeal when braking"
    assert job.complaint == "Squeal when braking\nmostly in the morning"
    with pytest.raises(RepairError, match="only scheduled appointments"):
        services.create_repair_order_from_appointment(appointment)


def test_a_canned_job_is_added_in_one_step_with_labor_at_the_shop_rate_and_parts_priced():
    set_rates(labor_rate="110.00")
    oil = make_part("OIL-5W30", price="6.25")
    canned = CannedJob.objects.create(
        name="Oil change", complaint="Due for service", correction="Changed oil and filter"
    )
    CannedJobLabor.objects.create(canned_job=canned, operation="Drain and refill", hours="0.5")
    CannedJobPart.objects.create(canned_job=canned, part=oil, quantity=5)
    order = make_order()
    job = services.add_canned_job(order, canned)
    labor = job.labor_lines.get()
    part_line = job.part_lines.get()
    assert (job.title, job.correction) == ("Oil change", "Changed oil and filter")
    assert (labor.hours_sold, labor.rate, labor.amount) == (D("0.50"), D("110.00"), D("55.00"))
    assert (part_line.quantity, part_line.price, part_line.unit_cost) == (5, D("6.25"), D("4.00"))
    assert job.authorization == Authorization.PENDING


def test_a_comeback_links_to_the_earlier_order_of_the_same_vehicle(order):
    take_to(order, "completed")
    comeback = services.create_repair_order(order.vehicle, comeback_of=order).repair_order
    assert comeback.comeback_of == order
    assert list(order.comebacks.all()) == [comeback]
    other = make_order()
    with pytest.raises(RepairError, match="another vehicle"):
        services.create_repair_order(other.vehicle, comeback_of=order)


def test_declined_jobs_stay_on_the_vehicle_as_recommendations():
    order = make_order()
    add_job_with_lines(order, title="Brakes")
    belt = add_job_with_lines(order, title="Timing belt", approve=False)
    services.authorize_job(
        belt, Authorization.DECLINED, method=AuthorizationMethod.PHONE, authorized_by="Maria Garcia"
    )
    belt.refresh_from_db()
    assert (belt.authorized_by, belt.authorization_method) == ("Maria Garcia", "phone")
    assert belt.authorized_at is not None
    assert list(services.recommendations_for(order.vehicle)) == [belt]
    assert list(services.recommendations_for(make_vehicle())) == []


def test_a_decision_needs_to_say_who_gave_it(order):
    job = add_job_with_lines(order, title="Wipers", approve=False)
    with pytest.raises(RepairError, match="who gave the decision"):
        services.authorize_job(
            job, Authorization.APPROVED, method=AuthorizationMethod.PHONE, authorized_by=" "
        )
    job.refresh_from_db()
    assert job.authorization == Authorization.PENDING


class TestInternalOrders:
    def test_a_business_vehicle_gets_an_internal_order_closed_at_cost_without_invoice(self):
        set_rates(parts_tax_rate="8", labor_rate="100")
        vehicle = make_vehicle(owner=None)
        part = make_part("PAD-9", cost="30.00", price="55.00")
        order = make_order(vehicle)
        assert order.internal and order.customer is None
        job = add_job_with_lines(order, labor=[("2.0", "100.00")], parts=[(part, 2, None)])
        assert job.authorization == Authorization.APPROVED  # no customer to ask
        assert job.part_lines.get().price == D("30.00")  # parts at cost
        take_to(order, "completed")
        with pytest.raises(RepairError, match="closed at cost, not invoiced"):
            services.invoice_repair_order(order)
        services.close_internal_order(order)
        order.refresh_from_db()
        assert order.status == S.CLOSED
        assert services.internal_cost(order) == (D("60.00"), D("200.00"))

    def test_a_customer_order_cannot_be_closed_at_cost(self, order):
        take_to(order, "completed")
        with pytest.raises(RepairError, match="invoice it"):
            services.close_internal_order(order)

    def test_a_customer_vehicle_cannot_get_an_internal_order(self):
        vehicle = make_vehicle(owner=make_customer())
        with pytest.raises(RepairError, match="only the business's own vehicles"):
            services.create_repair_order(vehicle, internal=True, customer=None)
        assert not RepairOrder.objects.exists()

    def test_a_canceled_internal_order_cost_nothing(self):
        order = make_order(make_vehicle(owner=None))
        add_job_with_lines(order, labor=[("1", "100")])
        services.cancel_repair_order(order)
        assert services.internal_cost(order) == (D("0"), D("0"))
