"""Technicians in the admin: only the orders and jobs they have labor on, no costs, no price
changes; they write cause and correction and clock their time."""

from decimal import Decimal as D

import pytest
from django.db import IntegrityError
from django.urls import reverse

from accounts.roles import SERVICE_ADVISOR, TECHNICIAN
from repairs import services
from repairs.exceptions import RepairError
from repairs.models import TimeEntry
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_order,
    make_part,
    make_staff,
    take_to,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(tech):
    """One order with a job of terry's, one with somebody else's."""
    part = make_part("BP-1", cost="31.17", price="55.00")
    mine = make_order()
    my_job = add_job_with_lines(
        mine, title="Brakes", labor=[("1.5", "100.00")], parts=[(part, 1, None)], technician=tech
    )
    theirs = make_order()
    their_job = add_job_with_lines(
        theirs,
        title="Alignment",
        labor=[("1", "100.00")],
        technician=make_staff("morgan", TECHNICIAN),
    )
    take_to(mine, "in_progress")
    return {"mine": mine, "my_job": my_job, "theirs": theirs, "their_job": their_job}


def test_a_technician_lists_only_orders_and_jobs_with_their_labor(client, tech, work):
    client.force_login(tech)
    orders = client.get(reverse("admin:repairs_repairorder_changelist"))
    assert [o.pk for o in orders.context["cl"].result_list] == [work["mine"].pk]
    jobs = client.get(reverse("admin:repairs_job_changelist"))
    assert [j.pk for j in jobs.context["cl"].result_list] == [work["my_job"].pk]
    lines = client.get(reverse("admin:repairs_laborline_changelist"))
    assert {line.job_id for line in lines.context["cl"].result_list} == {work["my_job"].pk}


def test_a_technician_cannot_open_an_order_or_job_of_someone_else(client, tech, work):
    client.force_login(tech)
    for url in [
        reverse("admin:repairs_repairorder_change", args=[work["theirs"].pk]),
        reverse("admin:repairs_job_change", args=[work["their_job"].pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 302  # "does not exist", back to the admin index
        assert response.url == reverse("admin:index")


def test_a_technician_never_sees_part_costs(client, tech, work):
    client.force_login(tech)
    for url in [
        reverse("admin:repairs_job_change", args=[work["my_job"].pk]),
        reverse("admin:repairs_partline_changelist"),
        reverse("admin:repairs_repairorder_change", args=[work["mine"].pk]),
    ]:
        page = client.get(url).content.decode()
        assert "31.17" not in page, url
        assert "unit cost" not in page.lower(), url
    advisor = make_staff("sam", SERVICE_ADVISOR)
    client.force_login(advisor)
    assert "31.17" in client.get(reverse("admin:repairs_partline_changelist")).content.decode()


def test_a_technician_writes_cause_and_correction_but_cannot_change_prices(client, tech, work):
    client.force_login(tech)
    job = work["my_job"]
    line = job.labor_lines.get()
    url = reverse("admin:repairs_job_change", args=[job.pk])
    page = client.get(url).content.decode()
    assert 'name="labor_lines-0-rate"' not in page
    assert 'name="part_lines-0-price"' not in page
    assert 'name="cause"' in page and 'name="title"' not in page
    response = client.post(
        url,
        {
            "cause": "Pads worn to 2 mm",
            "correction": "Replaced pads",
            "title": "Free brakes",
            "labor_lines-TOTAL_FORMS": "1",
            "labor_lines-INITIAL_FORMS": "1",
            "labor_lines-0-id": line.pk,
            "labor_lines-0-job": job.pk,
            "labor_lines-0-rate": "1.00",
            "labor_lines-0-hours_sold": "9",
            "part_lines-TOTAL_FORMS": "0",
            "part_lines-INITIAL_FORMS": "0",
            "time_entries-TOTAL_FORMS": "0",
            "time_entries-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    job.refresh_from_db()
    line.refresh_from_db()
    assert (job.cause, job.correction, job.title) == (
        "Pads worn to 2 mm",
        "Replaced pads",
        "Brakes",
    )
    assert (line.rate, line.hours_sold) == (D("100.00"), D("1.50"))


def test_a_technician_clocks_in_and_out_of_a_job_from_the_jobs_list(client, tech, work):
    client.force_login(tech)
    url = reverse("admin:repairs_job_changelist")
    client.post(url, {"action": "clock_in", "_selected_action": [work["my_job"].pk]})
    entry = TimeEntry.objects.get()
    assert (entry.technician, entry.job, entry.ended) == (tech, work["my_job"], None)
    client.post(url, {"action": "clock_out", "_selected_action": [work["my_job"].pk]})
    entry.refresh_from_db()
    assert entry.ended is not None


def test_a_technician_is_on_one_job_at_a_time(tech, work):
    services.clock_in(tech, work["my_job"])
    second = add_job_with_lines(work["mine"], title="Wipers", technician=tech)
    with pytest.raises(RepairError, match="already clocked in"):
        services.clock_in(tech, second)
    with pytest.raises(IntegrityError):
        TimeEntry.objects.create(technician=tech, job=second)


def test_time_is_clocked_only_on_orders_in_progress(tech, work):
    with pytest.raises(RepairError, match="only on orders in progress"):
        services.clock_in(tech, work["their_job"])
    assert not TimeEntry.objects.exists()


def test_clocked_hours_sit_beside_sold_hours(tech, work):
    import datetime

    from django.utils import timezone

    start = timezone.now() - datetime.timedelta(hours=2)
    services.clock_in(tech, work["my_job"], at=start)
    services.clock_out(tech, at=start + datetime.timedelta(minutes=75))
    assert services.actual_hours(work["my_job"]) == D("1.25")
