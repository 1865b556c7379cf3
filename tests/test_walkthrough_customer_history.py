"""A service advisor at a real browser with a returning customer: the customer's page tells their
story (their car, earlier orders, the invoice still owed, the work they declined last time),
one button opens a new repair order already filled in, and on the status board the advisor sees
what each order waits for and gives a job to a technician, who then finds it on their screen."""

from decimal import Decimal

import pytest

from repairs import services
from repairs.choices import Authorization, AuthorizationMethod
from repairs.models import LaborLine, RepairOrder
from tests.helpers.browser import choose, messages, save
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_customer,
    make_order,
    make_part,
    make_vehicle,
    take_to,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_customer_page_tells_the_story_and_a_job_is_assigned_from_the_board(
    people, advisor, technician
):
    grace = make_customer("Hopper", "Grace", phone="(217) 555-0199")
    accord = make_vehicle(owner=grace, plate="GRC 1906")
    # Last visit: brakes done and invoiced, 50.00 paid; the timing belt declined.
    last = make_order(accord, customer=grace)
    add_job_with_lines(last, title="Front brakes", labor=[("1.0", "120.00")])
    belt = services.add_job(last, title="Timing belt")
    services.authorize_job(
        belt, Authorization.DECLINED, method=AuthorizationMethod.PHONE, authorized_by="Grace"
    )
    take_to(last, "invoiced")
    invoice = last.invoice
    services.record_payment(invoice, Decimal("50.00"), "cash")
    due = invoice.total - Decimal("50.00")

    desk = people.open()
    page = desk.page
    desk.log_in("advisor")

    # The customer's page: the car, the order, the invoice with what is still owed, the belt.
    desk.go(f"/admin/accounts/customer/{grace.pk}/change/")
    # The history arrives once the page is shown (fetched from its own address), in place of
    # the loading note.
    page.locator("#history-vehicles").wait_for()
    assert page.locator("[data-history-loading]").count() == 0
    assert page.locator("#history[aria-busy]").count() == 0
    assert "GRC 1906" in desk.text("#history-vehicles")
    assert last.number in desk.text("#history-repair-orders")
    invoices = desk.text("#history-invoices")
    assert invoice.number in invoices and f"Balance due: {due:.2f}" in invoices
    assert "Timing belt" in desk.text("#history-recommendations")

    # One click opens a repair order for this customer and this car.
    new_visit = page.locator("#history-new-visit tr", has_text="GRC 1906")
    new_visit.get_by_role("link", name="New repair order").click()
    page.wait_for_load_state()
    assert "Hopper, Grace" in desk.text(".field-customer")
    assert accord.vin in desk.text(".field-vehicle")
    save(page, "_continue")
    assert "was added successfully" in messages(page)
    visit = RepairOrder.objects.exclude(pk=last.pk).get()
    assert (visit.customer, visit.vehicle) == (grace, accord)

    # Work approved on the new visit, one part short: the board says so; a job to assign.
    rotor = make_part("RT-300", description="Brake rotor", on_hand=0)
    job = add_job_with_lines(
        visit, title="Timing belt", labor=[("3.0", "120.00")], parts=[(rotor, 1, None)]
    )
    take_to(visit, "approved")
    waiting = make_order()
    add_job_with_lines(waiting, title="Noise at the front", approve=False)

    desk.go("/admin/repairs/repairorder/board/")
    board = desk.text(".board")
    assert "Waiting for parts" in board and "Waiting for approval" in board
    row = page.locator(f"#board-job-{job.pk}")
    row.locator("select[name=technician]").select_option(label=str(technician))
    row.get_by_role("button", name="Assign").click()
    page.wait_for_load_state()
    assert f"{visit.number} job {job} assigned to {technician}" in messages(page)
    assert set(LaborLine.objects.filter(job=job).values_list("technician", flat=True)) == {
        technician.pk
    }

    # The technician finds it on their screen, marked as theirs.
    terry = people.open().log_in("tech")
    card = terry.text(f"#job-{job.pk}")
    assert "Timing belt" in card and "Assigned to you" in card and "Brake rotor" in card
    assert f"{due:.2f}" not in terry.text()


def test_a_new_car_shows_up_on_its_owners_page(people, advisor):
    """The vehicle page of a new car shows no history yet, and its owner's page then lists it."""
    grace = make_customer("Hopper", "Grace", phone="(217) 555-0199")
    desk = people.open()
    page = desk.page
    desk.log_in("advisor")
    desk.go("/admin/inventory/vehicle/add/")
    assert page.locator("#history").count() == 0
    page.fill("#id_vin", "1HGCM82633A004352")
    page.fill("#id_make", "Honda")
    page.fill("#id_model", "Accord")
    choose(page, "id_owner", "Hopper")
    save(page)
    assert "was added successfully" in messages(page)
    desk.go(f"/admin/accounts/customer/{grace.pk}/change/")
    assert "1HGCM82633A004352" in desk.text("#history-vehicles")
    assert "No repair orders yet." in desk.text("#history-repair-orders")
