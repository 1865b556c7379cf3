"""An archiving PostgreSQL cluster of the test's own, and the commands run against it.

The pgBackRest engine backs up and restores a whole server, so its tests never use the test
database: each one makes a cluster (the machine's PostgreSQL binaries, a free port, a temporary
folder), a database `carshop` in it with two tables, and runs `manage.py` in a child process
pointed at it with BACKUP_ENGINE=pgbackrest.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from django.conf import settings

from carshop.ops.backups import archiving_cluster, postgres
from carshop.ops.backups.archiving_cluster import Cluster, as_owner

DATABASE = "carshop"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Pitr:
    def __init__(self, cluster: Cluster, root: Path) -> None:
        self.cluster = cluster
        self.root = root
        self.settings = cluster.database_settings(DATABASE)

    # --- the database ------------------------------------------------------------------------

    def sql(self, statement: str, params: Any = None) -> list[tuple]:
        conn = psycopg2.connect(
            host="127.0.0.1", port=self.cluster.port, user="postgres", dbname=DATABASE
        )
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(statement, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            conn.close()

    def now(self) -> str:
        return self.sql("SELECT clock_timestamp()::text")[0][0]

    def checksums(self) -> dict[str, Any]:
        """Every table's row count and checksum."""
        return postgres.compare(self.settings, DATABASE)

    def notes(self) -> list[str]:
        return [row[0] for row in self.sql("SELECT note FROM invoice ORDER BY id")]

    # --- commands ----------------------------------------------------------------------------

    def env(self, **extra: object) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_ENV": "test",
            "DATABASE_URL": self.cluster.url(DATABASE),
            "BACKUP_DIR": str(self.root / "backups"),
            "BACKUP_STATUS_FILE": str(self.root / "backup-status.json"),
        }
        env.update({k: str(v) for k, v in self.cluster.backup_settings().items()})
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def command(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, timeout: int = 300) -> str:
        result = self.command(*args, timeout=timeout)
        assert result.returncode == 0, f"{args} failed: {result.stderr}\n{result.stdout}"
        return result.stdout

    def backup(self, kind: str = "full") -> str:
        """Take a backup; returns its pgBackRest label."""
        out = self.ok("backup", f"--type={kind}")
        return out.split(":", 1)[0].strip()

    def start(self, *args: str, **env: object) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
            env=self.env(**env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    # --- the repository ----------------------------------------------------------------------

    def repo_files(self, under: str) -> list[Path]:
        found = subprocess.run(
            as_owner(["find", str(self.cluster.repo / under), "-type", "f"]),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return sorted(Path(p) for p in found)

    def stop_strays(self) -> None:
        """Servers a test may leave behind (the staged and drill copies)."""
        for folder in ("data.restoring", "data.drill", "data"):
            pgdata = self.cluster.root / folder
            if (pgdata / "postmaster.pid").exists():
                subprocess.run(
                    as_owner(
                        [
                            f"{self.cluster.bin}/pg_ctl",
                            "-D",
                            str(pgdata),
                            "-m",
                            "immediate",
                            "-w",
                            "stop",
                        ]
                    ),
                    capture_output=True,
                    check=False,
                )


@pytest.fixture
def pitr():
    reason = archiving_cluster.missing()
    if reason:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"the pgBackRest tests cannot run: {reason}")
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="carshop-pitr-", dir="/tmp"))
    cluster = Cluster(root / "pg", free_port(), archive_timeout=60)
    helper = Pitr(cluster, root)
    try:
        cluster.create()
        conn = psycopg2.connect(
            host="127.0.0.1", port=cluster.port, user="postgres", dbname="postgres"
        )
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
        conn.close()
        helper.sql(
            "CREATE TABLE invoice (id serial PRIMARY KEY, note text NOT NULL, "
            "total numeric(12,2) NOT NULL DEFAULT 0);"
            "CREATE TABLE part (sku text PRIMARY KEY, stock integer NOT NULL);"
            "INSERT INTO part SELECT 'P-' || n, n FROM generate_series(1, 2000) n;"
            "INSERT INTO invoice (note, total) "
            "SELECT 'seed ' || n, n FROM generate_series(1, 500) n"
        )
        yield helper
    finally:
        helper.stop_strays()
        with contextlib.suppress(Exception):
            cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


def wait_for(condition: Any, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
