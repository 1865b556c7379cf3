"""A PostgreSQL primary and its streaming read replica, made for one test in a temporary folder
on ports of their own (never the machine's own cluster): initdb, then pg_basebackup -R of the
primary for the replica, both started with pg_ctl. As root, the server programs run as the
postgres user (PostgreSQL refuses to run as root)."""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def available():
    return all((PG_BIN / name).exists() for name in ("initdb", "pg_ctl", "pg_basebackup"))


class Cluster:
    def __init__(self, folder, port):
        self.folder = Path(folder)
        self.port = port

    def url(self, database):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


class PrimaryAndReplica:
    """with PrimaryAndReplica() as pair: pair.primary, pair.replica (Clusters), pair.sql(...)."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="carshop-replica-"))
        self.primary = Cluster(self.root / "primary", free_port())
        self.replica = Cluster(self.root / "replica", free_port())
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)

    def run(self, *command, check=True):
        command = [str(part) for part in command]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def sql(self, cluster, statement, database="postgres"):
        """One statement through psql; its output, unaligned, without headers."""
        result = self.run(
            PG_BIN / "psql",
            "-h",
            "127.0.0.1",
            "-p",
            cluster.port,
            "-U",
            "postgres",
            "-d",
            database,
            "-XAtq",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            statement,
        )
        return result.stdout.strip()

    def _start(self, cluster):
        self.run(
            PG_BIN / "pg_ctl",
            "-D",
            cluster.folder,
            "-l",
            self.root / f"{cluster.folder.name}.log",
            "-o",
            f"-p {cluster.port} -k {self.root} -c listen_addresses=127.0.0.1",
            "-w",
            "-t",
            "60",
            "start",
        )

    def __enter__(self):
        try:
            self.run(
                PG_BIN / "initdb",
                "-D",
                self.primary.folder,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            )
            with open(self.primary.folder / "postgresql.conf", "a") as conf:
                # A test cluster: streaming replication on, durability off.
                conf.write(
                    "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "shared_buffers = 32MB\nmax_connections = 40\n"
                )
            self._start(self.primary)
            self.run(
                PG_BIN / "pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                self.primary.port,
                "-U",
                "postgres",
                "-D",
                self.replica.folder,
                "-R",
                "-X",
                "stream",
                "--no-sync",
            )
            self._start(self.replica)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for cluster in (self.replica, self.primary):
            if (cluster.folder / "postmaster.pid").exists():
                self.run(PG_BIN / "pg_ctl", "-D", cluster.folder, "-m", "immediate", "stop",
                         check=False)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def is_replica(self):
        return self.sql(self.replica, "SELECT pg_is_in_recovery()") == "t"

    def pause_replay(self):
        self.sql(self.replica, "SELECT pg_wal_replay_pause()")

    def resume_replay(self):
        self.sql(self.replica, "SELECT pg_wal_replay_resume()")

    def wait_for_replica(self, attempts=300):
        """Until the replica has replayed everything the primary has written so far."""
        target = self.sql(self.primary, "SELECT pg_current_wal_lsn()")
        for _ in range(attempts):
            caught_up = self.sql(
                self.replica, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
            )
            if caught_up == "t":
                return
            time.sleep(0.1)
        raise AssertionError(f"the replica did not replay up to {target}")
