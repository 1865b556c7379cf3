"""/health/ and `manage.py health_check` answer for the database, cache, storage, disk and logs."""

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
