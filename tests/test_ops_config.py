"""validate_config and check_auth_config: findings with OK / WARN / FAIL, non-zero exit on FAIL."""

import io
import json

import pytest
from django.core.management import call_command

from tests.helpers.commands import findings, run_report, statuses

# --- validate_config --------------------------------------------------------------------------


@pytest.mark.django_db
def test_validate_config_passes_for_the_test_environment(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    report, error = run_report("validate_config")
    assert error is None
    assert report["status"] == "OK"
    checks = {f["check"] for f in report["findings"]}
    for check in (
        "DJANGO_ENV",
        "SECRET_KEY",
        "VAR_DIR",
        "LOG_DIR",
        "MEDIA_ROOT",
        "BACKUP_DIR",
        "database",
        "cache",
        "django checks",
        "ALLOWED_HOSTS / CSRF_TRUSTED_ORIGINS",
    ):
        assert check in checks

    text = io.StringIO()
    call_command("validate_config", stdout=text)
    assert text.getvalue().startswith("configuration: OK")
    assert "OK    BACKUP_DIR" in text.getvalue()


@pytest.mark.django_db
def test_validate_config_fails_on_a_folder_that_cannot_be_created(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.BACKUP_DIR = blocker / "backups"
    settings.MEDIA_ROOT = blocker

    report, error = run_report("validate_config")

    assert report["status"] == "FAIL"
    assert "BACKUP_DIR" in str(error) and "MEDIA_ROOT" in str(error)
    assert "cannot be created" in findings(report)[("BACKUP_DIR", "FAIL")]
    assert "is a file, not a folder" in findings(report)[("MEDIA_ROOT", "FAIL")]


@pytest.mark.django_db
def test_validate_config_checks_trusted_origins_against_allowed_hosts(settings):
    settings.ALLOWED_HOSTS = ["carshop.example.com", ".example.org"]
    settings.CSRF_TRUSTED_ORIGINS = [
        "https://carshop.example.com",
        "https://shop.example.org",
        "https://*.example.org",
        "https://elsewhere.example.net",
    ]
    report, error = run_report("validate_config")
    assert error is None  # a warning, not a failure
    warnings = [f["detail"] for f in report["findings"] if f["check"] == "CSRF_TRUSTED_ORIGINS"]
    assert warnings == [
        "https://elsewhere.example.net: elsewhere.example.net is not in "
        "ALLOWED_HOSTS, so its requests are refused"
    ]

    settings.CSRF_TRUSTED_ORIGINS = ["carshop.example.com"]
    report, error = run_report("validate_config")
    assert "needs a scheme" in findings(report)[("CSRF_TRUSTED_ORIGINS", "FAIL")]
    assert error is not None


@pytest.mark.django_db
def test_validate_config_runs_the_deploy_checks_and_refuses_debug_in_production(settings):
    settings.DJANGO_ENV = "production"
    settings.DEBUG = True
    settings.SECURE_HSTS_SECONDS = 0
    report, error = run_report("validate_config")
    assert statuses(report, "DEBUG") == ["FAIL"]
    assert statuses(report, "security.W004") == ["WARN"]  # HSTS off: a deploy check
    assert statuses(report, "SECRET_KEY") == ["FAIL"]  # the public development key
    assert statuses(report, "TRUSTED_PROXY_COUNT") == ["WARN"]
    assert "DEBUG" in str(error)


@pytest.mark.django_db
def test_validate_config_fails_when_the_cache_does_not_answer(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    report, error = run_report("validate_config")
    assert "RedisCache does not answer" in findings(report)[("cache", "FAIL")]
    assert str(error).startswith("configuration: FAIL cache: RedisCache does not answer")


@pytest.mark.django_db
def test_validate_config_fails_on_thresholds_that_contradict_each_other(settings):
    settings.MONITOR_DISK_WARN_PERCENT = 95
    settings.MONITOR_DISK_FAIL_PERCENT = 90
    report, error = run_report("validate_config")
    assert (
        "MONITOR_DISK_WARN_PERCENT=95 must be below MONITOR_DISK_FAIL_PERCENT=90"
        in findings(report)[("MONITOR_DISK_PERCENT", "FAIL")]
    )
    assert error is not None


# --- check_auth_config ------------------------------------------------------------------------


@pytest.mark.django_db
def test_check_auth_config_reports_sessions_passwords_and_lockout_settings():
    report, error = run_report("check_auth_config")
    assert error is None
    ok = findings(report, "OK")
    assert ok[("SESSION_COOKIE_AGE", "OK")] == "8 h"
    assert ok[("minimum password length", "OK")] == "10"
    assert ok[("AXES_FAILURE_LIMIT", "OK")] == "5 failed logins lock"
    assert ok[("AXES_COOLOFF_TIME", "OK")] == "30 min"
    assert ok[("locked out now", "OK")] == "0"
    assert "MinimumLengthValidator" in ok[("AUTH_PASSWORD_VALIDATORS", "OK")]
    assert "(test runs only)" in ok[("PASSWORD_HASHERS", "OK")]


@pytest.mark.django_db
def test_check_auth_config_counts_and_lists_the_logins_locked_out_now(client, make_user):
    make_user("target", password="right-Password-1")
    for _ in range(5):
        client.post("/admin/login/", {"username": "target", "password": "not-it"})
    make_user("almost", password="right-Password-1")
    for _ in range(2):
        client.post("/admin/login/", {"username": "almost", "password": "not-it"})

    report, error = run_report("check_auth_config")

    assert error is None  # a lockout is worth a look, not a broken configuration
    assert findings(report)[("locked out now", "WARN")].startswith("1: target from 127.0.0.1")
    [locked] = report["data"]["locked_out"]
    assert (locked["username"], locked["failures"]) == ("target", 5)

    out = io.StringIO()
    call_command("check_auth_config", stdout=out)
    assert "locked: target from 127.0.0.1, 5 failures" in out.getvalue()


@pytest.mark.django_db
def test_check_auth_config_fails_on_insecure_cookies_in_production(settings):
    settings.DJANGO_ENV = "production"
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = True
    report, error = run_report("check_auth_config")
    assert statuses(report, "SESSION_COOKIE_SECURE") == ["FAIL"]
    assert statuses(report, "CSRF_COOKIE_SECURE") == ["OK"]
    assert statuses(report, "TRUSTED_PROXY_COUNT") == ["WARN"]
    assert "SESSION_COOKIE_SECURE" in str(error)


@pytest.mark.django_db
def test_check_auth_config_fails_on_a_weak_hasher_outside_tests(settings):
    settings.DJANGO_ENV = "development"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    report, error = run_report("check_auth_config")
    assert "MD5PasswordHasher, which is weak" in findings(report)[("PASSWORD_HASHERS", "FAIL")]
    assert error is not None


@pytest.mark.django_db
def test_check_auth_config_fails_when_lockouts_are_not_enforced(settings):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    report, error = run_report("check_auth_config")
    assert "no axes backend" in findings(report)[("AUTHENTICATION_BACKENDS", "FAIL")]
    assert error is not None


def test_validate_config_passes_the_documented_production_example(tmp_path):
    from tests.helpers.commands import run_manage
    from tests.helpers.deploy import production_environment

    environment = production_environment(tmp_path)
    # The example's PostgreSQL server is not here: the same settings on an SQLite file.
    environment["DATABASE_URL"] = f"sqlite:///{tmp_path / 'carshop.sqlite3'}"

    result = run_manage(environment, "validate_config", "--format", "json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "WARN"
    assert findings(report, "FAIL") == {}
    assert findings(report)[("django checks", "OK")] == "system and deployment checks pass"
    warned = {check for check, status in findings(report, "WARN")}
    assert warned == {"database", "ADMINS"}  # SQLite on a server; nobody mailed on errors
