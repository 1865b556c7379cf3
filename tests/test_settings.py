"""Production settings refuse insecure values; each refusal is one line naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.commands import REALISTIC_PRODUCTION, run_manage

ROOT = Path(__file__).resolve().parent.parent


def test_realistic_production_environment_passes_deploy_checks_without_warnings():
    result = run_manage(
        REALISTIC_PRODUCTION, "check", "--deploy", "--fail-level", "WARNING", inherit=True
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "drop", "named"),
    [
        ({}, ("SECRET_KEY",), "SECRET_KEY is not set"),
        ({"SECRET_KEY": "short"}, (), "SECRET_KEY is too weak"),
        ({"DEBUG": "true"}, (), "DEBUG must be false"),
        ({"DEBUG": "maybe"}, (), "DEBUG: expected true or false, got 'maybe'"),
        ({"ALLOWED_HOSTS": "*"}, (), "ALLOWED_HOSTS must name"),
        ({}, ("ALLOWED_HOSTS",), "ALLOWED_HOSTS is not set"),
        ({}, ("DATABASE_URL",), "DATABASE_URL is not set"),
        ({"DATABASE_URL": "nosuchdb://x"}, (), "DATABASE_URL:"),
        ({"SECURE_HSTS_SECONDS": "a year"}, (), "SECURE_HSTS_SECONDS: expected a whole number"),
        ({"DJANGO_ENV": "prod"}, (), "DJANGO_ENV: expected one of"),
        ({"LOG_LEVEL": "LOUD"}, (), "LOG_LEVEL: expected one of"),
        ({"TIME_ZONE": "Mars/Olympus"}, (), "TIME_ZONE: 'Mars/Olympus' is not a time zone"),
        ({"ADMINS": "nobody"}, (), "ADMINS: expected 'Name <email>, ...'"),
        ({"EMAIL_URL": "pigeon://coop"}, (), "EMAIL_URL: not an email URL"),
    ],
)
def test_production_refuses_missing_or_insecure_values_in_one_line(overrides, drop, named):
    result = run_manage({**REALISTIC_PRODUCTION, **overrides}, "check", inherit=True, drop=drop)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("carshop: configuration error: ")
    assert named in lines[0]


def test_production_settings_are_strict_about_https_and_cookies():
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS >= 31536000, s.DEBUG)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        REALISTIC_PRODUCTION,
        DJANGO_SETTINGS_MODULE="carshop.settings",
        LOG_DIR=str(ROOT / "var" / "log-test-settings"),
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.split() == ["True", "True", "True", "True", "False"], result.stderr


def test_environment_file_layers_real_environment_wins(tmp_path, monkeypatch):
    from carshop.settings.env import load_files

    (tmp_path / ".env").write_text(
        "CARSHOP_T_A=from-dotenv\nCARSHOP_T_B=from-dotenv\nCARSHOP_T_C=from-dotenv\n"
    )
    (tmp_path / ".env.staging").write_text("CARSHOP_T_B=from-staging\nCARSHOP_T_C=from-staging\n")
    monkeypatch.setenv("CARSHOP_T_C", "from-real-env")
    for name in ("CARSHOP_T_A", "CARSHOP_T_B"):
        monkeypatch.delenv(name, raising=False)
    load_files("staging", base_dir=tmp_path)
    try:
        assert os.environ["CARSHOP_T_A"] == "from-dotenv"
        assert os.environ["CARSHOP_T_B"] == "from-staging"
        assert os.environ["CARSHOP_T_C"] == "from-real-env"
    finally:
        for name in ("CARSHOP_T_A", "CARSHOP_T_B"):
            os.environ.pop(name, None)
