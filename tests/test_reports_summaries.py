"""The shop's daily summaries give the same figures as the records they were counted from, on the
worked example of test_reports_shop_figures (a discount, a credit note, sublet, an internal order
closed at cost, a canceled order, declined jobs, clocked time), whether a period is read wholly
from them, partly, or not at all; what the services record today counts at once; a day corrected
later counts once the summaries are refreshed; the pages say how fresh their figures are."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from inventory import services as stock
from inventory.models import StockMovement, StockUnit
from repairs import services
from repairs.choices import Authorization, AuthorizationMethod
from repairs.models import Invoice, RepairOrder
from reports import summaries
from reports.figures import lot, shop
from reports.models import (
    PartMoved,
    PartsDay,
    ReconditioningOrder,
    ShopDay,
    StaleDay,
    SummaryState,
    TechnicianDay,
)
from reports.periods import Period, preset_period
from tests.helpers.builders.inventory import make_part
from tests.helpers.builders.lot import make_unit
from tests.helpers.builders.repairs import add_job_with_lines, make_order, set_rates, take_to
from tests.test_reports_lot import internal_order
from tests.test_reports_shop_figures import WEEK, at, week  # noqa: F401 (the worked example)

pytestmark = pytest.mark.django_db

D = Decimal
FIGURES = {
    "car-count": shop.car_count,
    "sales-gross": shop.sales_gross,
    "technicians": shop.technicians,
    "approvals": shop.approvals,
    "comebacks": shop.comebacks,
}
PERIODS = {
    "week": WEEK,
    "week before": WEEK.previous(),
    "one day": Period(datetime.date(2026, 3, 4), datetime.date(2026, 3, 4)),
    # Over 62 days: monthly rows.
    "half year": Period(datetime.date(2026, 1, 1), datetime.date(2026, 6, 30)),
    "five years": Period(datetime.date(2021, 12, 6), timezone.localdate()),
}


def figures():
    """Every summarized figure over every period: (rows, summary), without the freshness note."""
    found = {}
    for slug, function in FIGURES.items():
        for name, period in PERIODS.items():
            figure = function(period)
            found[(slug, name)] = (figure.rows, figure.summary)
    return found


def test_figures_from_the_summaries_equal_the_figures_from_the_records(week):  # noqa: F811
    from_records = figures()
    assert SummaryState.objects.count() == 0  # nothing summarized: all counted from the records

    call_command("refresh_report_summaries", stdout=io.StringIO())

    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    assert summaries.state().through == yesterday
    # The days something was invoiced, decided, clocked or opened.
    assert ShopDay.objects.filter(day__range=(WEEK.start, WEEK.end)).count() == 5
    assert TechnicianDay.objects.filter(day__range=(WEEK.start, WEEK.end)).exists()
    assert figures() == from_records

    # A period read partly from the summaries (to 4 March) and partly from the records.
    SummaryState.objects.update(through=datetime.date(2026, 3, 4))
    ShopDay.objects.filter(day__gt=datetime.date(2026, 3, 4)).delete()
    TechnicianDay.objects.filter(day__gt=datetime.date(2026, 3, 4)).delete()
    assert figures() == from_records


def test_the_summaries_hold_the_worked_example_s_sums(week):  # noqa: F811
    call_command("refresh_report_summaries", "--all", stdout=io.StringIO())
    a_day = ShopDay.objects.get(day=datetime.date(2026, 3, 3))
    # A: 330 invoiced (labor 200, parts 130 of which the tow 100 is sublet), 1.5 h clocked;
    # A's timing belt approved (330), its wipers declined (100); B's brakes approved (130).
    assert (a_day.cars, a_day.labor_total, a_day.parts_total) == (1, D("200"), D("130"))
    assert (a_day.sublet_sales, a_day.sublet_cost, a_day.parts_cost) == (D(100), D(80), D(12))
    assert a_day.worked == datetime.timedelta(hours=1.5)
    assert (a_day.approved_jobs, a_day.approved_value) == (2, D("460"))
    assert (a_day.declined_jobs, a_day.declined_value) == (1, D("100"))
    # B: the credit note of 20 counts on the day it was issued.
    assert ShopDay.objects.get(day=datetime.date(2026, 3, 5)).credits == D("20")
    # Terry: 3 h sold on the internal order closed on the 5th, 2.5 h clocked that day.
    terry = TechnicianDay.objects.get(day=datetime.date(2026, 3, 5), technician=week["terry"])
    assert (terry.hours_sold, terry.worked) == (D(3), datetime.timedelta(hours=2.5))
    # D was canceled: Tina's hour clocked counts, nothing sold.
    tina = TechnicianDay.objects.get(day=datetime.date(2026, 3, 6), technician=week["tina"])
    assert (tina.hours_sold, tina.worked) == (D(0), datetime.timedelta(hours=1))


def _sales(period):
    return shop.car_count(period).summary


def test_what_the_services_record_today_counts_at_once():
    set_rates(
        parts_tax_rate="0", labor_tax_rate="0", shop_supplies_rate="0", hazardous_waste_fee="0"
    )
    today = preset_period("today")
    month = Period(timezone.localdate() - datetime.timedelta(days=40), timezone.localdate())
    call_command("refresh_report_summaries", stdout=io.StringIO())
    assert summaries.state().through == timezone.localdate() - datetime.timedelta(days=1)

    order = make_order()
    add_job_with_lines(order, labor=[("2.0", "100.00")])
    declined = add_job_with_lines(order, title="Wipers", labor=[("1.0", "50.00")], approve=False)
    services.authorize_job(
        declined, Authorization.DECLINED, method=AuthorizationMethod.PHONE, authorized_by="Maria"
    )
    take_to(order, "invoiced")
    invoice = Invoice.objects.get(repair_order=order)
    services.record_payment(invoice, "150.00", "cash")  # a partial payment
    services.issue_credit_note(invoice, "20.00", "Goodwill")

    for period in (today, month):
        assert _sales(period) == {"cars": 1, "sales": D("180.00"), "aro": D("180.00")}
        assert shop.approvals(period).summary == {
            "rate": D("80.0"),
            "rate_jobs": D("50.0"),
            "declined": D("50.00"),
        }
    # The balance left (200 - 150 paid - 20 credited) is owed today.
    assert shop.receivables(today).summary["balance"] == D("30.00")


def test_a_day_corrected_later_counts_once_the_summaries_are_refreshed():
    set_rates(
        parts_tax_rate="0", labor_tax_rate="0", shop_supplies_rate="0", hazardous_waste_fee="0"
    )
    ten_days_ago = timezone.localdate() - datetime.timedelta(days=10)
    period = Period(ten_days_ago, ten_days_ago)
    order = make_order()
    add_job_with_lines(order, labor=[("1.0", "100.00")])
    take_to(order, "invoiced")
    call_command("refresh_report_summaries", stdout=io.StringIO())
    assert _sales(period)["cars"] == 0

    # Back-dated in the records, past the days the daily refresh counts again.
    Invoice.objects.filter(repair_order=order).update(
        issued_at=timezone.make_aware(datetime.datetime.combine(ten_days_ago, datetime.time(9)))
    )
    call_command("refresh_report_summaries", stdout=io.StringIO())
    assert summaries.REFRESH_DAYS < 9
    assert _sales(period)["cars"] == 0  # the scheduled refresh did not count that day again

    call_command("refresh_report_summaries", f"--since={ten_days_ago}", stdout=io.StringIO())
    assert _sales(period) == {"cars": 1, "sales": D("100.00"), "aro": D("100.00")}


def _decided(period):
    rows = shop.approvals(period).rows
    return {row["decision"]: (row["jobs"], row["value"]) for row in rows}


def test_a_decision_changed_on_a_summarized_day_counts_once_at_once():
    set_rates(
        parts_tax_rate="0", labor_tax_rate="0", shop_supplies_rate="0", hazardous_waste_fee="0"
    )
    ten_days_ago = timezone.localdate() - datetime.timedelta(days=10)
    then, today = Period(ten_days_ago, ten_days_ago), preset_period("today")
    month = Period(ten_days_ago, timezone.localdate())
    order = make_order()
    wipers = add_job_with_lines(order, title="Wipers", labor=[("1.0", "50.00")], approve=False)
    services.authorize_job(
        wipers, Authorization.DECLINED, method=AuthorizationMethod.PHONE, authorized_by="Maria"
    )
    wipers.refresh_from_db()
    # Declined ten days ago (the records say so), then summarized.
    type(wipers).objects.filter(pk=wipers.pk).update(
        authorized_at=timezone.make_aware(datetime.datetime.combine(ten_days_ago, datetime.time(9)))
    )
    call_command("refresh_report_summaries", stdout=io.StringIO())
    assert ShopDay.objects.get(day=ten_days_ago).declined_jobs == 1
    assert _decided(then)["Declined"] == (1, D("50.00"))

    # The customer changes their mind today, through the service: the job now counts as
    # approved today and no longer as declined ten days ago, before any refresh.
    services.authorize_job(
        wipers, Authorization.APPROVED, method=AuthorizationMethod.PHONE, authorized_by="Maria"
    )
    assert _decided(then) == {"Approved": (0, D("0.00")), "Declined": (0, D("0.00"))}
    assert _decided(today) == {"Approved": (1, D("50.00")), "Declined": (0, D("0.00"))}
    assert _decided(month) == {"Approved": (1, D("50.00")), "Declined": (0, D("0.00"))}
    assert StaleDay.objects.filter(day=ten_days_ago).exists()

    # Counting that day again from the records clears the mark.
    call_command("refresh_report_summaries", f"--since={ten_days_ago}", stdout=io.StringIO())
    assert not StaleDay.objects.exists()
    assert not ShopDay.objects.filter(day=ten_days_ago, declined_jobs__gt=0).exists()
    assert _decided(then) == {"Approved": (0, D("0.00")), "Declined": (0, D("0.00"))}

    # A line added today to a job approved on a summarized day counts on the day of the
    # decision at once; the next scheduled refresh counts that day again (older than the days
    # it always counts) and clears the mark.
    assert summaries.REFRESH_DAYS < 9
    other = make_order()
    brakes = add_job_with_lines(other, labor=[("2.0", "100.00")])
    type(brakes).objects.filter(pk=brakes.pk).update(
        authorized_at=timezone.make_aware(datetime.datetime.combine(ten_days_ago, datetime.time(9)))
    )
    assert _decided(then)["Approved"] == (0, D("0.00"))  # changed outside the services
    services.add_labor_line(brakes, operation="Bleed", hours_sold=D("1.0"), rate=D("100.00"))
    assert _decided(then)["Approved"] == (1, D("300.00"))  # the line's service marked the day
    call_command("refresh_report_summaries", stdout=io.StringIO())
    assert not StaleDay.objects.exists()
    assert ShopDay.objects.get(day=ten_days_ago).approved_value == D("300")
    assert _decided(then)["Approved"] == (1, D("300.00"))


def test_an_order_of_a_summarized_day_canceled_later_leaves_that_day_s_comebacks_at_once():
    ten_days_ago = timezone.localdate() - datetime.timedelta(days=10)
    then = Period(ten_days_ago, ten_days_ago)
    first = make_order()
    again = make_order(first.vehicle, customer=first.customer, comeback_of=first)
    RepairOrder.objects.filter(pk__in=[first.pk, again.pk]).update(
        opened_at=timezone.make_aware(datetime.datetime.combine(ten_days_ago, datetime.time(9)))
    )
    call_command("refresh_report_summaries", stdout=io.StringIO())
    assert ShopDay.objects.get(day=ten_days_ago).comebacks == 1
    assert shop.comebacks(then).summary == {"comebacks": 1, "rate": D("50.0")}

    again.refresh_from_db()
    services.cancel_repair_order(again, reason="Booked twice")
    assert shop.comebacks(then).summary == {"comebacks": 0, "rate": D("0.0")}
    call_command("refresh_report_summaries", stdout=io.StringIO())
    assert not StaleDay.objects.exists()
    assert shop.comebacks(then).summary == {"comebacks": 0, "rate": D("0.0")}


def test_the_refresh_command_explains_a_bad_date_and_changes_nothing():
    with pytest.raises(CommandError, match="--since: 'yesterday' is not a date"):
        call_command("refresh_report_summaries", "--since=yesterday")
    assert not SummaryState.objects.exists()


def test_the_pages_say_how_fresh_their_figures_are(login, manager):
    client = login(manager)
    url = reverse("reports:report", args=["car-count"])
    assert "Counted from the records now" in client.get(url).content.decode()

    call_command("refresh_report_summaries", stdout=io.StringIO())
    refreshed = timezone.localtime(summaries.state().refreshed_at).strftime("%Y-%m-%d %H:%M")
    html = client.get(url + "?period=last_month").content.decode()
    assert f"From the daily summaries refreshed {refreshed}" in html
    today = timezone.localdate()
    start = today - datetime.timedelta(days=3)
    html = client.get(f"{url}?period=custom&start={start}&end={today}").content.decode()
    assert f"from the daily summaries refreshed {refreshed}; later days counted" in html


def _days_ago(days, hour=10):
    day = timezone.localdate() - datetime.timedelta(days=days)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def _parts_figures():
    today = timezone.localdate()
    periods = [
        Period(today - datetime.timedelta(days=29), today),
        Period(today - datetime.timedelta(days=364), today),
        Period(today - datetime.timedelta(days=60), today - datetime.timedelta(days=31)),
        Period(today - datetime.timedelta(days=5 * 365), today),
    ]
    found = []
    for period in periods:
        figure = shop.parts_inventory(period)
        found.append((figure.rows, figure.summary))
    return found


def _moved(movement, days):
    StockMovement.objects.filter(pk=movement.pk).update(created_at=_days_ago(days))


def test_parts_inventory_from_the_summaries_equals_the_figure_from_the_records():
    """Filters issued 10 and 40 days ago, one returned 10 days ago, brake pads issued 100 days
    ago, old filters last moved 200 days ago (dead stock), wipers never moved since received
    300 days ago (dead); read from the records, from the summaries, partly from them, after a
    part moved to another category and after a part moved today."""
    oil = make_part("OF-1", unit_cost="4.00", on_hand=20, category="Filters")
    old = make_part("OF-OLD", unit_cost="10.00", on_hand=2, category="Filters")
    pads = make_part("BP-1", unit_cost="25.00", on_hand=8, category="Brakes")
    wipers = make_part("WB-1", unit_cost="7.00", on_hand=3, category="")
    for part, days in ((oil, 400), (old, 200), (pads, 400), (wipers, 300)):
        StockMovement.objects.filter(part=part).update(created_at=_days_ago(days))
    _moved(stock.issue_part(oil, 4), 10)
    _moved(stock.issue_part(oil, 3), 40)
    _moved(stock.return_part(oil, 1), 10)
    _moved(stock.issue_part(pads, 2), 100)
    from_records = _parts_figures()
    month = from_records[0]
    rows = {row["category"]: row for row in month[0]}
    # Filters in the last 30 days: 4 issued, 1 returned at 4.00: 12.00 on 14 x 4 + 2 x 10 = 76.
    assert (rows["Filters"]["issued"], rows["Filters"]["value"]) == (D("12.00"), D("76.00"))
    assert (rows["Filters"]["dead_parts"], rows["Filters"]["dead_value"]) == (1, D("20.00"))
    assert (rows["(none)"]["dead_parts"], rows["Brakes"]["dead_parts"]) == (1, 0)

    call_command("refresh_report_summaries", stdout=io.StringIO())
    assert summaries.state().through == timezone.localdate() - datetime.timedelta(days=1)
    ten_days_ago = timezone.localdate() - datetime.timedelta(days=10)
    assert PartsDay.objects.get(day=ten_days_ago, category="Filters").moved == D("-12")
    assert PartMoved.objects.get(part=old).last_moved_at == _days_ago(200)
    assert _parts_figures() == from_records

    # Read partly from the summaries (to 20 days ago) and partly from the records.
    SummaryState.objects.update(through=timezone.localdate() - datetime.timedelta(days=20))
    PartsDay.objects.filter(day__gt=timezone.localdate() - datetime.timedelta(days=20)).delete()
    assert _parts_figures() == from_records
    call_command("refresh_report_summaries", "--all", stdout=io.StringIO())

    # The pads move to another category: the days they were issued on are counted again at once.
    pads.category = "Brake pads"
    pads.save()
    assert StaleDay.objects.filter(day=timezone.localdate() - datetime.timedelta(days=100)).exists()
    from_records = _parts_figures()
    assert any(row["category"] == "Brake pads" for row in from_records[3][0])
    SummaryState.objects.update(through=None)
    assert _parts_figures() == from_records
    call_command("refresh_report_summaries", "--all", stdout=io.StringIO())
    assert _parts_figures() == from_records

    # The old filters move today: no longer dead stock, at once.
    stock.issue_part(old, 1)
    rows = {row["category"]: row for row in shop.parts_inventory(preset_period("today")).rows}
    assert (rows["Filters"]["dead_parts"], rows["Filters"]["issued"]) == (0, D("10.00"))

    # A movement of a summarized day changed outside its usual path: its part's last movement
    # is looked up in its movements, its day counted again.
    last = StockMovement.objects.filter(part=pads, kind="issue").get()
    last.delete()
    assert not PartMoved.objects.filter(part=pads).exists()
    from_summaries = _parts_figures()
    SummaryState.objects.update(through=None)
    assert from_summaries == _parts_figures()


def _reconditioning_figures():
    """The lot's reconditioning over the month of the worked example, today and five years."""
    today = timezone.localdate()
    found = []
    for period in (
        Period(_RECON_MONTH, _month_end(_RECON_MONTH)),
        Period(today, today),
        Period(today - datetime.timedelta(days=5 * 365), today),
    ):
        figure = lot.reconditioning(period)
        found.append((figure.rows, figure.summary))
    return found


def _month_end(first):
    return (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)


# The first day of the month three months back: the worked example's orders fall on its 5th
# and 15th days.
_RECON_MONTH = (timezone.localdate().replace(day=1) - datetime.timedelta(days=62)).replace(day=1)


def _opened(order, day):
    RepairOrder.objects.filter(pk=order.pk).update(
        opened_at=timezone.make_aware(datetime.datetime.combine(day, datetime.time(9)))
    )


def _reconditioning_from_the_records():
    """The figures counted from the records alone (the summaries' state set aside)."""
    through = summaries.state().through
    SummaryState.objects.update(through=None)
    try:
        return _reconditioning_figures()
    finally:
        SummaryState.objects.update(through=through)


def test_reconditioning_from_the_summaries_equals_the_figure_from_the_records():
    """R1 (on the lot 150 days): an order on the month's 5th (2 h x 100.00 + 2 pads at 12.50 =
    225.00), one on its 15th (0.5 h x 90.00 = 45.00) and one today (1 h x 50.00); R2: an order
    on the 15th (2 h x 80.00 = 160.00), one canceled on the 5th, and one on its vehicle before
    it was bought (not its reconditioning). The month: 430.00 on 2 units, 3 orders; read from
    the records, from the summaries, partly from them (R1 on both sides of the split counted
    once), and after changes on summarized days (a line added, a unit's stay changed, an order
    canceled), each counted again at once."""
    fifth, fifteenth = _RECON_MONTH + datetime.timedelta(days=4), _RECON_MONTH.replace(day=15)
    r1 = make_unit(cost="8000", days_ago=150, status=StockUnit.Status.RECONDITIONING)
    r2 = make_unit(cost="8000", days_ago=150, status=StockUnit.Status.RECONDITIONING)
    pads = make_part("PAD-1", on_hand=10, unit_cost="12.50")
    o1 = internal_order(r1, labor=[("2", "100.00")], parts=[(pads, 2)])
    o2 = internal_order(r1, labor=[("0.5", "90.00")])
    internal_order(r1, labor=[("1", "50.00")])
    o3 = internal_order(r2, labor=[("2", "80.00")])
    canceled = internal_order(r2, labor=[("3", "100.00")])
    services.cancel_repair_order(canceled, reason="Not worth it")
    before_bought = internal_order(r2, labor=[("1", "100.00")])
    for order, day in ((o1, fifth), (o2, fifteenth), (o3, fifteenth), (canceled, fifth)):
        _opened(order, day)
    _opened(before_bought, r2.acquired_on - datetime.timedelta(days=3))

    from_records = _reconditioning_figures()
    month, today, years = from_records
    assert [(r["spend"], r["orders"], r["units"]) for r in month[0]] == [(D("430.00"), 3, 2)]
    assert today[1]["spend"] == D("50.00")
    assert years[1]["spend"] == D("480.00")

    call_command("refresh_report_summaries", stdout=io.StringIO())
    stored = ReconditioningOrder.objects.order_by("day", "repair_order_id")
    assert [(r.repair_order_id, r.unit_id, r.day, r.parts + r.labor) for r in stored] == [
        (o1.pk, r1.pk, fifth, D("225")),
        (o2.pk, r1.pk, fifteenth, D("45")),
        (o3.pk, r2.pk, fifteenth, D("160")),
    ]
    assert _reconditioning_figures() == from_records

    # Read partly from the summaries (to the 10th) and partly from the records.
    SummaryState.objects.update(through=_RECON_MONTH.replace(day=10))
    ReconditioningOrder.objects.filter(day__gt=_RECON_MONTH.replace(day=10)).delete()
    assert _reconditioning_figures() == from_records
    call_command("refresh_report_summaries", "--all", stdout=io.StringIO())

    # Changes on summarized days count at once.
    services.add_labor_line(o1.jobs.get(), operation="More", hours_sold=D("1"), rate=D("10"))
    assert StaleDay.objects.filter(day=fifth).exists()
    changed = _reconditioning_figures()
    assert changed[0][1]["spend"] == D("440.00")
    assert changed == _reconditioning_from_the_records()

    r2.acquired_on = fifteenth + datetime.timedelta(days=1)
    r2.save()
    changed = _reconditioning_figures()
    assert changed[0][1] == {**changed[0][1], "spend": D("280.00"), "units": 1}
    assert changed == _reconditioning_from_the_records()

    services.cancel_repair_order(RepairOrder.objects.get(pk=o2.pk), reason="Sold as is")
    changed = _reconditioning_figures()
    assert changed[0][1]["spend"] == D("235.00")
    assert changed == _reconditioning_from_the_records()
    call_command("refresh_report_summaries", stdout=io.StringIO())
    assert _reconditioning_figures() == changed
