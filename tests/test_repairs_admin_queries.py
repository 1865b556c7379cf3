"""The service shop's admin pages cost the same number of queries with 1 row or 50: nothing is
fetched row by row (lists, change pages with their inlines, the board and the day view)."""

import datetime

import pytest
from auditlog.context import disable_auditlog
from django.urls import reverse
from django.utils import timezone

from accounts.roles import SERVICE_ADVISOR
from repairs import services
from repairs.models import Appointment
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_customer,
    make_order,
    make_part,
    make_staff,
    make_vehicle,
    set_rates,
    take_to,
)

pytestmark = pytest.mark.django_db

SIZES = [1, 50]


@pytest.fixture
def advisor_client(client):
    client.force_login(make_staff("sam", SERVICE_ADVISOR))
    return client


@disable_auditlog()
def _orders(count, tech, status="in_progress"):
    set_rates(hazardous_waste_fee="3.50")
    part = make_part("BP-1", on_hand=10 * count)
    orders = []
    for _ in range(count):
        order = make_order()
        add_job_with_lines(
            order, labor=[("1.0", "100.00")], parts=[(part, 1, None)], technician=tech
        )
        if status != "estimate":
            take_to(order, status)
        orders.append(order)
    return orders


@disable_auditlog()
def _one_order_with_jobs(count, tech):
    set_rates(hazardous_waste_fee="3.50")
    part = make_part("BP-1", on_hand=10 * count)
    order = make_order()
    for index in range(count):
        add_job_with_lines(
            order,
            title=f"Job {index}",
            labor=[("1.0", "100.00")],
            parts=[(part, 1, None)],
            technician=tech,
        )
    return take_to(order, "in_progress")


@disable_auditlog()
def _one_job_with_lines(count, tech):
    order = make_order()
    job = add_job_with_lines(order, labor=[("0.5", "100.00")] * count, technician=tech)
    for index in range(count):
        part = make_part(f"P-{index}", on_hand=5)
        services.add_part_line(job, part, 1)
    take_to(order, "in_progress")
    services.clock_in(tech, job)
    return job


# Lists of orders and their work share one set of rows per size: page name -> query ceiling.
LISTS = {"repairorder": 12, "job": 10, "laborline": 10, "partline": 10}


@pytest.mark.parametrize("rows", SIZES)
def test_lists_of_orders_jobs_and_lines_and_the_board(
    client, tech, rows, django_assert_max_num_queries
):
    orders = _orders(rows, tech)
    services.clock_in(tech, orders[0].jobs.get())
    client.force_login(make_staff("sam", SERVICE_ADVISOR))
    for name, ceiling in LISTS.items():
        with django_assert_max_num_queries(ceiling):
            response = client.get(reverse(f"admin:repairs_{name}_changelist"))
        assert len(response.context["cl"].result_list) == rows, name
    with django_assert_max_num_queries(12):
        response = client.get(reverse("admin:repairs_repairorder_board"))
    assert sum(len(column["orders"]) for column in response.context["columns"]) == rows

    client.force_login(tech)
    for name in (*LISTS, "timeentry"):
        with django_assert_max_num_queries(12):
            response = client.get(reverse(f"admin:repairs_{name}_changelist"))
        assert response.status_code == 200, name
        assert len(response.context["cl"].result_list) == (1 if name == "timeentry" else rows), name


@pytest.mark.parametrize("rows", SIZES)
def test_repair_order_page_with_its_jobs(advisor_client, tech, rows, django_assert_max_num_queries):
    order = _one_order_with_jobs(rows, tech)
    with django_assert_max_num_queries(24):
        response = advisor_client.get(reverse("admin:repairs_repairorder_change", args=[order.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("Job page: decision, time") == rows
    # Every job's labor and parts are edited on the order's page, read in the same queries.
    assert page.count('name="jobs-0-labor_lines-0-operation"') == 1
    assert f'name="jobs-{rows - 1}-part_lines-0-quantity"' in page


@pytest.mark.parametrize("rows", SIZES)
def test_job_page_with_its_lines(advisor_client, tech, rows, django_assert_max_num_queries):
    job = _one_job_with_lines(rows, tech)
    with django_assert_max_num_queries(22):
        response = advisor_client.get(reverse("admin:repairs_job_change", args=[job.pk]))
    assert response.status_code == 200
    assert response.content.decode().count('name="part_lines-') >= rows


@pytest.mark.parametrize("rows", SIZES)
def test_invoice_and_payment_lists_and_invoice_page(
    advisor_client, tech, rows, django_assert_max_num_queries
):
    invoices = [
        services.invoice_repair_order(order) for order in _orders(rows, tech, status="completed")
    ]
    for invoice in invoices:
        services.record_payment(invoice, "10.00", "cash")
    with django_assert_max_num_queries(10):
        response = advisor_client.get(reverse("admin:repairs_invoice_changelist"))
    assert len(response.context["cl"].result_list) == rows
    with django_assert_max_num_queries(10):
        response = advisor_client.get(reverse("admin:repairs_payment_changelist"))
    assert len(response.context["cl"].result_list) == rows
    with django_assert_max_num_queries(12):
        response = advisor_client.get(
            reverse("admin:repairs_invoice_change", args=[invoices[0].pk])
        )
    assert response.status_code == 200


@pytest.mark.parametrize("rows", SIZES)
def test_appointment_list_and_day_view(advisor_client, rows, django_assert_max_num_queries):
    today = timezone.localdate()
    for index in range(rows):
        customer = make_customer(last_name=f"Customer {index}")
        vehicle = make_vehicle(owner=customer)
        appointment = Appointment.objects.create(
            # One booking per slot (day and time).
            date=today,
            time=datetime.time(8 + index % 9, index // 9 * 5),
            customer=customer,
            vehicle=vehicle,
            concern="Noise",
        )
        if index % 2:
            services.create_repair_order_from_appointment(appointment)
    with django_assert_max_num_queries(12):
        response = advisor_client.get(reverse("admin:repairs_appointment_changelist"))
    assert len(response.context["cl"].result_list) == rows
    with django_assert_max_num_queries(8):
        response = advisor_client.get(reverse("admin:repairs_appointment_day"))
    assert len(response.context["appointments"]) == rows


@pytest.mark.parametrize("rows", SIZES)
def test_print_page_of_an_estimate(advisor_client, tech, rows, django_assert_max_num_queries):
    order = _one_order_with_jobs(rows, tech)
    # One of them reads the customer's signed approvals, printed at the end.
    with django_assert_max_num_queries(11):
        response = advisor_client.get(reverse("admin:repairs_repairorder_print", args=[order.pk]))
    assert response.status_code == 200
