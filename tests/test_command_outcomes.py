"""Every manage.py run ends with one line in app.log: a success or --help at INFO, a failure at
ERROR with its reason, which reaches error.log and error_report. Run as operators run them: a
child process, through manage.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def manage(tmp_path, *args):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/"),
        "LANG": "C.UTF-8",
        "DJANGO_ENV": "development",
        "VAR_DIR": str(tmp_path / "var"),
        "LOG_DIR": str(tmp_path / "log"),
        "LOG_TO_CONSOLE": "false",
        "CARSHOP_OPERATOR": "nightly",
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def lines(tmp_path, name):
    path = tmp_path / "log" / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def ends(tmp_path, name):
    return [line for line in lines(tmp_path, name) if line.get("outcome")]


def test_a_failed_backup_is_an_error_with_its_reason_in_app_and_error_log(tmp_path):
    (tmp_path / "not-a-folder").write_text("")

    result = manage(tmp_path, "backup", f"--destination={tmp_path}/not-a-folder/daily")

    assert result.returncode == 1
    [end] = ends(tmp_path, "app.log")
    assert end["level"] == "ERROR"
    assert (end["command"], end["operator"], end["outcome"], end["exit_code"]) == (
        "backup",
        "nightly",
        "failed",
        1,
    )
    assert end["reason"] == result.stderr.strip()  # the line the operator saw
    assert end["reason"].startswith("CommandError: could not write to ")
    assert end["reason"] in end["message"]
    assert ends(tmp_path, "error.log") == [end]
    started = [line for line in lines(tmp_path, "app.log") if line["message"] == "command started"]
    assert [(line["command"], line["operator"]) for line in started] == [("backup", "nightly")]


def test_a_refused_option_is_an_error_naming_the_option(tmp_path):
    result = manage(tmp_path, "list_users", "--bogus")

    assert result.returncode == 2
    [end] = ends(tmp_path, "error.log")
    assert end["reason"] == "bad command line: unrecognized arguments: --bogus"
    assert end["exit_code"] == 2


@pytest.mark.parametrize("args", [["backup", "--help"], ["analyze_logs", "--period=1d"]])
def test_help_and_success_stay_at_info_and_out_of_error_log(tmp_path, args):
    result = manage(tmp_path, *args)

    assert result.returncode == 0, result.stderr
    end = ends(tmp_path, "app.log")[-1]
    assert (end["level"], end["command"], end["outcome"], end["exit_code"]) == (
        "INFO",
        args[0],
        "ok",
        0,
    )
    assert lines(tmp_path, "error.log") == []


def test_error_report_shows_a_failed_scheduled_backup_by_command(tmp_path):
    (tmp_path / "not-a-folder").write_text("")
    manage(tmp_path, "backup", f"--destination={tmp_path}/not-a-folder/daily")
    manage(tmp_path, "backup", f"--destination={tmp_path}/not-a-folder/weekly")

    result = manage(tmp_path, "error_report", "--period=1d", "--format=json")

    assert result.returncode == 0, result.stderr
    [group] = json.loads(result.stdout)["groups"]
    assert (group["type"], group["place"], group["count"]) == (
        "command failed",
        "manage.py backup",
        2,
    )
    assert "could not write to" in group["message"]
