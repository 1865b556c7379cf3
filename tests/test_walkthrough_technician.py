"""A technician's day at a real browser: log in and land on their own screen, read the job's
complaint and parts without a single price, clock on with one click and watch the time run,
clock off with one click, and see the time recorded."""

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


def test_the_technicians_day_without_a_price(people, live_server, technician, brake_job):
    terry = people.open().log_in("tech")

    # Logged in, the technician is on their screen: the job, its complaint and parts, no price.
    assert terry.page.url.endswith("/admin/my-jobs/")
    screen = terry.text()
    assert "1. Front brakes" in screen and brake_job.repair_order.number in screen
    assert "Front brakes needed" in screen and "BP-4471 Front brake pads" in screen
    assert "Not clocked on a job" in screen
    assert_no_price(screen, "technician's screen")

    # One click clocks on; the time runs on the page.
    card = terry.page.locator(f"#job-{brake_job.pk}")
    card.get_by_role("button", name="Clock on").click()
    terry.page.wait_for_load_state()
    assert "Clocked on" in terry.text(".messagelist")
    clock = terry.text("#clock")
    assert f"Clocked on {brake_job.repair_order.number}" in clock
    assert re.search(r"0 h 0\d min", clock), clock
    entry = TimeEntry.objects.get()
    assert (entry.technician, entry.job_id, entry.ended) == (technician, brake_job.pk, None)
    assert_no_price(terry.text(), "technician's screen, clocked on")

    # One click clocks off.
    terry.page.locator("#clock").get_by_role("button", name="Clock off").click()
    terry.page.wait_for_load_state()
    assert "Clocked off" in terry.text(".messagelist")
    assert "Not clocked on a job" in terry.text("#clock")
    entry.refresh_from_db()
    assert entry.ended is not None

    # Their jobs list, from the screen's links.
    terry.page.click("nav.tech-more a[href='/admin/repairs/job/']")
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
    time_rows = terry.text("#time_entries-group")
    assert "Tech" in time_rows or "tech" in time_rows

    # The repair order: no totals, no Print or PDF button, no history of prices.
    terry.page.click(f"a:has-text('{brake_job.repair_order.number}')")
    terry.page.wait_for_load_state()
    order_page = terry.text()
    assert brake_job.repair_order.number in order_page
    assert_no_price(order_page, "order page")
    for button in ("Print", "PDF", "History"):
        assert terry.page.locator(f".object-tools a:has-text('{button}')").count() == 0

    # The time recorded, on their time list.
    terry.go("/admin/repairs/timeentry/")
    times = terry.text()
    assert brake_job.repair_order.number in times and "1. Front brakes" in times
    assert_no_price(times, "time list")
