"""Log analysis and monitoring: analyze_logs, error_report, monitor_performance,
monitor_resources and diagnostics, on log lines and data made here."""

import contextlib
import io
import json

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.helpers.commands import findings, run, run_json, run_report
from tests.helpers.logs import ago, line, request, slow_query, traceback_text, write_log


@pytest.fixture
def log_dir(settings, tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    settings.LOG_DIR = folder
    return folder


# --- analyze_logs -----------------------------------------------------------------------------


@pytest.fixture
def access_log(log_dir):
    # Customer change pages 100..1000 ms (p50 550, p95 955, p99 991), spread over the current
    # file and yesterday's compressed copy; logins with each status class; lines out of the period.
    write_log(
        log_dir / "access.log.1.gz",
        [
            request(ago(hours=30), "/admin/accounts/customer/1/change/", 99999),
            *(
                request(ago(hours=20), f"/admin/accounts/customer/{n}/change/", n * 100)
                for n in range(1, 6)
            ),
        ],
        compressed=True,
        modified=ago(hours=20),
    )
    write_log(
        log_dir / "access.log",
        [
            *(
                request(ago(minutes=30), f"/admin/accounts/customer/{n}/change/", n * 100)
                for n in range(6, 11)
            ),
            request(ago(minutes=20), "/admin/login/", 30, status=302, method="POST"),
            request(ago(minutes=19), "/admin/login/", 20, status=200, method="POST"),
            request(
                ago(minutes=18),
                "/admin/login/",
                40,
                status=500,
                method="POST",
                request_id="req-500",
            ),
            request(ago(minutes=17), "/admin/login/", 10, status=429, method="POST"),
            "garbage line",
        ],
    )
    return log_dir


@pytest.mark.django_db
def test_analyze_logs_counts_statuses_and_latency_percentiles_by_endpoint(access_log):
    data = run_json("analyze_logs", "--period", "24h")

    assert data["requests"] == 14
    assert data["status_classes"] == {"2xx": 11, "3xx": 1, "4xx": 1, "5xx": 1}
    pages, logins = data["endpoints"]
    assert pages["endpoint"] == "GET /admin/accounts/customer/{id}/change/"
    assert (pages["count"], pages["p50_ms"], pages["p95_ms"], pages["p99_ms"], pages["max_ms"]) == (
        10,
        550.0,
        955.0,
        991.0,
        1000.0,
    )
    assert logins["endpoint"] == "POST /admin/login/"
    assert logins["status_classes"] == {"2xx": 1, "3xx": 1, "4xx": 1, "5xx": 1}
    assert logins["server_errors"] == 1
    assert data["access_log"]["files"] == ["access.log.1.gz", "access.log"]
    assert data["access_log"]["skipped_lines"] == 1

    text = run("analyze_logs", "--period", "24h", "--top", "1")
    assert "requests since" in text and ": 14" in text
    assert "GET /admin/accounts/customer/{id}/change/" in text
    assert "POST /admin/login/" not in text
    assert "1 unreadable lines skipped" in text


@pytest.mark.django_db
def test_analyze_logs_reads_only_the_period(access_log):
    data = run_json("analyze_logs", "--period", "1h")
    assert data["requests"] == 9
    assert data["access_log"]["files"] == ["access.log"]


@pytest.mark.django_db
def test_analyze_logs_reads_what_the_application_really_logged(client, settings):
    for _ in range(3):
        assert client.get("/ops-analysis-probe/4711/").status_code == 404
    # The files the running logging configuration writes (tests log into a temporary folder).
    real_folder = settings.LOGGING["handlers"]["access"]["filename"].rsplit("/", 1)[0]

    data = run_json("analyze_logs", "--period", "10m", "--log-dir", real_folder, "--top", "1000")

    [probe] = [
        row for row in data["endpoints"] if row["endpoint"] == "GET /ops-analysis-probe/{id}/"
    ]
    assert probe["count"] == 3 and probe["status_classes"] == {"4xx": 3}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "yesterday"], "is not a duration"),
        (["--period", "0m"], "--period must be longer than zero"),
        (["--top", "0"], "--top must be 1 or more"),
        (["--log-dir", "/nonexistent/logs"], "log folder /nonexistent/logs does not exist"),
    ],
)
def test_analyze_logs_refuses_bad_input(log_dir, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("analyze_logs", *args, stdout=io.StringIO())


# --- error_report -----------------------------------------------------------------------------


def error(when, exception=None, file=None, lineno=None, request_id="-", message="failed"):
    fields = {
        "logger": "django.request",
        "message": message,
        "request_id": request_id,
        "level": "ERROR",
    }
    if exception:
        fields["exc_info"] = traceback_text(exception, file, lineno)
    return line(when, **fields)


@pytest.mark.django_db
def test_error_report_groups_by_exception_and_place_with_first_and_last_seen(log_dir):
    services = f"{django_settings.BASE_DIR}/repairs/services.py"
    first, last = ago(days=6), ago(hours=1)
    write_log(
        log_dir / "error.log.2.gz",
        [
            error(ago(days=9), "ValueError", services, 42),  # before the period
            error(first, "ValueError", services, 42, request_id="-"),
        ],
        compressed=True,
        modified=first,
    )
    write_log(
        log_dir / "error.log.1",
        [
            error(ago(days=2), "ValueError", services, 42, request_id="req-a"),
            error(ago(days=2), "ValueError", services, 57, request_id="req-b"),
        ],
    )
    write_log(
        log_dir / "error.log",
        [
            error(last, "ValueError", services, 42, request_id="req-c"),
            error(ago(hours=3), "KeyError", "/srv/venv/lib/python3.11/site-packages/x/y.py", 7),
            error(ago(hours=2), message="mail to admins failed"),
        ],
    )

    data = run_json("error_report", "--period", "7d")

    assert data["errors"] == 6 and data["group_count"] == 4
    top = data["groups"][0]
    assert (top["type"], top["place"], top["count"]) == ("ValueError", "repairs/services.py:42", 3)
    assert top["first_seen"].startswith(first.isoformat()[:19])
    assert top["last_seen"].startswith(last.isoformat()[:19])
    assert top["request_id"] == "req-a"
    places = {(g["type"], g["place"]): g["count"] for g in data["groups"]}
    assert places == {
        ("ValueError", "repairs/services.py:42"): 3,
        ("ValueError", "repairs/services.py:57"): 1,
        ("KeyError", "x/y.py:7"): 1,
        ("(no exception)", "django.request"): 1,
    }

    text = run("error_report", "--period", "7d")
    assert "errors since" in text and "6 in 4 groups" in text
    assert "     3  ValueError at repairs/services.py:42" in text
    assert "request req-a" in text


@pytest.mark.django_db
def test_error_report_with_no_error_log_reports_none(log_dir):
    data = run_json("error_report")
    assert data["errors"] == 0 and data["error_log"]["files"] == []


@pytest.mark.django_db
def test_error_report_refuses_a_bad_period(log_dir):
    with pytest.raises(CommandError, match="'7 days' is not a duration"):
        call_command("error_report", "--period", "7 days", stdout=io.StringIO())


# --- monitor_performance ----------------------------------------------------------------------


@pytest.mark.django_db
def test_monitor_performance_ranks_slow_endpoints_and_counts_slow_queries(access_log):
    write_log(access_log / "db.log.1", [slow_query(ago(days=2), "SELECT 1 FROM old", 900)])
    write_log(
        access_log / "db.log",
        [
            slow_query(ago(hours=3), "SELECT * FROM part WHERE id = 5", 700),
            slow_query(ago(hours=2), "SELECT * FROM part WHERE id = 9", 1200),
            slow_query(ago(hours=1), "UPDATE stock SET qty = 3 WHERE id = 1", 600),
        ],
    )

    data = run_json("monitor_performance", "--period", "24h", "--slow-ms", "650", "--top", "1")

    assert data["requests"] == 14
    assert data["slow_requests"] == 4  # 700, 800, 900 and 1000 ms
    [slowest] = data["slowest_endpoints"]
    assert (slowest["endpoint"], slowest["p95_ms"]) == (
        "GET /admin/accounts/customer/{id}/change/",
        955.0,
    )
    queries = data["slow_queries"]
    assert queries["count"] == 3
    assert queries["statements"] == [
        {
            "sql": "SELECT * FROM part WHERE id = ?",
            "count": 2,
            "p50_ms": 950.0,
            "p95_ms": 1175.0,
            "p99_ms": 1195.0,
            "max_ms": 1200.0,
            "mean_ms": 950.0,
        }
    ]
    text = run("monitor_performance", "--period", "24h", "--slow-ms", "650")
    assert "slower than 650 ms: 4 requests" in text
    assert "slow queries (db.log): 3" in text
    assert "2 x  max 1200.0 ms  SELECT * FROM part WHERE id = ?" in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--slow-ms", "0"], "--slow-ms must be more than 0"),
        (["--period=-1h"], "is not a duration"),
    ],
)
def test_monitor_performance_refuses_bad_input(log_dir, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("monitor_performance", *args, stdout=io.StringIO())


# --- monitor_resources ------------------------------------------------------------------------


@pytest.fixture
def calm_cpu(settings):
    """CPU use on a shared test machine is anyone's guess: never a failure here."""
    settings.MONITOR_CPU_WARN_PERCENT = 100
    settings.MONITOR_CPU_FAIL_PERCENT = 101


@pytest.mark.django_db
def test_monitor_resources_reports_cpu_memory_disks_and_database_size(settings, calm_cpu):
    settings.MONITOR_MEMORY_WARN_PERCENT = 1
    settings.MONITOR_MEMORY_FAIL_PERCENT = 100
    report, error = run_report("monitor_resources", "--cpu-interval", "0.1")
    assert error is None
    assert report["status"] == "WARN"
    assert [f["status"] for f in report["findings"] if f["check"] == "memory"] == ["WARN"]
    disks = {disk["folder"]: disk for disk in report["data"]["disks"]}
    assert sorted(disks) == ["BACKUP_DIR", "LOG_DIR", "VAR_DIR"]
    assert disks["LOG_DIR"]["path"] == str(settings.LOG_DIR)
    assert 0 < disks["LOG_DIR"]["percent"] < 100
    assert report["data"]["database_size_mb"] >= 0
    assert report["data"]["cpu"]["cores"] >= 1


@pytest.mark.django_db
def test_monitor_resources_fails_on_a_full_disk_and_exits_non_zero(settings, calm_cpu):
    settings.HEALTH_MIN_FREE_DISK_MB = 10**12
    report, error = run_report("monitor_resources", "--cpu-interval", "0.1")
    assert report["status"] == "FAIL"
    assert "below HEALTH_MIN_FREE_DISK_MB" in findings(report)[("disk logs", "FAIL")]
    assert str(error) == "resources: 3 failed (disk data, disk logs, disk backups)"

    settings.HEALTH_MIN_FREE_DISK_MB = 0
    settings.MONITOR_DISK_WARN_PERCENT = 1
    settings.MONITOR_DISK_FAIL_PERCENT = 2
    report, error = run_report("monitor_resources", "--cpu-interval", "0.1")
    assert [f["status"] for f in report["findings"] if f["check"].startswith("disk")] == [
        "FAIL"
    ] * 3


@pytest.mark.django_db
@pytest.mark.parametrize("interval", ["0", "-1", "61"])
def test_monitor_resources_refuses_a_bad_cpu_interval(interval):
    with pytest.raises(CommandError, match="--cpu-interval must be more than 0"):
        call_command("monitor_resources", "--cpu-interval", interval, stdout=io.StringIO())


# --- diagnostics ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_diagnostics_runs_every_section_in_one_report():
    out = io.StringIO()
    failure = None
    try:
        call_command("diagnostics", "--format", "json", stdout=out)
    except CommandError as exc:
        failure = exc
    data = json.loads(out.getvalue())

    sections = {section["title"]: section for section in data["sections"]}
    assert list(sections) == [
        "health",
        "database connection",
        "authentication",
        "configuration",
        "resources",
    ]
    health = {f["check"]: f["status"] for f in sections["health"]["findings"]}
    assert health == {
        "Database": "OK",
        "Cache": "OK",
        "Storage": "OK",
        "DiskSpace": "OK",
        "LogFolder": "OK",
        "BackupFreshness": "OK",
        "WalArchiving": "OK",
    }
    for title in ("database connection", "authentication", "configuration"):
        assert sections[title]["status"] == "OK", sections[title]
    # The exit status follows the sections: non-zero exactly when one failed.
    assert (failure is not None) == (data["status"] == "FAIL")

    text = io.StringIO()
    with contextlib.suppress(CommandError):
        call_command("diagnostics", stdout=text)
    assert "health: OK" in text.getvalue() and "database connection: OK" in text.getvalue()


@pytest.mark.django_db(transaction=True)
def test_diagnostics_exits_non_zero_naming_the_failed_sections(settings, tmp_path):
    settings.LOG_DIR = tmp_path / "missing" / "logs"
    settings.HEALTH_MIN_FREE_DISK_MB = 0
    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("diagnostics", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    sections = {section["title"]: section["status"] for section in data["sections"]}
    assert sections["health"] == "FAIL"
    assert data["status"] == "FAIL"
    assert str(error.value).startswith("diagnostics: ")
    assert "health" in str(error.value)
