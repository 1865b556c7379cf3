"""A PostgreSQL cluster of its own, archiving its WAL with pgBackRest: what the pgBackRest tests
and the backup bench run against (never the machine's own server).

It is made with the machine's PostgreSQL binaries (initdb, pg_ctl) in a folder of its own, on a
port of its own, with a pgBackRest configuration and repository beside it. PostgreSQL refuses to
run as root: when this process is root, the cluster belongs to the `postgres` system user and
every command runs as that user (runuser).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

STANZA = "carshop"


def pg_bin_dir() -> str | None:
    """The newest PostgreSQL server binaries of this machine (initdb and pg_ctl), or None."""
    configured = os.environ.get("CARSHOP_PG_SERVER_BIN", "")
    candidates = [configured] if configured else []
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    for folder in candidates:
        if os.path.exists(os.path.join(folder, "initdb")) and os.path.exists(
            os.path.join(folder, "pg_ctl")
        ):
            return folder
    return None


def missing() -> str | None:
    """Why no archiving cluster can be made here (None when one can)."""
    if not shutil.which("pgbackrest"):
        return "pgbackrest is not installed (Debian: apt-get install pgbackrest)"
    if not pg_bin_dir():
        return "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres system user to run PostgreSQL"
    return None


def owner() -> str:
    """The system user the cluster's files belong to."""
    return "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class Cluster:
    """An archiving cluster under `root`, listening on 127.0.0.1:`port`."""

    def __init__(self, root: str | Path, port: int, archive_timeout: int = 60) -> None:
        self.root = Path(root)
        self.port = port
        self.archive_timeout = archive_timeout
        self.bin = pg_bin_dir() or "/usr/lib/postgresql/15/bin"
        self.pgdata = self.root / "data"
        self.repo = self.root / "repo"
        self.config = self.root / "pgbackrest.conf"
        self.log = self.root / "postgres.log"

    # --- lifecycle ---------------------------------------------------------------------------

    def create(self, pgbackrest_options: dict[str, str] | None = None) -> Cluster:
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in ("repo", "pgbackrest-log", "pgbackrest-lock", "pgbackrest-spool"):
            (self.root / folder).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "postgres:postgres", str(self.root)], check=True)
            # The folders above it must be traversable by the postgres user.
            parent = self.root.parent
            while str(parent) not in ("/", ""):
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o711)  # noqa: S103  (traversable, not readable)
                parent = parent.parent
        self._run(
            f"{self.bin}/initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--data-checksums",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        options = {
            "repo1-path": str(self.repo),
            "repo1-retention-full": "2",
            "log-path": str(self.root / "pgbackrest-log"),
            "lock-path": str(self.root / "pgbackrest-lock"),
            "spool-path": str(self.root / "pgbackrest-spool"),
            "log-level-console": "warn",
            "log-level-file": "info",
            "start-fast": "y",
            "compress-type": "lz4",
            **(pgbackrest_options or {}),
        }
        text = "[global]\n" + "".join(f"{k}={v}\n" for k, v in options.items())
        text += (
            f"\n[{STANZA}]\npg1-path={self.pgdata}\npg1-port={self.port}\n"
            f"pg1-socket-path={self.root}\n"
        )
        self._write(self.config, text)
        conf = (
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.root}'\n"
            "wal_level = replica\n"
            "archive_mode = on\n"
            f"archive_command = 'pgbackrest --config={self.config} --stanza={STANZA} "
            "archive-push %p'\n"
            f"archive_timeout = {self.archive_timeout}\n"
            "max_wal_senders = 3\n"
            "shared_buffers = 128MB\n"
            "max_wal_size = 2GB\n"
            "log_min_messages = log\n"
        )
        with open(self.pgdata / "postgresql.conf", "a") as handle:
            handle.write(conf)
        self.start()
        self.pgbackrest("stanza-create")
        return self

    def destroy(self) -> None:
        self.stop("immediate", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def start(self) -> None:
        self._run(f"{self.bin}/pg_ctl", "-D", str(self.pgdata), "-w", "-l", str(self.log), "start")

    def stop(self, mode: str = "fast", check: bool = True) -> None:
        if not (self.pgdata / "postmaster.pid").exists():
            return
        self._run(
            f"{self.bin}/pg_ctl", "-D", str(self.pgdata), "-w", "-m", mode, "stop", check=check
        )

    def running(self) -> bool:
        result = subprocess.run(
            as_owner([f"{self.bin}/pg_ctl", "-D", str(self.pgdata), "status"]),
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    # --- use -----------------------------------------------------------------------------------

    def pgbackrest(self, *args: str) -> str:
        return self._run(
            "pgbackrest", f"--config={self.config}", f"--stanza={STANZA}", *args
        ).stdout

    def database_settings(self, name: str) -> dict[str, Any]:
        """A Django DATABASES entry for database `name` of this cluster."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": "postgres",
            "PASSWORD": "",  # nosec B105: its own cluster on loopback, trust auth, no password
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "OPTIONS": {},
        }

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def backup_settings(self) -> dict[str, Any]:
        """The settings that point the pgBackRest engine at this cluster."""
        ctl = f"{self.bin}/pg_ctl -D {{pgdata}} -w"
        return {
            "BACKUP_ENGINE": "pgbackrest",
            "BACKUP_PGBACKREST_STANZA": STANZA,
            "BACKUP_PGBACKREST_CONFIG": str(self.config),
            "BACKUP_PGBACKREST_USER": owner(),
            "BACKUP_PG_DATA": str(self.pgdata),
            "BACKUP_PG_START_COMMAND": f"{ctl} -l {self.log} start",
            "BACKUP_PG_STOP_COMMAND": f"{ctl} -m fast stop",
            "BACKUP_PG_BIN_DIR": self.bin,
            "BACKUP_PGBACKREST_SCRATCH_PORT": self.port + 1,
        }

    def wait_archived(self, timeout: float = 60) -> None:
        """Switch to a new WAL segment and wait until the finished one is in the archive."""
        self._run(
            f"{self.bin}/../bin/psql" if os.path.exists(f"{self.bin}/psql") else "psql",
            "-h",
            str(self.root),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-Atc",
            "SELECT pg_switch_wal()",
        )
        deadline = time.monotonic() + timeout
        while list((self.pgdata / "pg_wal" / "archive_status").glob("*.ready")):
            if time.monotonic() > deadline:
                raise TimeoutError("WAL archiving did not catch up")
            time.sleep(0.2)

    def _write(self, path: Path, text: str) -> None:
        path.write_text(text)
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            as_owner(list(argv)), capture_output=True, text=True, check=False, cwd="/"
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({result.returncode}): {result.stderr or result.stdout}"
            )
        return result
