"""The deployment files: they parse, agree with each other and with the code.

Operators copy these files onto a server (docs/deploy.md), where a typo only shows when the site
is down. So: gunicorn's config loads with sane values; the systemd units, the logrotate file and
the nginx sites pass their own tools' checks where the tools are installed, and always name the
right environment file, folders and socket; the scripts are valid bash and run the guide's steps
in the guide's order; the log files are the ones carshop/logconfig.py writes; .env.example and the
configuration table name exactly the variables the code reads; and the documented production
example passes Django's deployment checks while insecure values stop with one line.
"""

# These tests run the tools operators run (bash, gunicorn, systemd-analyze, logrotate, nginx) on
# the files of this repository, found on PATH as on a server.

import fnmatch
import grp
import os
import pwd
import re
import runpy
import shutil
import socket
import subprocess
import sys
import types
from pathlib import Path

import pytest

from carshop.logconfig import build_logging_config
from tests.helpers.commands import run_manage
from tests.helpers.deploy import (
    CONFIGURATION_DOC,
    DEPLOY,
    DEPLOY_DOC,
    LOGROTATE,
    SYSTEMD,
    documented_examples,
    production_environment,
    read_unit,
    unit_values,
)

ROOT = Path(__file__).resolve().parent.parent
NGINX = DEPLOY / "nginx"
ENV_EXAMPLE = ROOT / ".env.example"

# (unit, DJANGO_ENV, checkout, runtime directory, nginx site, folders the service may write)
SERVICES = [
    (
        "carapp.service",
        "production",
        "/opt/carapp",
        "carapp",
        "carapp.conf",
        ["/var/log/carapp", "/var/lib/carapp", "/var/backups/carapp"],
    ),
    (
        "carapp-staging.service",
        "staging",
        "/opt/carapp-staging",
        "carapp-staging",
        "carapp-staging.conf",
        ["/var/log/carapp/staging", "/var/lib/carapp/staging", "/var/backups/carapp/staging"],
    ),
]
SERVICE_FIELDS = ("unit", "environment", "checkout", "runtime", "site", "folders")
SCRIPTS = ["deploy.sh", "rollback.sh", "scheduled-backup.sh", "scheduled-task.sh"]

# The guide's log files (MAINTENANCE-GUIDE.md: app, error, access, db; auth in Troubleshooting).
GUIDE_LOG_FILES = {"app.log", "error.log", "access.log", "db.log", "auth.log"}


# --- helpers ---------------------------------------------------------------------------------


def nginx_directives(path):
    """The lines of an nginx file without comments."""
    lines = []
    for raw in Path(path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def load_gunicorn_config(monkeypatch, **environment):
    for name in list(os.environ):
        if name.startswith("GUNICORN_") or name == "RUNTIME_DIRECTORY":
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))


def variables_read_by_settings():
    readers = re.compile(
        r'\benv_(?:str|bool|int|list|db|cache|choice|timezone|email|admins)\(\s*"([A-Z][A-Z0-9_]*)"'
    )
    environ = re.compile(r'os\.environ(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]*)"')
    names = set()
    for path in (ROOT / "carshop" / "settings").glob("*.py"):
        text = path.read_text()
        names |= set(readers.findall(text)) | set(environ.findall(text))
    return names


def variables_read_by_gunicorn_config():
    text = (DEPLOY / "gunicorn.conf.py").read_text()
    names = set(re.findall(r'(?:_env_int\(|os\.environ\.get\()\s*"([A-Z][A-Z0-9_]*)"', text))
    # Set by systemd (RuntimeDirectory=), not by people: not a configuration variable.
    return names - {"RUNTIME_DIRECTORY"}


def variables_in_env_example():
    return re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M)


def fake_checkout(tmp_path):
    """A checkout the scripts accept: a git repository with a virtualenv and both env files."""
    app = tmp_path / "app"
    (app / ".venv" / "bin").mkdir(parents=True)
    python = app / ".venv" / "bin" / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    for name in (".env.production", ".env.staging"):
        (app / name).write_text("")
    git(app, "init", "--quiet")
    git(app, "commit", "--quiet", "--allow-empty", "-m", "first")
    git(app, "commit", "--quiet", "--allow-empty", "-m", "second")
    return app


def git(app, *args):
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    return subprocess.run(
        ["git", *identity, "-C", str(app), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def run_script(name, *args, app=None, **environment):
    env = {**os.environ, **environment}
    if app is not None:
        env["CARAPP_DIR"] = str(app)
    return subprocess.run(
        ["bash", str(DEPLOY / name), *args], capture_output=True, text=True, env=env, timeout=60
    )


def assert_in_order(output, steps):
    """Each step is a substring of one line of the output, in this order."""
    lines = output.splitlines()
    positions = []
    for step in steps:
        matching = [index for index, line in enumerate(lines) if step in line]
        assert matching, f"step {step!r} missing from:\n{output}"
        positions.append(matching[0])
    assert positions == sorted(positions), f"steps out of order in:\n{output}"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- gunicorn --------------------------------------------------------------------------------


def test_gunicorn_config_has_sane_defaults(monkeypatch):
    config = load_gunicorn_config(monkeypatch)

    assert config["bind"] == ["127.0.0.1:8000"]
    assert config["workers"] == 2 * len(os.sched_getaffinity(0)) + 1
    assert config["worker_class"] == "sync"
    assert config["accesslog"] is None  # Carshop writes access.log itself
    assert config["errorlog"] == "-"  # the journal
    assert config["worker_tmp_dir"] == "/dev/shm"  # noqa: S108 - memory, not a temporary file
    assert config["max_requests"] == 1000
    assert 0 < config["max_requests_jitter"] < config["max_requests"]
    assert 10 <= config["timeout"] <= 120
    assert config["graceful_timeout"] >= config["timeout"]
    assert config["preload_app"] is False  # so HUP loads new code
    assert config["umask"] == 0o007  # socket reachable by the carapp group only
    assert config["wsgi_app"] == "carshop.wsgi:application"
    assert Path(config["chdir"]) == ROOT
    assert "control_socket" not in config  # gunicorn's default, outside systemd


def test_gunicorn_config_follows_the_environment(monkeypatch):
    config = load_gunicorn_config(
        monkeypatch,
        GUNICORN_BIND="unix:/run/carapp/gunicorn.sock",
        GUNICORN_WORKERS="3",
        GUNICORN_MAX_REQUESTS="500",
        GUNICORN_LOG_LEVEL="WARNING",
        RUNTIME_DIRECTORY="/run/carapp",
    )

    assert config["bind"] == ["unix:/run/carapp/gunicorn.sock"]
    assert config["workers"] == 3
    assert config["max_requests"] == 500
    assert config["max_requests_jitter"] == 50
    assert config["loglevel"] == "warning"
    assert config["control_socket"] == "/run/carapp/gunicorn.ctl"


def test_gunicorn_config_sets_only_settings_gunicorn_knows(monkeypatch):
    from gunicorn.config import KNOWN_SETTINGS

    config = load_gunicorn_config(monkeypatch, RUNTIME_DIRECTORY="/run/carapp")
    names = {
        name
        for name, value in config.items()
        if not name.startswith("_")
        and not callable(value)
        and not isinstance(value, types.ModuleType)
    }

    assert names - {setting.name for setting in KNOWN_SETTINGS} == set()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GUNICORN_WORKERS", "many"),
        ("GUNICORN_WORKERS", "0"),
        ("GUNICORN_TIMEOUT", "30s"),
        ("GUNICORN_LOG_LEVEL", "loud"),
    ],
)
def test_gunicorn_config_stops_with_one_line_naming_a_bad_variable(monkeypatch, name, value):
    with pytest.raises(SystemExit) as stopped:
        load_gunicorn_config(monkeypatch, **{name: value})

    message = str(stopped.value)
    assert message.startswith(f"gunicorn: {name}: ")
    assert "\n" not in message


def test_gunicorn_accepts_the_config_and_loads_the_application():
    gunicorn = Path(sys.executable).parent / "gunicorn"
    result = subprocess.run(
        [str(gunicorn), "--config", str(DEPLOY / "gunicorn.conf.py"), "--check-config"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_ENV": "test"},
    )

    assert result.returncode == 0, result.stderr


# --- systemd ---------------------------------------------------------------------------------


@pytest.mark.parametrize(SERVICE_FIELDS, SERVICES)
def test_service_runs_gunicorn_as_carapp_with_its_environment_file(
    unit, environment, checkout, runtime, site, folders
):
    entries = read_unit(SYSTEMD / unit)

    assert unit_values(entries, "Service", "User") == ["carapp"]
    assert unit_values(entries, "Service", "Group") == ["carapp"]
    assert unit_values(entries, "Service", "EnvironmentFile") == [f"{checkout}/.env.{environment}"]
    assert f"DJANGO_ENV={environment}" in unit_values(entries, "Service", "Environment")
    assert unit_values(entries, "Service", "WorkingDirectory") == [checkout]
    assert unit_values(entries, "Service", "ExecStart") == [
        f"{checkout}/.venv/bin/gunicorn --config {checkout}/deploy/gunicorn.conf.py"
    ]
    assert unit_values(entries, "Service", "ExecReload") == ["/bin/kill -s HUP $MAINPID"]
    assert unit_values(entries, "Service", "Type") == ["notify"]
    assert unit_values(entries, "Service", "Restart") == ["on-failure"]
    assert unit_values(entries, "Install", "WantedBy") == ["multi-user.target"]


@pytest.mark.parametrize(SERVICE_FIELDS, SERVICES)
def test_service_is_hardened_and_writes_only_its_folders(
    unit, environment, checkout, runtime, site, folders
):
    entries = read_unit(SYSTEMD / unit)

    assert unit_values(entries, "Service", "NoNewPrivileges") == ["true"]
    assert unit_values(entries, "Service", "ProtectSystem") == ["strict"]
    assert unit_values(entries, "Service", "PrivateTmp") == ["true"]
    assert unit_values(entries, "Service", "ProtectHome") == ["true"]
    assert unit_values(entries, "Service", "CapabilityBoundingSet") == [""]
    (writable,) = unit_values(entries, "Service", "ReadWritePaths")
    assert writable.split() == folders


@pytest.mark.parametrize(SERVICE_FIELDS, SERVICES)
def test_service_listens_where_its_nginx_site_connects(
    unit, environment, checkout, runtime, site, folders
):
    entries = read_unit(SYSTEMD / unit)
    socket = f"/run/{runtime}/gunicorn.sock"

    assert unit_values(entries, "Service", "RuntimeDirectory") == [runtime]
    assert f"GUNICORN_BIND=unix:{socket}" in unit_values(entries, "Service", "Environment")
    assert f"server unix:{socket} fail_timeout=0;" in nginx_directives(NGINX / site)


@pytest.mark.parametrize("index", [0, 1])
def test_documented_folders_are_the_ones_the_units_and_nginx_use(index):
    unit, site = SERVICES[index][0], SERVICES[index][4]
    example = documented_examples()[index]
    (writable,) = unit_values(read_unit(SYSTEMD / unit), "Service", "ReadWritePaths")
    directives = nginx_directives(NGINX / site)

    for name in ("VAR_DIR", "LOG_DIR", "BACKUP_DIR"):
        assert example[name] in writable.split(), name
    assert f"alias {example['VAR_DIR']}/static/;" in directives
    assert f"alias {example['VAR_DIR']}/media/;" in directives


def test_backup_timers_start_the_guides_three_backups_at_their_times():
    expected = {
        "carapp-backup-daily.timer": ("*-*-* 02:30:00", "carapp-backup@daily.service"),
        "carapp-backup-weekly.timer": ("Sun *-*-* 02:00:00", "carapp-backup@weekly.service"),
        "carapp-backup-monthly.timer": ("*-*-01 01:30:00", "carapp-backup@monthly.service"),
    }
    for timer, (calendar, service) in expected.items():
        entries = read_unit(SYSTEMD / timer)
        assert unit_values(entries, "Timer", "OnCalendar") == [calendar], timer
        assert unit_values(entries, "Timer", "Unit") == [service], timer
        assert unit_values(entries, "Timer", "Persistent") == ["true"], timer
        assert (SYSTEMD / (service.split("@")[0] + "@.service")).is_file()

    backup = read_unit(SYSTEMD / "carapp-backup@.service")
    assert unit_values(backup, "Service", "User") == ["carapp"]
    assert unit_values(backup, "Service", "EnvironmentFile") == ["/opt/carapp/.env.production"]
    assert "DJANGO_ENV=production" in unit_values(backup, "Service", "Environment")
    assert unit_values(backup, "Service", "ExecStart") == [
        "/opt/carapp/deploy/scheduled-backup.sh %i"
    ]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_every_unit(tmp_path):
    # systemd-analyze wants the programs a unit starts to exist: give it a fake /opt.
    units = tmp_path / "units"
    units.mkdir()
    for checkout in ("carapp", "carapp-staging"):
        for program in (
            ".venv/bin/gunicorn",
            ".venv/bin/python",
            "deploy/scheduled-backup.sh",
            "deploy/scheduled-task.sh",
        ):
            path = tmp_path / "opt" / checkout / program
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("#!/bin/sh\n")
            path.chmod(0o755)
    names = []
    for source in sorted(SYSTEMD.iterdir()):
        (units / source.name).write_text(source.read_text().replace("/opt/", f"{tmp_path}/opt/"))
        names.append(source.name.replace("@.service", "@daily.service"))

    result = subprocess.run(
        ["systemd-analyze", "verify", *names],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


# --- logrotate and the log files -------------------------------------------------------------


def logrotate_patterns():
    header = LOGROTATE.read_text().split("{", 1)[0]
    return next(line for line in header.splitlines() if not line.startswith("#")).split()


def test_the_log_files_are_the_guides_five(tmp_path):
    config = build_logging_config(tmp_path)
    written = {
        Path(handler["filename"]).name
        for handler in config["handlers"].values()
        if "filename" in handler
    }

    assert written == GUIDE_LOG_FILES


def test_deploy_guide_lists_exactly_the_log_files_carshop_writes():
    named = set(re.findall(r"/var/log/carapp/(\w+\.log)", DEPLOY_DOC.read_text()))

    assert named == GUIDE_LOG_FILES


def test_logrotate_rotates_every_log_file_daily_as_the_guide_says(tmp_path):
    directives = [line.strip() for line in LOGROTATE.read_text().split("{", 1)[1].splitlines()]
    for expected in (
        "daily",
        "missingok",
        "rotate 14",
        "compress",
        "delaycompress",
        "notifempty",
        "create 0640 carapp carapp",
        "su carapp carapp",
    ):
        assert expected in directives

    patterns = logrotate_patterns()
    for folder in ("/var/log/carapp", "/var/log/carapp/staging"):
        for name in GUIDE_LOG_FILES:
            assert any(fnmatch.fnmatch(f"{folder}/{name}", p) for p in patterns), (folder, name)

    if shutil.which("logrotate") is None:
        return  # the content is checked; logrotate's own check needs logrotate
    # logrotate's dry run on a copy that points at this test's folders and user.
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    logs = tmp_path / "log"
    (logs / "staging").mkdir(parents=True)
    for folder in (logs, logs / "staging"):
        for name in GUIDE_LOG_FILES:
            (folder / name).write_text("{}\n")
    config = tmp_path / "carapp"
    config.write_text(
        LOGROTATE.read_text()
        .replace("/var/log/carapp", str(logs))
        .replace("carapp carapp", f"{user} {group}")
    )
    result = subprocess.run(
        ["logrotate", "--debug", "--state", str(tmp_path / "state"), str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not [line for line in output.splitlines() if line.startswith("error:")], output
    for folder in (logs, logs / "staging"):
        for name in GUIDE_LOG_FILES:
            assert f"considering log {folder / name}" in output


# --- nginx -----------------------------------------------------------------------------------


@pytest.mark.parametrize("site", ["carapp.conf", "carapp-staging.conf"])
def test_nginx_passes_the_proxy_headers_and_leaves_hsts_to_django(site):
    directives = nginx_directives(NGINX / site)

    assert "proxy_set_header X-Forwarded-Proto $scheme;" in directives
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in directives
    assert "proxy_set_header X-Request-ID $request_id;" in directives
    assert "client_max_body_size 25m;" in directives
    assert not [line for line in directives if "strict-transport-security" in line.lower()]


@pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("openssl") is None,
    reason="nginx or openssl not installed",
)
def test_nginx_accepts_both_sites_together(tmp_path):
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=carshop.example.com",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    # nginx -t opens the listening sockets: use free ports, IPv4 only, so it works unprivileged.
    http_port, https_port = free_port(), free_port()
    includes = []
    for site in ("carapp.conf", "carapp-staging.conf"):
        text = (NGINX / site).read_text()
        text = re.sub(r"^\s*listen \[::\]:.*$", "", text, flags=re.M)
        text = re.sub(r"listen 80;", f"listen 127.0.0.1:{http_port};", text)
        text = re.sub(r"listen 443 ", f"listen 127.0.0.1:{https_port} ", text)
        text = re.sub(r"/etc/letsencrypt/live/[^/]+/fullchain\.pem", str(certificate), text)
        text = re.sub(r"/etc/letsencrypt/live/[^/]+/privkey\.pem", str(key), text)
        text = text.replace("/var/log/nginx/", f"{tmp_path}/")
        (tmp_path / site).write_text(text)
        includes.append(f"include {tmp_path / site};")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n"
        f"    include /etc/nginx/mime.types;\n    client_body_temp_path {tmp_path}/body;\n"
        f"    proxy_temp_path {tmp_path}/proxy;\n    {' '.join(includes)}\n}}\n"
    )

    result = subprocess.run(
        ["nginx", "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr


# --- scripts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_is_valid_strict_bash(script):
    path = DEPLOY / script
    text = path.read_text()

    assert text.startswith("#!/usr/bin/env bash\n")
    assert re.search(r"^set -E?euo pipefail$", text, re.M)
    assert os.access(path, os.X_OK)
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_scripts_pass_shellcheck():
    result = subprocess.run(
        ["shellcheck", "-x", *(str(DEPLOY / script) for script in SCRIPTS)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_explains_itself_and_refuses_unknown_arguments(script):
    helped = run_script(script, "--help")
    refused = run_script(script, "prod")

    assert helped.returncode == 0
    assert helped.stdout.startswith("Usage: deploy/")
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.splitlines()[-1].endswith("unknown argument: prod")


def test_deploy_takes_the_pre_update_backup_before_migrating_and_checks_before_restarting(
    tmp_path,
):
    app = fake_checkout(tmp_path)

    result = run_script("deploy.sh", "--dry-run", "production", app=app)

    assert result.returncode == 0, result.stderr
    assert_in_order(
        result.stdout,
        [
            "git update-ref refs/carapp/previous-deploy",
            "git pull --ff-only origin main",
            "pip install --quiet --disable-pip-version-check -r requirements/production.txt",
            "manage.py backup --type=pre-update",
            "manage.py migrate --noinput",
            "manage.py collectstatic --noinput",
            "manage.py check --deploy --fail-level WARNING",
            # The guide runs the tests before the restart: here on a copy of the migrated database.
            "manage.py create_test_env --replace",
            "manage.py test_in_isolation",
            "manage.py health_check",
            "(as root) systemctl restart carapp",
            "(as root) systemctl restart carapp-worker",
            "git update-ref refs/carapp/deployed HEAD",
        ],
    )
    assert "-m pytest" not in result.stdout
    assert "(as carapp)" in result.stdout


def test_production_tests_can_be_left_out_and_name_real_commands(tmp_path):
    from django.core.management import get_commands

    app = fake_checkout(tmp_path)

    skipped = run_script("deploy.sh", "--dry-run", "--skip-tests", "production", app=app)

    assert skipped.returncode == 0, skipped.stderr
    assert "create_test_env" not in skipped.stdout and "test_in_isolation" not in skipped.stdout
    assert {"create_test_env", "test_in_isolation"} <= set(get_commands())


def test_deploying_staging_pulls_main_runs_the_tests_and_restarts_staging(tmp_path):
    app = fake_checkout(tmp_path)

    result = run_script("deploy.sh", "--dry-run", "staging", app=app)
    skipped = run_script("deploy.sh", "--dry-run", "--skip-tests", "staging", app=app)

    assert result.returncode == 0, result.stderr
    assert_in_order(
        result.stdout,
        [
            "git pull --ff-only origin main",
            "-r requirements/development.txt",
            "manage.py backup --type=pre-update",
            "manage.py migrate --noinput",
            "env DJANGO_ENV=test /",
            "manage.py health_check",
            "systemctl restart carapp-staging",
        ],
    )
    assert "-m pytest" in result.stdout
    assert "-m pytest" not in skipped.stdout
    assert "create_test_env" not in result.stdout  # the suite has its own test database


def test_both_environments_deploy_the_branch_the_repository_has():
    """Staging pulled a `dev` branch that this repository never had."""
    assert "dev" not in run_script("deploy.sh", "--help").stdout.split()
    text = (DEPLOY / "common.sh").read_text()
    assert re.findall(r'branch="\$\{CARAPP_BRANCH:-(\w+)\}"', text) == ["main", "main"]
    assert "--branch dev" not in DEPLOY_DOC.read_text()


def test_deploy_needs_an_environment_file_before_doing_anything(tmp_path):
    app = fake_checkout(tmp_path)
    (app / ".env.production").unlink()

    result = run_script("deploy.sh", "--dry-run", "production", app=app)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == f"deploy: {app}/.env.production is missing (see .env.example)"


def test_rollback_restores_while_stopped_then_puts_the_previous_code_back(tmp_path):
    app = fake_checkout(tmp_path)
    previous = git(app, "rev-parse", "HEAD~1")
    git(app, "update-ref", "refs/carapp/previous-deploy", previous)

    result = run_script("rollback.sh", "--dry-run", "production", app=app)

    assert result.returncode == 0, result.stderr
    assert_in_order(
        result.stdout,
        [
            "(as root) systemctl stop carapp",
            "manage.py restore --source latest-pre-update --yes",
            f"git checkout --quiet --detach {previous}",
            "-r requirements/production.txt",
            "manage.py collectstatic --noinput",
            "manage.py check --deploy --fail-level WARNING",
            "(as root) systemctl start carapp",
            "manage.py health_check",
            "git update-ref -d refs/carapp/previous-deploy",
        ],
    )


def test_rollback_of_code_only_leaves_the_database_alone(tmp_path):
    app = fake_checkout(tmp_path)
    git(app, "update-ref", "refs/carapp/previous-deploy", "HEAD~1")

    result = run_script("rollback.sh", "--dry-run", "--code-only", "staging", app=app)

    assert result.returncode == 0, result.stderr
    assert "restore" not in result.stdout.replace("database: unchanged", "")
    assert "systemctl start carapp-staging" in result.stdout


def test_rollback_refuses_to_roll_back_twice(tmp_path):
    app = fake_checkout(tmp_path)
    git(app, "update-ref", "refs/carapp/deployed", "HEAD~1")

    result = run_script("rollback.sh", "--dry-run", "production", app=app)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "already rolled back" in result.stderr


def test_rollback_asks_for_confirmation_off_a_terminal(tmp_path):
    app = fake_checkout(tmp_path)
    git(app, "update-ref", "refs/carapp/previous-deploy", "HEAD~1")

    result = run_script("rollback.sh", "production", app=app)

    assert result.returncode == 2
    assert result.stderr.strip() == "rollback: not on a terminal: confirm with --yes"
    assert "==>" not in result.stdout  # no step ran


@pytest.mark.parametrize(
    ("kind", "arguments"),
    [
        ("daily", r"--type=incremental --destination=/b/daily/\d{8}$"),
        ("weekly", r"--type=full --destination=/b/weekly/\d{8}$"),
        ("monthly", r"--type=full --compress --destination=/b/monthly/\d{6}$"),
    ],
)
def test_scheduled_backups_are_the_guides(kind, arguments):
    result = run_script("scheduled-backup.sh", "--dry-run", kind, BACKUP_DIR="/b")

    assert result.returncode == 0, result.stderr
    assert re.search(r"manage\.py backup " + arguments, result.stdout.strip()), result.stdout


# --- configuration ---------------------------------------------------------------------------


def test_env_example_names_exactly_the_variables_the_code_reads():
    read = variables_read_by_settings() | variables_read_by_gunicorn_config()
    example = variables_in_env_example()

    assert {"DJANGO_ENV", "SECRET_KEY", "DATABASE_URL", "GUNICORN_WORKERS"} <= read
    assert sorted(set(example) - read) == [], "in .env.example but read by nothing"
    assert sorted(read - set(example)) == [], "read by the code but missing from .env.example"
    assert len(example) == len(set(example)), "a variable appears twice in .env.example"


def test_configuration_table_lists_exactly_the_variables_the_code_reads():
    read = variables_read_by_settings() | variables_read_by_gunicorn_config()
    section = CONFIGURATION_DOC.read_text().split("## Variables", 1)[1].split("\n## ", 1)[0]
    table = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", section, re.M)

    assert sorted(set(table) ^ read) == []
    assert len(table) == len(set(table))


def test_documented_production_example_passes_the_deploy_checks(tmp_path):
    result = run_manage(
        production_environment(tmp_path), "check", "--deploy", "--fail-level", "WARNING"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_documented_example_key_is_refused_so_an_unedited_copy_cannot_start(tmp_path):
    environment = production_environment(tmp_path)
    environment["SECRET_KEY"] = documented_examples()[0]["SECRET_KEY"]

    result = run_manage(environment, "check")

    assert result.returncode == 2
    assert result.stderr.startswith("carshop: configuration error: SECRET_KEY is too weak")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DEBUG": "true"}, "DEBUG must be false in production and staging"),
        ({"SECRET_KEY": None}, "SECRET_KEY is not set (see .env.example)"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS must name the site's host names (no '*')"),
        ({"DEBUG": "maybe"}, "DEBUG: expected true or false, got 'maybe'"),
        ({"DATABASE_URL": None}, "DATABASE_URL is not set (see .env.example)"),
    ],
)
def test_an_insecure_or_malformed_production_value_stops_with_one_line(tmp_path, change, message):
    environment = {**production_environment(tmp_path), **change}

    result = run_manage(environment, "check", "--deploy")

    line = f"carshop: configuration error: {message}"
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == line + "\n"
    assert line in CONFIGURATION_DOC.read_text()  # the documentation shows the real message
