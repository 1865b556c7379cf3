"""Every shop figure against a worked example computed by hand: invoices with a discount, a
credit note and partial payments, sublet, an internal order closed at cost, a canceled order,
declined jobs (one the vehicle came back for, one still due), a comeback, clocked time."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts import roles
from inventory.models import Part, StockMovement
from repairs import services
from repairs.choices import Authorization, AuthorizationMethod
from repairs.models import CreditNote, Invoice, Job, Payment, RepairOrder, TimeEntry
from reports.figures import shop
from reports.models import InvoiceSpan
from reports.periods import Period
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_order,
    make_part,
    make_vehicle,
    set_rates,
    take_to,
)
from tests.helpers.clock import on_shop_day

pytestmark = pytest.mark.django_db

SUMMARIZED = (
    "car_count",
    "sales_gross",
    "technicians",
    "approvals",
    "declined_work",
    "receivables",
)


@pytest.fixture(autouse=True, params=["from the records", "from the summaries"])
def counted(request, monkeypatch):
    """Every worked example twice: counted from the records (no summary), and read from the
    daily summaries refreshed just before each figure is taken (today counted from the
    records), as the nightly refresh leaves them."""
    if request.param == "from the summaries":
        from reports import summaries

        for name in SUMMARIZED:
            figure = getattr(shop, name)

            def refreshed_first(period, figure=figure):
                summaries.refresh()
                return figure(period)

            monkeypatch.setattr(shop, name, refreshed_first)
    return request.param


D = Decimal
# Monday 2 to Sunday 8 March 2026 (5 weekdays); the week before is 23 February to 1 March.
WEEK = Period(datetime.date(2026, 3, 2), datetime.date(2026, 3, 8))


def at(day, hour=10, minute=0):
    return timezone.make_aware(datetime.datetime(2026, 3, day, hour, minute))


def invoiced_on(order, when):
    take_to(order, "invoiced")
    Invoice.objects.filter(repair_order=order).update(issued_at=when)
    return Invoice.objects.get(repair_order=order)


def decided_on(order, when):
    Job.objects.filter(repair_order=order).exclude(authorization="pending").update(
        authorized_at=when
    )
    RepairOrder.objects.filter(pk=order.pk).update(opened_at=when - datetime.timedelta(hours=1))


def clocked(technician, job, start, hours):
    return TimeEntry.objects.create(
        technician=technician,
        job=job,
        started=start,
        ended=start + datetime.timedelta(hours=float(hours)),
    )


def decline(job, when):
    services.authorize_job(
        job, Authorization.DECLINED, method=AuthorizationMethod.PHONE, authorized_by="Maria"
    )


@pytest.fixture
def week(make_user):
    """The worked example (all amounts before tax; fees and taxes set to zero)."""
    set_rates(
        parts_tax_rate="0",
        labor_tax_rate="0",
        shop_supplies_rate="0",
        hazardous_waste_fee="0",
        technician_cost_rate="30.00",
    )
    terry = make_user("terry", roles.TECHNICIAN)
    tina = make_user("tina", roles.TECHNICIAN)
    filter_part = make_part("OF-1", cost="4.00", price="10.00", on_hand=10)
    tow = make_part("TOW", cost="80.00", price="100.00", on_hand=5)
    Part.objects.filter(pk=tow.pk).update(category="Sublet")
    tow.refresh_from_db()

    # A: labor 2 h x 100, 3 filters x 10 (cost 4), a tow (sublet) 100 (cost 80): 330.
    #    A second job (1 h x 100) declined; the vehicle has not been back: to follow up.
    a = make_order()
    job_a = add_job_with_lines(
        a,
        title="Timing belt",
        labor=[("2.0", "100.00")],
        parts=[(filter_part, 3, "10.00"), (tow, 1, "100.00")],
        technician=terry,
    )
    declined_a = add_job_with_lines(
        a, title="Wiper blades", labor=[("1.0", "100.00")], approve=False
    )
    decline(declined_a, None)
    decided_on(a, at(3, 9))
    clocked(terry, job_a, at(3, 10), D("1.5"))
    invoiced_on(a, at(3, 17))

    # B: 10 % discount; labor 1 h x 120, 1 filter x 10: 130 - 13 = 117; credit note 20.
    b = make_order()
    RepairOrder.objects.filter(pk=b.pk).update(discount_percent=D("10"))
    job_b = add_job_with_lines(
        b,
        title="Brakes",
        labor=[("1.0", "120.00")],
        parts=[(filter_part, 1, "10.00")],
        technician=terry,
    )
    decided_on(b, at(3, 9))
    clocked(terry, job_b, at(4, 10), D("0.5"))
    invoice_b = invoiced_on(b, at(4, 17))
    services.issue_credit_note(invoice_b, "20.00", "Goodwill")
    CreditNote.objects.filter(invoice=invoice_b).update(issued_at=at(5))

    # C: internal (reconditioning), closed at cost: no sales; 3 h sold by Terry, 2.5 h clocked.
    c = make_order(make_vehicle(), internal=True)
    job_c = add_job_with_lines(c, title="Recondition", labor=[("3.0", "50.00")], technician=terry)
    clocked(terry, job_c, at(5, 8), D("2.5"))
    take_to(c, "completed")
    services.close_internal_order(c)
    RepairOrder.objects.filter(pk=c.pk).update(status_changed_at=at(5, 16), opened_at=at(5, 7))

    # D: approved, then canceled: no sales, no hours sold; Tina clocked 1 h on it.
    d = make_order()
    job_d = add_job_with_lines(d, title="Clutch", labor=[("1.0", "100.00")], technician=tina)
    decided_on(d, at(6, 9))
    clocked(tina, job_d, at(6, 10), D("1"))
    services.cancel_repair_order(d, reason="Customer went elsewhere")

    # F: one job declined (0.5 h x 100); the vehicle came back (G), so nothing to follow up.
    f = make_order()
    declined_f = add_job_with_lines(f, title="Air filter", labor=[("0.5", "100.00")], approve=False)
    decline(declined_f, None)
    decided_on(f, at(6, 11))
    make_order(f.vehicle, customer=f.customer)  # G, opened today (after the decline)

    # H: a comeback of B, opened in the week.
    h = make_order(b.vehicle, customer=b.customer, comeback_of=b)
    RepairOrder.objects.filter(pk=h.pk).update(opened_at=at(7))

    # E: the week before: 1 h x 100 invoiced.
    e = make_order()
    add_job_with_lines(e, title="Oil change", labor=[("1.0", "100.00")])
    RepairOrder.objects.filter(pk=e.pk).update(opened_at=at(1) - datetime.timedelta(days=4))
    invoiced_on(e, at(1) - datetime.timedelta(days=4))
    return {"terry": terry, "tina": tina, "a": a, "b": b, "declined_a": declined_a}


def test_car_count_and_average_repair_order(week):
    figure = shop.car_count(WEEK)
    # Cars: A and B. Net sales: A 330 + B 117 - credit note 20 = 427. ARO: 427 / 2.
    assert figure.summary == {"cars": 2, "sales": D("427.00"), "aro": D("213.50")}
    by_day = {row["day"]: row for row in figure.rows}
    assert len(figure.rows) == 7
    assert by_day[datetime.date(2026, 3, 3)]["sales"] == D("330.00")
    assert by_day[datetime.date(2026, 3, 4)]["sales"] == D("117.00")
    assert by_day[datetime.date(2026, 3, 5)] == {
        **by_day[datetime.date(2026, 3, 5)],
        "cars": 0,
        "sales": D("-20.00"),
        "aro": None,
    }
    before = shop.car_count(WEEK.previous())
    assert before.summary == {"cars": 1, "sales": D("100.00"), "aro": D("100.00")}


def test_sales_and_gross_profit_with_sublet_discount_and_credit_notes(week):
    figure = shop.sales_gross(WEEK)
    rows = {row["kind"]: row for row in figure.rows}
    # Labor: 200 + 120 sold; cost: 2 h clocked on A and B x 30 = 60.
    assert (
        rows["Labor"]["sales"],
        rows["Labor"]["cost"],
        rows["Labor"]["gross"],
        rows["Labor"]["margin"],
    ) == (D("320.00"), D("60.00"), D("260.00"), D("81.3"))
    # Parts: 30 + 10 sold, cost 12 + 4; the tow is sublet: 100, cost 80.
    assert (rows["Parts"]["sales"], rows["Parts"]["cost"], rows["Parts"]["margin"]) == (
        D("40.00"),
        D("16.00"),
        D("60.0"),
    )
    assert (rows["Sublet"]["sales"], rows["Sublet"]["cost"], rows["Sublet"]["gross"]) == (
        D("100.00"),
        D("80.00"),
        D("20.00"),
    )
    assert rows["Discounts"]["sales"] == D("-13.00")
    assert rows["Credit notes"]["sales"] == D("-20.00")
    assert (
        rows["Total"]["sales"],
        rows["Total"]["cost"],
        rows["Total"]["gross"],
        rows["Total"]["margin"],
    ) == (D("427.00"), D("156.00"), D("271.00"), D("63.5"))
    # Effective labor rate: (200 + 120 x 0.9) / 3 h sold = 102.67.
    assert figure.summary == {
        "sales": D("427.00"),
        "gross": D("271.00"),
        "margin": D("63.5"),
        "elr": D("102.67"),
        "hours_sold": D("3.00"),
    }
    assert shop.sales_gross(WEEK.previous()).summary["sales"] == D("100.00")


def test_technicians_hours_sold_and_worked(week):
    rows = {row["technician"]: row for row in shop.technicians(WEEK).rows}
    # Terry sold 2 + 1 (invoiced) + 3 (internal, closed) = 6 h; clocked 1.5 + 0.5 + 2.5 = 4.5 h;
    # available: 5 weekdays x 8 h = 40 h.
    assert rows["terry"] == {
        **rows["terry"],
        "hours_sold": D("6.00"),
        "hours_worked": D("4.50"),
        "available": D("40"),
        "efficiency": D("133.3"),
        "productivity": D("11.3"),
    }
    # Tina's order was canceled: nothing sold for 1 h clocked.
    assert rows["tina"] == {
        **rows["tina"],
        "hours_sold": D("0.00"),
        "hours_worked": D("1.00"),
        "efficiency": D("0.0"),
        "productivity": D("2.5"),
    }
    assert "technician__id__exact=" in rows["terry"]["url"]


def test_approval_rate_and_declined_work_to_follow_up(week):
    figure = shop.approvals(WEEK)
    rows = {row["decision"]: row for row in figure.rows}
    # Approved: A's job 330, B's job 130, D's job 100 (the customer approved; canceled later).
    # Declined: A's wipers 100, F's air filter 50. The internal order's job does not count.
    assert (rows["Approved"]["jobs"], rows["Approved"]["value"]) == (3, D("560.00"))
    assert (rows["Declined"]["jobs"], rows["Declined"]["value"]) == (2, D("150.00"))
    assert figure.summary == {"rate": D("78.9"), "rate_jobs": D("60.0"), "declined": D("150.00")}
    follow_up = shop.declined_work(WEEK)
    # F's vehicle came back (G): only A's wipers are still due.
    assert follow_up.summary == {"jobs": 1, "value": D("100.00")}
    (row,) = follow_up.rows
    assert (row["order"], row["job"], row["value"]) == (
        week["a"].number,
        "Wiper blades",
        D("100.00"),
    )


def test_comebacks(week):
    figure = shop.comebacks(WEEK)
    # Customers' orders opened in the week, canceled D left out: A, B, F, H; H is a comeback.
    assert figure.summary == {"comebacks": 1, "rate": D("25.0")}
    assert sum(row["orders"] for row in figure.rows) == 4


def test_work_in_progress_by_status_and_age():
    def opened(days_ago, status=None):
        order = make_order()
        add_job_with_lines(order, labor=[("1.0", "100.00")])
        if status:
            take_to(order, status)
        if days_ago:  # noon of that shop day: ages are counted in the shop's days
            RepairOrder.objects.filter(pk=order.pk).update(opened_at=on_shop_day(days_ago))
        return order

    opened(0)
    opened(3, "approved")
    opened(10, "in_progress")
    opened(5, "completed")
    opened(8, "completed")
    opened(1, "invoiced")  # not open
    canceled = opened(20)
    services.cancel_repair_order(canceled, reason="No")
    figure = shop.work_in_progress(WEEK)
    rows = {row["status"]: row for row in figure.rows}
    assert (rows["Estimate"]["age_0_1"], rows["Estimate"]["total"]) == (1, 1)
    assert (rows["Approved"]["age_2_3"], rows["Approved"]["total"]) == (1, 1)
    assert (rows["In progress"]["age_8_plus"], rows["In progress"]["total"]) == (1, 1)
    assert (rows["Completed"]["age_4_7"], rows["Completed"]["age_8_plus"]) == (1, 1)
    assert figure.summary == {"total": 5, "late": 2}


def test_receivables_aging_with_partial_payments_and_credit_notes(monkeypatch):
    set_rates(
        parts_tax_rate="0", labor_tax_rate="0", shop_supplies_rate="0", hazardous_waste_fee="0"
    )
    as_of = timezone.localdate() - datetime.timedelta(days=10)
    period = Period(as_of - datetime.timedelta(days=30), as_of)

    def day(days_before, hour=12):
        return timezone.make_aware(
            datetime.datetime.combine(
                as_of - datetime.timedelta(days=days_before), datetime.time(hour)
            )
        )

    def invoice(amount, days_before):
        order = make_order()
        add_job_with_lines(order, labor=[("1.0", amount)])
        take_to(order, "invoiced")
        Invoice.objects.filter(repair_order=order).update(issued_at=day(days_before))
        return Invoice.objects.get(repair_order=order)

    def pay(inv, amount, days_before):
        services.record_payment(inv, amount, "cash")
        Payment.objects.filter(invoice=inv).order_by("-id").filter(
            pk=Payment.objects.filter(invoice=inv).order_by("-id")[0].pk
        ).update(received_at=day(days_before))

    pay(invoice("100.00", 0), "30.00", 0)  # current: 70 left
    two = invoice("200.00", 10)  # 1-30: 200 - credit 50 = 150
    services.issue_credit_note(two, "50.00", "Goodwill")
    CreditNote.objects.filter(invoice=two).update(issued_at=day(9))
    pay(invoice("300.00", 45), "300.00", 40)  # paid: not owed
    invoice("80.00", 75)  # 61-90: 80
    pay(invoice("60.00", 120), "60.00", -5)  # paid after the day: 60 owed on it
    invoice("10.00", 30)  # 30 days: 1-30
    invoice("20.00", 31)  # 31 days: 31-60
    invoice("999.00", -1)  # issued after the day: not counted
    paid_at_once = invoice("40.00", 5)
    pay(paid_at_once, "40.00", 5)  # paid off the day it was issued: owed at no day's end

    figure = shop.receivables(period)
    assert [(row["age"], row["invoices"], row["balance"]) for row in figure.rows] == [
        ("Current", 1, D("70.00")),
        ("1-30 days", 2, D("160.00")),
        ("31-60 days", 1, D("20.00")),
        ("61-90 days", 1, D("80.00")),
        ("90+ days", 1, D("60.00")),
    ]
    assert figure.summary == {"balance": D("390.00"), "over_60": D("140.00")}

    # The same from the summaries: the day is before their end, so the invoices owing then are
    # found among the spans stored by the refresh (the one paid off at once is not one).
    call_command("refresh_report_summaries", stdout=io.StringIO())
    assert InvoiceSpan.objects.count() == 8  # all but the one paid off at once
    assert not InvoiceSpan.objects.filter(invoice=paid_at_once).exists()
    again = shop.receivables(period)
    assert (again.rows, again.summary) == (figure.rows, figure.summary)
    # Read as a day further back is: the balances of those paid on since by subqueries.
    monkeypatch.setattr(shop, "MOVED_SET_DAYS", 0)
    again = shop.receivables(period)
    assert (again.rows, again.summary) == (figure.rows, figure.summary)


def test_parts_inventory_value_turns_and_dead_stock():
    today = timezone.localdate()
    period = Period(today - datetime.timedelta(days=29), today)  # 30 days
    oil = make_part("OF-1", cost="4.00", price="10.00", on_hand=10)
    old = make_part("OF-OLD", cost="10.00", price="20.00", on_hand=2)
    pads = make_part("BP-1", cost="25.00", price="60.00", on_hand=4)
    Part.objects.filter(pk__in=[oil.pk, old.pk]).update(category="Filters")
    Part.objects.filter(pk=pads.pk).update(category="Brakes")
    StockMovement.objects.filter(part=old).update(
        created_at=timezone.now() - datetime.timedelta(days=200)
    )
    order = make_order()
    add_job_with_lines(order, parts=[(oil, 4, "10.00")])
    take_to(order, "in_progress")  # 4 filters issued at 4.00: 16.00

    figure = shop.parts_inventory(period)
    rows = {row["category"]: row for row in figure.rows}
    # Filters: 6 x 4 + 2 x 10 = 44; turns 16 x 365/30 / 44 = 4.4; dead: the old filters, 20.
    assert rows["Filters"] == {
        **rows["Filters"],
        "parts": 2,
        "value": D("44.00"),
        "issued": D("16.00"),
        "turns": D("4.4"),
        "dead_parts": 1,
        "dead_value": D("20.00"),
    }
    assert rows["Brakes"] == {
        **rows["Brakes"],
        "parts": 1,
        "value": D("100.00"),
        "issued": D("0.00"),
        "turns": D("0.0"),
        "dead_parts": 0,
    }
    # All: 144; turns 16 x 365/30 / 144 = 1.35 -> 1.4.
    assert figure.summary == {"value": D("144.00"), "turns": D("1.4"), "dead_value": D("20.00")}

    # The same from the summaries: the old filters' last movement stored by the refresh, the
    # filters issued today found among the movements since.
    call_command("refresh_report_summaries", stdout=io.StringIO())
    again = shop.parts_inventory(period)
    assert (again.rows, again.summary) == (figure.rows, figure.summary)
