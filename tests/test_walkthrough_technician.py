"""A technician's day at a real browser: log in, find their job, read the complaint and the parts
without a single price, clock on and off from the jobs list, and see the time recorded."""

import re

import pytest

from repairs.models import TimeEntry
from tests.helpers.builders.repairs import add_job_with_lines, make_order, make_part, take_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The order's figures: labor rate, labor amount (1.5 h), part price, part cost, job amount.
FIGURES = ("97.00", "145.50", "55.00", "31.17", "200.50")
PRICE_LABELS = ("Unit price", "Rate", "Total", "Amount", "amount", "Unit cost", "Discount")


def assert_no_price(text, where):
    for figure in FIGURES:
        assert figure not in text, (where, figure)
    for label in PRICE_LABELS:
        assert label not in text, (where, label)
    assert not re.search(r"[$€£]\s?\d", text), where


@pytest.fixture
def brake_job(technician):
    part = make_part("BP-4471", cost="31.17", price="55.00", description="Front brake pads")
    order = make_order()
    job = add_job_with_lines(
        order,
        title="Front brakes",
        labor=[("1.5", "97.00")],
        parts=[(part, 1, None)],
        technician=technician,
    )
    take_to(order, "in_progress")
    return job


def run_action_on(page, job, action):
    page.check(f"input.action-select[value='{job.pk}']")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.wait_for_load_state()


def test_the_technicians_day_without_a_price(people, live_server, technician, brake_job):
    terry = people.open().log_in("tech")

    # Their jobs, from the home page.
    terry.go("/admin/")
    terry.page.click("a[href='/admin/repairs/job/']")
    terry.page.wait_for_load_state()
    jobs = terry.text()
    assert "1. Front brakes" in jobs and brake_job.repair_order.number in jobs
    assert_no_price(jobs, "jobs list")

    # The job: the customer's complaint and the parts to fit, no price anywhere.
    terry.page.click("a:has-text('1. Front brakes')")
    terry.page.wait_for_load_state()
    job_page = terry.text()
    assert "Front brakes needed" in job_page
    assert "BP-4471 Front brake pads" in job_page
    assert_no_price(job_page, "job page")

    # The repair order: no totals, no Print or PDF button, no history of prices.
    terry.page.click(f"a:has-text('{brake_job.repair_order.number}')")
    terry.page.wait_for_load_state()
    order_page = terry.text()
    assert brake_job.repair_order.number in order_page
    assert_no_price(order_page, "order page")
    for button in ("Print", "PDF", "History"):
        assert terry.page.locator(f".object-tools a:has-text('{button}')").count() == 0

    # Clock on, then off, from the jobs list.
    terry.go("/admin/repairs/job/")
    run_action_on(terry.page, brake_job, "clock_in")
    assert "Clocked in on 1. Front brakes" in terry.text(".messagelist")
    run_action_on(terry.page, brake_job, "clock_out")
    assert "Clocked out of 1. Front brakes" in terry.text(".messagelist")
    entry = TimeEntry.objects.get()
    assert (entry.technician, entry.job_id) == (technician, brake_job.pk)
    assert entry.ended is not None

    # The time recorded, on their time list and on the job.
    terry.go("/admin/repairs/timeentry/")
    times = terry.text()
    assert brake_job.repair_order.number in times and "1. Front brakes" in times
    assert_no_price(times, "time list")
    terry.go(f"/admin/repairs/job/{brake_job.pk}/change/")
    time_rows = terry.text("#time_entries-group")
    assert "Tech" in time_rows or "tech" in time_rows
    assert_no_price(terry.text(), "job page after clocking")
