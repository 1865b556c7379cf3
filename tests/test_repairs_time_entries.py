"""Correcting technicians' time: nothing starts or ends in the future, the time of a billed order
is locked, and changing someone else's entry or a clocked-off one is a manager's step that the
audit log records."""

import datetime
from decimal import Decimal as D

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from accounts.roles import MANAGER, SERVICE_ADVISOR, TECHNICIAN
from repairs import services
from repairs.exceptions import RepairError
from repairs.models import TimeEntry
from tests.helpers.builders.repairs import add_job_with_lines, make_order, make_staff, take_to
from tests.helpers.clock import on_shop_day

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def manager():
    return make_staff("robin", MANAGER)


@pytest.fixture
def job(tech):
    order = make_order()
    job = add_job_with_lines(order, title="Brakes", labor=[("1.5", "100.00")], technician=tech)
    take_to(order, "in_progress")
    return job


def _closed_entry(tech, job, *, minutes=36, ago=3 * HOUR):
    start = timezone.now() - ago
    services.clock_in(tech, job, at=start)
    return services.clock_out(tech, at=start + datetime.timedelta(minutes=minutes))


def _as_stored(entry):
    return TimeEntry.objects.values_list("started", "ended").get(pk=entry.pk)


def _form_data(started, ended):
    started, ended = timezone.localtime(started), ended and timezone.localtime(ended)
    return {
        "started_0": f"{started:%Y-%m-%d}",
        "started_1": f"{started:%H:%M:%S}",
        "ended_0": f"{ended:%Y-%m-%d}" if ended else "",
        "ended_1": f"{ended:%H:%M:%S}" if ended else "",
    }


# Services ---------------------------------------------------------------------------------------


def test_nothing_is_clocked_in_or_out_in_the_future(tech, job):
    with pytest.raises(RepairError, match="cannot start in the future"):
        services.clock_in(tech, job, at=timezone.now() + HOUR)
    assert not TimeEntry.objects.exists()
    services.clock_in(tech, job, at=timezone.now() - HOUR)
    with pytest.raises(RepairError, match="cannot end in the future"):
        services.clock_out(tech, at=timezone.now() + HOUR)
    assert TimeEntry.objects.get().ended is None


def test_a_technician_moves_the_start_of_their_own_open_entry_but_not_into_the_future(tech, job):
    entry = services.clock_in(tech, job, at=timezone.now() - HOUR)
    earlier = timezone.now() - 2 * HOUR
    services.change_time_entry(entry, started=earlier, ended=None, user=tech)
    assert _as_stored(entry) == (earlier, None)
    with pytest.raises(RepairError, match="cannot start in the future"):
        services.change_time_entry(entry, started=timezone.now() + HOUR, ended=None, user=tech)
    with pytest.raises(RepairError, match="cannot end in the future"):
        services.change_time_entry(entry, started=earlier, ended=timezone.now() + HOUR, user=tech)
    assert _as_stored(entry) == (earlier, None)


def test_a_technician_cannot_rewrite_a_closed_entry_or_someone_elses(tech, job):
    entry = _closed_entry(tech, job)
    before = _as_stored(entry)
    with pytest.raises(RepairError, match="only a manager corrects a closed entry"):
        services.change_time_entry(
            entry, started=entry.started - 3 * HOUR, ended=entry.ended, user=tech
        )
    colleague = make_staff("morgan", TECHNICIAN)
    with pytest.raises(RepairError, match="This is Terry's time: only a manager"):
        services.change_time_entry(entry, started=entry.started, ended=entry.ended, user=colleague)
    assert _as_stored(entry) == before


def test_a_manager_corrects_a_closed_entry_and_the_audit_log_shows_who(tech, manager, job):
    entry = _closed_entry(tech, job, minutes=1)
    ended = entry.started + 2 * HOUR
    services.change_time_entry(entry, started=entry.started, ended=ended, user=manager)
    assert _as_stored(entry) == (entry.started, ended)
    with pytest.raises(RepairError, match="stays closed"):
        services.change_time_entry(entry, started=entry.started, ended=None, user=manager)


def test_the_time_of_an_invoiced_or_paid_order_is_locked_even_for_a_manager(tech, manager, job):
    entry = _closed_entry(tech, job, minutes=1)
    order = job.repair_order
    services.complete_work(order)
    invoice = services.invoice_repair_order(order)
    before = _as_stored(entry)
    with pytest.raises(RepairError, match="is invoiced: its time entries are locked"):
        services.change_time_entry(
            entry, started=entry.started, ended=entry.ended + HOUR, user=manager
        )
    services.record_payment(invoice, invoice.total, "cash")
    with pytest.raises(RepairError, match="is paid: its time entries are locked"):
        services.change_time_entry(
            entry, started=entry.started, ended=entry.ended + HOUR, user=manager
        )
    assert _as_stored(entry) == before


# Through the admin ------------------------------------------------------------------------------


def test_a_technician_cannot_stretch_a_paid_orders_entry_into_the_future_in_the_admin(
    client, tech, job
):
    # The case found: 0.01 h changed to 00:00-04:00 of a day still to come, on a paid order.
    entry = _closed_entry(tech, job, minutes=0, ago=HOUR)
    TimeEntry.objects.filter(pk=entry.pk).update(
        ended=entry.started + datetime.timedelta(seconds=36)
    )
    order = job.repair_order
    services.complete_work(order)
    invoice = services.invoice_repair_order(order)
    services.record_payment(invoice, invoice.total, "cash")
    before = _as_stored(entry)
    midnight = timezone.make_aware(
        datetime.datetime.combine(
            timezone.localdate() + datetime.timedelta(days=1), datetime.time(0, 0)
        )
    )
    client.force_login(tech)
    url = reverse("admin:repairs_timeentry_change", args=[entry.pk])
    response = client.post(url, _form_data(midnight, midnight + 4 * HOUR))
    assert response.status_code == 200
    page = response.content.decode()
    assert "is paid: its time entries are locked" in page
    assert _as_stored(entry) == before


def test_a_technician_gets_a_message_for_a_future_end_or_a_closed_entry_in_the_admin(
    client, tech, job
):
    client.force_login(tech)
    # Wall times the form takes as they are: on the night daylight saving time ends, "now less
    # ten minutes" may be 1:20, which happens twice and is refused as ambiguous.
    entry = services.clock_in(tech, job, at=on_shop_day(1, 9))
    url = reverse("admin:repairs_timeentry_change", args=[entry.pk])
    response = client.post(url, _form_data(entry.started, on_shop_day(-1, 12)))
    assert "A time entry cannot end in the future" in response.content.decode()
    assert _as_stored(entry) == (entry.started, None)

    # Clocking off their own open entry at a past time is theirs to do.
    ended = on_shop_day(1, 9, 50)
    response = client.post(url, _form_data(entry.started, ended))
    assert response.status_code == 302
    closed = _as_stored(entry)
    assert closed[1] == ended

    # Once closed, it is a manager's to correct.
    response = client.post(url, _form_data(entry.started - 3 * HOUR, ended))
    assert "only a manager corrects a closed entry" in response.content.decode()
    assert _as_stored(entry) == closed


def test_a_manager_corrects_a_technicians_closed_entry_in_the_admin_and_is_audited(
    client, tech, manager, job
):
    entry = _closed_entry(tech, job, minutes=1)
    ended = (entry.started + 2 * HOUR).replace(microsecond=0)
    started = entry.started.replace(microsecond=0)
    client.force_login(manager)
    response = client.post(
        reverse("admin:repairs_timeentry_change", args=[entry.pk]), _form_data(started, ended)
    )
    assert response.status_code == 302
    assert _as_stored(entry) == (started, ended)
    log = (
        LogEntry.objects.get_for_object(entry)
        .filter(action=LogEntry.Action.UPDATE)
        .latest("timestamp")
    )
    assert log.actor == manager
    assert "ended" in log.changes_dict
    assert TimeEntry.objects.get(pk=entry.pk).hours == D("2.00")


def test_an_advisor_does_not_change_time_entries(client, tech, job):
    entry = _closed_entry(tech, job)
    before = _as_stored(entry)
    client.force_login(make_staff("sam", SERVICE_ADVISOR))
    response = client.post(
        reverse("admin:repairs_timeentry_change", args=[entry.pk]),
        _form_data(entry.started - HOUR, entry.ended),
    )
    assert response.status_code == 403
    assert _as_stored(entry) == before
