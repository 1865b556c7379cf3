"""Recovery drills: test_recovery restores into a scratch database (never the live one),
validate_restoration compares it with the manifest, record_recovery_metrics keeps RTO and RPO
where the health check and reports read them; the health check fails on stale backups."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from carshop.health import BackupFreshness
from carshop.ops.backups import service, status, testing
from inventory.models import Part
from tests.helpers.commands import run_json

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_drill_restores_the_latest_chain_into_scratch_and_validates_it(backup_dir):
    call_command("backup", "--type=full", stdout=io.StringIO())
    Part.objects.filter(sku="BK-007").update(description="after the full backup")
    latest = run_json("backup", "--type=incremental")["backup"]
    Part.objects.update(description="the live database moves on")
    live_before = testing.table_contents()

    drill = run_json("test_recovery")

    assert drill["validated"] and drill["mismatches"] == []
    assert drill["source"] == latest["id"] and len(drill["chain"]) == 2
    assert drill["rows"] == sum(t["rows"] for t in latest["tables"].values())
    assert testing.table_contents() == live_before  # the live database is untouched

    validation = run_json("validate_restoration")
    assert validation["validated"] and validation["source"] == latest["id"]

    metrics = run_json("record_recovery_metrics")
    assert metrics["rto_seconds"] == drill["restore_seconds"] > 0
    assert metrics["rpo_seconds"] >= 0
    assert status.load()["recovery_metrics"][-1] == metrics


def test_validate_restoration_reports_a_scratch_database_that_differs(backup_dir):
    call_command("backup", "--type=full", stdout=io.StringIO())
    call_command("test_recovery", stdout=io.StringIO())
    target = service.scratch_target()
    if target.vendor == "postgresql":
        from carshop.ops.backups import postgres

        conn = postgres.connect(target.settings, target.name, autocommit=True)
        with conn.cursor() as cursor:
            cursor.execute(
                "UPDATE inventory_part SET description = 'tampered' WHERE id IN "
                "(SELECT min(id) FROM inventory_part)"
            )
        conn.close()
    else:
        import sqlite3

        conn = sqlite3.connect(target.name)
        conn.execute(
            "UPDATE inventory_part SET description = 'tampered' WHERE id IN "
            "(SELECT min(id) FROM inventory_part)"
        )
        conn.commit()
        conn.close()

    with pytest.raises(CommandError, match="differs from the backup in 1 tables"):
        call_command("validate_restoration", stdout=io.StringIO())


def test_a_drill_never_restores_over_the_live_database(backup_dir):
    call_command("backup", "--type=full", stdout=io.StringIO())
    with pytest.raises(CommandError, match="live database"):
        call_command("test_recovery", f"--target={testing.database_url()}", stdout=io.StringIO())


def test_record_recovery_metrics_needs_a_drill_first(backup_dir):
    with pytest.raises(CommandError, match="run test_recovery first"):
        call_command("record_recovery_metrics")


def test_the_health_check_fails_without_a_recent_backup(backup_dir, settings):
    settings.BACKUP_FRESHNESS_REQUIRED = True
    with pytest.raises(Exception, match="no successful backup"):
        BackupFreshness().run()

    call_command("backup", "--type=full", stdout=io.StringIO())
    BackupFreshness().run()

    last = status.load()["last_backup"]
    old = timezone.now() - timedelta(hours=settings.BACKUP_MAX_AGE_HOURS + 1)
    status.update(last_backup={**last, "finished_at": old.isoformat()})
    with pytest.raises(Exception, match="hours old"):
        BackupFreshness().run()


def test_every_backup_command_explains_itself_with_an_example():
    from django.core.management import load_command_class

    for name in (
        "backup",
        "restore",
        "prune_backups",
        "test_recovery",
        "validate_restoration",
        "record_recovery_metrics",
    ):
        help_text = load_command_class("carshop", name).create_parser("manage.py", name)
        assert "Example" in help_text.format_help(), name


def test_bad_input_is_one_line_and_a_non_zero_exit(backup_dir):
    with pytest.raises(CommandError, match="invalid choice: 'weekly'"):
        call_command("backup", "--type=weekly")

    result = testing.manage("restore", "--source", "/nowhere/at/all.dump", "--yes")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "CommandError: no backup at /nowhere/at/all.dump: give a manifest, a backup file, "
        "a folder or 'latest'"
    ]


def test_a_dry_run_backup_writes_nothing(backup_dir):
    report = run_json("backup", "--type=incremental", "--dry-run")
    assert report["backup"]["kind"] == "full"
    assert "first backup" in report["backup"]["promoted_reason"]
    assert not backup_dir.exists()


def test_a_failed_drill_is_recorded_as_failed_and_no_drill_twice(backup_dir):
    manifest = run_json("backup", "--type=full")["backup"]
    run_json("test_recovery")
    good = run_json("record_recovery_metrics")
    assert good["validated"] and good["error"] is None
    with pytest.raises(CommandError, match="already recorded: run test_recovery for a new one"):
        call_command("record_recovery_metrics", stdout=io.StringIO())

    damaged = backup_dir / manifest["file"]["name"]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(CommandError) as drill_failed:
        call_command("test_recovery", stdout=io.StringIO())

    out = io.StringIO()
    with pytest.raises(CommandError, match=r"^the recovery drill of .* failed: "):
        call_command("record_recovery_metrics", "--format=json", stdout=out)
    failed = json.loads(out.getvalue())
    assert failed["validated"] is False
    assert failed["error"] == str(drill_failed.value)
    assert failed["rto_seconds"] is None and failed["rpo_seconds"] is None
    assert failed["drill_at"] > good["drill_at"]
    with pytest.raises(CommandError, match="already recorded"):
        call_command("record_recovery_metrics", stdout=io.StringIO())
    assert [e["validated"] for e in status.load()["recovery_metrics"]] == [True, False]
