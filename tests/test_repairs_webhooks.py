"""The service shop publishes webhook events from its services, in the transaction of the change:
`repair_order.status_changed` to the partners that may read the order, `invoice.created` to
accounting partners. A change that rolls back leaves no event."""

import pytest
from django.db import transaction

from accounts.models import WebhookEvent
from repairs import services
from repairs.exceptions import RepairError
from tests.helpers.api import partner_with_key, verified_subscription
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_customer,
    make_order,
    make_vehicle,
    take_to,
)

pytestmark = pytest.mark.django_db

STATUS_CHANGED = "repair_order.status_changed"


def _subscribed(name, scopes, events, customers=(), kind="fleet"):
    partner, _key, _plain = partner_with_key(name=name, scopes=scopes, kind=kind)
    partner.customers.add(*customers)
    verified_subscription(partner, url="https://hooks.example.com/carshop", events=events)
    return partner


def _received_by(event):
    return sorted(
        delivery.subscription.partner.name
        for delivery in event.deliveries.select_related("subscription__partner")
    )


def test_each_status_step_of_a_linked_customers_order_is_published_to_its_partners():
    fleet = make_customer(kind="company", company_name="Fleet Co", first_name="", last_name="")
    _subscribed("Fleet", ["repairs:read"], [STATUS_CHANGED], customers=[fleet])
    _subscribed(
        "Someone else",
        ["repairs:read"],
        [STATUS_CHANGED],
        customers=[make_customer(last_name="Other")],
    )
    order = make_order(make_vehicle(owner=fleet), customer=fleet)
    add_job_with_lines(order, labor=[("1", "100")])

    services.approve_repair_order(order)
    services.start_work(order)

    events = list(WebhookEvent.objects.filter(event_type=STATUS_CHANGED).order_by("id"))
    assert [(e.payload["from_status"], e.payload["status"]) for e in events] == [
        ("estimate", "approved"),
        ("approved", "in_progress"),
    ]
    assert events[0].payload["repair_order"] == order.pk
    assert events[0].payload["number"] == order.number
    assert events[0].customer_id == fleet.pk
    assert [_received_by(e) for e in events] == [["Fleet"], ["Fleet"]]


def test_orders_nobody_may_read_publish_nothing():
    _subscribed(
        "Fleet", ["repairs:read"], [STATUS_CHANGED], customers=[make_customer(last_name="Linked")]
    )
    unlinked = make_order()  # its customer is linked to no partner
    internal = make_order(make_vehicle(owner=None))
    for order in (unlinked, internal):
        add_job_with_lines(order, labor=[("1", "100")])
        services.approve_repair_order(order)
    assert not WebhookEvent.objects.filter(event_type=STATUS_CHANGED).exists()


def test_an_order_paid_by_someone_else_than_the_owner_goes_only_to_partners_linked_to_both():
    fleet = make_customer(kind="company", company_name="Fleet Co", first_name="", last_name="")
    driver = make_customer(last_name="Driver")
    _subscribed("Fleet only", ["repairs:read"], [STATUS_CHANGED], customers=[fleet])
    _subscribed("Insurer of both", ["repairs:read"], [STATUS_CHANGED], customers=[fleet, driver])
    order = make_order(make_vehicle(owner=fleet), customer=driver)
    add_job_with_lines(order, labor=[("1", "100")])

    services.approve_repair_order(order)

    (event,) = WebhookEvent.objects.filter(event_type=STATUS_CHANGED)
    assert _received_by(event) == ["Insurer of both"]


def test_invoicing_publishes_invoice_created_to_accounting_partners():
    _subscribed("Books", ["accounting:read"], ["invoice.created"], kind="accounting")
    _subscribed("Fleet", ["repairs:read"], [STATUS_CHANGED])
    order = make_order()
    add_job_with_lines(order, labor=[("2", "100")])
    take_to(order, "invoiced")

    (event,) = WebhookEvent.objects.filter(event_type="invoice.created")
    invoice = order.invoice
    assert event.payload["invoice"] == invoice.pk
    assert event.payload["number"] == invoice.number
    assert event.payload["total"] == str(invoice.total)
    assert _received_by(event) == ["Books"]


def test_invoice_created_reaches_a_fleet_only_for_its_own_customers_invoices():
    fleet_customer = make_customer(
        kind="company", company_name="Fleet Co", first_name="", last_name=""
    )
    stranger = make_customer(last_name="Stranger")
    _subscribed("Books", ["accounting:read"], ["invoice.created"], kind="accounting")
    # A fleet holding accounting:read: its own bills, never another customer's money.
    _subscribed(
        "Fleet",
        ["repairs:read", "accounting:read"],
        ["invoice.created"],
        customers=[fleet_customer],
    )
    _subscribed(
        "Other fleet",
        ["accounting:read"],
        ["invoice.created"],
        customers=[make_customer(last_name="Elsewhere")],
    )
    received = {}
    for customer in (fleet_customer, stranger):
        order = make_order(make_vehicle(owner=customer), customer=customer)
        add_job_with_lines(order, labor=[("1", "100")])
        take_to(order, "invoiced")
        event = WebhookEvent.objects.get(
            event_type="invoice.created", payload__invoice=order.invoice.pk
        )
        received[customer.last_name or customer.company_name] = _received_by(event)

    assert received == {"Fleet Co": ["Books", "Fleet"], "Stranger": ["Books"]}


def test_the_event_is_rolled_back_with_the_change_that_failed():
    fleet = make_customer(kind="company", company_name="Fleet Co", first_name="", last_name="")
    _subscribed("Fleet", ["repairs:read"], [STATUS_CHANGED], customers=[fleet])
    _subscribed("Books", ["accounting:read"], ["invoice.created"], kind="accounting")
    order = make_order(make_vehicle(owner=fleet), customer=fleet)
    add_job_with_lines(order, labor=[("1", "100")])
    take_to(order, "completed")
    before = WebhookEvent.objects.count()

    with pytest.raises(RepairError), transaction.atomic():
        services.invoice_repair_order(order)
        assert WebhookEvent.objects.count() == before + 2  # written with the change...
        raise RepairError("the printer caught fire")

    assert WebhookEvent.objects.count() == before  # ...and gone with it
    order.refresh_from_db()
    assert order.status == "completed"


def test_a_refused_step_publishes_nothing():
    fleet = make_customer(kind="company", company_name="Fleet Co", first_name="", last_name="")
    _subscribed("Fleet", ["repairs:read"], [STATUS_CHANGED], customers=[fleet])
    order = make_order(make_vehicle(owner=fleet), customer=fleet)

    with pytest.raises(RepairError):
        services.approve_repair_order(order)  # no approved job

    assert not WebhookEvent.objects.exists()
