"""The service shop's admin pages open for the people who use them, and their actions and forms
go through the services: workflow actions, adding work on an order, the day view and board."""

import datetime
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import MANAGER, SERVICE_ADVISOR, TECHNICIAN
from repairs import services
from repairs.models import Appointment, CannedJob, CannedJobLabor, Invoice, Payment, RepairOrder
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


@pytest.fixture
def advisor(client):
    user = make_staff("sam", SERVICE_ADVISOR)
    client.force_login(user)
    return user


@pytest.fixture
def invoiced():
    set_rates(parts_tax_rate="0", shop_supplies_rate="0", hazardous_waste_fee="0")
    order = make_order()
    add_job_with_lines(order, labor=[("1", "100")])
    return services.invoice_repair_order(take_to(order, "completed"))


MODELS = [
    "repairorder",
    "job",
    "laborline",
    "partline",
    "timeentry",
    "appointment",
    "cannedjob",
    "cannedjoblabor",
    "cannedjobpart",
    "invoice",
    "payment",
    "creditnote",
    "repairorderevent",
    "documentsequence",
]


@pytest.mark.parametrize("model", MODELS)
def test_every_list_opens_for_a_manager(client, model, invoiced):
    client.force_login(make_staff("robin", MANAGER))
    response = client.get(reverse(f"admin:repairs_{model}_changelist"))
    assert response.status_code == 200


def test_the_order_list_shows_counts_by_advisor(client, advisor):
    # "Show counts" under the filters: each advisor's line carries the number of their orders.
    make_order(advisor=advisor)
    make_order(advisor=advisor)
    response = client.get(reverse("admin:repairs_repairorder_changelist"), {"_facets": "True"})
    assert response.status_code == 200
    assert f"{advisor.get_full_name() or advisor.username} (2)" in response.content.decode()


def test_a_new_order_and_a_new_appointment_are_the_advisors_own(client, advisor):
    # The advisor at the counter is the one already chosen; a manager is no advisor.
    mine = f'<option value="{advisor.pk}" selected>'
    for url in (
        reverse("admin:repairs_repairorder_add"),
        reverse("admin:repairs_appointment_add"),
    ):
        assert mine in client.get(url).content.decode(), url
    client.force_login(make_staff("robin", MANAGER))
    page = client.get(reverse("admin:repairs_repairorder_add")).content.decode()
    assert (
        f'<option value="{advisor.pk}">' in page
        and " selected>" not in page.split('name="advisor"')[1].split("</select>")[0]
    )


def test_every_change_page_of_an_order_opens(client, advisor, invoiced):
    order = invoiced.repair_order
    job = order.jobs.get()
    for url in [
        reverse("admin:repairs_repairorder_change", args=[order.pk]),
        reverse("admin:repairs_job_change", args=[job.pk]),
        reverse("admin:repairs_invoice_change", args=[invoiced.pk]),
        reverse("admin:repairs_repairorder_add"),
        reverse("admin:repairs_payment_add"),
        reverse("admin:repairs_repairorder_board"),
        reverse("admin:repairs_appointment_day"),
    ]:
        assert client.get(url).status_code == 200, url


def test_an_advisor_opens_an_order_and_is_warned_about_another_open_one(client, advisor):
    customer = make_customer()
    vehicle = make_vehicle(owner=customer)
    make_order(vehicle)
    response = client.post(
        reverse("admin:repairs_repairorder_add"),
        {
            "customer": customer.pk,
            "vehicle": vehicle.pk,
            "odometer_in": "120500",
            "advisor": advisor.pk,
            "discount_percent": "0",
            "hazardous_waste": "on",
            "jobs-TOTAL_FORMS": "1",
            "jobs-INITIAL_FORMS": "0",
            "jobs-0-position": "1",
            "jobs-0-title": "Noise from the front",
            "jobs-0-complaint": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    order = RepairOrder.objects.order_by("-id").first()
    assert order.number.startswith("RO-") and order.odometer_in == 120500
    assert order.events.get().user == advisor
    assert list(order.jobs.values_list("title", flat=True)) == ["Noise from the front"]
    messages = [str(m) for m in response.context["messages"]]
    assert any("already has an open repair order" in m for m in messages)


def test_a_comeback_to_another_vehicle_is_refused_in_the_form(client, advisor):
    earlier = make_order()
    vehicle = make_vehicle(owner=make_customer())
    response = client.post(
        reverse("admin:repairs_repairorder_add"),
        {
            "vehicle": vehicle.pk,
            "comeback_of": earlier.pk,
            "discount_percent": "0",
            "jobs-TOTAL_FORMS": "0",
            "jobs-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "was for another vehicle" in str(response.context["adminform"].form.errors)
    assert RepairOrder.objects.count() == 1


def test_orders_are_found_by_number_customer_phone_vin_tail_and_plate(client, advisor):
    customer = make_customer(last_name="Okafor", phone="(217) 555-0199")
    vehicle = make_vehicle(owner=customer, plate="KLM442")
    wanted = make_order(vehicle)
    make_order()
    url = reverse("admin:repairs_repairorder_changelist")
    for term in [
        wanted.number,
        "Okafor",
        "555-0199",
        vehicle.vin[-6:],
        vehicle.vin[-8:],
        "KLM442",
        vehicle.vin,
    ]:
        response = client.get(url, {"q": term})
        assert [o.pk for o in response.context["cl"].result_list] == [wanted.pk], term


def test_a_canned_job_is_added_from_the_order_page(client, advisor):
    set_rates(labor_rate="100")
    canned = CannedJob.objects.create(name="Oil change")
    CannedJobLabor.objects.create(canned_job=canned, operation="Oil change", hours="0.5")
    order = make_order()
    url = reverse("admin:repairs_repairorder_change", args=[order.pk])
    response = client.post(
        url,
        {
            "odometer_in": "",
            "advisor": "",
            "discount_percent": "0",
            "hazardous_waste": "on",
            "add_canned_job": canned.pk,
            "jobs-TOTAL_FORMS": "0",
            "jobs-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, (
        response.context and response.context["adminform"].form.errors
    )
    job = order.jobs.get()
    assert job.title == "Oil change"
    assert job.labor_lines.get().amount == D("50.00")


def test_workflow_actions_call_the_services_and_report_what_they_did(client, advisor):
    ready = make_order()
    add_job_with_lines(ready)
    not_ready = make_order()
    add_job_with_lines(not_ready, approve=False)
    response = client.post(
        reverse("admin:repairs_repairorder_changelist"),
        {"action": "approve", "_selected_action": [ready.pk, not_ready.pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert f"Approved: {ready.number}." in messages
    assert any("has no approved job" in m for m in messages)
    ready.refresh_from_db()
    not_ready.refresh_from_db()
    assert (ready.status, not_ready.status) == ("approved", "estimate")
    assert ready.events.last().user == advisor


def test_the_invoice_action_writes_an_invoice(client, advisor):
    order = make_order()
    add_job_with_lines(order, labor=[("1", "100")])
    take_to(order, "completed")
    response = client.post(
        reverse("admin:repairs_repairorder_changelist"),
        {"action": "invoice", "_selected_action": [order.pk]},
        follow=True,
    )
    invoice = Invoice.objects.get()
    assert f"Invoices written: {invoice.number}." in [str(m) for m in response.context["messages"]]


def test_parts_added_on_the_job_page_are_issued_and_a_stock_refusal_is_shown(client, advisor):
    part = make_part("BP-7", on_hand=1)
    order = make_order()
    job = add_job_with_lines(order)
    take_to(order, "in_progress")
    url = reverse("admin:repairs_job_change", args=[job.pk])
    form = {
        "position": "1",
        "title": job.title,
        "complaint": "",
        "cause": "Worn",
        "correction": "",
        "labor_lines-TOTAL_FORMS": "0",
        "labor_lines-INITIAL_FORMS": "0",
        "part_lines-TOTAL_FORMS": "1",
        "part_lines-INITIAL_FORMS": "0",
        "part_lines-0-part": part.pk,
        "part_lines-0-quantity": "3",
        "part_lines-0-price": "",
        "time_entries-TOTAL_FORMS": "0",
        "time_entries-INITIAL_FORMS": "0",
    }
    response = client.post(url, form, follow=True)
    assert any("BP-7 needs 3, 1 on hand" in str(m) for m in response.context["messages"])
    assert not job.part_lines.exists()
    job.refresh_from_db()
    assert job.cause == ""  # the whole save was rolled back

    form["part_lines-0-quantity"] = "1"
    response = client.post(url, form)
    assert response.status_code == 302
    line = job.part_lines.get()
    assert (line.quantity, line.issued_quantity, line.price) == (1, 1, D("9.50"))
    part.refresh_from_db()
    assert part.on_hand == 0


def test_a_payment_over_the_balance_is_refused_with_the_reason_in_the_form(
    client, advisor, invoiced
):
    response = client.post(
        reverse("admin:repairs_payment_add"),
        {"invoice": invoiced.pk, "amount": "150.00", "method": "cash", "reference": ""},
    )
    assert response.status_code == 200
    assert "A payment of 150.00 is more than the balance of 100.00" in str(
        response.context["adminform"].form.errors
    )
    assert not Payment.objects.exists()
    response = client.post(
        reverse("admin:repairs_payment_add"),
        {"invoice": invoiced.pk, "amount": "100.00", "method": "cash", "reference": ""},
    )
    assert response.status_code == 302
    assert Payment.objects.get().received_by == advisor
    assert RepairOrder.objects.get(pk=invoiced.repair_order_id).status == "paid"


def test_invoices_are_read_only_in_the_admin(client, advisor, invoiced):
    url = reverse("admin:repairs_invoice_change", args=[invoiced.pk])
    response = client.post(url, {"total": "1.00"})
    assert response.status_code == 403
    invoiced.refresh_from_db()
    assert invoiced.total == D("100.00")
    client.force_login(make_staff("boss", MANAGER))
    assert client.post(url, {"total": "1.00"}).status_code == 403
    assert (
        client.get(reverse("admin:repairs_invoice_delete", args=[invoiced.pk])).status_code == 403
    )


def test_the_invoice_list_filters_on_what_is_still_owed(client, advisor, invoiced):
    paid = services.invoice_repair_order(
        take_to(add_job_with_lines(make_order(), labor=[("1", "50")]).repair_order, "completed")
    )
    services.record_payment(paid, paid.total, "cash")
    url = reverse("admin:repairs_invoice_changelist")
    page = client.get(url).content.decode()
    filters = page.split('id="changelist-filter"')[1]
    # An invoice's order is invoiced (something owed) or paid: the filter offers those two only.
    assert "Balance due" in filters and "Paid" in filters
    for status in ("Estimate", "In progress", "Closed at cost", "Canceled"):
        assert status not in filters, status
    owed = client.get(url, {"balance": "due"}).content.decode()
    assert invoiced.number in owed and paid.number not in owed
    settled = client.get(url, {"balance": "paid"}).content.decode()
    assert paid.number in settled and invoiced.number not in settled


def test_an_appointment_becomes_a_repair_order_by_an_admin_action(client, advisor):
    customer = make_customer()
    appointment = Appointment.objects.create(
        date=timezone.localdate(),
        time=datetime.time(8, 0),
        customer=customer,
        vehicle=make_vehicle(owner=customer),
        concern="Check engine light",
    )
    response = client.post(
        reverse("admin:repairs_appointment_changelist"),
        {"action": "open_repair_order", "_selected_action": [appointment.pk]},
        follow=True,
    )
    order = RepairOrder.objects.get()
    assert f"Opened {order.number} for {customer}." in [
        str(m) for m in response.context["messages"]
    ]


def test_the_day_view_lists_the_day_with_previous_and_next_day(client, advisor):
    customer = make_customer()
    vehicle = make_vehicle(owner=customer)
    day = datetime.date(2026, 3, 10)
    Appointment.objects.create(
        date=day,
        time=datetime.time(10, 0),
        customer=customer,
        vehicle=vehicle,
        concern="Brakes squeal",
    )
    Appointment.objects.create(
        date=day + datetime.timedelta(days=1),
        time=datetime.time(9, 0),
        customer=customer,
        vehicle=vehicle,
        concern="Oil change",
    )
    response = client.get(reverse("admin:repairs_appointment_day"), {"date": "2026-03-10"})
    page = response.content.decode()
    assert "Brakes squeal" in page and "Oil change" not in page
    assert "?date=2026-03-09" in page and "?date=2026-03-11" in page


def test_the_board_shows_open_orders_oldest_first_by_status(client, advisor):
    first = make_order()
    second = make_order()
    RepairOrder.objects.filter(pk=first.pk).update(
        opened_at=timezone.now() - datetime.timedelta(days=2)
    )
    done = make_order()
    add_job_with_lines(done)
    services.cancel_repair_order(done)
    response = client.get(reverse("admin:repairs_repairorder_board"))
    estimates = response.context["columns"][0]
    assert estimates["count"] == 2
    assert [o.number for o in estimates["orders"]] == [first.number, second.number]
    assert done.number not in response.content.decode()


def test_a_technician_cannot_open_the_board_of_others_work(client):
    tech = make_staff("terry", TECHNICIAN)
    make_order()
    client.force_login(tech)
    response = client.get(reverse("admin:repairs_repairorder_board"))
    assert response.status_code == 200
    assert sum(column["count"] for column in response.context["columns"]) == 0
