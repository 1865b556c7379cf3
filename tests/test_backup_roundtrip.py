"""A backup restores to exactly the data it was taken from: full backups, and full backups
followed by a chain of incrementals holding inserts, updates, deletes and raw SQL changes."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import Customer
from carshop.ops.backups import service, testing
from inventory.models import Part, StockMovement
from tests.helpers.backups import backup

pytestmark = pytest.mark.django_db(transaction=True)


def restore(source):
    connection.close()
    call_command("restore", "--source", source, "--yes", stdout=io.StringIO())


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_full_backup_restores_every_table_identically(backup_dir):
    before = testing.table_contents()
    manifest = backup("full")
    assert manifest["kind"] == "full"
    assert set(manifest["tables"]) == set(before)
    assert manifest["tables"]["accounts_customer"]["rows"] == len(before["accounts_customer"])

    without_vehicles = Customer.objects.filter(vehicles__isnull=True).values_list("pk", flat=True)
    Customer.objects.filter(pk__in=list(without_vehicles[:5])).delete()
    Part.objects.update(description="changed")
    raw(
        "DELETE FROM inventory_partstock WHERE part_id IN "
        "(SELECT id FROM inventory_part WHERE sku LIKE 'BK-01%%')"
    )
    raw("DELETE FROM inventory_part WHERE sku LIKE 'BK-01%%'")

    restore(str(backup_dir / f"{manifest['id']}.manifest.json"))

    assert testing.table_contents() == before
    target = service.Target.live()
    assert service.compare(target, manifest) == []


def test_a_chain_of_incrementals_restores_each_point_exactly(backup_dir):
    full = backup("full")
    points = []

    # Inserts through the ORM, and a bulk update that sends no signals.
    Customer.objects.create(first_name="Ada", last_name="Byron", email="ada@example.com")
    Part.objects.filter(sku__startswith="BK-00").update(bin_location="A-1")
    first = backup("incremental")
    points.append((first, testing.table_contents()))

    # Raw SQL outside the ORM: update, delete, insert, and a primary key that changes.
    raw("UPDATE inventory_part SET unit_cost = unit_cost * 2 WHERE sku LIKE 'BK-01%%'")
    raw(
        "DELETE FROM inventory_partstock WHERE part_id IN "
        "(SELECT id FROM inventory_part WHERE sku = 'BK-019')"
    )
    raw("DELETE FROM inventory_part WHERE sku = 'BK-019'")
    raw(
        "DELETE FROM inventory_partstock WHERE part_id IN "
        "(SELECT id FROM inventory_part WHERE sku = 'BK-018')"
    )
    raw("UPDATE inventory_part SET id = id + 100000 WHERE sku = 'BK-018'")
    Customer.objects.filter(vehicles__isnull=True).order_by("pk").first().delete()
    second = backup("incremental")
    points.append((second, testing.table_contents()))

    # A row inserted and deleted between two backups leaves no trace; an update and its undo
    # neither.
    temporary = Part.objects.create(sku="TMP-1", description="gone soon")
    temporary.delete()
    raw("UPDATE inventory_part SET description = description || '!' WHERE sku = 'BK-000'")
    raw("UPDATE inventory_part SET description = rtrim(description, '!') WHERE sku = 'BK-000'")
    Part.objects.filter(sku="BK-001").update(active=False)
    third = backup("incremental")
    points.append((third, testing.table_contents()))

    assert [m["kind"] for m, _ in points] == ["incremental"] * 3
    assert first["parent"] == full["id"] and third["parent"] == second["id"]
    assert {third["chain"], second["chain"], first["chain"]} == {full["id"]}
    assert "inventory_part" in second["changed_tables"]

    StockMovement.objects.all().delete()
    Part.objects.all().delete()
    for manifest, contents in points:
        restore(str(backup_dir / f"{manifest['id']}.manifest.json"))
        assert testing.table_contents() == contents, manifest["id"]
        assert service.compare(service.Target.live(), manifest) == []


def test_an_incremental_holds_only_the_changed_rows(backup_dir):
    full = backup("full")
    Part.objects.filter(sku="BK-005").update(description="new pads")
    incremental = backup("incremental")

    assert incremental["changed_tables"] == ["inventory_part"]
    assert incremental["file"]["size"] < full["file"]["size"] / 4
    # The checksum the incremental computed from the change alone is the table's real one.
    assert service.compare(service.Target.live(), incremental) == []


def test_a_compressed_chain_restores_too(backup_dir):
    call_command("backup", "--type=full", "--compress=true", stdout=io.StringIO())
    Customer.objects.filter(pk=Customer.objects.order_by("pk").last().pk).update(city="Gotham")
    last = backup("incremental", compress=True)
    expected = testing.table_contents()
    Customer.objects.update(city="Nowhere")

    restore("latest")

    assert testing.table_contents() == expected
    assert last["file"]["compressed"] is True


def test_an_incremental_after_a_migration_or_restore_is_a_full_backup(backup_dir):
    from carshop.ops.backups import capture

    first = backup("incremental")
    assert first["kind"] == "full"
    assert "first backup" in first["promoted_reason"]

    capture.before_migrate(sender=None, using="default", plan=[("a migration", False)])
    capture.after_migrate(sender=None, using="default")
    after_migrate = backup("incremental")
    assert after_migrate["kind"] == "full"
    assert "migrations ran" in after_migrate["promoted_reason"]

    restore("latest")
    after_restore = backup("incremental")
    assert after_restore["kind"] == "full"
    assert backup("incremental")["kind"] == "incremental"


def test_a_migrate_with_nothing_to_run_keeps_the_chain(backup_dir):
    from carshop.ops.backups import capture

    backup("full")
    capture.before_migrate(sender=None, using="default", plan=[])
    capture.after_migrate(sender=None, using="default")
    assert backup("incremental")["kind"] == "incremental"


def test_an_incremental_in_another_folder_finds_its_parent(backup_dir, tmp_path):
    """The guide's layout: a weekly full backup in one folder, daily incrementals in others."""
    weekly, daily = tmp_path / "weekly", tmp_path / "daily-1"
    full = backup("full", destination=str(weekly))
    Part.objects.filter(sku="BK-008").update(description="Monday")
    monday = backup("incremental", destination=str(daily))
    expected = testing.table_contents()
    Part.objects.update(description="later")

    assert monday["parent"] == full["id"]
    restore(str(daily / "latest"))
    assert testing.table_contents() == expected


def test_a_second_backup_while_one_runs_is_refused(backup_dir):
    target = service.Target.live()
    with service.exclusive(target):
        other_process = testing.manage(
            "backup", "--type=full", env=testing.command_env(BACKUP_LOCK_WAIT_SECONDS=0)
        )
    assert other_process.returncode != 0
    assert "another backup or restore of this database is running" in other_process.stderr
    assert testing.manage("backup", "--type=full").returncode == 0  # free again afterwards


def test_rollback_restores_the_pre_update_backup(backup_dir):
    backup("full")
    before_deploy = testing.table_contents()
    pre_update = backup("pre-update")
    Part.objects.update(description="written by the new release")
    backup("incremental")

    restore("latest-pre-update")

    assert pre_update["type"] == "pre-update"
    assert testing.table_contents() == before_deploy


@pytest.mark.sqlite
def test_awkward_sqlite_values_keep_their_checksums_through_an_incremental(backup_dir):
    """A blob in a text column, a real with 17 significant digits, text that looks like a
    number or like JSON: the change capture's triggers accept them, and the checksums an
    incremental computes from the change alone are those of a full scan."""
    backup("full")
    raw(
        "UPDATE inventory_part SET description = x'00ff27', bin_location = '[\"X''41''\"]' "
        "WHERE sku = 'BK-003'"
    )
    raw("UPDATE inventory_part SET unit_cost = 0.1 + 0.2, bin_location = '5' WHERE sku = 'BK-004'")
    incremental = backup("incremental")
    expected = testing.table_contents()

    assert incremental["kind"] == "incremental"
    assert service.compare(service.Target.live(), incremental) == []
    Part.objects.update(description="later")
    restore(str(backup_dir / f"{incremental['id']}.manifest.json"))
    assert testing.table_contents() == expected


@pytest.mark.sqlite
def test_a_full_backup_and_its_checksums_are_of_one_state_while_writers_go_on(
    backup_dir, monkeypatch
):
    """The checksums are read from the live file while the copy is made: both start in the same
    state, so a write that commits meanwhile is in neither, and the next incremental has it."""
    from carshop.ops.backups import sqlite

    copy = sqlite._copy

    def copy_after_a_write(*args):
        writer = sqlite.connect(service.Target.live().name)
        writer.execute("UPDATE inventory_part SET description = 'written during the backup'")
        writer.close()
        return copy(*args)

    monkeypatch.setattr(sqlite, "_copy", copy_after_a_write)
    before = testing.table_contents()
    full = backup("full")
    monkeypatch.undo()
    assert Part.objects.filter(description="written during the backup").count() == 20
    incremental = backup("incremental")
    after = testing.table_contents()

    assert incremental["kind"] == "incremental"
    assert incremental["changed_tables"] == ["inventory_part"]
    restore(str(backup_dir / f"{full['id']}.manifest.json"))
    assert testing.table_contents() == before
    assert service.compare(service.Target.live(), full) == []
    restore(str(backup_dir / f"{incremental['id']}.manifest.json"))
    assert testing.table_contents() == after


@pytest.mark.sqlite
def test_a_chain_of_the_previous_checksum_scheme_restores_and_is_not_continued(
    backup_dir, monkeypatch
):
    """Backups made before the SQLite checksums were computed from JSON row text (scheme 1,
    manifests without checksum_scheme, triggers keeping quote() text): they restore and validate
    as they are, and the next backup starts a new chain instead of carrying on their sums."""
    import json

    from carshop.ops.backups import capture, sqlite

    with monkeypatch.context() as previous_code:
        previous_code.setattr(capture, "SQLITE_CHECKSUM_SCHEME", 1)
        previous_code.setattr(sqlite, "CHECKSUM_SCHEME", 1)
        old_full = backup("full")
        Part.objects.filter(sku="BK-006").update(description="in the old chain")
        raw(
            "DELETE FROM inventory_partstock WHERE part_id IN "
            "(SELECT id FROM inventory_part WHERE sku = 'BK-017')"
        )
        raw("DELETE FROM inventory_part WHERE sku = 'BK-017'")
        old_incremental = backup("incremental")
    assert old_incremental["kind"] == "incremental"
    for manifest in (old_full, old_incremental):
        path = backup_dir / f"{manifest['id']}.manifest.json"
        data = json.loads(path.read_text())
        del data["checksum_scheme"]
        path.write_text(json.dumps(data))
        del manifest["checksum_scheme"]
    expected = testing.table_contents()
    live_path = service.Target.live().name
    # The two schemes really differ: the old sums do not pass as the new ones.
    assert sqlite.compare(live_path, 1) == old_incremental["tables"]
    assert sqlite.compare(live_path, 2) != old_incremental["tables"]

    Part.objects.filter(sku="BK-008").update(description="after the upgrade")
    after_upgrade = backup("incremental")
    assert after_upgrade["kind"] == "full"
    assert "computed a new way" in after_upgrade["promoted_reason"]
    assert after_upgrade["checksum_scheme"] == sqlite.CHECKSUM_SCHEME == 2
    Part.objects.filter(sku="BK-009").update(description="new chain")
    assert backup("incremental")["kind"] == "incremental"

    restore(str(backup_dir / f"{old_incremental['id']}.manifest.json"))
    assert testing.table_contents() == expected
    assert service.compare(service.Target.live(), old_incremental) == []
