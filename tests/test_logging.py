"""Each log file receives well-formed JSON lines, joined across files by the request id."""

import json
import logging

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings


def read_lines(name):
    for handler in logging.getLogger().handlers + [
        h
        for n in ("carshop.access", "carshop.auth", "carshop.db")
        for h in logging.getLogger(n).handlers
    ]:
        handler.flush()
    path = settings.LOG_DIR / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.django_db
def test_a_login_writes_access_and_auth_lines_with_the_same_request_id(client, make_user):
    make_user("loggy", password="right-Password-1")
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "loggy", "password": "right-Password-1"}
    )
    assert response.status_code == 302
    request_id = response["X-Request-ID"]

    auth = [line for line in read_lines("auth.log") if line.get("request_id") == request_id]
    assert [line["event"] for line in auth] == ["login"]
    assert auth[0]["user"] == "loggy"
    access = [line for line in read_lines("access.log") if line.get("request_id") == request_id]
    assert len(access) == 1
    line = access[0]
    assert (line["method"], line["path"], line["status"]) == ("POST", "/admin/login/", 302)
    assert line["user"] == "loggy"
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO" and "time" in line


@pytest.mark.django_db
def test_failed_login_and_logout_go_to_auth_log(client, make_user):
    user = make_user("forgetful", password="right-Password-1")
    client.post("/admin/login/", {"username": "forgetful", "password": "wrong"})
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    client.post("/admin/logout/")
    events = [
        (line["event"], line["user"])
        for line in read_lines("auth.log")
        if line.get("user") == "forgetful"
    ]
    assert ("login_failed", "forgetful") in events
    assert ("logout", "forgetful") in events


@pytest.mark.django_db
def test_password_change_is_in_auth_log(make_user):
    user = make_user("rotator")
    user.set_password("another-Password-2")
    user.save()
    events = [line["event"] for line in read_lines("auth.log") if line.get("user") == "rotator"]
    assert events == ["password_changed"]


@pytest.mark.django_db
def test_a_request_id_from_the_proxy_is_kept_when_sane_and_replaced_when_not(client):
    kept = client.get("/health/?format=json", HTTP_X_REQUEST_ID="lb-1234")
    assert kept["X-Request-ID"] == "lb-1234"
    forged = client.get("/health/?format=json", HTTP_X_REQUEST_ID='x"\n{"level":"ERROR"}')
    assert forged["X-Request-ID"] != 'x"\n{"level":"ERROR"}'
    assert len(forged["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_slow_queries_go_to_db_log():
    with override_settings(SLOW_QUERY_MS=0), connection.cursor() as cursor:
        cursor.execute("SELECT 'slow-query-marker'")
    lines = [line for line in read_lines("db.log") if "slow-query-marker" in str(line)]
    assert lines, "no db.log line for the query"
    assert lines[-1]["duration_ms"] >= 0
    assert lines[-1]["database"] == connection.alias


def test_errors_go_to_error_log_with_the_traceback():
    logger = logging.getLogger("carshop.test")
    try:
        raise ValueError("boom-marker")
    except ValueError:
        logger.exception("failed to frobnicate")
    lines = [line for line in read_lines("error.log") if line["message"] == "failed to frobnicate"]
    assert lines
    assert "boom-marker" in lines[-1]["exc_info"]
    assert "Traceback" in lines[-1]["exc_info"]
    assert any(line["message"] == "failed to frobnicate" for line in read_lines("app.log"))


@pytest.mark.django_db
def test_server_errors_are_logged_with_traceback_and_request_id(client, settings):
    settings.ROOT_URLCONF = "tests.urls_error"
    client.raise_request_exception = False
    response = client.get("/explode/")
    assert response.status_code == 500
    request_id = response["X-Request-ID"]
    errors = [line for line in read_lines("error.log") if line.get("request_id") == request_id]
    assert errors and "RuntimeError" in errors[-1]["exc_info"]
    access = [line for line in read_lines("access.log") if line.get("request_id") == request_id]
    assert access[-1]["status"] == 500


@pytest.mark.django_db
def test_lines_django_logs_about_a_request_carry_its_id(client):
    response = client.get("/no-such-page-marker/")
    assert response.status_code == 404
    request_id = response["X-Request-ID"]

    not_found = [line for line in read_lines("app.log") if "no-such-page-marker" in line["message"]]
    assert not_found and {line["request_id"] for line in not_found} == {request_id}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "host", "status"),
    [
        ("/health/", "evil.example.net", 400),  # refused host (DisallowedHost)
        ("/admin", "testserver", 301),  # CommonMiddleware's APPEND_SLASH redirect
    ],
)
def test_refused_hosts_and_redirects_are_in_the_access_log(client, path, host, status):
    response = client.get(path, HTTP_HOST=host)
    assert response.status_code == status
    request_id = response["X-Request-ID"]

    access = [line for line in read_lines("access.log") if line.get("request_id") == request_id]
    assert [(line["method"], line["path"], line["status"]) for line in access] == [
        ("GET", path, status)
    ]


def test_log_files_are_created_with_the_mode_logrotate_gives_them(tmp_path):
    import logging.config
    import os
    import re

    from carshop.logconfig import build_logging_config
    from tests.helpers.deploy import LOGROTATE

    config = build_logging_config(tmp_path, "INFO")
    config["disable_existing_loggers"] = False
    handlers = [
        logging.config.DictConfigurator(config).configure_handler(dict(spec))
        for name, spec in config["handlers"].items()
        if name != "console"
    ]
    previous = os.umask(0o022)  # a shell's default: it would make 0644 files
    try:
        for handler in handlers:
            handler.emit(logging.makeLogRecord({"msg": "mode-marker"}))
    finally:
        os.umask(previous)
        for handler in handlers:
            handler.close()

    rotated = int(re.search(r"^\s*create (\d{4}) ", LOGROTATE.read_text(), re.M).group(1), 8)
    modes = {path.name: path.stat().st_mode & 0o777 for path in tmp_path.glob("*.log")}
    assert len(modes) == 5
    assert set(modes.values()) == {rotated}, modes
