"""The benchmarked admin pages (bench/pages.py) cost under 10 queries, and no more with many rows
than with few: lists, searches and change pages of repair orders, vehicles, customers, parts,
stock units and deals, on data from the large data set's generator at two sizes."""

import datetime

import pytest
from django.conf import settings
from django.contrib import admin
from django.db import connection, transaction
from django.db.models import Max, Min
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from bench.pages import admin_pages
from carshop.ops.testenv.large_data import Generator
from core.admin import EstimatedCountPaginator

UNTIL = datetime.datetime(2026, 6, 30, 21, 0, tzinfo=datetime.UTC)
QUERY_LIMIT = 10
# The backend real logins use (the user and their permissions in one query on PostgreSQL).
BACKEND = settings.AUTHENTICATION_BACKENDS[1]


def _client(username):
    client = Client()
    client.force_login(User.objects.get(username=username), backend=BACKEND)
    return client


def _page_queries():
    """Each benchmarked page's queries, after one request to warm the page up."""
    clients, counts = {}, {}
    for page in admin_pages():
        client = clients.setdefault(page.user, _client(page.user))
        assert client.get(page.url(), page.params).status_code == 200, page.label
        with CaptureQueriesContext(connection) as context:
            response = client.get(page.url(), page.params)
        assert response.status_code == 200, page.label
        counts[page.label] = [query["sql"] for query in context.captured_queries]
    return counts


@pytest.mark.django_db
def test_benchmarked_pages_cost_no_more_queries_with_many_rows_than_with_few(monkeypatch):
    """On PostgreSQL, also under 10 each. (On SQLite, the embedded database of a small
    installation, the user's permissions and a repair order's history take their own queries:
    a change page may cost one or two more.)"""
    import core.templatetags.carshop_admin as tags

    # The many rows are split over the group's locations: each list is still "long".
    monkeypatch.setattr(tags, "EXACT_DATES_LIMIT", 100)
    with transaction.atomic():
        Generator(fraction=0.00005, seed=3, until=UNTIL).run()
        few = {label: len(sql) for label, sql in _page_queries().items()}
        transaction.set_rollback(True)
    Generator(fraction=0.002, seed=3, until=UNTIL).run()
    many = {label: len(sql) for label, sql in _page_queries().items()}

    assert set(few) == set(many)
    assert len(many) >= 19  # repair orders, vehicles, customers, parts (+ stock units, deals)
    for label in many:
        # A list of more than one page adds its date drill-down (one query), nothing else.
        assert many[label] <= few[label] + 1, (label, few[label], many[label])
        if connection.vendor == "postgresql":
            assert max(few[label], many[label]) < QUERY_LIMIT, (label, few[label], many[label])


@pytest.mark.django_db
@pytest.mark.postgresql
def test_a_large_list_is_not_counted_but_estimated_and_the_page_says_about(monkeypatch):
    Generator(fraction=0.001, seed=3, until=UNTIL).run()  # ANALYZEd: the estimates are known
    monkeypatch.setattr(EstimatedCountPaginator, "exact_limit", 100)
    client = _client("advisor")
    # Vehicles are the whole group's: their list is not filtered by location.
    with CaptureQueriesContext(connection) as context:
        response = client.get("/admin/inventory/vehicle/")
    sql = [query["sql"] for query in context.captured_queries]
    # One catalog lookup, whose COUNT branch the database skips for a table this large.
    assert [query for query in sql if "COUNT(" in query] == [
        query for query in sql if "reltuples" in query
    ]
    assert len([query for query in sql if "reltuples" in query]) == 1
    assert b"about " in response.content
    assert response.context["cl"].paginator.estimated
    # A filtered list (a shop's repair orders are filtered by its location too) is counted
    # up to the limit, then estimated by the planner.
    response = client.get("/admin/repairs/repairorder/", {"status": "paid"})
    assert response.context["cl"].paginator.estimated
    assert b"about " in response.content


@pytest.mark.django_db
@pytest.mark.postgresql
def test_a_locations_long_list_is_estimated_in_one_query_not_counted(monkeypatch):
    """The list of the user's location, neither filtered nor searched, is that user's whole
    table: one planner estimate, as the unfiltered table of a single shop, not an exact count of
    the first rows and then the estimate (deals: kept to the lot of their stock unit)."""
    Generator(fraction=0.001, seed=3, until=UNTIL).run()  # ANALYZEd: the estimates are known
    monkeypatch.setattr(EstimatedCountPaginator, "exact_limit", 10)
    for user, url in (("advisor", "/admin/repairs/repairorder/"), ("sales", "/admin/sales/deal/")):
        client = _client(user)
        client.get(url)
        with CaptureQueriesContext(connection) as context:
            response = client.get(url)
        sql = [query["sql"] for query in context.captured_queries]
        assert [query for query in sql if "COUNT(" in query] == [], url
        assert len([query for query in sql if query.startswith("EXPLAIN")]) == 1, url
        assert response.context["cl"].paginator.estimated, url
        assert b"about " in response.content, url
        # Filtered, it is counted up to the limit first, as before.
        with CaptureQueriesContext(connection) as context:
            client.get(url, {"q": "a"} if user == "sales" else {"status": "paid"})
        assert [query for query in context.captured_queries if "COUNT(" in query["sql"]], url


@pytest.mark.django_db
def test_a_short_list_is_counted_exactly():
    Generator(fraction=0.00005, seed=3, until=UNTIL).run()
    response = _client("advisor").get("/admin/repairs/repairorder/", {"status": "canceled"})
    paginator = response.context["cl"].paginator
    assert not paginator.estimated
    assert paginator.count == response.context["cl"].queryset.count()


@pytest.mark.django_db
def test_the_date_drill_down_of_a_long_list_reads_no_distinct_dates(monkeypatch):
    import core.templatetags.carshop_admin as tags

    Generator(fraction=0.0005, seed=3, until=UNTIL).run()
    monkeypatch.setattr(tags, "EXACT_DATES_LIMIT", 10)
    client = _client("advisor")
    with CaptureQueriesContext(connection) as context:
        response = client.get("/admin/repairs/repairorder/")
    # (A group's location filter lists its locations with a DISTINCT of its own.)
    assert not any(
        "DISTINCT" in query["sql"] and "opened_at" in query["sql"]
        for query in context.captured_queries
    )
    assert response.status_code == 200
    years = [choice["title"] for choice in _date_hierarchy_choices(response)]
    assert years == [str(year) for year in range(2021, 2027)]


def _date_hierarchy_choices(response):
    from core.templatetags.carshop_admin import carshop_date_hierarchy

    return carshop_date_hierarchy(response.context["cl"])["choices"]


@pytest.mark.django_db
def test_the_date_drill_down_is_left_out_over_a_search_that_fits_one_page():
    Generator(fraction=0.00005, seed=3, until=UNTIL).run()
    from repairs.models import RepairOrder

    order = RepairOrder.objects.order_by("pk").first()
    response = _client("advisor").get("/admin/repairs/repairorder/", {"q": order.number})
    assert response.context["cl"].result_count == 1
    assert b'class="toplinks"' not in response.content  # the date drill-down


def _expected_periods(first, last, kind):
    """The drill-down's choices between two dates, as Django's own drill-down titles them."""
    first, last = (timezone.localtime(value).date() for value in (first, last))
    if kind == "year":
        return [str(year) for year in range(first.year, last.year + 1)]
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(datetime.date(year, month, 1).strftime("%B %Y"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@pytest.mark.django_db
def test_a_technicians_long_list_shows_their_orders_count_and_dates(monkeypatch):
    """A technician's list is their orders only (a labor line of theirs): counted exactly up to
    the limit, then estimated, and drilled down from their first to their last order's date,
    with no aggregate over their orders, in as many queries with many orders as with few."""
    import core.templatetags.carshop_admin as tags
    from repairs.models import RepairOrder

    Generator(fraction=0.0005, seed=3, until=UNTIL).run()
    # Every list and drilled year here is long: periods between the first and last date.
    monkeypatch.setattr(tags, "EXACT_DATES_LIMIT", 1)
    tech = User.objects.get(username="tech")
    client = _client("tech")
    url = "/admin/repairs/repairorder/"
    theirs = RepairOrder.objects.for_technician(tech)
    per_page = 20
    monkeypatch.setattr(admin.site._registry[RepairOrder], "list_per_page", per_page)
    assert theirs.count() > per_page  # a long list, of more than one page
    bounds = theirs.aggregate(first=Min("opened_at"), last=Max("opened_at"))
    assert bounds["first"] != RepairOrder.objects.aggregate(first=Min("opened_at"))["first"]

    client.get(url)
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    changelist = response.context["cl"]
    assert not changelist.paginator.estimated
    assert changelist.paginator.count == theirs.count()
    assert [order.pk for order in changelist.result_list] == list(
        theirs.order_by("-opened_at", "-id").values_list("pk", flat=True)[:per_page]
    )
    # Spread over years: the drill-down offers the years of their first to last order.
    assert bounds["first"].year < bounds["last"].year
    years = _expected_periods(bounds["first"], bounds["last"], "year")
    assert _date_hierarchy_choices(response) == [
        {"link": f"?opened_at__year={year}", "title": year} for year in years
    ]
    sql = [query["sql"] for query in context.captured_queries]
    assert not any("MIN(" in query or "MAX(" in query for query in sql)
    if connection.vendor == "postgresql":
        assert len(sql) < QUERY_LIMIT

    # A year of theirs: its months, from their first to their last order of that year.
    year = bounds["last"].year
    that_year = theirs.filter(opened_at__year=year)
    year_bounds = that_year.aggregate(first=Min("opened_at"), last=Max("opened_at"))
    response = client.get(url, {"opened_at__year": year})
    assert response.context["cl"].paginator.count == that_year.count()
    assert [choice["title"] for choice in _date_hierarchy_choices(response)] == (
        _expected_periods(year_bounds["first"], year_bounds["last"], "month")
    )

    if connection.vendor == "postgresql":
        # Beyond the limit the count is the planner's estimate, never below the limit.
        monkeypatch.setattr(EstimatedCountPaginator, "exact_limit", 10)
        response = client.get(url)
        assert response.context["cl"].paginator.estimated
        assert response.context["cl"].paginator.count > 10
        assert b"about " in response.content


@pytest.mark.django_db
def test_first_and_last_are_what_min_and_max_give():
    """Over a nullable date (a deal's signing), a filtered list, and no rows at all."""
    from core.templatetags.carshop_admin import first_and_last
    from sales.models import Deal

    Generator(fraction=0.0005, seed=3, until=UNTIL).run()
    deals = Deal.objects.all()
    assert deals.filter(signed_at__isnull=True).exists()
    assert deals.filter(signed_at__isnull=False).exists()
    cheap = deals.filter(sale_price__lt=deals.aggregate(Max("sale_price"))["sale_price__max"] / 2)
    for queryset in (deals, cheap, deals.none(), deals.filter(pk=-1)):
        expected = queryset.aggregate(first=Min("signed_at"), last=Max("signed_at"))
        assert first_and_last(queryset, "signed_at") == expected
