"""Fault drills: a restore is all-or-nothing whatever dies, whenever.

The restore command runs in its own process on a chain of three backups (a full one and two
incrementals) while the live database has moved on. It is killed at every pause point and at
random moments; psql is killed under it; its server connection is cut. After each, every
table's row count and checksum are compared with the state before the run and with the
restored backup's manifest: the database must be wholly one or wholly the other.

CARSHOP_FAULT_DRILL_RUNS (default 3) sets how many times each point is drilled, and
CARSHOP_FAULT_DRILL_POINTS (comma-separated) limits the drill to some pause points: raise the
first to drill harder than CI does.
"""

import io
import json
import os
import random
import signal
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import Customer
from carshop.ops.backups import testing
from inventory.models import Part
from tests.helpers.backups import backup

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = int(os.environ.get("CARSHOP_FAULT_DRILL_RUNS", "3"))
# A comma-separated subset of the pause points to drill (default: all of them).
POINTS = [p for p in os.environ.get("CARSHOP_FAULT_DRILL_POINTS", "").split(",") if p]


class Chain:
    """Two restore targets (a chain of three backups, and its full backup alone) and the live
    database, three different states; each run restores whichever target differs from the
    current state, so that every run can tell "old" from "restored"."""

    def __init__(self, folder, full, incremental):
        self.folder = folder
        self.targets = [incremental, full]

    def path(self, manifest):
        return str(self.folder / f"{manifest['id']}.manifest.json")

    def pick(self, current):
        for manifest in self.targets:
            if manifest["tables"] != current:
                return manifest
        raise AssertionError("every backup equals the current state: the drill proves nothing")


@pytest.fixture
def chain(backup_dir):
    full = backup("full")
    Part.objects.filter(sku="BK-002").update(description="in the first incremental")
    Customer.objects.create(first_name="Added", last_name="Before the first incremental")
    backup("incremental")
    Part.objects.filter(sku="BK-015").delete()
    Customer.objects.filter(first_name="First4").update(city="Shelbyville")
    second = backup("incremental")
    assert len(second.get("changed_tables") or []) >= 2 and second["kind"] == "incremental"
    Part.objects.update(description="the live database moved on")
    Customer.objects.create(first_name="Only", last_name="Now")
    connection.close()
    return Chain(backup_dir, full, second)


def restore_args(chain, manifest):
    return ("restore", "--source", chain.path(manifest), "--yes")


def assert_whole(after, before, manifest, what):
    assert after in (before, manifest["tables"]), (
        f"{what}: the database is neither the old state nor backup {manifest['id']}: "
        + ", ".join(
            sorted(
                t
                for t in set(after) | set(before)
                if after.get(t) not in (before.get(t), manifest["tables"].get(t))
            )
        )
    )


def last_steps():
    if connection.vendor == "postgresql":
        return ["full-restored", "incrementals-applied", "before-commit"], "after-commit"
    return ["full-restored", "incrementals-applied", "before-swap"], "after-swap"


def test_a_restore_killed_at_any_pause_point_is_all_or_nothing(chain):
    before_commit, after_commit = last_steps()
    points = ["verified", "safety-backup-taken", *before_commit]
    current = testing.checksums()
    for point in [*points, after_commit]:
        if POINTS and point not in POINTS:
            continue
        for run in range(RUNS):
            target = chain.pick(current)
            testing.kill_at(point, *restore_args(chain, target))
            after = testing.checksums()
            assert_whole(after, current, target, f"killed at {point}, run {run + 1}")
            if point == after_commit:
                assert after == target["tables"], f"killed at {point}: not restored"
            else:
                assert after == current, f"killed at {point}, run {run + 1}: changed"
            current = after


def test_a_restore_killed_at_random_moments_is_all_or_nothing(chain):
    current = testing.checksums()
    # How long a whole run takes, which is also a run that must succeed.
    target = chain.pick(current)
    started = time.monotonic()
    result = testing.manage(*restore_args(chain, target))
    duration = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    current = testing.checksums()
    assert current == target["tables"]

    seeded = random.Random(os.environ.get("CARSHOP_FAULT_DRILL_SEED", "7"))
    outcomes = []
    for run in range(RUNS * 2):
        target = chain.pick(current)
        delay = seeded.uniform(0.1, duration)
        process = testing.start(*restore_args(chain, target))
        try:
            process.wait(timeout=delay)
        except Exception:  # still running: the fault
            process.kill()
        process.wait()
        after = testing.checksums()
        assert_whole(after, current, target, f"killed after {delay:.2f}s (run {run + 1})")
        outcomes.append("restored" if after == target["tables"] else "old")
        current = after
    assert "old" in outcomes  # some kills landed before the commit


@pytest.mark.postgresql
@pytest.mark.parametrize("point", ["full-restored", "incrementals-applied", "before-commit"])
def test_psql_killed_under_a_restore_changes_nothing(chain, point):
    current = testing.checksums()
    target = chain.pick(current)
    process = testing.start(*restore_args(chain, target), pause_at=point, pause_seconds=2)
    testing.wait_for_pause(process, point)
    psql = [pid for pid, name in testing.descendants(process.pid).items() if name == "psql"]
    assert psql, "no psql under the restore"
    for pid in psql:
        os.kill(pid, signal.SIGKILL)
    _, errors = process.communicate(timeout=60)

    assert process.returncode != 0
    assert "restore failed, nothing was changed" in errors, errors
    assert testing.checksums() == current


@pytest.mark.postgresql
@pytest.mark.parametrize("point", ["full-restored", "before-commit"])
def test_a_restore_whose_server_connection_is_cut_changes_nothing(chain, point):
    current = testing.checksums()
    target = chain.pick(current)
    process = testing.start(*restore_args(chain, target), pause_at=point, pause_seconds=2)
    testing.wait_for_pause(process, point)
    with connection.cursor() as cursor:
        # Only the restore's own session: the sessions of this test database, run by psql.
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'psql' "
            "AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchall(), "no psql session to cut"
    connection.close()
    _, errors = process.communicate(timeout=60)

    assert process.returncode != 0
    assert "nothing was changed" in errors, errors
    assert testing.checksums() == current


def test_a_tampered_checksum_of_a_table_no_incremental_touched_is_refused(chain):
    incremental = chain.targets[0]
    untouched = sorted(set(incremental["tables"]) - set(incremental["changed_tables"]))
    name = next(t for t in untouched if incremental["tables"][t]["rows"] > 0)
    path = chain.folder / f"{incremental['id']}.manifest.json"
    data = json.loads(path.read_text())
    checksum = data["tables"][name]["checksum"]
    data["tables"][name]["checksum"] = checksum[:-1] + ("0" if checksum[-1] != "0" else "1")
    path.write_text(json.dumps(data))
    before = testing.checksums()

    with pytest.raises(CommandError, match=f"restore check failed: table {name}"):
        call_command(*restore_args(chain, incremental), stdout=io.StringIO())

    assert testing.checksums() == before


@pytest.mark.postgresql
def test_psql_input_that_ends_before_commit_commits_nothing(backup_dir):
    """Why the restore sends its own BEGIN and COMMIT: psql's end of input is not a failure.
    With --single-transaction, psql commits whatever it was sent when its input ends (a restore
    killed half-way); as the restore runs psql, the end of input leaves the transaction open,
    and the server rolls it back."""
    import subprocess

    from carshop.ops.backups import postgres

    settings_dict, name = connection.settings_dict, connection.settings_dict["NAME"]
    connection.close()
    _, env = postgres.cli_args(settings_dict, name)
    command = postgres.psql_command(settings_dict, name)
    change = b"UPDATE inventory_part SET description = 'half' WHERE sku = 'BK-001';\n"

    def feed(args, script):
        psql = subprocess.run(
            [*command, *args], input=script, env=env, capture_output=True, timeout=60, check=False
        )
        assert psql.returncode == 0, psql.stderr  # for psql, the input simply ended
        return Part.objects.get(sku="BK-001").description

    assert "--single-transaction" not in command
    assert feed([], b"BEGIN;\n" + change) != "half"  # as the restore runs psql: rolled back
    # psql as the restore used to run it: the same input, cut short, is committed.
    assert feed(["--single-transaction"], change) == "half"


@pytest.mark.postgresql
def test_a_full_backup_holding_large_objects_is_refused_before_anything_is_touched(backup_dir):
    """pg_restore wraps large objects in a BEGIN and COMMIT of its own, which would commit a
    restore half-way: such a dump is refused."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT lo_from_bytea(0, 'a scanned invoice')")
        oid = cursor.fetchone()[0]
    try:
        full = backup("full")
        Part.objects.update(description="current")
        before = testing.checksums()
        with pytest.raises(CommandError, match="large objects"):
            call_command(
                "restore",
                "--source",
                str(backup_dir / f"{full['id']}.manifest.json"),
                "--yes",
                stdout=io.StringIO(),
            )
        assert testing.checksums() == before
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT lo_unlink(%s)", [oid])
