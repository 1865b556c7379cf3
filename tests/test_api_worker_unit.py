"""The webhook worker's systemd unit starts commands that exist, and systemd accepts it."""

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import get_commands

UNIT = Path(__file__).resolve().parent.parent / "deploy" / "systemd" / "carapp-worker.service"


def _values(key):
    return [
        line.split("=", 1)[1]
        for line in UNIT.read_text().splitlines()
        if line.startswith(f"{key}=")
    ]


def test_the_worker_runs_the_webhooks_and_messages_queues_of_the_database_backend_as_carapp():
    [start] = _values("ExecStart")
    argv = shlex.split(start)
    assert argv[:3] == ["/opt/carapp/.venv/bin/python", "/opt/carapp/manage.py", "db_worker"]
    assert argv[argv.index("--queue-name") + 1] == "webhooks,messages"
    assert "--no-reload" in argv
    assert _values("User") == ["carapp"]
    assert _values("EnvironmentFile") == ["/opt/carapp/.env.production"]
    assert "DJANGO_ENV=production" in _values("Environment")


def test_the_commands_the_unit_starts_exist():
    commands = get_commands()
    for line in _values("ExecStartPre") + _values("ExecStart"):
        assert shlex.split(line)[2] in commands


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_the_worker_unit(tmp_path):
    python = tmp_path / "opt" / "carapp" / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/", f"{tmp_path}/opt/"))
    result = subprocess.run(
        [shutil.which("systemd-analyze"), "verify", unit.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
