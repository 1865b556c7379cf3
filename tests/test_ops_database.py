"""check_db_connection and monitor_db_connections on SQLite and PostgreSQL."""

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from tests.helpers.commands import findings, run_report

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_check_db_connection_measures_round_trips_and_reads_the_server():
    report, error = run_report("check_db_connection", "--round-trips", "7")
    assert error is None
    data = report["data"]
    assert data["vendor"] == connection.vendor
    assert data["latency"]["round_trips"] == 7
    assert (
        0 <= data["latency"]["min_ms"] <= data["latency"]["median_ms"] <= data["latency"]["max_ms"]
    )
    assert data["server_version"].startswith(
        {"sqlite": "SQLite ", "postgresql": "PostgreSQL "}[connection.vendor]
    )
    assert data["size_bytes"] > 0
    assert data["unapplied_migrations"] == []
    assert findings(report)[("migrations", "OK")] == "all applied"


@pytest.mark.django_db(transaction=True)
def test_check_db_connection_warns_about_unapplied_migrations():
    recorder = MigrationRecorder(connection)
    recorder.record_unapplied("sessions", "0001_initial")
    try:
        report, error = run_report("check_db_connection")
    finally:
        recorder.record_applied("sessions", "0001_initial")
    assert error is None
    assert report["data"]["unapplied_migrations"] == ["sessions.0001_initial"]
    assert "1 unapplied: sessions.0001_initial" in findings(report)[("migrations", "WARN")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--round-trips", "0"], "--round-trips must be 1 or more"),
        (["--database", "replica"], "no database 'replica' in DATABASES; databases: default"),
    ],
)
def test_check_db_connection_refuses_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("check_db_connection", *args, stdout=io.StringIO())


def test_check_db_connection_exits_non_zero_with_one_line_when_the_server_is_down(tmp_path):
    environment = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": "postgres://carshop@127.0.0.1:1/carshop",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check_db_connection"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "CommandError: database connection: FAIL connect: cannot connect to database 'default': "
        'connection to server at "127.0.0.1", port 1 failed: Connection refused'
    ]
    assert "FAIL  connect" in result.stdout


# --- monitor_db_connections -------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.django_db
def test_monitor_db_connections_on_sqlite_reports_the_file_wal_and_journal_mode():
    report, error = run_report("monitor_db_connections")
    assert error is None
    assert report["data"]["journal_mode"] == "wal"
    assert report["data"]["busy_timeout_ms"] == 20000
    assert report["data"]["size_bytes"] > 0
    assert findings(report)[("journal mode", "OK")].startswith("wal; WAL file")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_monitor_db_connections_counts_states_and_shows_the_longest_running_query():
    started = threading.Event()

    def slow_query():
        from django.db import connection as own

        try:
            with own.cursor() as cursor:
                started.set()
                cursor.execute("SELECT pg_sleep(2), 'ops-monitor-marker'")
        finally:
            own.close()

    worker = threading.Thread(target=slow_query)
    worker.start()
    try:
        assert started.wait(10)
        # The query is running once pg_stat_activity shows it; poll briefly for that.
        for _ in range(50):
            report, error = run_report("monitor_db_connections", "--limit", "20")
            running = [
                row
                for row in report["data"]["longest_running"]
                if "ops-monitor-marker" in row["query"]
            ]
            if running:
                break
            time.sleep(0.05)
    finally:
        worker.join()

    assert error is None
    assert running and running[0]["state"] == "active"
    data = report["data"]
    assert data["by_state"]["active"] >= 2  # the sleeping query and the command's own
    assert data["in_use"] == sum(data["by_state"].values())
    assert data["max_connections"] > data["superuser_reserved_connections"]
    assert findings(report)[("connections in use", "OK")].startswith(f"{data['in_use']} of ")


@pytest.mark.postgresql
@pytest.mark.django_db
def test_monitor_db_connections_warns_and_fails_at_the_thresholds(settings):
    settings.MONITOR_DB_CONNECTIONS_WARN_PERCENT = 1
    settings.MONITOR_DB_CONNECTIONS_FAIL_PERCENT = 100
    report, error = run_report("monitor_db_connections")
    assert error is None and report["status"] == "WARN"

    settings.MONITOR_DB_CONNECTIONS_FAIL_PERCENT = 1
    report, error = run_report("monitor_db_connections")
    assert report["status"] == "FAIL"
    assert str(error).startswith("database connections: FAIL connections in use")


@pytest.mark.django_db
def test_monitor_db_connections_refuses_a_bad_limit():
    with pytest.raises(CommandError, match="--limit must be 1 or more"):
        call_command("monitor_db_connections", "--limit", "0", stdout=io.StringIO())
