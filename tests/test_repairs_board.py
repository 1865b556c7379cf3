"""The advisors' status board: waiting for the customer's approval and waiting for parts are
visible on each order, read from the data (undecided jobs; parts short in stock, and whether
they are on a purchase order); an advisor assigns a job to a technician from the board."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from accounts.roles import SERVICE_ADVISOR, TECHNICIAN
from inventory import services as inventory_services
from inventory.models import Supplier
from repairs import services
from repairs.models import LaborLine
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_order,
    make_part,
    make_staff,
    take_to,
)

pytestmark = pytest.mark.django_db

BOARD = "admin:repairs_repairorder_board"
ASSIGN = "admin:repairs_repairorder_board_assign"


@pytest.fixture
def desk(client):
    client.force_login(make_staff("sam", SERVICE_ADVISOR))
    return client


def card(response, order):
    """The board's order `order`, as the template got it."""
    return next(o for column in response.context["columns"] for o in column["orders"] if o == order)


def test_an_estimate_with_undecided_work_waits_for_approval(desk):
    waiting = make_order()
    add_job_with_lines(waiting, approve=False)
    decided = make_order()
    add_job_with_lines(decided)

    response = desk.get(reverse(BOARD))

    assert card(response, waiting).waiting_for_approval
    assert not card(response, decided).waiting_for_approval
    page = response.content.decode()
    assert page.count('data-state="approval"') == 1


def test_an_approved_order_with_a_part_short_in_stock_waits_for_parts_and_says_when_ordered(
    desk,
):
    short = make_part("RT-200", on_hand=0)
    stocked = make_part("OF-100", on_hand=5)
    waiting = make_order()
    add_job_with_lines(waiting, labor=[("1", "90")], parts=[(short, 2, None)])
    take_to(waiting, "approved")
    ready = make_order()
    add_job_with_lines(ready, labor=[("1", "90")], parts=[(stocked, 2, None)])
    take_to(ready, "in_progress")

    response = desk.get(reverse(BOARD))

    assert card(response, waiting).waiting_for_parts
    assert not card(response, waiting).parts_on_order
    assert not card(response, ready).waiting_for_parts
    assert "Waiting for parts</span>" in response.content.decode()

    supplier = Supplier.objects.create(name="Main Street NAPA")
    purchase = inventory_services.create_purchase_order(supplier, [(short, 2)])
    inventory_services.place_purchase_order(purchase)

    response = desk.get(reverse(BOARD))
    assert card(response, waiting).parts_on_order
    assert "Waiting for parts (on order)" in response.content.decode()


def test_the_advisor_assigns_a_job_to_a_technician_from_the_board(desk):
    terry = make_staff("terry", TECHNICIAN)
    order = make_order()
    job = add_job_with_lines(order, labor=[("1", "90"), ("0.5", "90")])
    take_to(order, "approved")
    page = desk.get(reverse(BOARD)).content.decode()
    assert f'id="board-job-{job.pk}"' in page and f'<option value="{terry.pk}"' in page

    response = desk.post(reverse(ASSIGN), {"job": job.pk, "technician": terry.pk}, follow=True)

    assert set(LaborLine.objects.filter(job=job).values_list("technician", flat=True)) == {terry.pk}
    assert f"{order.number} job {job} assigned to {terry}" in response.content.decode()
    for line in LaborLine.objects.filter(job=job):
        change = LogEntry.objects.get_for_object(line).latest("timestamp")
        assert change.actor.username == "sam" and "technician" in change.changes_dict

    desk.post(reverse(ASSIGN), {"job": job.pk, "technician": ""})
    assert set(LaborLine.objects.filter(job=job).values_list("technician", flat=True)) == {None}


def test_assigning_to_someone_who_is_not_a_technician_is_refused_and_changes_nothing(desk):
    sam = make_staff("sally", SERVICE_ADVISOR)
    order = make_order()
    job = add_job_with_lines(order, labor=[("1", "90")])

    response = desk.post(reverse(ASSIGN), {"job": job.pk, "technician": sam.pk}, follow=True)

    assert "is not an active technician" in response.content.decode()
    assert LaborLine.objects.get(job=job).technician is None


def test_a_job_without_labor_cannot_be_assigned(desk):
    terry = make_staff("terry", TECHNICIAN)
    order = make_order()
    job = services.add_job(order, title="Look at the noise")

    response = desk.post(reverse(ASSIGN), {"job": job.pk, "technician": terry.pk}, follow=True)

    assert "has no labor line yet" in response.content.decode()


def test_a_technician_may_not_assign_jobs(client):
    terry = make_staff("terry", TECHNICIAN)
    order = make_order()
    job = add_job_with_lines(order, labor=[("1", "90")], technician=terry)
    take_to(order, "in_progress")
    client.force_login(terry)

    page = client.get(reverse(BOARD)).content.decode()
    response = client.post(reverse(ASSIGN), {"job": job.pk, "technician": ""})

    assert reverse(ASSIGN) not in page
    assert response.status_code == 403
    assert LaborLine.objects.get(job=job).technician == terry


def test_assigning_is_a_post_only(desk):
    assert desk.get(reverse(ASSIGN)).status_code == 405


def test_the_board_costs_the_same_queries_with_one_order_or_forty(
    desk, django_assert_max_num_queries
):
    terry = make_staff("terry", TECHNICIAN)
    part = make_part("RT-200", on_hand=0)

    def orders(count):
        for _ in range(count):
            order = make_order()
            add_job_with_lines(order, labor=[("1", "90")], parts=[(part, 1, None)])
            add_job_with_lines(order, title="Oil", labor=[("0.5", "90")], technician=terry)
            take_to(order, "approved")
            add_job_with_lines(make_order(), approve=False)

    orders(1)
    desk.get(reverse(BOARD))
    with django_assert_max_num_queries(16) as one:
        desk.get(reverse(BOARD))
    orders(20)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = desk.get(reverse(BOARD))
    assert sum(len(column["orders"]) for column in response.context["columns"]) == 42
