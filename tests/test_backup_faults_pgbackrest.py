"""Fault drills of the pgBackRest engine: a restore killed at every pause point, a backup killed
mid-way, a damaged WAL segment, a full disk under the repository. After each, every table's row
count and checksum say which state the server holds: wholly the old one or wholly the restored
one, never a mix.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest

from carshop.ops.backups import pgbackrest
from carshop.ops.backups.archiving_cluster import Cluster
from tests.helpers.backups import fill, small_filesystem
from tests.helpers.pitr import DATABASE, Pitr, free_port, pitr, wait_for  # noqa: F401

pytestmark = pytest.mark.postgresql

RESTORE_POINTS = (
    "verified",
    "safety-backup-taken",
    "staged",
    "server-stopped",
    "set-aside",
    "swapped",
)


def setup_of(helper):
    values = helper.cluster.backup_settings()
    return pgbackrest.Setup(
        stanza=values["BACKUP_PGBACKREST_STANZA"],
        config=values["BACKUP_PGBACKREST_CONFIG"],
        user=values["BACKUP_PGBACKREST_USER"],
        pgdata=values["BACKUP_PG_DATA"],
        start_command=values["BACKUP_PG_START_COMMAND"],
        stop_command=values["BACKUP_PG_STOP_COMMAND"],
        bin_dir=values["BACKUP_PG_BIN_DIR"],
        scratch_port=values["BACKUP_PGBACKREST_SCRATCH_PORT"],
        database=helper.settings,
    )


def kill_at(helper, point, *args):
    process = helper.start(*args, CARSHOP_BACKUP_PAUSE_AT=point)
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.strip() == f"paused at {point}":
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return
    process.wait()
    raise AssertionError(f"never paused at {point}: {''.join(seen)}")


def test_a_restore_killed_at_any_pause_point_is_all_or_nothing(pitr):  # noqa: F811
    pitr.backup("full")
    pitr.sql("INSERT INTO invoice (note) VALUES ('first')")
    time.sleep(1.1)
    moment = pitr.now()
    restored = pitr.checksums()
    time.sleep(1.1)
    pitr.sql("INSERT INTO invoice (note) VALUES ('second')")
    pitr.sql("UPDATE part SET stock = -1 WHERE sku = 'P-9'")
    old = pitr.checksums()
    assert old != restored
    setup = setup_of(pitr)

    for point in RESTORE_POINTS:
        kill_at(pitr, point, "restore", "--to", moment, "--yes")
        if not pitr.cluster.running():
            # The server was stopped for the swap: what the next run does first.
            assert pgbackrest.recover_interrupted(setup) == "undone" or point == "server-stopped"
            pitr.cluster.start()
        assert pitr.checksums() == old, f"killed at {point}: not the old state"

    # The next run, uninterrupted, cleans up and restores.
    pitr.ok("restore", "--to", moment, "--yes")
    assert pitr.checksums() == restored
    leftovers = [
        p.name
        for p in pitr.cluster.root.iterdir()
        if p.name in ("data.restoring", "data.previous", "data.failed")
    ]
    assert leftovers == [], leftovers


def test_a_backup_killed_mid_way_leaves_every_earlier_backup_restorable(pitr):  # noqa: F811
    pitr.backup("full")
    pitr.sql("INSERT INTO invoice (note, total) SELECT 'bulk', n FROM generate_series(1, 20000) n")
    expected = pitr.checksums()
    process = pitr.start("backup", "--type=full")
    wait_for(
        lambda: subprocess.run(
            ["pgrep", "-f", "pgbackrest.*backup"], capture_output=True
        ).stdout.strip(),
        what="pgbackrest backup to start",
    )
    time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # pgBackRest may still be finishing the killed run's work: its lock says so.
    wait_for(
        lambda: (
            not subprocess.run(
                ["pgrep", "-f", f"pgbackrest.*{pitr.cluster.config}.*backup"], capture_output=True
            ).stdout.strip()
        ),
        timeout=120,
        what="the killed backup to end",
    )
    pitr.backup("incremental")
    pitr.sql("DELETE FROM invoice")
    pitr.ok("restore", "--source", "latest", "--yes")
    # Latest is every archived change: the delete too. The state before it is one moment back.
    assert pitr.notes() == []
    labels = [b["label"] for b in pgbackrest.backups(setup_of(pitr))]
    pitr.ok("restore", "--source", labels[-2], "--yes")
    assert pitr.checksums() == expected


def test_a_damaged_wal_segment_is_refused_before_anything_is_touched(pitr):  # noqa: F811
    pitr.backup("full")
    for n in range(3):
        pitr.sql("INSERT INTO invoice (note) VALUES (%s)", [f"change {n}"])
        pitr.cluster.wait_archived()
    before = pitr.checksums()
    segments = [
        p
        for p in pitr.repo_files("archive/carshop")
        if "." not in p.name.split("-")[0] and len(p.name) > 40
    ]
    damaged = segments[-2]
    data = bytearray(damaged.read_bytes())
    data[100:4000] = os.urandom(3900)
    damaged.write_bytes(bytes(data))

    result = pitr.command("restore", "--source", "latest", "--yes")

    assert result.returncode != 0
    assert "nothing was changed" in result.stderr
    assert pitr.cluster.running()
    assert pitr.checksums() == before


def test_a_full_repository_disk_fails_the_backup_clearly_and_the_archive_catches_up():
    from carshop.ops.backups import archiving_cluster

    if archiving_cluster.missing():
        pytest.skip(archiving_cluster.missing())
    root = Path(tempfile.mkdtemp(prefix="carshop-pitr-", dir="/tmp"))
    cluster = Cluster(root / "pg", free_port(), archive_timeout=60)
    helper = Pitr(cluster, root)
    try:
        with small_filesystem(root / "pg" / "repo", size="96m") as repo:
            cluster.create()
            conn = psycopg2.connect(host="127.0.0.1", port=cluster.port, user="postgres")
            conn.autocommit = True
            conn.cursor().execute(f"CREATE DATABASE {DATABASE}")
            conn.close()
            helper.sql("CREATE TABLE invoice (id serial PRIMARY KEY, note text NOT NULL)")
            helper.backup("full")
            fill(repo)
            helper.sql("INSERT INTO invoice (note) VALUES ('written while the disk was full')")

            result = helper.command("backup", "--type=incremental")
            # pgBackRest's own error, and why: the repository cannot take the WAL.
            assert result.returncode != 0
            assert "pgbackrest backup failed: ERROR" in result.stderr
            assert "space" in result.stderr.lower() or "WAL archiving is failing" in result.stderr
            helper.sql("SELECT pg_switch_wal()")
            wait_for(
                lambda: helper.sql("SELECT last_failed_time FROM pg_stat_archiver")[0][0],
                what="archiving to fail",
            )
            health = helper.command("health_check")
            assert health.returncode != 0
            assert "WAL archiving is failing" in health.stdout + health.stderr

            (repo / "filler").unlink()
            expected = helper.checksums()
            helper.ok("restore", "--source", "latest", "--yes")
            assert helper.checksums() == expected
            assert helper.notes() == ["written while the disk was full"]
            cluster.stop("fast")
    finally:
        helper.stop_strays()
        cluster.stop("immediate", check=False)
        shutil.rmtree(root, ignore_errors=True)
