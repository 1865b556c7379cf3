"""Searches at scale: every benchmarked search can be answered by indexes (PostgreSQL's plan has
no sequential scan of a table once sequential scans are priced out), a VIN tail is a prefix
search on the reversed VIN, names and phones go through trigram-indexable lookups; and the user
comes with their permissions in one query."""

import datetime
import json

import pytest
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Customer, User
from bench.pages import admin_pages
from bench.run import choose_location
from carshop.ops.testenv.large_data import Generator
from inventory.models import Vehicle

UNTIL = datetime.datetime(2026, 6, 30, 21, 0, tzinfo=datetime.UTC)
BACKEND = settings.AUTHENTICATION_BACKENDS[1]
# Tables that grow with the business: none of them may be read whole by a search.
LARGE_TABLES = {
    "accounts_customer",
    "inventory_vehicle",
    "inventory_part",
    "inventory_stockunit",
    "repairs_repairorder",
    "sales_deal",
}


@pytest.fixture
def data(db):
    Generator(fraction=0.0005, seed=9, until=UNTIL).run()


def _search_queries():
    clients = {}
    for page in admin_pages():
        if page.kind != "search":
            continue
        client = clients.get((page.user, page.location))
        if client is None:
            client = clients[page.user, page.location] = Client()
            client.force_login(User.objects.get(username=page.user), backend=BACKEND)
            if page.location is not None:  # chosen in the header, as the benchmark does
                choose_location(client, page.location)
        with CaptureQueriesContext(connection) as context:
            response = client.get(page.url(), page.params)
        assert response.status_code == 200
        assert response.context["cl"].result_count >= 1, page.label  # it found what it sought
        yield page, [query["sql"] for query in context.captured_queries]


def _scanned_tables(plan):
    found = set()
    if plan.get("Node Type") == "Seq Scan":
        found.add(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found |= _scanned_tables(child)
    return found


@pytest.mark.postgresql
def test_every_benchmarked_search_can_be_answered_by_indexes(data):
    searched = 0
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            for page, queries in _search_queries():
                searched += 1
                for sql in queries:
                    if not sql.startswith("SELECT"):
                        continue
                    cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
                    plan = cursor.fetchone()[0]
                    plan = json.loads(plan) if isinstance(plan, str) else plan
                    assert not _scanned_tables(plan[0]["Plan"]) & LARGE_TABLES, (page.label, sql)
        finally:
            cursor.execute("RESET enable_seqscan")
    assert searched >= 12


@pytest.mark.django_db
def test_a_vin_tail_is_searched_as_the_start_of_the_reversed_vin(data):
    vehicle = Vehicle.objects.exclude(plate="").order_by("pk")[10]
    sql = str(Vehicle.objects.search(vehicle.vin[-6:]).query)
    assert f'vin_reversed" LIKE {vehicle.vin[-6:][::-1]}%' in sql.replace("::text", "")
    assert list(Vehicle.objects.search(vehicle.vin[-6:])) == [vehicle]


@pytest.mark.django_db
def test_customer_search_uses_lookups_a_trigram_index_answers(data):
    customer = Customer.objects.order_by("pk")[5]
    by_name = str(Customer.objects.search(customer.last_name or customer.company_name).query)
    where = by_name.split(" WHERE ", 1)[1]
    assert '"accounts_customer"."display_name"' in where and "LIKE" in where
    if connection.vendor == "postgresql":  # what the trigram index of UPPER(display_name) serves
        assert 'UPPER("accounts_customer"."display_name"::text) LIKE UPPER(' in where
    by_phone = Customer.objects.search(customer.phone[-8:])
    assert '"phone_digits"' in str(by_phone.query)
    assert customer in by_phone
    assert customer in Customer.objects.search(customer.phone.replace(" ", "").replace("-", ""))


@pytest.mark.django_db
@pytest.mark.postgresql
def test_the_user_and_their_permissions_come_in_one_query(data):
    advisor = User.objects.get(username="advisor")
    client = Client()
    client.force_login(advisor, backend=BACKEND)
    with CaptureQueriesContext(connection) as context:
        assert client.get("/admin/repairs/repairorder/").status_code == 200
    assert not any(
        "auth_permission" in query["sql"] and "accounts_user" not in query["sql"]
        for query in context.captured_queries
    )
    loaded = client.get("/admin/").wsgi_request.user
    plain = User.objects.get(pk=advisor.pk)
    assert loaded.get_all_permissions() == ModelBackend().get_all_permissions(plain)
    assert loaded.has_perm("repairs.change_repairorder")
    assert not loaded.has_perm("accounts.change_shopsettings")
