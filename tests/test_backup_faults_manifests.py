"""Fault drills: a damaged or missing manifest, at any position of a chain, is never skipped.

`restore --source latest` and `test_recovery` must not quietly fall back to an older backup:
they refuse, name what is damaged, and name the older backup an operator can choose instead,
which then restores when given explicitly.
"""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Customer
from carshop.ops.backups import testing
from inventory.models import Part
from tests.helpers.backups import backup, files_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chain(backup_dir):
    """full, first incremental, second (newest) incremental; then the database moves on."""
    full = backup("full")
    Part.objects.filter(sku="BK-001").update(description="first incremental")
    first = backup("incremental")
    Customer.objects.create(first_name="Second", last_name="Incremental")
    second = backup("incremental")
    assert first["parent"] == full["id"] and second["parent"] == first["id"]
    Part.objects.update(description="current")
    return {"full": full, "first": first, "second": second}


def damage(folder, manifest, how):
    path = folder / f"{manifest['id']}.manifest.json"
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    else:
        path.unlink()


@pytest.mark.parametrize("how", ["truncated", "deleted"])
@pytest.mark.parametrize("position", ["full", "first", "second"])
def test_latest_refuses_a_chain_with_a_damaged_or_missing_manifest(
    chain, backup_dir, position, how
):
    damage(backup_dir, chain[position], how)
    before, files_before = testing.checksums(), files_in(backup_dir)

    for command in (("restore", "--source", "latest", "--yes"), ("test_recovery",)):
        with pytest.raises(CommandError) as refused:
            call_command(*command, stdout=io.StringIO())
        message = str(refused.value)
        assert chain[position]["id"] in message, message
        assert "\n" not in message
        if position == "full":
            assert "no older backup" in message, message
        else:
            # The operator's choice: the newest backup before the damaged one, by path.
            older = chain["full"] if position == "first" else chain["first"]
            assert f"--source {backup_dir / (older['id'] + '.manifest.json')}" in message, message

    assert testing.checksums() == before
    assert files_in(backup_dir) == files_before  # not even a safety backup


def test_the_older_backup_named_instead_restores_when_given_explicitly(chain, backup_dir):
    damage(backup_dir, chain["second"], "truncated")
    with pytest.raises(CommandError, match=r"--source \S+") as refused:
        call_command("restore", "--source", "latest", "--yes", stdout=io.StringIO())
    suggested = str(refused.value).split("--source ")[1].split()[0]

    call_command("restore", "--source", suggested, "--yes", stdout=io.StringIO())

    assert testing.checksums() == chain["first"]["tables"]


def test_an_incremental_after_a_damaged_newest_manifest_is_a_full_backup(chain, backup_dir):
    damage(backup_dir, chain["second"], "truncated")
    following = backup("incremental")
    assert following["kind"] == "full"
    assert chain["second"]["id"] in following["promoted_reason"]
    assert "damaged" in following["promoted_reason"]


def test_a_restore_of_a_damaged_manifest_given_by_path_is_one_line(chain, backup_dir):
    damage(backup_dir, chain["full"], "truncated")
    path = backup_dir / f"{chain['full']['id']}.manifest.json"
    with pytest.raises(CommandError, match=f"the manifest {path.name} in .* is damaged"):
        call_command("restore", "--source", str(path), "--yes", stdout=io.StringIO())
