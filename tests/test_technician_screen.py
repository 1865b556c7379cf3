"""The technician's own screen: their jobs of the day (assigned to them, or approved and assigned
to nobody) by promise time, what they are clocked on, one click to clock on and off through the
time services, each job's complaint, notes and parts, and not one price. Technicians land on it
after logging in; other roles are refused."""

import datetime
import itertools
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from repairs.models import TimeEntry
from tests.helpers.builders.inventory import admin_form_data
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_order,
    make_part,
    make_staff,
    take_to,
)

pytestmark = pytest.mark.django_db

SCREEN = "/admin/my-jobs/"
_skus = itertools.count(4471)
# The order's figures: labor rate, labor amount (1.5 h), part price, part cost.
FIGURES = ("97.00", "145.50", "55.00", "31.17")


def assert_no_price(html):
    for figure in FIGURES:
        assert figure not in html, figure
    for label in ("Rate", "Amount", "Unit price", "Unit cost", "Total"):
        assert label not in html, label
    assert not re.search(r"[$€£]\s?\d", html)


def brake_job(technician=None, *, status="in_progress", promised_in=None, title="Front brakes"):
    part = make_part(
        f"BP-{next(_skus)}",
        cost="31.17",
        price="55.00",
        description="Front brake pads",
    )
    promised_at = timezone.now() + promised_in if promised_in is not None else None
    order = make_order(notes="Customer waits in the lounge.", promised_at=promised_at)
    job = add_job_with_lines(
        order, title=title, labor=[("1.5", "97.00")], parts=[(part, 1, None)], technician=technician
    )
    take_to(order, status)
    return job


def test_the_technician_sees_their_jobs_and_unassigned_ones_by_promise_time(login, technician):
    other = make_staff("otto", "Technician")
    later = brake_job(technician, promised_in=datetime.timedelta(hours=5), title="Later job")
    sooner = brake_job(None, promised_in=datetime.timedelta(hours=1), title="Sooner job")
    not_mine = brake_job(other, title="Otto job")
    estimate = brake_job(technician, status="approved", title="Approved only")
    client = login(technician)

    response = client.get(SCREEN)

    assert response.status_code == 200
    page = response.content.decode()
    assert page.index("Sooner job") < page.index("Later job")
    assert "Otto job" not in page and not_mine.repair_order.number not in page
    # An approved order not started yet: on the list, without a clock-on button.
    assert "Approved only" in page
    assert reverse("technician:clock_on", args=[estimate.pk]) not in page
    assert reverse("technician:clock_on", args=[sooner.pk]) in page
    assert "Later job needed" in page and "Customer waits in the lounge." in page
    assert "Front brake pads" in page
    assert "Assigned to you" in page and "Not assigned yet" in page
    assert_no_price(page)
    assert reverse("technician:clock_on", args=[later.pk]) in page


def test_one_click_clocks_on_the_running_time_shows_and_one_click_clocks_off(login, technician):
    job = brake_job(technician)
    client = login(technician)

    response = client.post(reverse("technician:clock_on", args=[job.pk]), follow=True)

    entry = TimeEntry.objects.get()
    assert (entry.technician, entry.job, entry.ended) == (technician, job, None)
    page = response.content.decode()
    assert f"Clocked on {job.repair_order.number}" in page
    assert "data-running-seconds=" in page and "running-time.js" in page
    assert reverse("technician:clock_off") in page
    assert_no_price(page)

    response = client.post(reverse("technician:clock_off"), follow=True)

    entry.refresh_from_db()
    assert entry.ended is not None
    assert "Clocked off" in response.content.decode()


def test_clocking_on_an_order_not_started_says_why_and_records_nothing(login, technician):
    job = brake_job(technician, status="approved")
    client = login(technician)

    response = client.post(reverse("technician:clock_on", args=[job.pk]), follow=True)

    assert "time is clocked only on orders in progress" in response.content.decode()
    assert not TimeEntry.objects.exists()


def test_a_technician_cannot_clock_on_someone_elses_job(login, technician):
    job = brake_job(make_staff("otto", "Technician"))
    client = login(technician)

    response = client.post(reverse("technician:clock_on", args=[job.pk]))

    assert response.status_code == 404
    assert not TimeEntry.objects.exists()


def test_clocking_is_a_post_only(login, technician):
    job = brake_job(technician)
    client = login(technician)

    assert client.get(reverse("technician:clock_on", args=[job.pk])).status_code == 405
    assert client.get(reverse("technician:clock_off")).status_code == 405
    assert not TimeEntry.objects.exists()


def test_technicians_land_on_their_screen_and_others_on_the_home_page(
    login, technician, advisor, manager
):
    assert login(technician).get("/admin/").url == SCREEN
    for user in (advisor, manager):
        response = login(user).get("/admin/")
        assert response.status_code == 200, user


def test_a_technician_saving_their_notes_on_a_job_goes_back_to_their_screen(
    login, technician, advisor
):
    job = brake_job(technician)
    url = reverse("admin:repairs_job_change", args=[job.pk])
    client = login(technician)
    form = admin_form_data(client.get(url))
    notes = {"cause": "Pads worn to the backing plate", "correction": "Replaced pads"}
    response = client.post(url, {**form, **notes, "_save": "Save"})
    assert response.status_code == 302 and response.url == SCREEN
    job.refresh_from_db()
    assert (job.cause, job.correction) == (notes["cause"], notes["correction"])
    # An advisor saving a job goes to the list of jobs, as before.
    client = login(advisor)
    response = client.post(url, {**admin_form_data(client.get(url)), "_save": "Save"})
    assert response.status_code == 302
    assert response.url == reverse("admin:repairs_job_changelist")


@pytest.mark.parametrize("role", ["advisor", "manager", "salesperson", "operator"])
def test_other_roles_are_refused_the_screen_and_its_clock(request, login, role):
    user = request.getfixturevalue(role)
    job = brake_job(None)
    client = login(user)

    assert client.get(SCREEN).status_code == 403
    assert client.post(reverse("technician:clock_on", args=[job.pk])).status_code == 403
    assert client.post(reverse("technician:clock_off")).status_code == 403
    assert not TimeEntry.objects.exists()


def test_an_anonymous_visitor_is_sent_to_the_login(client):
    response = client.get(SCREEN)
    assert response.status_code == 302 and "/admin/login/" in response.url


def test_the_screen_costs_the_same_queries_with_one_job_or_thirty(
    login, technician, django_assert_max_num_queries
):
    first = brake_job(technician)
    client = login(technician)
    client.post(reverse("technician:clock_on", args=[first.pk]))
    client.get(SCREEN)

    with django_assert_max_num_queries(12) as one:
        assert client.get(SCREEN).status_code == 200
    for index in range(15):
        brake_job(technician, title=f"Mine {index}")
        brake_job(None, title=f"Spare {index}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(SCREEN)
    assert "Spare 14" in response.content.decode()
