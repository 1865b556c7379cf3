"""vacuum_database: VACUUM / ANALYZE on SQLite and PostgreSQL, with the space reclaimed."""

import io
import json
import time
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from accounts.models import Customer


def run(*args):
    out = io.StringIO()
    call_command("vacuum_database", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def run_json(*args):
    return json.loads(run(*args, "--format", "json"))


def fill_and_empty_sessions(rows=3000):
    """Write then delete a few megabytes of sessions: free space for VACUUM to reclaim."""
    expire = timezone.now() + timedelta(days=1)
    Session.objects.bulk_create(
        Session(session_key=f"vacuum-test-{number:06d}", session_data="x" * 1500,
                expire_date=expire)
        for number in range(rows))
    Session.objects.all().delete()


def vacuum_reclaiming(*args, attempts=5):
    """Run the command until it reports the deleted rows' space reclaimed. On a PostgreSQL server
    shared with other work, a snapshot taken elsewhere at that moment can keep the rows from
    being dead yet; the next run reclaims them."""
    for _ in range(attempts):
        report = run_json(*args)
        if report["reclaimed_bytes"] > 1_000_000:
            return report
        time.sleep(1)
    raise AssertionError(f"nothing reclaimed in {attempts} runs: {report}")


@pytest.mark.django_db(transaction=True)
def test_vacuum_reclaims_the_space_of_deleted_rows():
    fill_and_empty_sessions()
    # SQLite vacuums the whole file; PostgreSQL the tables asked for.
    args = ["--tables=sessions"] if connection.vendor == "postgresql" else []

    report = vacuum_reclaiming(*args)

    assert report["database"] == connection.vendor
    assert report["reclaimed_bytes"] == report["bytes_before"] - report["bytes_after"]
    assert report["bytes_after"] < report["bytes_before"]
    rows = {row["table"]: row for row in report["tables"]}
    if connection.vendor == "postgresql":
        assert list(rows) == ["django_session"]
    else:
        assert rows["(database file)"]["free_pages_before"] > 0
        assert rows["(database file)"]["free_pages_after"] == 0
    text = run(*args)  # for people: each table's size before and after
    assert ("django_session" if connection.vendor == "postgresql" else "(database file)") in text
    assert " -> " in text


@pytest.mark.django_db(transaction=True)
def test_analyze_only_reclaims_nothing_and_refreshes_statistics():
    fill_and_empty_sessions(500)
    Customer.objects.create(first_name="Ada", last_name="Lovelace")  # an audit entry to analyze
    report = run_json("--analyze-only", "--tables=sessions,audit")
    assert report["statement"] == "ANALYZE"
    if connection.vendor == "postgresql":
        assert {row["table"] for row in report["tables"]} == {"django_session",
                                                              "auditlog_logentry"}
        with connection.cursor() as cursor:
            cursor.execute("SELECT last_analyze FROM pg_stat_user_tables "
                           "WHERE relname = 'django_session'")
            assert cursor.fetchone()[0] is not None
    else:
        assert report["tables"][0]["free_pages_after"] == report["tables"][0][
            "free_pages_before"] > 0
        with connection.cursor() as cursor:
            cursor.execute("SELECT tbl FROM sqlite_stat1 WHERE tbl = 'auditlog_logentry'")
            assert cursor.fetchone() is not None


@pytest.mark.django_db
def test_vacuum_refuses_to_run_inside_a_transaction():
    with pytest.raises(CommandError) as error:
        run()
    assert str(error.value) == ("VACUUM cannot run inside a transaction; run the command on "
                                "its own")


@pytest.mark.django_db
def test_an_unknown_table_lists_the_friendly_names():
    with pytest.raises(CommandError) as error:
        run("--tables=sessions,carz")
    message = str(error.value)
    assert message.startswith("unknown table 'carz'; tables: ")
    assert all(name in message for name in ("customers", "vehicles (cars)", "sessions", "logins"))


@pytest.mark.django_db
def test_full_and_analyze_only_exclude_each_other():
    with pytest.raises(CommandError, match="--full and --analyze-only exclude each other"):
        run("--full", "--analyze-only")


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_sqlite_vacuums_the_whole_file_and_says_so_for_tables():
    with pytest.raises(CommandError) as error:
        run("--tables=sessions")
    assert str(error.value) == ("SQLite vacuums the whole file: leave out --tables, or add "
                                "--analyze-only to analyze only those tables")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_vacuum_full_rewrites_the_table_and_every_table_is_listed_by_default():
    fill_and_empty_sessions()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_filenode('django_session')")
        filenode = cursor.fetchone()[0]

    report = vacuum_reclaiming("--full", "--tables=sessions")

    assert report["statement"] == "VACUUM (FULL, ANALYZE)"
    assert report["tables"][0]["reclaimed_bytes"] > 1_000_000
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_filenode('django_session')")
        assert cursor.fetchone()[0] != filenode  # rewritten

    everything = run_json("--analyze-only")
    assert {row["table"] for row in everything["tables"]} >= {
        "django_session", "auditlog_logentry", "repairs_repairorder", "sales_deal"}
