"""db.log keeps each slow statement's parameters, secrets masked, and optimize_queries plans the
statement with them: a concrete plan on any PostgreSQL (15 has no generic plans) and SQLite."""

import json
import logging

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Customer
from carshop.dblog import MASKED, PARAM_MAX_CHARS, safe_params
from tests.helpers.builders.customers import fill_customers
from tests.helpers.commands import run_json


@pytest.fixture
def db_log(settings, tmp_path):
    """db.log written into tmp_path by the real carshop.db logger, with its own formatter, for
    every query from here on (SLOW_QUERY_MS = 0)."""
    settings.LOG_DIR = tmp_path
    settings.SLOW_QUERY_MS = 0
    logger = logging.getLogger("carshop.db")
    [configured] = [
        handler
        for handler in logger.handlers
        if getattr(handler, "baseFilename", "").endswith("db.log")
    ]
    handler = logging.FileHandler(tmp_path / "db.log", encoding="utf-8")
    handler.setFormatter(configured.formatter)
    for log_filter in configured.filters:
        handler.addFilter(log_filter)
    logger.addHandler(handler)
    yield tmp_path / "db.log"
    logger.removeHandler(handler)
    handler.close()


def entries(path):
    return [json.loads(raw) for raw in path.read_text(encoding="utf-8").splitlines() if raw]


def customers_named_first7(data):
    [statement] = [
        row
        for row in data["statements"]
        if row["source"] == "db.log"
        and row["sql"].startswith('SELECT COUNT(*) AS "__count" FROM "accounts_customer"')
        and '"accounts_customer"."first_name" = %s' in row["sql"]
    ]
    return statement


@pytest.mark.django_db
def test_a_slow_orm_query_is_explained_with_the_values_it_ran_with(db_log):
    fill_customers()
    db_log.write_text("")  # only what follows: the page's query
    assert Customer.objects.filter(first_name="First7").count() == 1

    [logged] = [
        entry
        for entry in entries(db_log)
        if '"accounts_customer"."first_name" = %s' in entry["sql"]
    ]
    assert logged["params"] == ["First7"]

    statement = customers_named_first7(
        run_json("optimize_queries", "--threshold=0.00001", "--min-rows=1000", "--top=50")
    )
    assert statement["status"] == "explained", statement["note"]
    assert statement["note"] == "planned with the logged parameter values"
    assert any("accounts_customer" in line for line in statement["plan"])
    [suggestion] = [row for row in statement["suggestions"] if row["kind"] == "index"]
    assert (suggestion["table"], suggestion["columns"]) == ("accounts_customer", ["first_name"])


@pytest.mark.postgresql
@pytest.mark.django_db
def test_on_postgresql_the_plan_is_concrete_even_before_version_16(db_log):
    fill_customers()
    db_log.write_text("")
    Customer.objects.filter(first_name="First7").count()

    statement = customers_named_first7(
        run_json("optimize_queries", "--threshold=0.00001", "--min-rows=1000", "--top=50")
    )
    assert statement["status"] == "explained", statement["note"]
    # The value the query ran with is in the plan: a scan filtered on 'First7'.
    [scan] = [line for line in statement["plan"] if "Seq Scan on accounts_customer" in line]
    assert "'First7'" in scan
    assert [row["columns"] for row in statement["suggestions"] if row["kind"] == "index"] == [
        ["first_name"]
    ]


@pytest.mark.django_db
def test_a_password_never_reaches_the_log(db_log):
    get_user_model().objects.filter(username="ada", password="pbkdf2_sha256$hunter2").exists()

    [logged] = [entry for entry in entries(db_log) if '"password" = %s' in entry["sql"]]
    assert logged["params"] == [1, MASKED, "ada"]  # SELECT %s AS "a" ... LIMIT 1
    assert "hunter2" not in db_log.read_text(encoding="utf-8")


def test_secret_columns_are_masked_wherever_the_placeholder_is():
    insert = 'INSERT INTO "t" ("name", "api_token", "note") VALUES (%s, %s, %s), (%s, %s, %s)'
    assert safe_params(insert, ["a", "tok1", "n", "b", "tok2", "m"]) == [
        "a",
        MASKED,
        "n",
        "b",
        MASKED,
        "m",
    ]
    update = 'UPDATE "t" SET "secret" = %s, "label" = %s WHERE "t"."id" IN (%s, %s)'
    assert safe_params(update, ["s3cr3t", "x", 1, 2]) == [MASKED, "x", 1, 2]
    like = (
        'SELECT 1 FROM "t" WHERE UPPER("t"."session_key"::text) LIKE UPPER(%s) '
        'AND "t"."note" LIKE \'50%%\' AND "t"."n" = %s'
    )
    assert safe_params(like, ["abc", 3]) == [MASKED, 3]


def test_parameters_are_bounded():
    sql = 'SELECT 1 FROM "t" WHERE "t"."note" = %s AND "t"."photo" = %s'
    assert safe_params(sql, ["x" * 5000, b"\x89PNG"]) == ["x" * PARAM_MAX_CHARS, MASKED]
    many = 'SELECT 1 FROM "t" WHERE "t"."note" IN (' + ", ".join(["%s"] * 100) + ")"  # noqa: S608
    assert safe_params(many, ["y" * 150] * 100) is None  # too large together: none kept
    assert safe_params(sql, {"a": 1}) is None
    assert safe_params(sql, ["only one"]) is None


@pytest.mark.django_db
def test_logging_in_leaves_no_password_hash_or_session_in_the_log(db_log, client):
    user = get_user_model().objects.create_user("robin", password="Robin-s3cret-pw", is_staff=True)
    db_log.write_text("")

    response = client.post(
        "/admin/login/", {"username": "robin", "password": "Robin-s3cret-pw", "next": "/admin/"}
    )

    assert response.status_code == 302, "the login should have worked"
    text = db_log.read_text(encoding="utf-8")
    assert '"robin"' in text  # the username lookup is logged with its value
    user.refresh_from_db()
    session_key = client.cookies["sessionid"].value
    for secret in ("Robin-s3cret-pw", user.password, session_key):
        assert secret not in text
    assert MASKED in text  # the session row's key and data
