"""The README's first commands work on a fresh clone: there is no var/ folder yet, and the first
thing that opens the SQLite database makes it (`make run` starts with `manage.py migrate`,
`make test` with pytest creating var/test.sqlite3)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The clone's own defaults, not this run's database or folders.
NOT_INHERITED = {
    "DATABASE_URL",
    "VAR_DIR",
    "LOG_DIR",
    "STATIC_ROOT",
    "MEDIA_ROOT",
    "BACKUP_DIR",
    "BACKUP_STATUS_FILE",
    "DJANGO_ENV",
    "DJANGO_SETTINGS_MODULE",
}

pytestmark = pytest.mark.sqlite


@pytest.fixture
def fresh_clone(tmp_path):
    """The tracked files of the project, as `git clone` gives them: no var/, no .env."""
    listed = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    clone = tmp_path / "carshop"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    assert not (clone / "var").exists()
    return clone


def run_in(clone, environment, *command):
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env["DJANGO_ENV"] = environment
    return subprocess.run(
        [sys.executable, *command],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_make_run_s_first_command_creates_the_database_under_a_new_var_folder(fresh_clone):
    result = run_in(fresh_clone, "development", "manage.py", "migrate", "--noinput")

    assert result.returncode == 0, result.stderr
    assert "Applying repairs.0001_initial... OK" in result.stdout
    assert (fresh_clone / "var" / "carshop.sqlite3").stat().st_size > 0


def test_make_test_s_pytest_creates_its_database_under_a_new_var_folder(fresh_clone):
    result = run_in(
        fresh_clone, "test", "-m", "pytest", "-q", "tests/test_health.py", "-k", "every_check"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert (fresh_clone / "var" / "test.sqlite3").stat().st_size > 0
