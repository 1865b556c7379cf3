"""The reports of a group of shops: each shows the locations chosen in the header, compares them
side by side, and never shows a manager the money of a shop they do not work at.

The worked example of test_reports_shop_figures, with order B (its invoice, credit note and
clocked time) and H (B's comeback) at a second shop, East; the rest stays at Main:

    car count, 2-8 March   Main: A          1 car, 330.00 net, ARO 330.00
                           East: B          1 car, 130 - 13 - 20 = 97.00, ARO 97.00
                           both             2 cars, 427.00, ARO 213.50
    comebacks              Main none; East H (a comeback of B)
    declined, to follow up Main: A's wiper blades, 100.00; East none
    owed at the week's end Main: A 330 + E 100; East: B 97; both 527
"""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Location, ShopSettings
from repairs.models import CreditNote, Invoice, RepairOrder, TimeEntry
from reports import summaries
from reports.figures import lot, shop
from reports.models import PartsDay, ShopDay, SummaryState, TechnicianDay
from reports.periods import preset_period
from reports.registry import REPORTS
from tests.test_reports_shop_figures import WEEK, at, week  # noqa: F401 (the worked example)
from tests.test_reports_summaries import PERIODS, figures

pytestmark = pytest.mark.django_db

D = Decimal
WEEK_QUERY = "?period=custom&start=2026-03-02&end=2026-03-08"


def _move(orders, location):
    """The orders, with their invoices, credit notes and clocked time, to `location`."""
    RepairOrder.objects.filter(pk__in=orders).update(location=location)
    Invoice.objects.filter(repair_order__in=orders).update(location=location)
    CreditNote.objects.filter(invoice__repair_order__in=orders).update(location=location)
    TimeEntry.objects.filter(job__repair_order__in=orders).update(location=location)


@pytest.fixture
def shops(week):  # noqa: F811
    main = Location.default()
    east = Location.objects.create(code="east", name="East Shop", kind=Location.Kind.SHOP)
    ShopSettings.of(east)
    comeback = RepairOrder.objects.get(comeback_of=week["b"])
    _move([week["b"].pk, comeback.pk], east)
    return {**week, "main": main, "east": east}


def _car_count(ids):
    with summaries.locations(ids):
        return shop.car_count(WEEK).summary


def _comebacks(ids):
    with summaries.locations(ids):
        summary = shop.comebacks(WEEK).summary
    return summary["comebacks"]


def _declined(ids):
    with summaries.locations(ids):
        summary = shop.declined_work(WEEK).summary
    return summary["jobs"], summary["value"]


def _owed(ids):
    with summaries.locations(ids):
        return shop.receivables(WEEK).summary["balance"]


def test_each_location_s_figures_and_both_together_equal_the_hand_counted_ones(shops):
    main, east = shops["main"].pk, shops["east"].pk
    expected = {
        (main,): {"cars": 1, "sales": D("330.00"), "aro": D("330.00")},
        (east,): {"cars": 1, "sales": D("97.00"), "aro": D("97.00")},
        (main, east): {"cars": 2, "sales": D("427.00"), "aro": D("213.50")},
    }
    for ids, summary in expected.items():
        assert _car_count(ids) == summary, ids
    assert _car_count(None) == expected[(main, east)]  # the group, unfiltered
    assert (_comebacks({main}), _comebacks({east}), _comebacks({main, east})) == (0, 1, 1)
    # To follow up: A's wiper blades (100) at Main; nothing at East.
    assert (_declined({main}), _declined({east}), _declined({main, east})) == (
        (1, D("100.00")),
        (0, D("0.00")),
        (1, D("100.00")),
    )

    # The same once the days are summarized: a row per location and day.
    call_command("refresh_report_summaries", "--all", stdout=io.StringIO())
    assert set(
        ShopDay.objects.filter(day=datetime.date(2026, 3, 4)).values_list("location", flat=True)
    ) == {east}
    for ids, summary in expected.items():
        assert _car_count(ids) == summary, ids
    assert (_comebacks({main}), _comebacks({east}), _comebacks({main, east})) == (0, 1, 1)
    assert (_declined({main}), _declined({east})) == ((1, D("100.00")), (0, D("0.00")))
    # Owed at the end of the week: A's 330 and E's 100 (the week before) at Main, B's 117 less
    # its credit note at East.
    assert (_owed({main}), _owed({east}), _owed({main, east})) == (
        D("430.00"),
        D("97.00"),
        D("527.00"),
    )


LOCATION_SETS = ("main", "east", "both", "group")


def _ids(shops, name):
    return {
        "main": {shops["main"].pk},
        "east": {shops["east"].pk},
        "both": {shops["main"].pk, shops["east"].pk},
        "group": None,
    }[name]


def test_the_summaries_equal_the_records_per_location_and_for_a_set_of_them(shops):
    def every():
        found = {}
        for name in LOCATION_SETS:
            with summaries.locations(_ids(shops, name)):
                found[name] = figures()
                for period in (WEEK, preset_period("today")):
                    for function in (shop.receivables, shop.declined_work):
                        figure = function(period)
                        found[name][(function.__name__, period)] = (figure.rows, figure.summary)
        return found

    from_records = every()
    assert from_records["both"] == from_records["group"]
    assert from_records["main"] != from_records["east"]

    call_command("refresh_report_summaries", "--all", stdout=io.StringIO())
    assert TechnicianDay.objects.filter(location=shops["east"]).exists()
    assert every() == from_records

    # Partly from the summaries (to 4 March), partly from the records.
    SummaryState.objects.update(through=datetime.date(2026, 3, 4))
    for model in (ShopDay, TechnicianDay, PartsDay):
        model.objects.filter(day__gt=datetime.date(2026, 3, 4)).delete()
    assert every() == from_records
    assert set(PERIODS) <= {name for _slug, name in from_records["main"]}


# --- through HTTP ------------------------------------------------------------------------------


def _summary_cells(client, slug, query=WEEK_QUERY):
    response = client.get(reverse("reports:report", args=[slug]) + query)
    assert response.status_code == 200
    html = response.content.decode()
    start = html.index('class="report-summary"')
    return html[start : html.index("</table>", start)]


def test_a_manager_of_one_shop_never_sees_another_shop_s_money(shops, login, manager):
    client = login(manager)  # works at Main only
    summary = _summary_cells(client, "car-count")
    assert "330.00" in summary and "427.00" not in summary and "97.00" not in summary
    # Choosing East, or the group, changes nothing: they stay at Main.
    response = client.post(reverse("choose-location"), {"location": shops["east"].pk})
    assert response.status_code == 302
    client.post(reverse("choose-location"), {"location": "all"})
    summary = _summary_cells(client, "car-count")
    assert "330.00" in summary and "427.00" not in summary
    # No comparison for them, even when asked for by hand.
    html = client.get(reverse("reports:report", args=["car-count"]) + WEEK_QUERY).content
    assert b"Compare locations" not in html and b"location-chooser" not in html
    assert b"report-locations-label" not in html
    html = client.get(
        reverse("reports:report", args=["car-count"]) + WEEK_QUERY + "&by=location"
    ).content.decode()
    assert "East Shop" not in html and 'id="report-locations"' not in html
    rows = _csv(client, "car-count", WEEK_QUERY + "&by=location")
    assert rows[0][0] == "Day or month" and not any("97.00" in row for row in rows)
    # The dashboard too.
    home = client.get(reverse("admin:index")).content.decode()
    assert "East Shop" not in home


def _csv(client, slug, query):
    response = client.get(reverse("reports:csv", args=[slug]) + query)
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_a_manager_of_two_shops_sees_the_chosen_one_the_group_and_a_comparison(
    shops, login, manager
):
    manager.locations.add(shops["east"])
    client = login(manager)
    assert "330.00" in _summary_cells(client, "car-count")  # their home shop first
    client.post(reverse("choose-location"), {"location": shops["east"].pk})
    summary = _summary_cells(client, "car-count")
    assert "97.00" in summary and "330.00" not in summary
    html = client.get(reverse("reports:report", args=["car-count"]) + WEEK_QUERY).content.decode()
    assert '<span id="report-locations-label">East Shop</span>' in html
    client.post(reverse("choose-location"), {"location": "all"})
    assert "427.00" in _summary_cells(client, "car-count")

    html = client.get(reverse("reports:report", args=["car-count"]) + WEEK_QUERY).content.decode()
    assert "Compare locations" in html
    compared = client.get(
        reverse("reports:report", args=["car-count"]) + WEEK_QUERY + "&by=location"
    ).content.decode()
    table = compared[compared.index('id="report-locations"') :]
    table = table[: table.index("</table>")]
    assert table.index("East Shop") < table.index("Main") < table.index("Together")
    assert "97.00" in table and "330.00" in table and "427.00" in table

    rows = _csv(client, "car-count", WEEK_QUERY + "&by=location")
    assert rows == [
        ["Location", "Car count", "Net sales", "Average repair order"],
        ["East Shop", "1", "97.00", "97.00"],
        [Location.default().name, "1", "330.00", "330.00"],
        ["Together", "2", "427.00", "213.50"],
    ]


@pytest.mark.parametrize("slug", sorted(REPORTS))
def test_every_report_compares_its_locations(shops, login, manager, slug):
    """A shop report compares the service shops, a lot report the car lots (Main is both)."""
    lot = Location.objects.create(code="lot", name="Route 9 Lot", kind=Location.Kind.LOT)
    manager.locations.add(shops["east"], lot)
    client = login(manager)
    response = client.get(reverse("reports:report", args=[slug]) + WEEK_QUERY + "&by=location")
    assert response.status_code == 200
    page = response.content.decode()
    table = page[page.index('id="report-locations"') :]
    assert shops["main"].name in table
    if REPORTS[slug].area == "lot":
        assert "Route 9 Lot" in table and "East Shop" not in table
    else:
        assert "East Shop" in table and "Route 9 Lot" not in table


def test_no_comparison_with_a_single_location_of_the_report_s_kind(shops, login, manager):
    manager.locations.add(shops["east"])  # two shops, one lot (Main)
    client = login(manager)
    lot = client.get(reverse("reports:report", args=["lot-gross"]) + WEEK_QUERY + "&by=location")
    shop_page = client.get(reverse("reports:report", args=["car-count"]) + WEEK_QUERY)
    assert lot.status_code == 200 and b'id="report-locations"' not in lot.content
    assert b"by=location" in shop_page.content  # the shop report offers it


@pytest.mark.parametrize("slug", sorted(REPORTS))
def test_every_report_shows_one_chosen_location(shops, login, manager, slug):
    """Counted from the records (nothing summarized), for one location of two."""
    manager.locations.add(shops["east"])
    client = login(manager)
    client.post(reverse("choose-location"), {"location": shops["east"].pk})
    response = client.get(reverse("reports:report", args=[slug]) + "?period=year")
    assert response.status_code == 200
    assert b"East Shop" in response.content


# What each page asked the database before locations existed, in a single-shop install
# (measured on the pages without location filtering): no location UI, no extra query.
SINGLE_SHOP_QUERIES = {"car-count": 12, "sales-gross": 20, "receivables": 10, None: 52}


@pytest.mark.parametrize("slug", list(SINGLE_SHOP_QUERIES))
def test_a_single_shop_install_asks_nothing_more(
    week,  # noqa: F811
    login,
    manager,
    slug,
    django_assert_max_num_queries,
):
    client = login(manager)
    url = reverse("reports:report", args=[slug]) if slug else reverse("reports:index")
    url += WEEK_QUERY
    client.get(url)  # sessions, permissions and the shop settings are cached after the first
    # PostgreSQL: one more, the reading transaction's SET LOCAL jit = off (before locations too).
    jit = 1 if connection.vendor == "postgresql" else 0
    with django_assert_max_num_queries(SINGLE_SHOP_QUERIES[slug] + jit):
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Compare locations" not in html and "location-chooser" not in html


def _invoiced_at(location, n):
    from tests.helpers.builders.repairs import add_job_with_lines, make_order, take_to

    for _ in range(n):
        order = make_order(location=location)
        add_job_with_lines(order, title="Oil change", labor=[("1.0", "100.00")])
        take_to(order, "invoiced")


@pytest.mark.parametrize("query", ["?period=year", "?period=year&by=location"])
def test_a_group_s_pages_ask_no_more_with_more_rows(
    login, manager, query, django_assert_max_num_queries
):
    main = Location.default()
    east = Location.objects.create(code="east", name="East Shop", kind=Location.Kind.SHOP)
    ShopSettings.of(east)
    manager.locations.add(east)
    client = login(manager)
    client.post(reverse("choose-location"), {"location": "all"})
    url = reverse("reports:report", args=["sales-gross"]) + query
    _invoiced_at(main, 1)
    _invoiced_at(east, 1)
    client.get(url)
    with django_assert_max_num_queries(60) as few:
        assert client.get(url).status_code == 200
    _invoiced_at(main, 3)
    _invoiced_at(east, 3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_the_lot_s_figures_are_each_lot_s():
    """Two units at the main location (5,000 and 6,000), one at a second lot (9,000)."""
    from tests.helpers.builders.lot import make_unit

    main = Location.default()
    north = Location.objects.create(code="north", name="North Lot", kind=Location.Kind.LOT)
    make_unit(cost="5000", days_ago=20, location=main)
    make_unit(cost="6000", days_ago=40, location=main)
    make_unit(cost="9000", days_ago=120, location=north)
    period = preset_period("today")

    def stock(ids):
        with summaries.locations(ids):
            summary = lot.inventory_aging(period).summary
        return summary["units"], summary["capital"]

    assert stock({main.pk}) == (2, D("11000.00"))
    assert stock({north.pk}) == (1, D("9000.00"))
    assert stock({main.pk, north.pk}) == stock(None) == (3, D("20000.00"))


def test_dead_stock_at_each_location_from_the_summaries_equals_the_records():
    """One part stocked at Main and East: it moved at Main 20 days ago, at East last 300 days
    ago (dead stock there, not at Main). After a refresh the figures read PartStockMoved; a
    movement at East today, or an old East movement deleted, is seen at once."""
    from inventory import services as stock
    from inventory.models import StockMovement
    from reports.models import PartStockMoved
    from tests.helpers.builders.inventory import make_part

    main = Location.default()
    east = Location.objects.create(code="east", name="East Shop", kind=Location.Kind.SHOP)
    part = make_part("BP-9", unit_cost="25.00", on_hand=0, category="Brakes")
    here = stock.receive_part(part, 4, D("25.00"), location=main)
    there = stock.receive_part(part, 2, D("25.00"), location=east)
    StockMovement.objects.filter(pk=here.pk).update(created_at=_days_ago(20))
    StockMovement.objects.filter(pk=there.pk).update(created_at=_days_ago(300))

    def dead(ids):
        with summaries.locations(ids):
            row = shop.parts_inventory(preset_period("month")).rows
        brakes = next(r for r in row if r["category"] == "Brakes")
        return brakes["dead_parts"], brakes["dead_value"]

    from_records = {name: dead(ids) for name, ids in (("main", {main.pk}), ("east", {east.pk}))}
    assert from_records == {"main": (0, D("0.00")), "east": (1, D("50.00"))}

    call_command("refresh_report_summaries", "--all", stdout=io.StringIO())
    assert PartStockMoved.objects.get(part_stock__location=east).last_moved_at == _days_ago(300)
    assert {"main": dead({main.pk}), "east": dead({east.pk})} == from_records

    # An old movement at East deleted outside the services: looked up in the movements again.
    extra = stock.adjust_stock(part, 1, reason="count", location=east)
    StockMovement.objects.filter(pk=extra.pk).update(created_at=_days_ago(250))
    call_command("refresh_report_summaries", "--all", stdout=io.StringIO())
    StockMovement.objects.get(pk=extra.pk).delete()
    assert not PartStockMoved.objects.filter(part_stock__location=east).exists()
    assert dead({east.pk}) == (1, D("75.00"))

    # It moves at East today: no longer dead there, at once.
    stock.issue_part(part, 1, location=east)
    assert dead({east.pk}) == (0, D("0.00"))


def _days_ago(days):
    day = timezone.localdate() - datetime.timedelta(days=days)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))


GROUPED = sorted(slug for slug, found in REPORTS.items() if found.per_location is not None)


def _grouped_group():
    """Main (shop and lot), East (a shop) and North (a lot) with stock, parts issued, dead stock
    and leads at each: Brakes at Main (issued 3 of 10 this week) and East (2, untouched for 300
    days: dead there), Filters at East only (issued 1 of 5); leads about a unit at Main (2, one
    sold), at North (1, lost) and about no unit (2, counted at each lot)."""
    from inventory import services as stock
    from inventory.models import StockMovement
    from sales.models import CommissionPlan, Lead
    from tests.helpers.builders.inventory import make_part
    from tests.helpers.builders.lot import delivered_deal, make_customer, make_unit

    main = Location.default()
    east = Location.objects.create(code="east", name="East Shop", kind=Location.Kind.SHOP)
    north = Location.objects.create(code="north", name="North Lot", kind=Location.Kind.LOT)
    brakes = make_part("BP-1", unit_cost="25.00", category="Brakes")
    filters = make_part("OF-1", unit_cost="7.35", category="Filters")
    stock.receive_part(brakes, 10, D("25.00"), location=main)
    old = stock.receive_part(brakes, 2, D("25.00"), location=east)
    StockMovement.objects.filter(pk=old.pk).update(created_at=_days_ago(300))
    stock.receive_part(filters, 5, D("7.35"), location=east)
    stock.issue_part(brakes, 3, location=main)
    stock.issue_part(filters, 1, location=east)

    seller = make_staff_salesperson()
    CommissionPlan.objects.create(name="House", rate=D("20"), minimum=D("250"))
    for source, unit_at, status in (
        (Lead.Source.WEBSITE, main, Lead.Status.NEW),
        (Lead.Source.PHONE, main, Lead.Status.NEW),
        (Lead.Source.WEBSITE, north, Lead.Status.LOST),
        (Lead.Source.WALK_IN, None, Lead.Status.NEW),
        (Lead.Source.WEBSITE, None, Lead.Status.LOST),
    ):
        unit = make_unit(location=unit_at) if unit_at else None
        lead = Lead.objects.create(
            customer=make_customer(),
            source=source,
            status=status,
            lost_reason="Bought elsewhere" if status == Lead.Status.LOST else "",
            stock_unit=unit,
        )
        if source == Lead.Source.PHONE:
            delivered_deal(unit=unit, salesperson=seller, lead=lead)
    # Reconditioning: a unit at Main (2.0 h x 100.00) and one at North (1.0 h x 80.00).
    from inventory.models import StockUnit
    from tests.test_reports_lot import internal_order

    for unit_at, hours, rate in ((main, "2.0", "100.00"), (north, "1.0", "80.00")):
        unit = make_unit(location=unit_at, status=StockUnit.Status.RECONDITIONING, days_ago=5)
        internal_order(unit, labor=[(hours, rate)])

    # Declined work to follow up: 1.0 h x 100.00 at Main, 1.5 h x 90.00 at East.
    from repairs.choices import Authorization, AuthorizationMethod
    from repairs.services import authorize_job
    from tests.helpers.builders.repairs import add_job_with_lines, make_order

    for shop_at, hours, rate in ((main, "1.0", "100.00"), (east, "1.5", "90.00")):
        job = add_job_with_lines(
            make_order(location=shop_at), title="Wipers", labor=[(hours, rate)], approve=False
        )
        authorize_job(
            job, Authorization.DECLINED, method=AuthorizationMethod.PHONE, authorized_by="Maria"
        )
    # Owing: one invoice at Main, two at East.
    _invoiced_at(main, 1)
    _invoiced_at(east, 2)
    return {"main": main, "east": east, "north": north}


def make_staff_salesperson():
    from tests.helpers.builders.inventory import make_staff

    return make_staff("seller", role="Salesperson")


@pytest.mark.parametrize("slug", GROUPED)
def test_a_comparison_from_grouped_queries_equals_the_figure_at_each_location(slug):
    """The reports that compare locations from queries grouped by location give each location
    and them together what the report's own figure gives there, counted from the records, from
    the summaries and from both."""
    places = _grouped_group()
    found = REPORTS[slug]
    periods = [preset_period("month"), preset_period("today"), PERIODS["five years"]]

    def compared(ids):
        result = {}
        for period in periods:
            with summaries.locations(ids):
                each, together = found.per_location(period)
            looped = {}
            for pk in ids:
                with summaries.locations({pk}):
                    looped[pk] = found.figure(period).summary
            with summaries.locations(ids):
                assert together == found.figure(period).summary, period
            assert each == looped, period
            result[period] = (each, together)
        return result

    sets = [
        {places["main"].pk, places["east"].pk, places["north"].pk},
        {places["main"].pk, places["north"].pk},
    ]
    from_records = [compared(ids) for ids in sets]
    call_command("refresh_report_summaries", "--all", stdout=io.StringIO())
    assert [compared(ids) for ids in sets] == from_records
    # The figures differ by location: the comparison shows something.
    each, _together = from_records[0][periods[0]]
    assert len({tuple(summary.values()) for summary in each.values()}) > 1


def test_a_grouped_comparison_s_hand_counted_figures():
    places = _grouped_group()
    main, east, north = (places[name].pk for name in ("main", "east", "north"))
    month = preset_period("month")
    with summaries.locations({main, east, north}):
        leads, together = REPORTS["lot-leads"].per_location(month)
    # Main: its two and the two about no unit; North: its lost one and the same two.
    assert leads[main] == {"leads": 4, "converted": 1, "conversion": D("25.0")}
    assert leads[north] == {"leads": 3, "converted": 0, "conversion": D("0.0")}
    assert together["leads"] == 5 and together["converted"] == 1
    with summaries.locations({main, east}):
        parts, together = REPORTS["parts-inventory"].per_location(month)
    assert parts[main]["value"] == D("175.00")  # 7 brake pads at 25.00
    assert parts[east]["value"] == D("79.40")  # 2 pads at 25.00 and 4 filters at 7.35
    assert parts[east]["dead_value"] == D("50.00") and parts[main]["dead_value"] == D("0.00")
    assert together["value"] == D("254.40") and together["dead_value"] == D("50.00")
