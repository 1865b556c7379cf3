"""vacuum_database: VACUUM / ANALYZE on SQLite and PostgreSQL, with the space reclaimed.

On PostgreSQL, how much space comes back is the server's business: a snapshot held by any other
session of the database keeps the deleted rows. The tests check what the command controls: the
statement, the tables it ran on, and sizes that are the database's own figures."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from accounts.models import Customer
from carshop.ops.toolkit import human_size
from tests.helpers.commands import run, run_json


def fill_and_empty_sessions(rows=3000):
    """Write then delete a few megabytes of sessions: free space for VACUUM to reclaim."""
    expire = timezone.now() + timedelta(days=1)
    Session.objects.bulk_create(
        Session(
            session_key=f"vacuum-test-{number:06d}", session_data="x" * 1500, expire_date=expire
        )
        for number in range(rows)
    )
    Session.objects.all().delete()


@pytest.fixture(params=["alone", "beside an old snapshot"])
def other_session(request):
    """Another session of the same database, idle or holding the snapshot of an open REPEATABLE
    READ transaction (a report, a backup, a colleague's psql on a shared server). Rows deleted
    after that snapshot are still visible to it: no VACUUM may reclaim them until it ends, so a
    test cannot expect space back; it checks what the command did and what it measured."""
    if request.param == "alone" or connection.vendor != "postgresql":
        yield None
        return
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    other.ensure_connection()
    raw = other.connection
    raw.set_session(isolation_level="REPEATABLE READ", autocommit=False)
    with raw.cursor() as cursor:
        cursor.execute("SELECT 1")  # the transaction's snapshot is taken here, and kept
        cursor.execute(
            "SELECT backend_xmin IS NOT NULL FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        )
        assert cursor.fetchone()[0], "the other session holds no snapshot"
    try:
        yield other
    finally:
        raw.rollback()
        other.close()


@pytest.fixture
def sessions_without_autovacuum():
    """django_session's sizes change only by the command under test (autovacuum could otherwise
    vacuum it between the test's measurement and the command's)."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE django_session SET (autovacuum_enabled = false)")
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE django_session RESET (autovacuum_enabled)")


def pg_table(table):
    """PostgreSQL's own figures for a table: total size (with indexes and TOAST), file node,
    and how many times it was vacuumed (not counting VACUUM FULL, which rewrites instead)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size(%s::regclass), "
            "pg_relation_filenode(%s::regclass), "
            "(SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = %s)",
            [table, table, table],
        )
        size, filenode, vacuums = cursor.fetchone()
    return {"size": size, "filenode": filenode, "vacuums": vacuums}


def assert_sizes_are_the_database_s_own(report, before, after):
    """The report gives, for django_session, the sizes PostgreSQL gave before and after."""
    assert [row["table"] for row in report["tables"]] == ["django_session"]
    row = report["tables"][0]
    assert row["bytes_before"] == before["size"] == report["bytes_before"]
    assert row["bytes_after"] == after["size"] == report["bytes_after"]
    assert row["reclaimed_bytes"] == before["size"] - after["size"] == report["reclaimed_bytes"]


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_sqlite_vacuum_reclaims_the_space_of_deleted_rows():
    fill_and_empty_sessions()

    report = run_json("vacuum_database")

    assert report["database"] == "sqlite"
    assert report["statement"] == "ANALYZE; VACUUM"
    assert report["reclaimed_bytes"] == report["bytes_before"] - report["bytes_after"] > 1_000_000
    [row] = report["tables"]
    assert row["table"] == "(database file)"
    assert row["free_pages_before"] > 0
    assert row["free_pages_after"] == 0
    text = run("vacuum_database")  # for people: the file's size before and after
    assert "(database file)" in text
    assert " -> " in text


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_vacuum_runs_on_the_tables_asked_for_and_reports_their_sizes(
    other_session, sessions_without_autovacuum
):
    fill_and_empty_sessions()
    before = pg_table("django_session")

    report = run_json("vacuum_database", "--tables=sessions")

    after = pg_table("django_session")
    assert report["database"] == "postgresql"
    assert report["statement"] == "VACUUM (ANALYZE)"
    assert after["vacuums"] == before["vacuums"] + 1
    assert_sizes_are_the_database_s_own(report, before, after)
    # for people: each table's size before and after
    text = run("vacuum_database", "--tables=sessions")
    assert "django_session" in text
    assert f"{human_size(after['size'])} -> " in text


@pytest.mark.django_db(transaction=True)
def test_analyze_only_reclaims_nothing_and_refreshes_statistics():
    fill_and_empty_sessions(500)
    Customer.objects.create(first_name="Ada", last_name="Lovelace")  # an audit entry to analyze
    report = run_json("vacuum_database", "--analyze-only", "--tables=sessions,audit")
    assert report["statement"] == "ANALYZE"
    if connection.vendor == "postgresql":
        assert {row["table"] for row in report["tables"]} == {"django_session", "auditlog_logentry"}
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'django_session'"
            )
            assert cursor.fetchone()[0] is not None
    else:
        assert (
            report["tables"][0]["free_pages_after"] == report["tables"][0]["free_pages_before"] > 0
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT tbl FROM sqlite_stat1 WHERE tbl = 'auditlog_logentry'")
            assert cursor.fetchone() is not None


@pytest.mark.django_db
def test_vacuum_refuses_to_run_inside_a_transaction():
    with pytest.raises(CommandError) as error:
        run("vacuum_database")
    assert str(error.value) == (
        "VACUUM cannot run inside a transaction; run the command on its own"
    )


@pytest.mark.django_db
def test_an_unknown_table_lists_the_friendly_names():
    with pytest.raises(CommandError) as error:
        run("vacuum_database", "--tables=sessions,carz")
    message = str(error.value)
    assert message.startswith("unknown table 'carz'; tables: ")
    assert all(name in message for name in ("customers", "vehicles (cars)", "sessions", "logins"))


@pytest.mark.django_db
def test_full_and_analyze_only_exclude_each_other():
    with pytest.raises(CommandError, match="--full and --analyze-only exclude each other"):
        run("vacuum_database", "--full", "--analyze-only")


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_sqlite_vacuums_the_whole_file_and_says_so_for_tables():
    with pytest.raises(CommandError) as error:
        run("vacuum_database", "--tables=sessions")
    assert str(error.value) == (
        "SQLite vacuums the whole file: leave out --tables, or add "
        "--analyze-only to analyze only those tables"
    )


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_vacuum_full_rewrites_the_table_and_every_table_is_listed_by_default(
    other_session, sessions_without_autovacuum
):
    fill_and_empty_sessions()
    before = pg_table("django_session")

    report = run_json("vacuum_database", "--full", "--tables=sessions")

    after = pg_table("django_session")
    assert report["statement"] == "VACUUM (FULL, ANALYZE)"
    assert after["filenode"] != before["filenode"]  # rewritten into a new file
    assert_sizes_are_the_database_s_own(report, before, after)

    everything = run_json("vacuum_database", "--analyze-only")
    assert {row["table"] for row in everything["tables"]} >= {
        "django_session",
        "auditlog_logentry",
        "repairs_repairorder",
        "sales_deal",
    }
