"""The pgBackRest engine (BACKUP_ENGINE=pgbackrest): point-in-time restores of a whole server.

Each test runs its own archiving PostgreSQL cluster (tests/helpers/pitr.py) and the commands
against it in a child process, as an operator would.
"""

import json
import time
from datetime import datetime

import pytest

from tests.helpers.pitr import pitr  # noqa: F401  (fixture)

pytestmark = pytest.mark.postgresql


def test_a_change_committed_one_second_before_a_crash_is_restored(pitr):  # noqa: F811
    pitr.backup("full")
    pitr.sql("INSERT INTO invoice (note, total) VALUES ('paid just before the crash', 99)")
    time.sleep(1)
    pitr.cluster.stop("immediate")  # the crash: nothing flushed, nothing archived since

    out = pitr.ok("restore", "--source", "latest", "--yes")

    assert "restored the server" in out
    assert pitr.cluster.running()
    assert pitr.notes()[-1] == "paid just before the crash"
    # The crashed server's own directory is kept: the only copy of its state.
    assert "previous data directory" in out


def test_a_restore_to_a_moment_between_two_changes_gives_exactly_the_first(pitr):  # noqa: F811
    pitr.backup("full")
    pitr.sql("INSERT INTO invoice (note, total) VALUES ('first', 1)")
    time.sleep(1.1)
    moment = pitr.now()
    state_at_moment = pitr.checksums()
    time.sleep(1.1)
    pitr.sql("INSERT INTO invoice (note, total) VALUES ('second', 2)")
    pitr.sql("UPDATE part SET stock = 0")

    out = pitr.ok("restore", "--to", moment, "--yes")

    assert pitr.checksums() == state_at_moment
    assert pitr.notes()[-1] == "first"
    assert "second" not in pitr.notes()
    # The state the restore replaced is in the safety backup, taken first.
    assert "the previous state is in" in out
    status = json.loads((pitr.root / "backup-status.json").read_text())
    assert status["last_restore"]["to"].startswith(moment[:19].replace(" ", "T"))


def test_a_full_and_incremental_chain_restores_to_each_backup(pitr):  # noqa: F811
    pitr.backup("full")
    pitr.sql("UPDATE part SET stock = stock + 1 WHERE sku = 'P-7'")
    at_first = pitr.checksums()
    first = pitr.backup("incremental")
    pitr.sql("DELETE FROM invoice WHERE id <= 10")
    at_second = pitr.checksums()
    second = pitr.backup("incremental")
    pitr.sql("INSERT INTO invoice (note) VALUES ('after the chain')")
    assert first.endswith("I") and second.endswith("I")

    pitr.ok("restore", "--source", second, "--yes")
    assert pitr.checksums() == at_second

    pitr.ok("restore", "--source", first, "--yes")
    assert pitr.checksums() == at_first


def test_no_capture_trigger_sits_on_any_table(pitr):  # noqa: F811
    pitr.backup("full")
    pitr.backup("incremental")
    triggers = pitr.sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
    tables = pitr.sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    assert triggers == []
    assert tables == [("invoice",), ("part",)]


def test_a_damaged_backup_is_refused_before_anything_is_touched(pitr):  # noqa: F811
    label = pitr.backup("full")
    pitr.sql("INSERT INTO invoice (note) VALUES ('live')")
    before = pitr.checksums()
    files = pitr.repo_files(f"backup/carshop/{label}/pg_data/base")
    damaged = max(files, key=lambda p: p.stat().st_size)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    damaged.write_bytes(bytes(data))

    result = pitr.command("restore", "--source", label, "--yes")

    assert result.returncode != 0
    assert f"backup {label} cannot be restored" in result.stderr
    assert "nothing was changed" in result.stderr
    assert pitr.cluster.running()
    assert pitr.checksums() == before
    assert not (pitr.cluster.root / "data.restoring").exists()


def test_a_gap_in_the_wal_is_refused_before_anything_is_touched(pitr):  # noqa: F811
    pitr.backup("full")
    for n in range(3):
        pitr.sql("INSERT INTO invoice (note) VALUES (%s)", [f"change {n}"])
        pitr.cluster.wait_archived()
    before = pitr.checksums()
    segments = [
        p
        for p in pitr.repo_files("archive/carshop")
        if p.name[:24].isalnum() and "." not in p.name.split("-")[0] and len(p.name) > 40
    ]
    missing = segments[-2]
    missing.unlink()

    result = pitr.command("restore", "--source", "latest", "--yes")

    assert result.returncode != 0
    assert "the WAL archive has a gap" in result.stderr
    assert missing.name[:24] in result.stderr
    assert "nothing was changed" in result.stderr
    assert pitr.cluster.running()
    assert pitr.checksums() == before


def test_recovery_drill_metrics_and_retention(pitr):  # noqa: F811
    pitr.backup("full")
    pitr.sql("INSERT INTO invoice (note) VALUES ('in the archive')")
    pitr.cluster.wait_archived()
    live = pitr.checksums()

    drill = json.loads(pitr.ok("test_recovery", "--format", "json"))
    # The drill copy holds every archived change; the live server was not touched.
    assert drill["table_checksums"] == live
    assert drill["validated"] is True
    assert pitr.cluster.running()

    validated = json.loads(pitr.ok("validate_restoration", "--format", "json"))
    assert validated["validated"] is True

    metrics = json.loads(pitr.ok("record_recovery_metrics", "--format", "json"))
    # RPO in seconds: the age of the newest archived transaction when the drill began.
    assert metrics["rpo_seconds"] is not None and metrics["rpo_seconds"] < 3600
    assert metrics["rto_seconds"] > 0

    # Retention is pgBackRest's (repo1-retention-full=2 here): a third full expires the first.
    first = json.loads(pitr.ok("backup", "--type=full", "--format", "json"))["backup"]["id"]
    pitr.backup("full")
    pitr.backup("full")
    pruned = json.loads(pitr.ok("prune_backups", "--format", "json"))
    labels = {b["id"] for b in pruned["kept"]}
    assert first not in labels
    assert len(labels) >= 2


def test_health_check_reports_wal_archiving_failing(pitr):  # noqa: F811
    pitr.backup("full")
    healthy = pitr.command("health_check")
    assert "WAL archiving" not in healthy.stdout + healthy.stderr

    # Archiving breaks (the repository is gone): finished segments pile up.
    pitr.sql("ALTER SYSTEM SET archive_command = 'false'")
    pitr.sql("SELECT pg_reload_conf()")
    pitr.sql("INSERT INTO invoice (note) VALUES ('not archived')")
    pitr.sql("SELECT pg_switch_wal()")
    deadline = time.monotonic() + 30
    while not pitr.sql("SELECT last_failed_time FROM pg_stat_archiver")[0][0]:
        assert time.monotonic() < deadline, "archiving never failed"
        time.sleep(0.2)

    result = pitr.command("health_check")
    assert result.returncode != 0
    assert "WAL archiving is failing" in result.stdout + result.stderr


def test_restore_to_a_moment_in_the_future_or_before_every_backup_is_refused(pitr):  # noqa: F811
    pitr.backup("full")
    before = pitr.checksums()
    later = datetime.now().replace(year=datetime.now().year + 1).isoformat(" ", "seconds")
    result = pitr.command("restore", "--to", later, "--yes")
    assert result.returncode != 0 and "in the future" in result.stderr
    result = pitr.command("restore", "--to", "2020-01-01 00:00:00", "--yes")
    assert result.returncode != 0 and "no backup finished before" in result.stderr
    result = pitr.command("restore", "--to", "yesterday", "--yes")
    assert result.returncode != 0 and "is not a date and time" in result.stderr
    assert pitr.checksums() == before
