"""Fleet and insurance partners read the repair orders of their linked customers' vehicles:
status history, jobs and invoice totals, never costs, never internal orders, never another
partner's orders (404 as for an order that does not exist)."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Partner
from accounts.roles import SALESPERSON, SERVICE_ADVISOR, TECHNICIAN
from repairs import services
from repairs.models import RepairOrder
from tests.helpers.api import key_client, partner_with_key, staff_client
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_customer,
    make_order,
    make_part,
    make_vehicle,
    take_to,
)

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/repair-orders/"


def _fleet(name="Acme Fleet", company="Acme Logistics"):
    """A fleet partner with a repairs:read key, linked to its company's customer account."""
    partner, _key, plain = partner_with_key(name=name)
    customer = make_customer(kind="company", company_name=company, first_name="", last_name="")
    partner.customers.add(customer)
    return partner, customer, key_client(plain)


def _invoiced_order(customer, *, plate="FLT 001"):
    vehicle = make_vehicle(owner=customer, plate=plate)
    order = make_order(vehicle, customer=customer)
    part = make_part(sku=f"BP-{vehicle.pk}", cost="30.00", price="55.00")
    add_job_with_lines(order, title="Front brakes", labor=[("1.5", "120")], parts=[(part, 1, None)])
    declined = services.add_job(order, title="Wiper blades", complaint="Streaks")
    services.authorize_job(declined, "declined", method="phone", authorized_by="Fleet desk")
    take_to(order, "invoiced")
    invoice = order.invoice
    services.record_payment(invoice, Decimal("50.00"), "card")
    return order


def test_a_fleet_partner_reads_its_orders_with_history_jobs_and_invoice_totals():
    _partner, customer, client = _fleet()
    order = _invoiced_order(customer)

    response = client.get(f"{ORDERS}{order.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["number"] == order.number
    assert body["status"] == "invoiced"
    assert body["vehicle"]["vin"] == order.vehicle.vin
    assert body["vehicle"]["plate"] == "FLT 001"
    assert body["vehicle"]["year"] == order.vehicle.model_year
    assert body["customer"] == {"id": customer.pk, "name": "Acme Logistics"}
    assert [step["to_status"] for step in body["history"]] == [
        "estimate",
        "approved",
        "in_progress",
        "completed",
        "invoiced",
    ]
    assert body["completed_at"] is not None
    assert [(job["title"], job["authorization"]) for job in body["jobs"]] == [
        ("Front brakes", "approved"),
        ("Wiper blades", "declined"),
    ]
    assert body["jobs"][0]["complaint"] == "Front brakes needed"
    invoice = order.invoice
    assert body["invoice"]["number"] == invoice.number
    assert Decimal(body["invoice"]["total"]) == invoice.total
    assert Decimal(body["invoice"]["paid"]) == Decimal("50.00")
    assert Decimal(body["invoice"]["balance"]) == invoice.total - Decimal("50.00")


def test_no_cost_figure_ever_reaches_a_partner():
    _partner, customer, client = _fleet()
    order = _invoiced_order(customer)
    text = json.dumps(client.get(f"{ORDERS}{order.pk}/").json())
    for word in ("cost", "unit_cost", "30.00", "snapshot", "notes"):
        assert word not in text


def test_another_partners_order_answers_404_exactly_like_an_order_that_does_not_exist():
    _acme, _acme_customer, acme = _fleet()
    _other, other_customer, _client = _fleet(name="Other Insurer", company="Other Co")
    theirs = _invoiced_order(other_customer, plate="OTH 1")

    foreign = acme.get(f"{ORDERS}{theirs.pk}/")
    missing = acme.get(f"{ORDERS}{theirs.pk + 1000}/")

    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert acme.get(ORDERS).json()["results"] == []
    assert acme.get(ORDERS, {"vehicle": theirs.vehicle_id}).json()["results"] == []


def test_internal_orders_and_orders_of_a_previous_owner_stay_private():
    partner, fleet, client = _fleet()
    # The lot reconditioned the car (internal order), then sold it to the fleet.
    car = make_vehicle(owner=None, plate="EX LOT")
    internal = make_order(car)
    assert internal.internal
    # A private owner had it serviced before that, too.
    previous = make_customer(last_name="Nguyen", first_name="An")
    old_order = make_order(car, customer=previous)
    car.owner = fleet
    car.save()
    ours = make_order(car, customer=fleet)

    ids = [row["id"] for row in client.get(ORDERS).json()["results"]]

    assert ids == [ours.pk]
    assert client.get(f"{ORDERS}{internal.pk}/").status_code == 404
    assert client.get(f"{ORDERS}{old_order.pk}/").status_code == 404
    assert partner.customers.filter(pk=fleet.pk).exists()


def test_orders_are_filtered_by_status_vehicle_and_change_time():
    _partner, customer, client = _fleet()
    open_order = make_order(make_vehicle(owner=customer), customer=customer)
    done = _invoiced_order(customer)
    RepairOrder.objects.filter(pk=open_order.pk).update(
        updated_at=timezone.now() - timedelta(days=3)
    )
    RepairOrder.objects.filter(pk=done.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    def ids(**params):
        response = client.get(ORDERS, params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(status="invoiced") == [done.pk]
    assert ids(status="estimate") == [open_order.pk]
    assert ids(vehicle=open_order.vehicle_id) == [open_order.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(updated_since=since) == [done.pk]
    assert ids() == [open_order.pk, done.pk]  # oldest change first
    assert ids(ordering="-opened_at") == [done.pk, open_order.pk]


def test_a_sync_leaves_out_the_last_seconds_so_a_change_still_being_saved_is_never_passed():
    _partner, customer, client = _fleet()
    order = make_order(make_vehicle(owner=customer), customer=customer)  # changed just now
    since = (timezone.now() - timedelta(days=1)).isoformat()

    assert client.get(ORDERS, {"updated_since": since}).json()["results"] == []
    assert [row["id"] for row in client.get(ORDERS).json()["results"]] == [order.pk]
    RepairOrder.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    assert [
        row["id"] for row in client.get(ORDERS, {"updated_since": since}).json()["results"]
    ] == [order.pk]


def test_every_change_through_the_services_marks_the_order_changed():
    _partner, customer, _client = _fleet()
    order = make_order(make_vehicle(owner=customer), customer=customer)
    long_ago = timezone.now() - timedelta(days=2)
    RepairOrder.objects.filter(pk=order.pk).update(updated_at=long_ago)

    services.add_job(order, title="Oil change")

    order.refresh_from_db()
    assert order.updated_at > long_ago


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "broken"},
        {"vehicle": "x"},
        {"vehicle": "0"},
        {"updated_since": "yesterday"},
        {"statuss": "paid"},
        {"ordering": "unit_cost"},
    ],
)
def test_bad_filters_are_refused_with_the_parameter_named(bad):
    _partner, _customer, client = _fleet()
    response = client.get(ORDERS, bad)
    assert response.status_code == 400
    assert list(response.json()["fields"]) == list(bad)


@pytest.mark.parametrize("orders", [1, 50])
def test_a_page_of_orders_costs_the_same_number_of_queries_with_1_or_50_orders(
    orders, django_assert_max_num_queries
):
    _partner, customer, client = _fleet()
    first = _invoiced_order(customer)
    for _ in range(orders - 1):
        order = make_order(first.vehicle, customer=customer)
        services.add_job(order, title="Inspection")
    client.get("/api/v1/me/")  # the key's last use is recorded once a minute, not per page
    # the key, the partner's linked customers, the page, its history, its jobs, its invoices
    with django_assert_max_num_queries(6):
        response = client.get(ORDERS, {"page_size": 50})
    assert len(response.json()["results"]) == orders


def test_staff_sessions_read_orders_with_their_role_technicians_and_sales_do_not_see_money():
    customer = make_customer()
    _invoiced_order(customer)
    advisor, _user = staff_client("advisor1", SERVICE_ADVISOR)
    assert advisor.get(ORDERS).status_code == 200
    for username, role in (("tech1", TECHNICIAN), ("sales1", SALESPERSON), ("nobody", None)):
        client, _user = staff_client(username, role)
        assert client.get(ORDERS).status_code == 403, role


def test_a_partner_linked_to_the_owner_but_not_to_the_payer_does_not_see_the_order():
    _partner, fleet, client = _fleet()
    driver = make_customer(last_name="Driver", first_name="Dan")
    vehicle = make_vehicle(owner=fleet)
    private = make_order(vehicle, customer=driver)
    assert client.get(f"{ORDERS}{private.pk}/").status_code == 404
    account_services.create_partner("Both", customers=[fleet, driver])
    assert Partner.objects.filter(customers=fleet).filter(customers=driver).count() == 1


@pytest.mark.parametrize("empty", ["status", "updated_since", "updated_after", "vehicle"])
def test_an_empty_filter_is_an_error_not_everything(empty):
    _partner, _customer, client = _fleet()
    response = client.get(ORDERS, {empty: ""})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [empty]


def test_a_time_without_its_time_zone_is_refused():
    _partner, _customer, client = _fleet()
    response = client.get(ORDERS, {"updated_since": "2026-11-01T00:00:00"})
    assert response.status_code == 400
    assert "time zone" in response.json()["fields"]["updated_since"][0]


@pytest.mark.parametrize(
    "value, listed",
    [
        ("4882-07-07T13:34:18+20:43", False),  # any offset RFC 3339 allows, as the schema says
        ("9999-12-31T23:59:59-05:00", False),  # past the calendar in UTC: later than every order
        ("0001-01-01T00:00:00+23:59", True),  # before it: earlier than every order
    ],
)
def test_any_offset_is_taken_and_a_time_past_the_calendar_compares_as_its_edge(value, listed):
    _partner, customer, client = _fleet()
    order = make_order(make_vehicle(owner=customer), customer=customer)
    RepairOrder.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    response = client.get(ORDERS, {"updated_since": value})
    assert response.status_code == 200, response.json()
    assert [row["id"] for row in response.json()["results"]] == ([order.pk] if listed else [])


def test_a_time_in_another_zone_is_the_same_moment():
    _partner, customer, client = _fleet()
    order = make_order(make_vehicle(owner=customer), customer=customer)
    RepairOrder.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    just_before = (
        (timezone.now() - timedelta(hours=2, minutes=1))
        .astimezone(timezone.get_fixed_timezone(13 * 60))
        .isoformat()
    )
    assert [
        row["id"] for row in client.get(ORDERS, {"updated_since": just_before}).json()["results"]
    ] == [order.pk]
