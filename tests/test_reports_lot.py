"""The lot's report figures (reports/figures/lot.py), each against a worked example computed by
hand: units sold and gross net of unwinds, gross per salesperson and lead source (trade-in
over-allowance, add-ons and finance reserve), inventory aging with the capital tied up and the
units past the target, reconditioning and days to the front line, leads and conversion,
commissions with their chargebacks. Canceled deals and refunds change none of them."""

import csv
import datetime
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts import roles
from accounts.models import ShopSettings
from inventory.lot_services import move_unit, wholesale_unit
from inventory.models import StockUnit, StockUnitCost
from repairs import services as shop
from reports.figures import lot
from reports.periods import Period, PeriodError, period_from_query
from reports.registry import REPORTS
from sales import services
from sales.models import TOTAL_GROSS, Commission, CommissionPlan, Deal, Lead
from tests.helpers.builders.inventory import make_part
from tests.helpers.builders.lot import (
    delivered_deal,
    make_customer,
    make_deal,
    make_unit,
    make_vehicle,
    pay_in_full,
)
from tests.helpers.clock import on_shop_day

D = Decimal
pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def this_day():
    return Period(today(), today())


def internal_order(unit, *, labor=(), parts=()):
    """An internal order on the unit's vehicle with one job: labor (hours, rate), parts
    (part, quantity)."""
    order = shop.create_repair_order(unit.vehicle).repair_order
    assert order.internal
    job = shop.add_job(order, title="Reconditioning", complaint="Get it ready for sale")
    for hours, rate in labor:
        shop.add_labor_line(job, operation="Recon labor", hours_sold=D(hours), rate=D(rate))
    for part, quantity in parts:
        shop.add_part_line(job, part, quantity)
    return order


def lead(source, status=Lead.Status.NEW, **fields):
    return Lead.objects.create(customer=make_customer(), source=source, status=status, **fields)


def back_date(deal, days):
    """Move a delivered deal (and its commission) to noon of the shop's day `days` before today.
    Counted in the shop's days, not in 24-hour steps from now: across a change of daylight saving
    time near midnight those land on another day than the period the tests ask for."""
    when = on_shop_day(days)
    Deal.objects.filter(pk=deal.pk).update(delivered_at=when, signed_at=when)
    Commission.objects.filter(deal=deal).update(recorded_at=when)


@pytest.fixture
def lot_world(salesperson, make_user):
    """Five deals, worked out by hand (house plan: 20 % of total gross, at least 250.00):

    A  (Sam, website lead)  unit 10,000 + 500 transport; price 15,000; trade-in allowed 4,000,
       worth 3,000 (over-allowance 1,000); service contract 1,500 costing 600; financed with a
       reserve of 300. Front 15,000 - 10,500 - 1,000 = 3,500; back 900 + 300 = 1,200; total
       4,700; commission 940.00. Delivered today.
    B  (Kim, no lead)  unit 8,000; price 9,000, cash. Front 1,000, back 0; commission 250.00
       (the minimum). Delivered today.
    C  (Sam, phone lead)  unit 12,000; price 13,000, cash. Front 1,000; commission 250.00.
       Delivered today and unwound today (chargeback -250.00), the buyer refunded.
    D  (Kim)  signed, paid 500, canceled and refunded: never sold.
    E  (Kim)  unit 9,000; price 10,000, cash. Front 1,000; commission 250.00. Delivered 40 days
       ago, unwound today (chargeback -250.00 today).
    """
    sam = salesperson
    sam.first_name, sam.last_name = "Sam", "Seller"
    sam.save()
    kim = make_user("kim", roles.SALESPERSON)
    kim.first_name, kim.last_name = "Kim", "Closer"
    kim.save()
    CommissionPlan.objects.create(name="House", rate=D("20"), minimum=D("250"))

    website = lead(Lead.Source.WEBSITE)
    unit_a = make_unit(cost="10000", other_costs=[(StockUnitCost.Kind.TRANSPORT, "500")])
    a = delivered_deal(
        unit=unit_a,
        salesperson=sam,
        lead=website,
        sale_price=D("15000"),
        lender="Credit Union",
        apr=D("6.9"),
        term_months=60,
        finance_reserve=D("300"),
        trades=[{"allowance": D("4000"), "actual_cash_value": D("3000")}],
        addons=[{"kind": "service_contract", "price": D("1500"), "cost": D("600")}],
    )
    b = delivered_deal(unit=make_unit(cost="8000"), salesperson=kim, sale_price=D("9000"))
    phone = lead(Lead.Source.PHONE)
    c = delivered_deal(
        unit=make_unit(cost="12000"), salesperson=sam, lead=phone, sale_price=D("13000")
    )
    services.unwind_deal(c, reason="Buyer's financing fell through")
    services.record_refund(c, amount=D("1000"), method="check")

    d = make_deal(unit=make_unit(cost="7000"), salesperson=kim, sale_price=D("8000"))
    services.sign_deal(d)
    services.record_payment(d, amount=D("500"), method="cash")
    services.cancel_deal(d, reason="Changed their mind")
    services.record_refund(d, amount=D("500"), method="cash")

    e = delivered_deal(
        unit=make_unit(cost="9000", days_ago=60), salesperson=kim, sale_price=D("10000")
    )
    back_date(e, 40)
    services.unwind_deal(e, reason="Title problem")
    return {"sam": sam, "kim": kim, "a": a, "b": b, "c": c, "d": d, "e": e}


# ---------------------------------------------------------------------------------------------
# The gross: one definition
# ---------------------------------------------------------------------------------------------


def test_the_frozen_gross_is_the_deal_arithmetic_and_the_query_total_agrees(lot_world):
    """The report sums the gross frozen on delivery: it is what sales.calculations works out
    from the deal's rows, and the query's total is Deal.total_gross."""
    a = lot_world["a"]
    live = services.figures(a, unit_cost=a.unit_cost)
    assert (a.unit_cost, a.front_gross, a.back_gross) == (D("10500.00"), D("3500.00"), D("1200.00"))
    assert (live.front_gross, live.back_gross, live.total_gross) == (
        a.front_gross,
        a.back_gross,
        a.total_gross,
    )
    assert live.trade_over_allowance == D("1000.00")
    totals = dict(
        Deal.objects.filter(front_gross__isnull=False)
        .annotate(total=TOTAL_GROSS)
        .values_list("pk", "total")
    )
    for deal in Deal.objects.filter(pk__in=totals):
        assert (
            totals[deal.pk]
            == deal.total_gross
            == services.figures(deal, unit_cost=deal.unit_cost).total_gross
        )


# ---------------------------------------------------------------------------------------------
# Units sold and gross
# ---------------------------------------------------------------------------------------------


def test_units_sold_count_deliveries_less_unwinds_in_the_period_they_happen(
    lot_world, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):
        figure = lot.units_sold(this_day())
    # Today: A, B and C delivered (3); C and E unwound (2). D was canceled: never sold.
    assert [(r["delivered"], r["unwound"], r["units"]) for r in figure.rows] == [(3, 2, 1)]
    assert figure.summary == {"units": 1, "unwound": 2}
    assert "/admin/sales/deal/?delivered_at__gte=" in figure.url
    # 40 days ago E was sold, and that period keeps it.
    back = today() - timedelta(days=40)
    assert lot.units_sold(Period(back, back)).summary == {"units": 1, "unwound": 0}


def test_gross_per_deal_by_month(lot_world, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        figure = lot.gross_by_month(this_day())
    # Front: A 3,500 + B 1,000 + C 1,000 - C 1,000 - E 1,000 = 3,500; back: A's 1,200.
    expected = {
        "deals": 1,
        "front": D("3500.00"),
        "back": D("1200.00"),
        "total": D("4700.00"),
        "front_per_deal": D("3500.00"),
        "back_per_deal": D("1200.00"),
        "total_per_deal": D("4700.00"),
    }
    assert figure.summary == expected
    [row] = figure.rows
    assert row["month"] == today().replace(day=1)
    assert {key: row[key] for key in expected} == expected


def test_gross_per_salesperson(lot_world, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        figure = lot.gross_by_salesperson(this_day())
    rows = {r["salesperson"]: r for r in figure.rows}
    # Sam: A, and C delivered and unwound; Kim: B, and E unwound (sold in an earlier period).
    sam, kim = rows["Sam Seller"], rows["Kim Closer"]
    assert (sam["deals"], sam["front"], sam["back"], sam["total"], sam["total_per_deal"]) == (
        1,
        D("3500.00"),
        D("1200.00"),
        D("4700.00"),
        D("4700.00"),
    )
    assert (kim["deals"], kim["front"], kim["back"], kim["total"], kim["total_per_deal"]) == (
        0,
        D("0.00"),
        D("0.00"),
        D("0.00"),
        None,
    )
    assert [r["salesperson"] for r in figure.rows] == ["Sam Seller", "Kim Closer"]
    assert f"salesperson__id__exact={lot_world['sam'].pk}" in sam["url"]
    assert figure.summary["total"] == D("4700.00")


def test_gross_per_lead_source(lot_world, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        figure = lot.gross_by_source(this_day())
    rows = {r["source"]: (r["deals"], r["front"], r["back"], r["total"]) for r in figure.rows}
    assert rows == {
        "Website": (1, D("3500.00"), D("1200.00"), D("4700.00")),
        "Phone": (0, D("0.00"), D("0.00"), D("0.00")),  # C sold and unwound
        "No lead": (0, D("0.00"), D("0.00"), D("0.00")),  # B sold, E unwound
    }
    links = {r["source"]: r["url"] for r in figure.rows}
    assert "lead__source__exact=website" in links["Website"]
    assert "lead__isnull=True" in links["No lead"]


def test_the_previous_period_keeps_what_was_sold_in_it(lot_world):
    back = today() - timedelta(days=40)
    figure = lot.gross_by_salesperson(Period(back, back))
    assert [(r["salesperson"], r["deals"], r["total"]) for r in figure.rows] == [
        ("Kim Closer", 1, D("1000.00"))
    ]


def test_commissions_due_are_earned_less_chargebacks(lot_world, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        figure = lot.commissions(this_day())
    rows = {
        r["salesperson"]: (r["deals"], r["earned"], r["chargebacks"], r["due"]) for r in figure.rows
    }
    # Sam: 940.00 on A + 250.00 on C, C charged back; Kim: 250.00 on B, E charged back.
    assert rows == {
        "Sam Seller": (2, D("1190.00"), D("-250.00"), D("940.00")),
        "Kim Closer": (1, D("250.00"), D("-250.00"), D("0.00")),
    }
    assert figure.summary == {"due": D("940.00"), "chargebacks": D("-500.00")}
    assert "/admin/sales/commission/?salesperson__id__exact=" in figure.rows[0]["url"]


def test_canceled_deals_and_refunds_change_no_figure(lot_world):
    before = [
        lot.units_sold(this_day()),
        lot.gross_by_salesperson(this_day()),
        lot.commissions(this_day()),
    ]
    unit = make_unit(cost="5000")
    deal = make_deal(unit=unit, salesperson=lot_world["sam"], sale_price=D("6000"))
    services.sign_deal(deal)
    pay_in_full(deal)
    services.cancel_deal(deal, reason="Walked away")
    services.record_refund(deal, amount=services.money_held(deal), method="check")
    after = [
        lot.units_sold(this_day()),
        lot.gross_by_salesperson(this_day()),
        lot.commissions(this_day()),
    ]
    assert [(f.rows, f.summary) for f in after] == [(f.rows, f.summary) for f in before]


# ---------------------------------------------------------------------------------------------
# Inventory aging
# ---------------------------------------------------------------------------------------------


def test_inventory_aging_buckets_capital_and_units_past_the_target(django_assert_max_num_queries):
    """Target 45 days (shop settings). On the lot today:
    U1 20 days, 5,000                          -> 0-30
    U2 40 days, 6,000                          -> 31-60, not past 45 days
    U3 50 days, 7,000 + 200 transport          -> 31-60, past
    U4 75 days, 8,000 + reconditioning 175.00  -> 61-90, past
    U5 120 days, 9,000                         -> 90+, past
    Gone: a unit wholesaled (130 days), one sold (a deal): not on the lot.
    """
    settings = ShopSettings.current()
    settings.aging_threshold_days = 45
    settings.save()
    make_unit(cost="5000", days_ago=20)
    make_unit(cost="6000", days_ago=40)
    make_unit(cost="7000", days_ago=50, other_costs=[(StockUnitCost.Kind.TRANSPORT, "200")])
    u4 = make_unit(cost="8000", days_ago=75, status=StockUnit.Status.RECONDITIONING)
    pads = make_part("PAD-1", on_hand=10, unit_cost="12.50")
    internal_order(u4, labor=[("1.5", "100.00")], parts=[(pads, 2)])  # 150.00 + 25.00
    make_unit(cost="9000", days_ago=120)
    wholesale_unit(make_unit(cost="4000", days_ago=130), D("3500"))

    with django_assert_max_num_queries(5):
        figure = lot.inventory_aging(this_day())
    rows = [(r["bucket"], r["units"], r["capital"], r["past_target"]) for r in figure.rows]
    assert rows == [
        ("0 to 30 days", 1, D("5000.00"), 0),
        ("31 to 60 days", 2, D("13200.00"), 1),
        ("61 to 90 days", 1, D("8175.00"), 1),
        ("Over 90 days", 1, D("9000.00"), 1),
    ]
    assert figure.summary == {"units": 5, "capital": D("35375.00"), "past_target": 3}
    # The capital is what the stock list says each unit cost (one rule).
    listed = services.with_cost_totals(StockUnit.objects.filter(status__in=StockUnit.IN_STOCK))
    assert sum(u.total_cost for u in listed) == D("35375.00")
    assert "45 days" in figure.note
    assert "status__in=acquired%2Creconditioning%2Cavailable%2Creserved" in figure.rows[0]["url"]


def test_inventory_aging_as_of_an_earlier_day_sees_the_lot_as_it_was():
    """30 days ago U1 (acquired 20 days ago) was not there yet, the unit wholesaled 10 days
    ago still was (acquired 100 days ago: 70 days in stock then)."""
    make_unit(cost="5000", days_ago=20)
    wholesale_unit(make_unit(cost="4000", days_ago=100), D("3500"), on=today() - timedelta(days=10))
    day = today() - timedelta(days=30)
    figure = lot.inventory_aging(Period(day - timedelta(days=5), day))
    assert [(r["bucket"], r["units"], r["capital"]) for r in figure.rows if r["units"]] == [
        ("61 to 90 days", 1, D("4000.00"))
    ]
    assert all(r["url"] is None for r in figure.rows)  # the stock list shows today's lot


# ---------------------------------------------------------------------------------------------
# Reconditioning and days to the front line
# ---------------------------------------------------------------------------------------------


def test_reconditioning_spend_and_days_to_the_front_line(django_assert_max_num_queries):
    """Two units reconditioned today: R1 1.5 h x 100.00 + 2 pads at 12.50 = 175.00 and a
    second order of 0.5 h x 90.00 = 45.00; R2 2 h x 80.00 = 160.00. Spend 380.00 on 2 units
    (190.00 each), 3 orders. A customer's order (not internal) and a canceled internal order do
    not count. R1 (acquired 6 days ago) and R3 (acquired 2 days ago) go on sale today: 4 days
    to the front line on average."""
    r1 = make_unit(cost="8000", days_ago=6, status=StockUnit.Status.RECONDITIONING)
    r2 = make_unit(cost="8000", days_ago=3, status=StockUnit.Status.RECONDITIONING)
    r3 = make_unit(cost="8000", days_ago=2, status=StockUnit.Status.RECONDITIONING)
    pads = make_part("PAD-1", on_hand=10, unit_cost="12.50")
    internal_order(r1, labor=[("1.5", "100.00")], parts=[(pads, 2)])
    internal_order(r1, labor=[("0.5", "90.00")])
    internal_order(r2, labor=[("2", "80.00")])
    canceled = internal_order(r3, labor=[("3", "100.00")])
    shop.cancel_repair_order(canceled, reason="Not worth it")
    customer_car = make_vehicle(owner=make_customer())
    customer_order = shop.create_repair_order(customer_car).repair_order
    job = shop.add_job(customer_order, title="Brakes", complaint="Noise")
    shop.add_labor_line(job, operation="Pads", hours_sold=D("2"), rate=D("100"))
    move_unit(r1, StockUnit.Status.AVAILABLE)
    move_unit(r3, StockUnit.Status.AVAILABLE)
    r1.refresh_from_db()
    assert r1.available_on == today()

    with django_assert_max_num_queries(4):
        figure = lot.reconditioning(this_day())
    [row] = figure.rows
    assert (row["spend"], row["orders"], row["units"], row["spend_per_unit"]) == (
        D("380.00"),
        3,
        2,
        D("190.00"),
    )
    assert (row["front_lined"], row["days_to_front_line"]) == (2, D("4.0"))
    assert figure.summary == {
        "spend": D("380.00"),
        "units": 2,
        "front_lined": 2,
        "days_to_front_line": D("4.0"),
    }
    # The same spend as the units' own cost breakdowns.
    assert sum(services.unit_costs(u).reconditioning for u in (r1, r2, r3)) == D("380.00")
    assert "internal__exact=1" in figure.url


def test_the_front_line_day_is_kept_through_reconditioning_and_an_unwind(salesperson):
    unit = make_unit(cost="8000", days_ago=5)
    first = today()
    assert unit.available_on == first
    move_unit(unit, StockUnit.Status.RECONDITIONING)
    move_unit(unit, StockUnit.Status.AVAILABLE)
    deal = delivered_deal(unit=unit, salesperson=salesperson, sale_price=D("9000"))
    services.unwind_deal(deal, reason="Returned")
    unit.refresh_from_db()
    assert (unit.status, unit.available_on) == (StockUnit.Status.AVAILABLE, first)


# ---------------------------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------------------------


def test_lead_sources_and_conversion(lot_world, django_assert_max_num_queries):
    """Today's leads: the website lead bought (A, delivered); the phone lead's deal (C) was
    unwound, so it did not convert; two walk-ins, one lost and one still open."""
    lead(Lead.Source.WALK_IN, Lead.Status.LOST, lost_reason="Bought elsewhere")
    lead(Lead.Source.WALK_IN, Lead.Status.CONTACTED)
    with django_assert_max_num_queries(1):
        figure = lot.leads(this_day())
    rows = {
        r["source"]: (r["leads"], r["converted"], r["lost"], r["open"], r["conversion"])
        for r in figure.rows
    }
    assert rows == {
        "Walk-in": (2, 0, 1, 1, D("0.0")),
        "Website": (1, 1, 0, 0, D("100.0")),
        "Phone": (1, 0, 0, 0, D("0.0")),
    }
    assert figure.summary == {"leads": 4, "converted": 1, "conversion": D("25.0")}
    assert "source=walk_in" in figure.rows[0]["url"]


def test_no_leads_no_conversion():
    figure = lot.leads(this_day())
    assert figure.rows == [] and figure.summary["conversion"] is None


# ---------------------------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------------------------


def test_a_period_over_several_months_has_a_row_for_each_month(lot_world):
    start = (today().replace(day=1) - timedelta(days=70)).replace(day=1)
    figure = lot.units_sold(Period(start, today()))
    assert figure.rows[0]["month"] == start
    assert len(figure.rows) in (3, 4)
    # 40 days ago E was sold (+1); today A, B, C sold and C, E unwound: 2 in all.
    assert figure.summary["units"] == 2
    assert sum(r["units"] for r in figure.rows) == 2


@pytest.mark.parametrize(
    "query, message",
    [
        ({"period": "custom", "start": "2026-13-01", "end": "2026-12-31"}, "not a valid start"),
        ({"period": "custom", "start": "2026-02-01", "end": "2026-01-01"}, "before the start"),
        ({"period": "custom", "start": "2015-01-01", "end": "2026-01-01"}, "at most five years"),
        ({"period": "custom", "start": "", "end": "2026-01-01"}, "Enter the start"),
        ({"period": "fortnight"}, "Unknown period"),
    ],
)
def test_bad_period_input_is_refused_with_a_message(query, message):
    with pytest.raises(PeriodError, match=message):
        period_from_query(query)


def test_every_lot_figure_answers_for_an_empty_lot_over_five_years():
    period = Period(datetime.date(2022, 1, 1), datetime.date(2026, 12, 31))
    for function in (
        lot.units_sold,
        lot.gross_by_month,
        lot.gross_by_salesperson,
        lot.gross_by_source,
        lot.inventory_aging,
        lot.reconditioning,
        lot.leads,
        lot.commissions,
    ):
        figure = function(period)
        assert isinstance(figure.summary, dict)


# ---------------------------------------------------------------------------------------------
# The pages: who sees the lot's figures
# ---------------------------------------------------------------------------------------------

LOT_REPORTS = [slug for slug, found in REPORTS.items() if found.area == "lot"]
GROSS_REPORTS = [slug for slug in LOT_REPORTS if slug != "lot-units-sold"]


def page(client, slug, query=""):
    return client.get(reverse("reports:report", args=[slug]) + query)


def test_every_lot_report_opens_for_a_manager_with_chart_table_csv_and_links(
    login, manager, lot_world
):
    assert set(LOT_REPORTS) == {
        "lot-units-sold",
        "lot-gross",
        "lot-gross-salespeople",
        "lot-gross-sources",
        "lot-aging",
        "lot-reconditioning",
        "lot-leads",
        "lot-commissions",
    }
    client = login(manager)
    for slug in LOT_REPORTS:
        response = page(client, slug, "?period=month")
        assert response.status_code == 200, slug
        html = response.content.decode()
        assert 'id="report-chart"' in html and 'id="report-table"' in html, slug
        assert reverse("reports:csv", args=[slug]) in html, slug
        download = client.get(reverse("reports:csv", args=[slug]) + "?period=month")
        assert download.status_code == 200, slug
        header = next(csv.reader(io.StringIO(download.content.decode())))
        assert header == [column.label for column in REPORTS[slug].columns], slug
    html = page(client, "lot-gross-salespeople", "?period=month").content.decode()
    assert "Sam Seller" in html and "4,700.00" in html.replace("4700.00", "4,700.00")
    assert escape(f"salesperson__id__exact={lot_world['sam'].pk}") in html
    index = client.get(reverse("reports:index")).content.decode()
    for slug in LOT_REPORTS:
        assert reverse("reports:report", args=[slug]) in index


def test_every_lot_link_opens_its_admin_list_for_a_manager(login, manager, lot_world):
    client = login(manager)
    period = this_day()
    for function in (
        lot.units_sold,
        lot.gross_by_month,
        lot.gross_by_salesperson,
        lot.gross_by_source,
        lot.inventory_aging,
        lot.reconditioning,
        lot.leads,
        lot.commissions,
    ):
        figure = function(period)
        urls = [figure.url] + [row["url"] for row in figure.rows if row.get("url")]
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            assert "?e=1" not in response.get("Location", ""), url
    # The salesperson's deals: Sam's A and C, not Kim's.
    sam = lot.gross_by_salesperson(period).rows[0]
    html = client.get(sam["url"]).content.decode()
    assert lot_world["a"].number in html and lot_world["c"].number in html
    assert lot_world["b"].number not in html
    # The deals written without a lead: B (and E, delivered in an earlier period, is not listed).
    no_lead = {r["source"]: r["url"] for r in lot.gross_by_source(period).rows}["No lead"]
    html = client.get(no_lead).content.decode()
    assert lot_world["b"].number in html and lot_world["a"].number not in html


def test_a_service_advisor_never_sees_the_lot_s_gross(login, advisor, lot_world):
    client = login(advisor)
    for slug in LOT_REPORTS:
        assert page(client, slug).status_code == 403, slug
        assert client.get(reverse("reports:csv", args=[slug])).status_code == 403, slug
    for address in (reverse("admin:index"), reverse("reports:index")):
        html = client.get(address).content.decode()
        for slug in LOT_REPORTS:
            assert reverse("reports:report", args=[slug]) not in html, slug
        assert "Gross per" not in html and "4,700" not in html and "4700" not in html
    # Nor through the admin lists the lot's reports link to.
    for model in ("sales_deal", "sales_commission", "inventory_stockunit", "sales_lead"):
        assert client.get(reverse(f"admin:{model}_changelist")).status_code == 403, model


def test_a_salesperson_sees_units_sold_but_no_gross(login, salesperson, lot_world):
    client = login(salesperson)
    response = page(client, "lot-units-sold")
    assert response.status_code == 200
    assert "gross" not in response.content.decode().split('id="report-table"')[1].lower()
    for slug in GROSS_REPORTS:
        assert page(client, slug).status_code == 403, slug
    html = client.get(reverse("reports:index")).content.decode()
    assert reverse("reports:report", args=["lot-units-sold"]) in html
    assert reverse("reports:report", args=["lot-gross"]) not in html


@pytest.mark.parametrize(
    "query",
    [
        "?period=custom&start=2026-13-01&end=2026-12-31",
        "?period=custom&start=2026-02-01&end=2026-01-01",
        "?period=custom&start=2015-01-01&end=2026-01-01",
        "?period=fortnight",
    ],
)
def test_a_lot_page_explains_a_bad_period(login, manager, query):
    client = login(manager)
    for slug in ("lot-gross", "lot-aging"):
        assert page(client, slug, query).status_code == 400
        assert client.get(reverse("reports:csv", args=[slug]) + query).status_code == 400
