"""A restore never leaves a mix: killed at any point it leaves the old database intact and
usable (or, once past the point of no return, exactly the restored one); a damaged backup, a
backup of another engine or of a newer schema is refused before anything is touched."""

import gzip
import hashlib
import io
import json
import os
import sqlite3

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import Customer
from carshop.ops.backups import testing
from inventory.models import Part
from tests.helpers.backups import backup, files_in, manifest_path

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chain_and_newer_data(backup_dir):
    """A full backup and an incremental of an older state; the database has moved on since."""
    backup("full")
    Part.objects.filter(sku="BK-002").update(description="restored version")
    incremental = backup("incremental")
    Part.objects.update(description="current version")
    Customer.objects.create(first_name="Only", last_name="Now")
    connection.close()
    return incremental, testing.table_contents()


# After the safety backup (nothing touched yet), after the full backup is loaded (PostgreSQL:
# inside the open transaction; SQLite: in the file beside), and at the last step before the
# point of no return (PostgreSQL: everything sent and checked, COMMIT not yet; SQLite: the
# checked copy ready to be renamed).
@pytest.mark.parametrize("point", ["safety-backup-taken", "full-restored", "last-step"])
def test_a_restore_killed_before_it_commits_leaves_the_old_database(
    chain_and_newer_data, backup_dir, point
):
    incremental, current = chain_and_newer_data
    if point == "last-step":
        point = "before-commit" if connection.vendor == "postgresql" else "before-swap"

    testing.kill_at(
        point, "restore", "--source", str(manifest_path(backup_dir, incremental)), "--yes"
    )

    assert testing.table_contents() == current
    # ...and usable: it takes writes, and a backup of it is a full one of the new state.
    Part.objects.filter(sku="BK-003").update(description="written after the kill")
    assert Part.objects.get(sku="BK-003").description == "written after the kill"
    if point in ("full-restored", "before-swap", "before-commit"):
        # A later restore is not hindered by what the killed one left behind.
        connection.close()
        call_command(
            "restore",
            "--source",
            str(manifest_path(backup_dir, incremental)),
            "--yes",
            stdout=io.StringIO(),
        )
        assert Part.objects.get(sku="BK-002").description == "restored version"
        folder = os.path.dirname(os.path.abspath(connection.settings_dict["NAME"]))
        assert not [n for n in os.listdir(folder) if n.endswith(".restoring")]


def test_a_restore_killed_after_it_committed_leaves_exactly_the_restored_database(
    chain_and_newer_data, backup_dir
):
    incremental, current = chain_and_newer_data
    point = "after-commit" if connection.vendor == "postgresql" else "after-swap"

    testing.kill_at(
        point, "restore", "--source", str(manifest_path(backup_dir, incremental)), "--yes"
    )

    assert Part.objects.get(sku="BK-002").description == "restored version"
    assert not Customer.objects.filter(first_name="Only").exists()
    assert testing.table_contents() != current


def test_a_restore_run_to_the_end_in_its_own_process_succeeds(chain_and_newer_data, backup_dir):
    incremental, _ = chain_and_newer_data
    result = testing.manage(
        "restore",
        "--source",
        str(manifest_path(backup_dir, incremental)),
        "--yes",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["safety_backup"]
    assert Part.objects.get(sku="BK-002").description == "restored version"


def corrupt(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])


@pytest.mark.parametrize(("which", "how"), [("full", "truncated"), ("incremental", "flipped byte")])
def test_a_damaged_backup_file_is_refused_before_anything_is_touched(backup_dir, how, which):
    full = backup("full")
    Part.objects.filter(sku="BK-004").update(description="in the incremental")
    incremental = backup("incremental")
    damaged = full if which == "full" else incremental
    corrupt(backup_dir / damaged["file"]["name"], how)
    Part.objects.update(description="current")
    before, files_before = testing.table_contents(), files_in(backup_dir)

    with pytest.raises(CommandError, match="damaged"):
        call_command("restore", "--source", "latest", "--yes", stdout=io.StringIO())

    assert testing.table_contents() == before
    assert files_in(backup_dir) == files_before  # not even a safety backup


def rewrite_manifest(folder, manifest, **changes):
    path = manifest_path(folder, manifest)
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_a_backup_with_a_newer_schema_is_refused(backup_dir):
    manifest = backup("full")
    rewrite_manifest(
        backup_dir,
        manifest,
        migrations=[*manifest["migrations"], ["inventory", "9999_from_the_future"]],
    )
    before, files_before = testing.table_contents(), files_in(backup_dir)

    with pytest.raises(CommandError, match=r"newer schema.*inventory\.9999_from_the_future"):
        call_command("restore", "--source", "latest", "--yes", stdout=io.StringIO())

    assert testing.table_contents() == before
    assert files_in(backup_dir) == files_before


def other_engine_backup(folder, template):
    """A well-formed backup of the other engine: a real SQLite file, or a file that starts like a
    pg_dump archive, with a manifest whose SHA-256 matches."""
    if connection.vendor == "postgresql":
        engine, name = "sqlite", "carshop-other-engine.sqlite3"
        db = sqlite3.connect(folder / name)
        db.execute("CREATE TABLE accounts_customer (id integer primary key)")
        db.commit()
        db.close()
    else:
        engine, name = "postgresql", "carshop-other-engine.dump"
        (folder / name).write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 512)
    data = (folder / name).read_bytes()
    manifest = {
        **template,
        "id": "carshop-other-engine",
        "engine": engine,
        "created_at": "2099-01-01T00:00:00+00:00",
        "file": {
            **template["file"],
            "name": name,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    }
    (folder / "carshop-other-engine.manifest.json").write_text(json.dumps(manifest))


def test_a_backup_of_another_engine_is_refused(backup_dir):
    other_engine_backup(backup_dir, backup("full"))
    before, files_before = testing.table_contents(), files_in(backup_dir)
    mine = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
    theirs = "SQLite" if mine == "PostgreSQL" else "PostgreSQL"

    with pytest.raises(CommandError, match=f"is of a {theirs} database; this database is {mine}"):
        call_command("restore", "--source", "latest", "--yes", stdout=io.StringIO())

    assert testing.table_contents() == before
    assert files_in(backup_dir) == files_before


def test_a_file_of_another_engine_under_a_matching_manifest_is_refused(backup_dir):
    manifest = backup("full")
    path = backup_dir / manifest["file"]["name"]
    if connection.vendor == "postgresql":
        foreign = sqlite3.connect(":memory:")
        foreign.execute("CREATE TABLE t (id integer)")
        target = sqlite3.connect(path.with_suffix(".tmp"))
        foreign.backup(target)
        target.close()
        data = path.with_suffix(".tmp").read_bytes()
    else:
        data = b"PGDMP" + b"\x00" * 100
    path.write_bytes(data)
    rewrite_manifest(
        backup_dir,
        manifest,
        file={**manifest["file"], "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
    )

    with pytest.raises(CommandError, match=r"is a (SQLite|PostgreSQL) database"):
        call_command("restore", "--source", "latest", "--yes", stdout=io.StringIO())


def test_a_backup_file_without_a_manifest_is_not_restored(backup_dir, tmp_path):
    manifest = backup("full")
    lonely = tmp_path / "elsewhere"
    lonely.mkdir()
    (lonely / "copy.bin").write_bytes((backup_dir / manifest["file"]["name"]).read_bytes())
    with pytest.raises(CommandError, match="no manifest"):
        call_command("restore", "--source", str(lonely / "copy.bin"), "--yes")


def test_restore_without_yes_and_without_a_terminal_changes_nothing(backup_dir):
    backup("full")
    Part.objects.update(description="kept")
    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", "--source", "latest")
    assert set(Part.objects.values_list("description", flat=True)) == {"kept"}


def test_a_dry_run_restore_verifies_and_changes_nothing(backup_dir):
    backup("full")
    Part.objects.update(description="kept")
    files_before = files_in(backup_dir)
    out = io.StringIO()
    call_command("restore", "--source", "latest", "--dry-run", stdout=out)
    assert "verified, nothing changed" in out.getvalue()
    assert set(Part.objects.values_list("description", flat=True)) == {"kept"}
    assert files_in(backup_dir) == files_before


def test_gzip_damage_inside_a_compressed_incremental_is_caught(backup_dir):
    backup("full")
    Part.objects.filter(sku="BK-006").update(description="x")
    out = io.StringIO()
    call_command("backup", "--type=incremental", "--compress", "--format=json", stdout=out)
    incremental = json.loads(out.getvalue())["backup"]
    path = backup_dir / incremental["file"]["name"]
    with gzip.open(path) as handle:
        assert handle.read(1)
    corrupt(path, "flipped byte")
    with pytest.raises(CommandError, match="SHA-256"):
        call_command("restore", "--source", "latest", "--yes", stdout=io.StringIO())


def test_a_backup_with_checksums_of_an_unknown_scheme_is_refused(backup_dir):
    manifest = backup("full")
    rewrite_manifest(backup_dir, manifest, checksum_scheme=99)
    before, files_before = testing.table_contents(), files_in(backup_dir)

    with pytest.raises(
        CommandError,
        match=r"checksums of a kind this code does not know "
        r"\(scheme 99\).*newer Carshop",
    ):
        call_command("restore", "--source", "latest", "--yes", stdout=io.StringIO())

    assert testing.table_contents() == before
    assert files_in(backup_dir) == files_before
