"""A customer's and a vehicle's page show their history: vehicles, repair orders, invoices with
the balance due, deals and the work declined earlier, with buttons that open a new appointment
or repair order for them; a payer who is not the vehicle's owner is warned about. The pages cost
the same number of queries with one visit or thirty, and show money only to who may see it."""

import html
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from repairs import services
from repairs.choices import Authorization, AuthorizationMethod
from repairs.models import RepairOrder
from tests.helpers.builders import lot
from tests.helpers.builders.inventory import admin_form_data
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_customer,
    make_order,
    make_vehicle,
    take_to,
)

pytestmark = pytest.mark.django_db


def customer_page(client, customer):
    return client.get(reverse("admin:accounts_customer_change", args=[customer.pk]))


def vehicle_page(client, vehicle):
    return client.get(reverse("admin:inventory_vehicle_change", args=[vehicle.pk]))


def customer_history(client, customer):
    return client.get(reverse("admin:accounts_customer_history_panels", args=[customer.pk]))


def vehicle_history(client, vehicle):
    return client.get(reverse("admin:inventory_vehicle_history_panels", args=[vehicle.pk]))


def shown(client, response):
    """What the person sees: the record's page and the history panels its script fetches from
    the address the page gives (data-history-url) once the page is shown."""
    assert response.status_code == 200
    page = response.content.decode()
    found = re.search(r'data-history-url="([^"]+)"', page)
    if found is None:
        return page
    panels = client.get(html.unescape(found.group(1)))
    assert panels.status_code == 200
    return page + panels.content.decode()


def invoiced_visit(vehicle, *, title="Front brakes", paid=None):
    order = make_order(vehicle, customer=vehicle.owner)
    add_job_with_lines(order, title=title, labor=[("1.0", "100.00")])
    take_to(order, "invoiced")
    invoice = order.invoice
    if paid:
        services.record_payment(invoice, Decimal(paid), "cash")
    return order, invoice


def declined_job(vehicle, title="Timing belt"):
    order = make_order(vehicle, customer=vehicle.owner)
    job = services.add_job(order, title=title)
    services.authorize_job(
        job, Authorization.DECLINED, method=AuthorizationMethod.PHONE, authorized_by="Maria"
    )
    return job


@pytest.fixture
def maria():
    return make_customer()


def test_the_customer_page_shows_vehicles_orders_invoices_balance_and_declined_work(
    login, advisor, maria
):
    accord = make_vehicle(owner=maria, plate="GARCIA1")
    order, invoice = invoiced_visit(accord, paid="50.00")
    declined_job(accord)
    client = login(advisor)

    page = shown(client, customer_page(client, maria))

    assert 'id="history-vehicles"' in page and accord.vin in page and "GARCIA1" in page
    assert 'id="history-repair-orders"' in page and order.number in page
    assert 'id="history-invoices"' in page and invoice.number in page
    due = invoice.total - Decimal("50.00")
    assert f"data-balance-due>{due:.2f}<" in page
    assert 'id="history-recommendations"' in page and "Timing belt" in page
    # New visits, for the customer and for each of their vehicles, prefilled.
    add_order = reverse("admin:repairs_repairorder_add")
    add_appointment = reverse("admin:repairs_appointment_add")
    assert f"{add_order}?customer={maria.pk}&amp;vehicle={accord.pk}" in page
    assert f"{add_appointment}?customer={maria.pk}&amp;vehicle={accord.pk}" in page


def test_the_new_repair_order_button_opens_the_form_filled_in(login, advisor, maria):
    accord = make_vehicle(owner=maria)
    client = login(advisor)

    response = client.get(
        reverse("admin:repairs_repairorder_add"), {"customer": maria.pk, "vehicle": accord.pk}
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert str(form.initial["customer"]) == str(maria.pk)
    assert str(form.initial["vehicle"]) == str(accord.pk)


def test_the_vehicle_page_shows_its_orders_invoices_declined_work_and_deals(login, manager, maria):
    accord = make_vehicle(owner=maria)
    order, invoice = invoiced_visit(accord)
    declined_job(accord, "Rear shocks")
    client = login(manager)

    page = shown(client, vehicle_page(client, accord))

    assert order.number in page and invoice.number in page and "Rear shocks" in page
    assert 'id="history-deals"' in page
    assert f"?customer={maria.pk}&amp;vehicle={accord.pk}" in page


def test_the_customer_page_lists_their_deals(login, manager, salesperson):
    buyer = lot.make_customer()
    deal = lot.make_deal(buyer=buyer, salesperson=salesperson)
    client = login(manager)

    page = shown(client, customer_page(client, buyer))

    assert 'id="history-deals"' in page and deal.number in page
    assert "15000.00" in page  # the sale price, for whoever may see prices


def test_a_salesperson_sees_deals_and_orders_but_no_service_buttons(login, salesperson, maria):
    accord = make_vehicle(owner=maria)
    order, invoice = invoiced_visit(accord)
    deal = lot.make_deal(buyer=maria, salesperson=salesperson)
    client = login(salesperson)

    page = shown(client, customer_page(client, maria))

    assert deal.number in page and order.number in page
    # No invoices (a salesperson does not handle the shop's bills), no booking buttons.
    assert 'id="history-invoices"' not in page and invoice.number not in page
    assert 'id="history-new-visit"' not in page
    assert reverse("admin:repairs_repairorder_add") not in page


def test_a_technician_sees_no_history_and_no_money_on_a_vehicle(login, technician, maria):
    accord = make_vehicle(owner=maria)
    _order, invoice = invoiced_visit(accord)
    client = login(technician)

    response = vehicle_page(client, accord)

    assert response.status_code == 200
    page = response.content.decode()
    assert accord.vin in page
    assert 'id="history' not in page
    assert invoice.number not in page and f"{invoice.total:.2f}" not in page
    # Nor the vehicle's history on its own page, nor the customer's page or history.
    assert vehicle_history(client, accord).status_code == 403
    assert customer_page(client, maria).status_code == 403
    assert customer_history(client, maria).status_code == 403


def test_the_history_is_fetched_after_the_page_from_its_own_address(
    login, advisor, maria, django_assert_max_num_queries
):
    """The record's page reads none of its history: it costs the same queries with or without
    one, and says where the browser fetches the panels from."""
    accord = make_vehicle(owner=maria)
    client = login(advisor)
    customer_page(client, maria)  # warm caches (content types, shop settings)
    with django_assert_max_num_queries(40) as empty:
        response = customer_page(client, maria)
    history_url = reverse("admin:accounts_customer_history_panels", args=[maria.pk])
    assert f'data-history-url="{history_url}"' in response.content.decode()
    assert 'id="history-vehicles"' not in response.content.decode()

    invoiced_visit(accord)
    declined_job(accord)
    with django_assert_max_num_queries(len(empty.captured_queries)):
        assert customer_page(client, maria).status_code == 200
    panels = customer_history(client, maria)
    assert panels.status_code == 200
    assert accord.vin in panels.content.decode()
    assert "<html" not in panels.content.decode()  # a fragment, not a page


def test_the_history_address_asks_a_stranger_to_log_in(client, maria):
    response = customer_history(client, maria)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_customer_page_costs_the_same_queries_with_one_visit_or_many(
    login, advisor, maria, django_assert_max_num_queries
):
    accord = make_vehicle(owner=maria)
    invoiced_visit(accord)
    declined_job(accord)
    client = login(advisor)
    customer_page(client, maria)  # warm caches (content types, shop settings)

    with django_assert_max_num_queries(40) as one:
        assert customer_page(client, maria).status_code == 200
    with django_assert_max_num_queries(40) as panels:
        assert customer_history(client, maria).status_code == 200
    with django_assert_max_num_queries(40) as vehicle:
        assert vehicle_page(client, accord).status_code == 200
    with django_assert_max_num_queries(40) as vehicle_panels:
        assert vehicle_history(client, accord).status_code == 200
    for index in range(12):
        invoiced_visit(make_vehicle(owner=maria), title=f"Visit {index}", paid="10.00")
        declined_job(accord, f"Declined {index}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert customer_page(client, maria).status_code == 200
    with django_assert_max_num_queries(len(panels.captured_queries)):
        assert customer_history(client, maria).status_code == 200
    with django_assert_max_num_queries(len(vehicle.captured_queries)):
        assert vehicle_page(client, accord).status_code == 200
    with django_assert_max_num_queries(len(vehicle_panels.captured_queries)):
        assert vehicle_history(client, accord).status_code == 200


def test_a_payer_who_does_not_own_the_vehicle_is_warned(maria):
    accord = make_vehicle(owner=maria)
    fleet = make_customer("Fleet", "Acme", phone="(217) 555-0199")

    created = services.create_repair_order(accord, customer=fleet)

    assert any(
        "Fleet, Acme pays for this order" in w and "belongs to Garcia, Maria" in w
        for w in created.warnings
    ), created.warnings
    assert created.repair_order.customer == fleet
    assert not [
        w for w in services.create_repair_order(accord).warnings if "pays for this order" in w
    ]


def test_the_advisor_reads_the_payer_warning_after_saving_the_order(login, advisor, maria):
    accord = make_vehicle(owner=maria)
    fleet = make_customer("Fleet", "Acme", phone="(217) 555-0199")
    client = login(advisor)
    add_url = reverse("admin:repairs_repairorder_add")
    payload = admin_form_data(client.get(add_url, {"customer": fleet.pk, "vehicle": accord.pk}))

    response = client.post(add_url, payload, follow=True)

    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("Fleet, Acme pays for this order" in m for m in shown), shown
    assert RepairOrder.objects.get(vehicle=accord).customer == fleet
