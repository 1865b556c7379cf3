"""Fault drills around the backup chain: an open transaction during a backup, a full disk
during a full backup, changes that bypass the capture triggers, and a backup that waits."""

import io
import sqlite3
import threading
import time
from datetime import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from carshop.ops.backups import capture, postgres, service, testing
from carshop.ops.backups.errors import BackupError
from tests.helpers.backups import backup, fill, small_filesystem

pytestmark = pytest.mark.django_db(transaction=True)


def restore(manifest, folder):
    call_command(
        "restore",
        "--source",
        str(folder / f"{manifest['id']}.manifest.json"),
        "--yes",
        stdout=io.StringIO(),
    )


def pg_session(application_name):
    conn = postgres.connect(connection.settings_dict)
    with conn.cursor() as cursor:
        cursor.execute("SET application_name = %s", [application_name])
    conn.commit()
    return conn


def timed_write(sku, limit=5):
    """Update a part in a session of its own (as the application would); returns seconds."""
    conn = pg_session("carshop-drill-writer")
    try:
        started = time.monotonic()
        with conn.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = '{limit}s'")
            cursor.execute(
                "UPDATE inventory_part SET description = 'written meanwhile' WHERE sku = %s", [sku]
            )
        conn.commit()
        return time.monotonic() - started
    finally:
        conn.close()


def run_in_thread(function):
    result = {}

    def run():
        try:
            result["value"] = function()
        except BackupError as exc:
            result["error"] = str(exc)
        finally:
            result["ended"] = time.monotonic()
            connections.close_all()

    thread = threading.Thread(target=run)
    result["started"] = time.monotonic()
    thread.start()
    return thread, result


def wait_for_lock_wait(result, timeout=10):
    """Until a session of this database waits for a lock, or the backup ended. True if seen."""
    conn = pg_session("carshop-drill-watcher")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and "ended" not in result:
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a "
                    "USING (pid) WHERE NOT l.granted "
                    "AND a.datname = current_database()"
                )
                if cursor.fetchone()[0]:
                    return True
            conn.rollback()
            time.sleep(0.02)
        return False
    finally:
        conn.close()


# --- an open transaction while a backup runs ---------------------------------------------------


@pytest.mark.postgresql
def test_an_open_transaction_does_not_hold_up_writes_while_an_incremental_runs(backup_dir):
    backup("full")
    blocker = pg_session("carshop-drill-blocker")
    try:
        with blocker.cursor() as cursor:  # a write left open: it holds the change log's lock
            cursor.execute("UPDATE inventory_part SET description = 'open' WHERE sku = 'BK-001'")
        thread, result = run_in_thread(lambda: service.create_backup("incremental"))
        wait_for_lock_wait(result, timeout=1)

        assert timed_write("BK-002") < 1.0
        thread.join(timeout=30)
    finally:
        blocker.rollback()
        blocker.close()
    assert "error" not in result, result.get("error")
    assert result["value"]["kind"] == "incremental"


@pytest.mark.postgresql
def test_a_backup_that_needs_a_lock_fails_fast_naming_the_blocker_and_writes_go_on(backup_dir):
    backup("full")
    with connection.cursor() as cursor:  # capture must be set up again on inventory_part
        cursor.execute(f"DROP TRIGGER {capture.PG_FUNCTION}_upd ON inventory_part")
    connection.close()
    blocker = pg_session("carshop-drill-blocker")
    try:
        with blocker.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            blocker_pid = cursor.fetchone()[0]
            cursor.execute("UPDATE inventory_part SET description = 'open' WHERE sku = 'BK-001'")
        thread, result = run_in_thread(lambda: service.create_backup("incremental"))
        assert wait_for_lock_wait(result), "the backup never waited for the lock"

        assert timed_write("BK-002") < 1.0
        thread.join(timeout=30)
    finally:
        blocker.rollback()
        blocker.close()
    message = result.get("error") or ""
    assert f"pid {blocker_pid}" in message, result
    assert "carshop-drill-blocker" in message and "idle in transaction" in message
    assert "transaction open for" in message
    assert result["ended"] - result["started"] < 5  # fails fast, not when the blocker ends
    # Once the blocker is gone, the next backup sets capture up again, as a full one.
    assert backup("incremental")["kind"] == "full"


# --- a full disk during a full backup ----------------------------------------------------------


def test_a_full_backup_that_fills_the_disk_leaves_the_chain_to_the_last_good_backup(
    backup_dir, tmp_path
):
    from inventory.models import Part

    with small_filesystem(tmp_path / "small") as small:
        first = backup("full", f"--destination={small}")
        Part.objects.filter(sku="BK-005").update(description="after the first backup")
        fill(small)
        before = sorted(p.name for p in small.iterdir())

        with pytest.raises(CommandError, match="space"):
            backup("full", f"--destination={small}")
        with pytest.raises(CommandError, match="space"):
            backup("incremental", f"--destination={small}")

        assert sorted(p.name for p in small.iterdir()) == before  # no partial file, no journal
        for name in ("filler", "filler-tail"):
            (small / name).unlink()
        following = backup("incremental", f"--destination={small}")
        assert following["kind"] == "incremental", following.get("promoted_reason")
        assert following["parent"] == first["id"]
        expected = testing.checksums()
        assert following["tables"] == expected
        restore(following, small)
        assert testing.checksums() == expected


@pytest.mark.parametrize("kind", ["full", "incremental"])
def test_a_backup_killed_before_it_is_stored_leaves_the_chain_to_the_last_good_backup(
    backup_dir, kind
):
    from inventory.models import Part

    first = backup("full")
    Part.objects.filter(sku="BK-006").update(description="after the first backup")

    testing.kill_at("backup-written", "backup", f"--type={kind}")

    following = backup("incremental")
    assert following["kind"] == "incremental", following.get("promoted_reason")
    assert following["parent"] == first["id"]
    assert following["tables"] == testing.checksums()


# --- changes that bypass the capture triggers --------------------------------------------------


def bypass(*statements):
    """Run SQL that the capture triggers do not see: PostgreSQL in a replica-role session, SQLite
    with the triggers dropped for a while (and put back, as if nothing happened)."""
    connections.close_all()
    if connection.vendor == "postgresql":
        conn = postgres.connect(connection.settings_dict)
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute("SET session_replication_role = replica")
                for statement in statements:
                    cursor.execute(statement)
        finally:
            conn.close()
        return
    conn = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        cursor = conn.cursor()
        capture.drop_triggers(cursor, "sqlite")
        for statement in statements:
            cursor.execute(statement)
        capture.install(cursor, "sqlite")
    finally:
        conn.close()


DELETE = "DELETE FROM accounts_customer WHERE first_name = 'First29'"
UPDATE = "UPDATE inventory_part SET description = 'unseen' WHERE sku = 'BK-009'"


def test_a_delete_that_bypassed_capture_makes_the_next_backup_full(backup_dir):
    backup("full")
    bypass(DELETE)
    out, err = io.StringIO(), io.StringIO()
    call_command("backup", "--type=incremental", stdout=out, stderr=err)

    assert "WARNING" in err.getvalue() and "bypassed change capture" in err.getvalue()
    assert "full instead of incremental" in out.getvalue()
    manifest = service.resolve_source("latest")[0]
    assert manifest["kind"] == "full" and "accounts_customer" in manifest["promoted_reason"]
    assert manifest["tables"] == testing.checksums()


def test_an_update_that_bypassed_capture_is_caught_by_the_periodic_checksum_check(
    backup_dir, settings
):
    backup("full")
    bypass(UPDATE)
    settings.BACKUP_CAPTURE_CHECK_HOURS = 0  # the check is due

    manifest = backup("incremental")

    assert manifest["kind"] == "full"
    assert "inventory_part" in manifest["promoted_reason"]
    assert "a checksum the chain does not explain" in manifest["promoted_reason"]
    restore(manifest, backup_dir)
    from inventory.models import Part

    assert Part.objects.get(sku="BK-009").description == "unseen"


@pytest.mark.postgresql
def test_disabled_capture_triggers_make_the_next_backup_full_and_are_enabled_again(backup_dir):
    backup("full")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE inventory_part DISABLE TRIGGER USER")
        cursor.execute(UPDATE)
    connection.close()

    manifest = backup("incremental")

    assert manifest["kind"] == "full"
    assert "disabled on 1 tables (inventory_part)" in manifest["promoted_reason"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tgenabled FROM pg_trigger WHERE NOT tgisinternal "
            "AND tgrelid = 'inventory_part'::regclass"
        )
        assert cursor.fetchall() == [("O",)]


def test_a_recovery_drill_reports_changes_that_bypassed_capture(backup_dir):
    backup("full")
    bypass(DELETE)

    with pytest.raises(CommandError, match="bypassed change capture"):
        call_command("test_recovery", stdout=io.StringIO())

    # ...and the next backup is a full one that holds them.
    manifest = backup("incremental")
    assert manifest["kind"] == "full"
    assert manifest["tables"] == testing.checksums()


# --- a backup's time is the time of its data ---------------------------------------------------


def test_a_backup_that_waited_is_dated_when_its_data_was_read(backup_dir):
    backup("full")
    release = threading.Event()
    held = threading.Event()

    def hold():
        if connection.vendor == "postgresql":
            conn = postgres.connect(connection.settings_dict)
            with conn.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(hashtext('carshop_backup'))")
            held.set()
            release.wait(10)
            conn.close()
        else:
            conn = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            held.set()
            release.wait(10)
            conn.execute("ROLLBACK")
            conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    timer = threading.Timer(1.5, release.set)
    timer.start()
    manifest = service.create_backup("incremental")
    holder.join()

    started = datetime.fromisoformat(manifest["started_at"])
    created = datetime.fromisoformat(manifest["created_at"])
    assert (created - started).total_seconds() >= 1.0
