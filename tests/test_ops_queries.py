"""analyze_queries and optimize_queries: slow statements from db.log (and pg_stat_statements
where it is installed), queries running now, plans and their suggestions, on the real test
database."""

import threading
import time

import pytest
from django.core.management.base import CommandError
from django.db import connection, connections

from accounts.models import Customer
from tests.helpers.builders.customers import fill_customers
from tests.helpers.commands import run, run_json
from tests.helpers.logs import ago, slow_query, write_log


@pytest.fixture
def log_dir(settings, tmp_path):
    settings.LOG_DIR = tmp_path
    return tmp_path


@pytest.mark.django_db
def test_a_logged_slow_query_is_reported_with_its_duration(log_dir):
    write_log(
        log_dir / "db.log",
        [
            slow_query(ago(hours=2), "SELECT * FROM inventory_part WHERE sku = 'AB-1'", 2300.5),
            slow_query(ago(hours=1), "SELECT * FROM inventory_part WHERE sku = 'ZZ-9'", 1500),
            slow_query(ago(minutes=5), "SELECT 1 FROM fast", 600),  # under the threshold
            slow_query(ago(days=3), "SELECT 1 FROM old", 9000),  # before the period
        ],
    )

    data = run_json("analyze_queries", "--threshold=1.0", "--period=24h")

    log = data["db_log"]
    assert (log["count"], log["total_statements"]) == (2, 1)
    [row] = log["statements"]
    assert row["sql"] == "SELECT * FROM inventory_part WHERE sku = ?"
    assert (row["count"], row["max_ms"], row["mean_ms"]) == (2, 2300.5, 1900.2)
    assert row["example"] == "SELECT * FROM inventory_part WHERE sku = 'AB-1'"
    text = run("analyze_queries", "--threshold=1.0")
    assert "db.log: 2 slow queries, 1 statements" in text
    assert "2     1900.2     2300.5  SELECT * FROM inventory_part WHERE sku = ?" in text
    assert "pg_stat_statements: not used: " in text or "pg_stat_statements: " in text


@pytest.mark.django_db
def test_pg_stat_statements_is_used_or_its_absence_explained(log_dir):
    stats = run_json("analyze_queries")["pg_stat_statements"]
    if connection.vendor == "sqlite":
        assert stats == {
            "available": False,
            "statements": [],
            "note": "SQLite has no pg_stat_statements: db.log only",
        }
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        installed = cursor.fetchone() is not None
    if installed:
        assert stats["available"] or "cannot be read" in stats["note"]
    else:
        assert stats["available"] is False
        assert "pg_stat_statements is not installed in database" in stats["note"]
        assert "shared_preload_libraries" in stats["note"]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_running_finds_a_query_running_in_another_connection():
    started = threading.Event()

    def sleeper():
        try:
            with connections["default"].cursor() as cursor:
                started.set()
                cursor.execute("SELECT pg_sleep(4) /* dbperf-running-test */")
        finally:
            connections["default"].close()

    thread = threading.Thread(target=sleeper)
    thread.start()
    try:
        started.wait(5)
        found = []
        for _ in range(30):  # until it has run for the threshold
            time.sleep(0.2)
            data = run_json("analyze_queries", "--running", "--threshold=0.5")
            found = [row for row in data["running"] if "dbperf-running-test" in row["query"]]
            if found:
                break
        [row] = found
        assert row["seconds"] >= 0.5
        assert row["state"] == "active"
        text = run("analyze_queries", "--running", "--threshold=0.5")
        assert f"pid {row['pid']} " in text and "pg_sleep(4)" in text
    finally:
        thread.join()


@pytest.mark.sqlite
@pytest.mark.django_db
def test_running_on_sqlite_says_it_needs_postgresql():
    with pytest.raises(CommandError, match="--running needs PostgreSQL: SQLite has no list"):
        run("analyze_queries", "--running")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold=0"], "--threshold must be more than 0 seconds, got 0"),
        (["--top=0"], "--top must be 1 or more, got 0"),
        (["--period=soon"], "is not a duration"),
    ],
)
def test_bad_input_is_refused_in_one_line(log_dir, args, message):
    with pytest.raises(CommandError, match=message):
        run("analyze_queries", *args)


@pytest.mark.django_db
def test_optimize_queries_suggests_an_index_for_a_scan_filtered_on_a_column(log_dir):
    fill_customers()
    write_log(
        log_dir / "db.log",
        [
            slow_query(
                ago(minutes=10),
                'SELECT "accounts_customer"."id" FROM "accounts_customer" '
                'WHERE "accounts_customer"."first_name" = \'First7\'',
                1800,
            )
        ],
    )

    data = run_json("optimize_queries", "--threshold=1.0", "--min-rows=1000")

    [statement] = data["statements"]
    assert statement["status"] == "explained"
    [suggestion] = [row for row in statement["suggestions"] if row["kind"] == "index"]
    assert (suggestion["table"], suggestion["columns"]) == ("accounts_customer", ["first_name"])
    how = "CONCURRENTLY " if connection.vendor == "postgresql" else ""
    assert suggestion["sql"] == (
        f'CREATE INDEX {how}"accounts_customer_first_name_idx" ON '
        f'"accounts_customer" ("first_name");'
    )
    text = run("optimize_queries", "--threshold=1.0", "--min-rows=1000")
    assert "suggest (index): " in text and "accounts_customer(first_name)" in text

    # Under --min-rows the table is small enough to scan: no index suggested.
    data = run_json("optimize_queries", "--threshold=1.0", "--min-rows=5000")
    assert not [row for row in data["statements"][0]["suggestions"] if row["kind"] == "index"]


@pytest.mark.django_db
def test_an_indexed_filter_gets_no_index_suggestion(log_dir):
    fill_customers()
    write_log(
        log_dir / "db.log",
        [
            slow_query(
                ago(minutes=10),
                'SELECT "accounts_customer"."id" FROM "accounts_customer" '
                'WHERE "accounts_customer"."display_name" = \'Last7, First7\'',
                1800,
            )
        ],
    )
    [statement] = run_json("optimize_queries", "--min-rows=1000")["statements"]
    assert statement["status"] == "explained"
    assert not [row for row in statement["suggestions"] if row["kind"] == "index"]


@pytest.mark.django_db
def test_writes_are_never_explained_nor_run(log_dir):
    customer = Customer.objects.create(first_name="Ada", last_name="Lovelace")
    write_log(
        log_dir / "db.log",
        [
            slow_query(
                ago(minutes=3),
                "UPDATE accounts_customer SET first_name = 'X' "  # noqa: S608
                f"WHERE id = {customer.pk}",
                3000,
            ),
            slow_query(ago(minutes=2), "SELECT 1; DELETE FROM accounts_customer", 2000),
        ],
    )
    data = run_json("optimize_queries")
    notes = {row["sql"].split()[0]: (row["status"], row["note"]) for row in data["statements"]}
    assert notes["UPDATE"] == (
        "skipped",
        "UPDATE statement: EXPLAIN runs on SELECT statements only",
    )
    assert notes["SELECT"] == ("skipped", "more than one statement: not explained")
    customer.refresh_from_db()
    assert customer.first_name == "Ada"
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_a_statement_with_parameters_gets_a_generic_plan_or_a_note(log_dir):
    fill_customers(50)
    write_log(
        log_dir / "db.log",
        [
            slow_query(
                ago(minutes=1),
                'SELECT "accounts_customer"."id" FROM "accounts_customer" '
                'WHERE "accounts_customer"."first_name" = %s',
                1200,
            )
        ],
    )
    [statement] = run_json("optimize_queries")["statements"]
    if connection.vendor == "sqlite":
        assert statement["status"] == "explained"
        assert statement["note"] == "parameters bound to NULL for the plan"
    elif connection.pg_version >= 160000:
        assert statement["status"] == "explained"
        assert statement["note"] == "generic plan (parameter values unknown)"
    else:
        assert statement["status"] == "skipped"
        assert statement["note"].startswith(
            "has 1 parameters whose values were not logged; "
            "generic plans (EXPLAIN (GENERIC_PLAN)) need "
            "PostgreSQL 16 or later"
        )
