"""The repair order page is the advisor's workplace: the workflow's next steps are buttons there,
for the roles that may take them; a refusal is a message; the lines of every job are edited
there; payment is taken from the invoice; the small things read right (hours, job numbers,
how a customer decided, internal work at cost)."""

import html as html_lib
import json
import re
from decimal import Decimal as D

import pytest
from auditlog.context import disable_auditlog
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.roles import SALESPERSON, SERVICE_ADVISOR, TECHNICIAN
from core.hours import hours_text
from repairs import services
from repairs.choices import Authorization, RepairOrderStatus
from repairs.exceptions import RepairError
from repairs.models import Invoice, Job, Payment
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


def _page(client, order):
    return client.get(reverse("admin:repairs_repairorder_change", args=[order.pk]))


def _tools(response):
    """The page's toolbar (object tools), as its HTML."""
    html = response.content.decode()
    return html[html.index('<ul class="object-tools">') :].split("</ul>", 1)[0]


def _step(client, order, key, **data):
    return client.post(
        reverse("admin:repairs_repairorder_step", args=[order.pk, key]), data, follow=True
    )


def _messages(response):
    return " | ".join(str(m) for m in response.context["messages"])


def _page_data(order, jobs):
    """What the order's page posts with its jobs as they are and no lines changed."""
    data = {
        "odometer_in": "1000",
        "advisor": "",
        "promised_at_0": "",
        "promised_at_1": "",
        "discount_percent": "0",
        "notes": "",
        "jobs-TOTAL_FORMS": str(len(jobs)),
        "jobs-INITIAL_FORMS": str(len(jobs)),
        "jobs-MIN_NUM_FORMS": "0",
        "jobs-MAX_NUM_FORMS": "1000",
    }
    for index, job in enumerate(jobs):
        prefix = f"jobs-{index}"
        data |= {
            f"{prefix}-id": job.pk,
            f"{prefix}-repair_order": order.pk,
            f"{prefix}-position": job.position,
            f"{prefix}-title": job.title,
            f"{prefix}-complaint": job.complaint,
        }
        for kind in ("labor_lines", "part_lines"):
            data |= {
                f"{prefix}-{kind}-TOTAL_FORMS": "0",
                f"{prefix}-{kind}-INITIAL_FORMS": "0",
                f"{prefix}-{kind}-MIN_NUM_FORMS": "0",
                f"{prefix}-{kind}-MAX_NUM_FORMS": "1000",
            }
    return data


@pytest.fixture
def advisor(client):
    user = make_staff("sam", SERVICE_ADVISOR)
    client.force_login(user)
    return user


@pytest.fixture
def order():
    set_rates(parts_tax_rate="0", shop_supplies_rate="0", hazardous_waste_fee="0")
    order = make_order()
    add_job_with_lines(order, title="Brakes", labor=[("0.7", "100")], approve=False)
    return order


# --------------------------------------------------------------------------------------------
# The buttons, status by status
# --------------------------------------------------------------------------------------------


def test_an_estimate_offers_sending_approving_in_person_and_canceling(client, advisor, order):
    tools = _tools(_page(client, order))
    assert "Send for approval: copy link" in tools and 'data-copy="approval-link"' in tools
    assert "Customer approved in person" in tools
    assert "Cancel order" in tools
    for later in ("Start work", "Complete work", ">Invoice<", "Take payment"):
        assert later not in tools
    # The full link the copy button copies, with scheme and host.
    assert re.search(
        r'id="approval-link" readonly size="70" value="http://testserver/estimate/',
        (_page(client, order).content.decode()),
    )


def _confirm_in_person(client, order, page):
    """Press "Yes, the customer approved" on the confirmation `page`: its form as it is."""
    html = page.content.decode()
    form = html[html.index('<form method="post" class="approve-in-person">') :]
    form = form[: form.index("</form>")]
    fields = re.findall(r'<input type="hidden" name="(job|total|confirm)" value="([^"]*)"', form)
    data = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    return client.post(
        reverse("admin:repairs_repairorder_step", args=[order.pk, "approve_in_person"]),
        data,
        follow=True,
    )


def test_approving_in_person_then_each_step_by_its_button_to_paid(client, advisor, order):
    page = _step(client, order, "approve_in_person")
    assert order.jobs.get().authorization == Authorization.PENDING
    response = _confirm_in_person(client, order, page)
    assert f"{order.number}: approved in person." in _messages(response)
    job = order.jobs.get()
    assert job.authorization == Authorization.APPROVED
    assert job.authorized_by == "Maria Garcia"
    tools = _tools(response)
    assert "Start work" in tools and "Customer approved in person" not in tools
    assert "Approved by Maria Garcia, in person" in response.content.decode()

    assert "work started" in _messages(_step(client, order, "start"))
    response = _step(client, order, "complete")
    assert "work completed" in _messages(response)
    assert ">Invoice<" in _tools(response) and "Cancel order" not in _tools(response)

    response = _step(client, order, "invoice")
    invoice = Invoice.objects.get(repair_order=order)
    url = reverse("admin:repairs_invoice_change", args=[invoice.pk])
    assert f'Invoice <a href="{url}">{invoice.number}</a> written, 70.00 to pay.' in (
        _messages(response)
    )
    # Invoiced: the payment form, for this invoice and its balance.
    tools = _tools(response)
    assert f"/admin/repairs/payment/add/?invoice={invoice.pk}&amp;amount=70.00" in tools

    invoice_page = client.get(url)
    assert f"?invoice={invoice.pk}&amp;amount=70.00" in invoice_page.content.decode()
    form = client.get(f"/admin/repairs/payment/add/?invoice={invoice.pk}&amount=70.00")
    assert form.context["adminform"].form.initial["amount"] == "70.00"
    response = client.post(
        "/admin/repairs/payment/add/",
        {"invoice": invoice.pk, "amount": "70.00", "method": "card", "reference": "auth 1"},
        follow=True,
    )
    payment = Payment.objects.get()
    assert response.redirect_chain[-1][0] == url
    assert (
        f'Payment <a href="/admin/repairs/payment/{payment.pk}/change/">70.00 (Card)</a> '
        f'recorded on invoice <a href="{url}">{invoice.number}</a>; balance 0.00.'
    ) in _messages(response)
    order.refresh_from_db()
    assert order.status == RepairOrderStatus.PAID
    assert "Take payment" not in client.get(url).content.decode()


def test_a_refused_step_is_a_message_and_nothing_changes(client, advisor, order):
    part = make_part("BP-1", on_hand=1)
    other = make_part("FL-2", on_hand=0)
    job = order.jobs.get()
    services.add_part_line(job, part, 3)
    services.add_part_line(job, other, 2)
    services.authorize_job(job, Authorization.APPROVED, method="phone", authorized_by="Maria")
    _step(client, order, "approve")
    response = _step(client, order, "start")
    text = _messages(response)
    # Every shortage at once, not the first.
    assert "BP-1 needs 3, 1 on hand" in text and "FL-2 needs 2, 0 on hand" in text
    order.refresh_from_db()
    part.refresh_from_db()
    assert order.status == RepairOrderStatus.APPROVED and part.on_hand == 1
    # Each short line offers a special order: a purchase order for what is missing.
    html = response.content.decode()
    assert '1 on hand, 2 short · <a href="/admin/inventory/purchaseorder/add/?notes=' in html
    assert "0 on hand, 2 short" in html and html.count(">special order</a>") == 2
    # The link opens the purchase order with its note and its line: the part, what is missing.
    link = html_lib.unescape(re.search(r'1 on hand, 2 short · <a href="([^"]+)"', html).group(1))
    form = client.get(link)
    assert form.context["adminform"].form.initial["notes"] == (
        "Special order: 2 x BP-1 for 1. Brakes"
    )
    [lines] = [f for f in form.context["inline_admin_formsets"] if f.formset.prefix == "lines"]
    assert lines.formset.forms[0].initial == {"part": part.pk, "quantity_ordered": 2}


def test_cancel_asks_first(client, advisor, order):
    url = reverse("admin:repairs_repairorder_step", args=[order.pk, "cancel"])
    page = client.get(url)
    assert f"Yes, cancel {order.number}" in page.content.decode()
    crumbs = page.content.decode().split('<div class="breadcrumbs">')[1].split("</div>")[0]
    assert f">{order.number}</a>" in crumbs and crumbs.rstrip().endswith("&rsaquo; Cancel")
    order.refresh_from_db()
    assert order.status == RepairOrderStatus.ESTIMATE
    response = client.post(url, {"reason": "customer went elsewhere"}, follow=True)
    assert f"{order.number}: canceled." in _messages(response)
    order.refresh_from_db()
    assert order.status == RepairOrderStatus.CANCELED
    assert order.events.last().note == "customer went elsewhere"
    # A step is run by a POST only.
    assert (
        client.get(reverse("admin:repairs_repairorder_step", args=[order.pk, "start"])).status_code
        == 405
    )


def _pending_table(page):
    """The confirmation's table of jobs, as rows of cell texts."""
    html = page.content.decode()
    table = html[html.index('<table id="pending-jobs">') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


def test_approving_in_person_asks_first_with_the_jobs_and_totals(client, advisor, order):
    set_rates(parts_tax_rate="10", shop_supplies_rate="0", hazardous_waste_fee="0")
    part = make_part("BP-1", price="20.00")
    add_job_with_lines(
        order, title="Wipers", labor=[("0.5", "100")], parts=[(part, 2, None)], approve=False
    )
    add_job_with_lines(order, title="Tires", labor=[("1", "100")], approve=False)
    services.authorize_job(
        order.jobs.get(title="Tires"), Authorization.DECLINED, method="phone", authorized_by="M"
    )
    url = reverse("admin:repairs_repairorder_step", args=[order.pk, "approve_in_person"])
    # The button's post and an opened address both only ask.
    for response in (client.post(url, {"step": "approve_in_person"}), client.get(url)):
        assert response.status_code == 200
        html = response.content.decode()
        assert f"Did the customer approve {order.number}?" in html
        assert "Maria Garcia approves these jobs" in html
        assert _pending_table(response) == [
            ["Job", "Amount (labor and parts)"],
            ["1. Brakes", "70.00"],
            ["2. Wipers", "90.00"],
            ["Total with these jobs approved (shop supplies, fees and tax included)", "164.00"],
        ]
        assert 'value="Yes, the customer approved"' in html
        assert f'<a href="/admin/repairs/repairorder/{order.pk}/change/" class="button' in html
        assert "Tires" not in html  # declined: not agreed to
    assert set(order.jobs.values_list("authorization", flat=True)) == {
        Authorization.PENDING,
        Authorization.DECLINED,
    }
    order.refresh_from_db()
    assert order.status == RepairOrderStatus.ESTIMATE

    response = _confirm_in_person(client, order, client.get(url))
    assert f"{order.number}: approved in person." in _messages(response)
    assert dict(order.jobs.values_list("title", "authorization")) == {
        "Brakes": Authorization.APPROVED,
        "Wipers": Authorization.APPROVED,
        "Tires": Authorization.DECLINED,
    }
    order.refresh_from_db()
    assert order.status == RepairOrderStatus.APPROVED


def test_a_job_added_after_the_confirmation_was_shown_is_not_approved_unseen(
    client, advisor, order
):
    shown = _step(client, order, "approve_in_person")
    add_job_with_lines(order, title="Timing belt", labor=[("4", "100")], approve=False)
    response = _confirm_in_person(client, order, shown)
    assert (
        f"{order.number} changed since the customer was shown its jobs and total: nothing was "
        "approved. Go through them with the customer again."
    ) in _messages(response)
    assert set(order.jobs.values_list("authorization", flat=True)) == {Authorization.PENDING}
    order.refresh_from_db()
    assert order.status == RepairOrderStatus.ESTIMATE


def test_a_confirmation_with_a_changed_price_approves_nothing(client, advisor, order):
    shown = _step(client, order, "approve_in_person")
    line = order.jobs.get().labor_lines.get()
    line.hours_sold = D("2")
    services.save_labor_line(line)
    response = _confirm_in_person(client, order, shown)
    assert "nothing was approved" in _messages(response)
    assert order.jobs.get().authorization == Authorization.PENDING


def test_who_may_change_orders_but_not_record_decisions_sees_no_button(client, order):
    clerk = make_staff("clerk", SERVICE_ADVISOR)
    clerk.groups.clear()
    clerk.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="repairs",
            codename__in=["view_repairorder", "change_repairorder", "view_job"],
        )
    )
    client.force_login(clerk)
    page = _page(client, order)
    assert page.status_code == 200
    assert "Customer approved in person" not in _tools(page)
    assert "Cancel order" in _tools(page)  # changing the order is theirs
    url = reverse("admin:repairs_repairorder_step", args=[order.pk, "approve_in_person"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"confirm": "yes", "job": [order.jobs.get().pk]}).status_code == 403
    assert order.jobs.get().authorization == Authorization.PENDING


@pytest.mark.parametrize("role", [TECHNICIAN, SALESPERSON])
def test_other_roles_see_no_step_and_are_refused(client, order, role):
    tech = make_staff("tech", TECHNICIAN)
    job = order.jobs.get()
    line = job.labor_lines.get()
    line.technician = tech
    line.save()
    person = tech if role == TECHNICIAN else make_staff("sales", role)
    client.force_login(person)
    page = _page(client, order)
    assert page.status_code == 200
    html = page.content.decode()
    assert "/step/" not in html
    for label in ("Customer approved in person", "Send for approval", "Cancel order"):
        assert label not in html
    for key in ("approve_in_person", "start", "cancel", "invoice"):
        response = client.post(reverse("admin:repairs_repairorder_step", args=[order.pk, key]))
        assert response.status_code == 403, key
    # Nor may they confirm an approval in person, or open its confirmation.
    url = reverse("admin:repairs_repairorder_step", args=[order.pk, "approve_in_person"])
    assert client.get(url).status_code == 403
    response = client.post(url, {"confirm": "yes", "job": [job.pk], "total": "70.00"})
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == RepairOrderStatus.ESTIMATE
    assert order.jobs.get().authorization == Authorization.PENDING


def test_a_technician_sees_no_payment_button_on_an_invoice(client, advisor):
    set_rates(parts_tax_rate="0", shop_supplies_rate="0", hazardous_waste_fee="0")
    order = make_order()
    add_job_with_lines(order, labor=[("1", "100")])
    invoice = services.invoice_repair_order(take_to(order, "completed"))
    url = reverse("admin:repairs_invoice_change", args=[invoice.pk])
    assert "Take payment" in client.get(url).content.decode()
    client.force_login(make_staff("sales", SALESPERSON))
    page = client.get(url)
    assert page.status_code in (200, 403)
    assert "Take payment" not in page.content.decode()


# --------------------------------------------------------------------------------------------
# Internal orders
# --------------------------------------------------------------------------------------------


def test_an_internal_order_is_released_for_work_and_its_labor_is_at_cost(client, advisor):
    set_rates(labor_rate="120.00", technician_cost_rate="45.00")
    order = make_order(make_vehicle())
    assert order.internal
    job = services.add_job(order, title="Recondition")
    line = services.add_labor_line(job, operation="Detail", hours_sold=D("2"))
    assert line.rate == D("45.00")
    tools = _tools(_page(client, order))
    assert "Release for work (internal)" in tools
    assert "Send for approval" not in tools and "approved in person" not in tools
    response = _step(client, order, "approve")
    assert f"{order.number}: approved." in _messages(response)
    assert "Released for work by" in response.content.decode()
    assert "(internal order)" in response.content.decode()
    _step(client, order, "start")
    response = _step(client, order, "complete")
    tools = _tools(response)
    assert "Close at cost" in tools and ">Invoice<" not in tools
    response = _step(client, order, "close_internal")
    order.refresh_from_db()
    assert order.status == RepairOrderStatus.CLOSED
    assert "labor 90.00" in order.events.last().note


# --------------------------------------------------------------------------------------------
# Lines on the order's page, job numbers, hours
# --------------------------------------------------------------------------------------------


def test_labor_and_parts_of_every_job_are_saved_from_the_orders_page(client, advisor, order):
    part = make_part("BP-200", on_hand=4, price="64.00")
    second = services.add_job(order, title="Wipers")
    brakes = order.jobs.get(position=1)
    line = brakes.labor_lines.get()
    page = _page(client, order)
    data = _page_data(order, (brakes, second))
    # The brake job's labor line changed; a part on it; labor added on the wipers.
    data |= {
        "jobs-0-labor_lines-TOTAL_FORMS": "1",
        "jobs-0-labor_lines-INITIAL_FORMS": "1",
        "jobs-0-labor_lines-0-id": line.pk,
        "jobs-0-labor_lines-0-job": brakes.pk,
        "jobs-0-labor_lines-0-operation": "Pads",
        "jobs-0-labor_lines-0-hours_sold": "1.5",
        "jobs-0-labor_lines-0-rate": "100.00",
        "jobs-0-labor_lines-0-technician": "",
        "jobs-0-part_lines-TOTAL_FORMS": "1",
        "jobs-0-part_lines-0-job": brakes.pk,
        "jobs-0-part_lines-0-part": part.pk,
        "jobs-0-part_lines-0-quantity": "2",
        "jobs-0-part_lines-0-price": "",
        "jobs-1-labor_lines-TOTAL_FORMS": "1",
        "jobs-1-labor_lines-0-job": second.pk,
        "jobs-1-labor_lines-0-operation": "Blades",
        "jobs-1-labor_lines-0-hours_sold": "0.2",
        "jobs-1-labor_lines-0-rate": "100.00",
        "jobs-1-labor_lines-0-technician": "",
    }
    assert page.status_code == 200
    response = client.post(
        reverse("admin:repairs_repairorder_change", args=[order.pk]), data, follow=True
    )
    assert "was changed successfully" in _messages(response), response.content.decode()[:3000]
    line.refresh_from_db()
    assert (line.operation, line.hours_sold) == ("Pads", D("1.50"))
    assert brakes.part_lines.get().price == D("64.00")
    assert second.labor_lines.get().hours_sold == D("0.20")


def test_job_numbers_stay_one_two_three_after_a_removal(order):
    services.add_job(order, title="Second")
    services.add_job(order, title="Third")
    services.remove_job(order.jobs.get(position=1))
    services.add_job(order, title="Fourth")
    assert list(order.jobs.values_list("position", "title")) == [
        (1, "Second"),
        (2, "Third"),
        (3, "Fourth"),
    ]


def test_hours_read_as_people_write_them(client, advisor, order):
    assert [hours_text(v) for v in (D("0.700000000000000"), 0.7, D("2.00"), D("1.25"), 3)] == [
        "0.7",
        "0.7",
        "2",
        "1.25",
        "3",
    ]
    job = order.jobs.get()
    listed = client.get(reverse("admin:repairs_job_changelist")).content.decode()
    assert '<td class="field-hours_sold">0.7</td>' in listed
    lines = client.get(reverse("admin:repairs_laborline_changelist")).content.decode()
    assert '<td class="field-hours">0.7</td>' in lines
    printed = client.get(reverse("admin:repairs_repairorder_print", args=[order.pk]))
    assert re.search(r"<td class=\"num\">0\.7</td>", printed.content.decode())
    assert str(job.labor_lines.get()) == "Brakes labor (0.7 h)"


# --------------------------------------------------------------------------------------------
# The part picker
# --------------------------------------------------------------------------------------------


def test_the_part_picker_shows_stock_price_and_bin_and_offers_a_special_order(client, advisor):
    make_part(
        "BP-200", description="Front brake pads", price="64.00", on_hand=4, bin_location="A-12"
    )
    make_part("BP-300", description="Rear brake pads", price="58.00", on_hand=0)
    url = reverse("admin:repairs_partline_picker")
    params = {
        "term": "BP",
        "app_label": "repairs",
        "model_name": "partline",
        "field_name": "part",
    }
    response = client.get(url, params)
    assert response.status_code == 200
    labels = [row["text"] for row in json.loads(response.content)["results"]]
    assert labels == [
        "BP-200 Front brake pads · 4 on hand · 64.00 · bin A-12",
        "BP-300 Rear brake pads · none in stock: special order · 58.00",
    ]
    # The order's page asks this picker for its part boxes.
    order = make_order()
    services.add_job(order, title="Brakes")
    assert url in _page(client, order).content.decode()
    client.force_login(make_staff("sales", SALESPERSON))
    assert client.get(url, params).status_code == 403


# --------------------------------------------------------------------------------------------
# Queries: flat with the lines of a job
# --------------------------------------------------------------------------------------------


@disable_auditlog()
def _order_with_lines(count):
    set_rates(hazardous_waste_fee="3.50")
    order = make_order()
    labor = [("0.5", "100.00")] * count
    parts = [(make_part(f"P-{index}", on_hand=5), 1, None) for index in range(count)]
    for title in ("Brakes", "Filters"):
        add_job_with_lines(order, title=title, labor=labor, parts=parts)
    return order


@pytest.mark.parametrize("lines", [1, 30])
def test_the_order_page_costs_the_same_queries_with_1_or_30_lines_per_job(
    client, advisor, lines, django_assert_max_num_queries
):
    order = _order_with_lines(lines)
    with django_assert_max_num_queries(24):
        response = _page(client, order)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'name="jobs-1-part_lines-{lines - 1}-quantity"' in html
    assert html.count("data-copy=") >= 1 and Job.objects.count() == 2


@pytest.mark.parametrize("jobs", [1, 6])
def test_the_order_page_costs_the_same_queries_with_1_or_6_jobs(
    client, advisor, jobs, django_assert_max_num_queries
):
    set_rates(parts_tax_rate="0")
    technician = make_staff("tina", TECHNICIAN)
    order = make_order()
    with disable_auditlog():
        for index in range(jobs):
            add_job_with_lines(
                order,
                title=f"Job {index}",
                labor=[("0.5", "100.00")],
                parts=[(make_part(f"P-{index}", on_hand=5), 1, None)],
                technician=technician,
                approve=False,
            )
    # 17 when it is the process's first page (the number of locations is read once).
    with django_assert_max_num_queries(17):
        response = _page(client, order)
    assert response.status_code == 200
    html = response.content.decode()
    # Every job's lines to edit, a row to add one of each, and the row templates.
    for index in range(jobs):
        assert f'name="jobs-{index}-labor_lines-0-operation"' in html
        assert f'name="jobs-{index}-labor_lines-1-operation"' in html
        assert f'name="jobs-{index}-part_lines-1-part"' in html
        assert f'name="jobs-{index}-labor_lines-__prefix__-operation"' in html
    # The line's technician chosen in its select; a new line offers every technician.
    line_select = html.split('name="jobs-0-labor_lines-0-technician"', 1)[1].split("</select>")[0]
    assert f'<option value="{technician.pk}" selected>Tina' in line_select
    new_select = html.split('name="jobs-0-labor_lines-1-technician"', 1)[1].split("</select>")[0]
    assert '<option value="" selected>' in new_select
    assert f'<option value="{technician.pk}">Tina' in new_select
    assert 'value="0.5"' in html


def test_a_payer_other_than_the_vehicles_owner_is_warned_on_the_orders_page(client, advisor):
    owner = make_customer("Garcia", "Maria")
    fleet = make_customer("Fleet", "Acme", phone="(217) 555-0199")
    vehicle = make_vehicle(owner=owner)
    order = make_order(vehicle, customer=owner)
    assert "pays for this order" not in _page(client, order).content.decode()
    # The customer who pays changed after the order was made (the page shows it fixed).
    order.customer = fleet
    order.save(update_fields=["customer"])
    html = _page(client, order).content.decode()
    assert "Fleet, Acme pays for this order" in html and "belongs to Garcia, Maria" in html
    # So did the owner: the order's customer now owns the car, nothing to check.
    vehicle.owner = fleet
    vehicle.save(update_fields=["owner"])
    assert "pays for this order" not in _page(client, order).content.decode()


def test_a_shortage_raises_before_any_stock_moves(order):
    part = make_part("BP-1", on_hand=1)
    job = order.jobs.get()
    services.add_part_line(job, part, 1)
    services.add_part_line(job, make_part("BP-2", on_hand=0), 1)
    services.authorize_job(job, Authorization.APPROVED, method="phone", authorized_by="Maria")
    services.approve_repair_order(order)
    with pytest.raises(RepairError, match="BP-2 needs 1, 0 on hand"):
        services.start_work(order)
    part.refresh_from_db()
    assert part.on_hand == 1


def test_every_short_part_typed_on_the_page_is_named_at_once_and_nothing_moves(
    client, advisor, order
):
    """Parts added to an approved order are issued at once; when several are short, the one
    message names each of them, and no line is added and no stock moves."""
    job = order.jobs.get()
    services.authorize_job(job, Authorization.APPROVED, method="phone", authorized_by="Maria")
    services.approve_repair_order(order)
    pads, rotor, wipers = (
        make_part("BP-A", on_hand=1),
        make_part("RT-B", on_hand=0),
        make_part("WB-C", on_hand=5),
    )
    data = _page_data(order, (job,)) | {"jobs-0-part_lines-TOTAL_FORMS": "3"}
    for index, (part, quantity) in enumerate(((pads, 2), (rotor, 1), (wipers, 1))):
        data |= {
            f"jobs-0-part_lines-{index}-job": job.pk,
            f"jobs-0-part_lines-{index}-part": part.pk,
            f"jobs-0-part_lines-{index}-quantity": str(quantity),
            f"jobs-0-part_lines-{index}-price": "",
        }
    response = client.post(
        reverse("admin:repairs_repairorder_change", args=[order.pk]), data, follow=True
    )
    said = _messages(response)
    assert "BP-A needs 2, 1 on hand" in said and "RT-B needs 1, 0 on hand" in said, said
    assert "WB-C" not in said
    assert not job.part_lines.exists()
    for part, on_hand in ((pads, 1), (rotor, 0), (wipers, 5)):
        part.refresh_from_db()
        assert part.on_hand == on_hand
