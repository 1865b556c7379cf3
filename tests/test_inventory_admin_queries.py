"""Admin pages of the inventory keep the same number of queries with 1 row and with 50.

Each ceiling is what the page needs today (session, user, permissions, the page's own queries)
plus two; a query per row would blow it at 50 rows.
"""

import random
from datetime import date, timedelta

import pytest
from django.urls import reverse

from accounts.roles import MANAGER, SERVICE_ADVISOR
from inventory import services
from inventory.demo import NORTH_AMERICAN, make_vin
from inventory.models import Part, PurchaseOrder, Supplier
from tests.helpers.builders.inventory import make_customer, make_part, make_staff, make_supplier

pytestmark = pytest.mark.django_db

ROWS = (1, 50)


@pytest.fixture
def advisor_client(client):
    client.force_login(make_staff("advisor", SERVICE_ADVISOR))
    return client


def vehicles(count):
    rng, used = random.Random(count), set()
    customers = [make_customer(f"Owner{index}") for index in range(3)]
    return [
        services.create_vehicle(
            make_vin(rng, NORTH_AMERICAN[index % 6][0], 2015, used),
            owner=customers[index % 3],
            plate=f"P{index:05d}",
        )
        for index in range(count)
    ]


def parts(count, supplier=None):
    suppliers = (
        [supplier] if supplier else [make_supplier(f"Supplier {index}") for index in range(3)]
    )
    return Part.objects.bulk_create(
        Part(
            sku=f"SKU-{index:04d}",
            description=f"Part {index}",
            unit_cost="12.50",
            reorder_point=2,
            supplier=suppliers[index % len(suppliers)],
        )
        for index in range(count)
    )


def get(client, url, params=None):
    response = client.get(url, params or {})
    assert response.status_code == 200
    return response


# -- lists ------------------------------------------------------------------------------------
@pytest.mark.parametrize("rows", ROWS)
def test_vehicle_list(advisor_client, django_assert_max_num_queries, rows):
    vehicles(rows)
    with django_assert_max_num_queries(9):
        response = get(advisor_client, reverse("admin:inventory_vehicle_changelist"))
    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", ROWS)
def test_vehicle_search(advisor_client, django_assert_max_num_queries, rows):
    vehicles(rows)
    with django_assert_max_num_queries(9):
        get(advisor_client, reverse("admin:inventory_vehicle_changelist"), {"q": "Owner0"})


@pytest.mark.parametrize("rows", ROWS)
def test_part_list(advisor_client, django_assert_max_num_queries, rows):
    parts(rows)
    with django_assert_max_num_queries(11):
        response = get(advisor_client, reverse("admin:inventory_part_changelist"))
    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", ROWS)
def test_low_stock_list(advisor_client, django_assert_max_num_queries, rows):
    parts(rows)
    with django_assert_max_num_queries(11):
        response = get(advisor_client, reverse("admin:inventory_part_changelist"), {"stock": "low"})
    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", ROWS)
def test_stock_movement_list(advisor_client, django_assert_max_num_queries, rows):
    for part in parts(rows):
        services.receive_part(part, 3, "4.00")
    with django_assert_max_num_queries(10):
        response = get(advisor_client, reverse("admin:inventory_stockmovement_changelist"))
    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", ROWS)
def test_purchase_order_list(advisor_client, django_assert_max_num_queries, rows):
    supplier = make_supplier()
    part_rows = parts(2, supplier)
    for _ in range(rows):
        services.create_purchase_order(supplier, [(part_rows[0], 2), (part_rows[1], 1)])
    with django_assert_max_num_queries(11):
        response = get(advisor_client, reverse("admin:inventory_purchaseorder_changelist"))
    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", ROWS)
def test_supplier_list(advisor_client, django_assert_max_num_queries, rows):
    for index in range(rows):
        make_supplier(f"Supplier {index}")
    with django_assert_max_num_queries(8):
        response = get(advisor_client, reverse("admin:inventory_supplier_changelist"))
    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", ROWS)
def test_receipt_list(advisor_client, django_assert_max_num_queries, rows):
    supplier = make_supplier()
    part = parts(1, supplier)[0]
    order = services.create_purchase_order(supplier, [(part, rows)])
    services.place_purchase_order(order)
    line = order.lines.get()
    for _ in range(rows):
        services.receive_purchase_order(order, {line.pk: 1})
    with django_assert_max_num_queries(10):
        response = get(advisor_client, reverse("admin:inventory_purchasereceipt_changelist"))
    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", ROWS)
def test_odometer_reading_list(advisor_client, django_assert_max_num_queries, rows):
    vehicle = vehicles(1)[0]
    for index in range(rows):
        services.record_odometer(vehicle, 100 * index, date(2020, 1, 1) + timedelta(days=index))
    with django_assert_max_num_queries(10):
        response = get(advisor_client, reverse("admin:inventory_odometerreading_changelist"))
    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", ROWS)
def test_order_line_and_receipt_line_lists(client, django_assert_max_num_queries, rows):
    client.force_login(make_staff("manager", MANAGER))
    supplier = make_supplier()
    order = services.create_purchase_order(supplier, [(part, 2) for part in parts(rows, supplier)])
    services.place_purchase_order(order)
    services.receive_purchase_order(order)
    for name in ("purchaseorderline", "purchasereceiptline"):
        with django_assert_max_num_queries(10):
            response = get(client, reverse(f"admin:inventory_{name}_changelist"))
        assert len(response.context["cl"].result_list) == rows


# -- change pages -----------------------------------------------------------------------------
@pytest.mark.parametrize("rows", ROWS)
def test_vehicle_page_with_its_readings(advisor_client, django_assert_max_num_queries, rows):
    vehicle = vehicles(1)[0]
    start = date(2020, 1, 1)
    for index in range(rows):
        services.record_odometer(
            vehicle,
            1000 * index,
            start + timedelta(days=10 * index),
            user=make_staff(f"reader{index}") if index < 3 else None,
        )
    # The form and its readings, then the history panels below it (tests/test_customer_history).
    with django_assert_max_num_queries(11):
        get(advisor_client, reverse("admin:inventory_vehicle_change", args=[vehicle.pk]))


@pytest.mark.parametrize("rows", ROWS)
def test_part_page_with_its_movements(advisor_client, django_assert_max_num_queries, rows):
    part = make_part(on_hand=rows, supplier=make_supplier())
    for _ in range(rows):
        services.issue_part(part, 1, reference="repairs.partline:1")
    with django_assert_max_num_queries(10):
        get(advisor_client, reverse("admin:inventory_part_change", args=[part.pk]))


@pytest.mark.parametrize("status", [PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.ORDERED])
@pytest.mark.parametrize("rows", ROWS)
def test_purchase_order_page_with_its_lines(
    advisor_client, django_assert_max_num_queries, rows, status
):
    supplier = make_supplier()
    order = services.create_purchase_order(supplier, [(part, 2) for part in parts(rows, supplier)])
    if status == PurchaseOrder.Status.ORDERED:
        services.place_purchase_order(order)
        services.receive_purchase_order(order, {order.lines.first().pk: 1})
    with django_assert_max_num_queries(13):
        response = get(
            advisor_client, reverse("admin:inventory_purchaseorder_change", args=[order.pk])
        )
    assert "SKU-0000" in response.text


def test_the_supplier_counts_are_right(advisor_client):
    supplier = make_supplier("Counted")
    services.create_purchase_order(supplier, [(part, 1) for part in parts(3, supplier)])
    response = get(advisor_client, reverse("admin:inventory_supplier_changelist"))
    row = Supplier.objects.get(pk=supplier.pk)
    shown = next(obj for obj in response.context["cl"].result_list if obj.pk == row.pk)
    assert (shown.part_count, shown.open_orders) == (3, 1)
