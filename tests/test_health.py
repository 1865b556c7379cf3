"""/health/ and `manage.py health_check` answer for the database, cache, storage, disk and logs."""

import contextlib
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


@pytest.mark.django_db
def test_health_endpoint_answers_json_with_every_check(client):
    response = client.get("/health/?format=json")
    assert response.status_code == 200
    body = json.loads(response.content)
    names = json.dumps(body)
    for check in ("Database", "Cache", "Storage", "DiskSpace", "LogFolder"):
        assert check in names


@pytest.mark.django_db
def test_health_fails_with_500_when_the_log_folder_is_gone(client, settings, tmp_path):
    settings.LOG_DIR = tmp_path / "missing"
    response = client.get("/health/?format=json")
    assert response.status_code == 500
    assert "log folder" in response.content.decode()


@pytest.mark.django_db
def test_health_fails_when_disk_is_below_the_minimum(client, settings):
    settings.HEALTH_MIN_FREE_DISK_MB = 10**12
    assert client.get("/health/?format=json").status_code == 500


@pytest.mark.django_db(transaction=True)
def test_health_check_command_reports_json_and_exits_non_zero_on_failure(settings, tmp_path):
    out = io.StringIO()
    call_command("health_check", "--format", "json", stdout=out)
    assert json.loads(out.getvalue())["healthy"] is True

    settings.LOG_DIR = tmp_path / "missing"
    with pytest.raises(CommandError, match="unhealthy: LogFolder"):
        call_command("health_check", stdout=io.StringIO())


@pytest.mark.django_db
def test_a_stale_backup_fails_health_but_not_the_load_balancers_liveness_probe(
    client, settings, tmp_path
):
    settings.BACKUP_FRESHNESS_REQUIRED = True
    settings.BACKUP_STATUS_FILE = tmp_path / "no-backup-yet.json"

    full = client.get("/health/?format=json")
    live = client.get("/health/live/?format=json")

    assert full.status_code == 500
    assert "no successful backup recorded" in full.content.decode()
    assert live.status_code == 200
    assert "BackupFreshness" not in live.content.decode()


@contextlib.contextmanager
def database_down():
    """The default database made unreachable for real (a closed port, a folder that does not
    exist), for every thread; put back afterwards."""
    from django.db import connections

    connection = connections["default"]
    settings_dict = connection.settings_dict
    saved = dict(settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        settings_dict.update(HOST="127.0.0.1", PORT=1)
    else:
        settings_dict["NAME"] = "/nonexistent-carshop-folder/db.sqlite3"
    try:
        yield
    finally:
        connection.close()
        settings_dict.clear()
        settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)
def test_a_logged_in_browser_asking_for_json_gets_json_while_the_database_is_down(
    client, django_user_model
):
    client.force_login(django_user_model.objects.create_user("health-browser", password="x"))

    with database_down():
        response = client.get(
            "/health/?format=json", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8"
        )

    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    database = next(value for key, value in body.items() if key.startswith("Database"))
    assert database != "OK"
    assert body["LogFolder()"] == "OK"


def test_health_check_with_the_database_down_prints_its_summary_not_tracebacks(tmp_path):
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_ENV": "development",
        "LOG_DIR": str(tmp_path),
        "LOG_TO_CONSOLE": "true",
        "DATABASE_URL": "postgres://carshop@127.0.0.1:1/carshop",
    }
    result = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "health_check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    # The summary, and with console logging on, the one log line that records the failure.
    stderr = result.stderr.strip().splitlines()
    assert "CommandError: unhealthy: Database" in stderr
    assert set(stderr) <= {
        "CommandError: unhealthy: Database",
        "ERROR carshop.commands: command health_check failed: CommandError: unhealthy: Database",
    }
    assert "Traceback" not in result.stderr
    assert result.stdout.splitlines()[0].startswith("Database     FAIL: ")
    assert "Traceback" not in result.stdout
    assert "Traceback" in (tmp_path / "app.log").read_text()  # kept where operators look
