"""pgdata-files, the one program the pgBackRest engine runs as the data directory's owner for
file operations: it does what a restore needs beside the data directory and refuses any other
path, so the sudoers rule gives no general mv, rm or shell as postgres."""

import subprocess

import pytest
from django.conf import settings

PROGRAM = settings.BACKUP_PGDATA_FILES


def files(*argv):
    return subprocess.run([PROGRAM, *map(str, argv)], capture_output=True, text=True, check=False)


@pytest.fixture
def data(tmp_path):
    base = tmp_path / "main"
    (base / "pg_wal").mkdir(parents=True)
    (base / "PG_VERSION").write_text("15\n")
    return base


def test_it_does_the_restore_s_file_steps_beside_the_data_directory(data):
    staged = f"{data}.restoring"
    assert files(data, "exists", data).returncode == 0
    assert files(data, "exists", staged).returncode == 1
    assert files(data, "make-dir", staged).returncode == 0
    assert (data.parent / "main.restoring").stat().st_mode & 0o777 == 0o700
    (data / "pg_wal" / "000000010000000000000003").write_text("segment")
    (data / "pg_wal" / "000000010000000000000003.partial").write_text("partial")
    (data.parent / "main.restoring" / "pg_wal").mkdir()
    assert files(data, "copy-wal", data, staged).returncode == 0
    copied = sorted(p.name for p in (data.parent / "main.restoring" / "pg_wal").iterdir())
    assert copied == ["000000010000000000000003"]
    (data.parent / "main.restoring.log").write_text("database system is ready\n")
    assert files(data, "read", f"{staged}.log").stdout == "database system is ready\n"
    assert files(data, "move", data, f"{data}.previous").returncode == 0
    assert files(data, "move", staged, data).returncode == 0
    assert files(data, "remove", f"{data}.previous", f"{staged}.log").returncode == 0
    assert sorted(p.name for p in data.parent.iterdir()) == ["main"]
    assert (data / "pg_wal").is_dir()


@pytest.mark.parametrize(
    "argv",
    [
        ["remove", "/etc"],
        ["read", "/etc/passwd"],
        ["remove", "{data}/../other"],
        ["remove", "{data}.x/../../etc"],
        ["remove", "{data}./"],
        ["remove", "{data}.drill/pg_wal"],
        ["remove", "{data}-other"],
        ["remove", "{data}.$(touch pwned)"],
        ["move", "{data}", "/var/elsewhere"],
        ["copy-wal", "{data}", "/var"],
        ["exists", "{data}", "{data}.drill"],
        ["chmod", "{data}"],
        ["remove"],
    ],
)
def test_it_refuses_every_other_path_or_operation_and_changes_nothing(data, argv):
    before = sorted(str(p) for p in data.parent.rglob("*"))
    result = files(data, *(arg.replace("{data}", str(data)) for arg in argv))
    assert result.returncode != 0
    assert "pgdata-files:" in result.stderr
    assert sorted(str(p) for p in data.parent.rglob("*")) == before


@pytest.mark.parametrize(
    "base", ["relative/main", "/", "/var/lib/../main", "/var/ma in", "/var/lib/x/"]
)
def test_it_refuses_a_data_directory_that_is_not_one(base):
    result = files(base, "exists", base)
    assert result.returncode == 64 and "pgdata-files:" in result.stderr
