"""Where backups go: a destination that fills up fails the backup cleanly and leaves earlier
backups intact; a Django storage (object storage by configuration) works like a folder."""

import contextlib
import os
import resource
import subprocess
import uuid

import pytest
from django.core.management.base import CommandError

from carshop.ops.backups import service, testing
from inventory.models import Part
from tests.helpers.backups import backup

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def small_filesystem(path, size="16m"):
    """A real small filesystem (tmpfs) at `path`; yields False where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    try:
        mounted = subprocess.run(command, capture_output=True, check=False).returncode == 0
    except OSError:
        mounted = False
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder):
    """Write until the filesystem is full (it may be full already)."""
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as handle:
        block = b"\0" * 65536
        while True:
            handle.write(block)
            handle.flush()
    with contextlib.suppress(OSError), open(folder / "filler-tail", "wb") as handle:
        for _ in range(65536):
            handle.write(b"\0")
            handle.flush()


def test_a_destination_that_fills_up_fails_the_backup_and_keeps_earlier_ones(backup_dir, tmp_path):
    small = tmp_path / "small"
    with small_filesystem(small) as mounted:
        if not mounted:
            return fill_up_with_a_file_size_limit(backup_dir)
        first = backup("full", f"--destination={small}")
        Part.objects.update(description="changed after the first backup " * 3)
        fill(small)
        before = sorted(os.listdir(small))

        with pytest.raises(CommandError, match="space"):
            backup("incremental", f"--destination={small}")
        with pytest.raises(CommandError, match="space"):
            backup("full", f"--destination={small}")

        assert sorted(os.listdir(small)) == before  # nothing half-written left behind
        for filler in ("filler", "filler-tail"):
            (small / filler).unlink(missing_ok=True)
        # The earlier backup is intact and restorable, and the chain goes on from it.
        target, chain = service.plan_restore(str(small / f"{first['id']}.manifest.json"))
        service.release(service.verify_chain(chain, target))
        following = backup("incremental", f"--destination={small}")
        assert following["kind"] == "full" or following["parent"] == first["id"]
    return None


def fill_up_with_a_file_size_limit(backup_dir):
    """Where no filesystem can be mounted: the same with RLIMIT_FSIZE on a child process. Only on
    PostgreSQL, where the live database is written by the server, not by the child."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            "cannot mount a small filesystem, and RLIMIT_FSIZE would hit the live SQLite file too"
        )
    first = backup("full")
    Part.objects.update(description="x" * 150)
    before = sorted(os.listdir(backup_dir))

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    result = subprocess.run(
        [*testing.manage_command(), "backup", "--type=full"],
        env=testing.command_env(),
        capture_output=True,
        text=True,
        preexec_fn=limit,
        check=False,
        timeout=120,
    )

    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert sorted(os.listdir(backup_dir)) == before
    target, chain = service.plan_restore("latest")
    assert chain[-1][0]["id"] == first["id"]
    service.release(service.verify_chain(chain, target))


def test_backups_can_go_to_a_django_storage(backup_dir, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "dbbackup": {
            "BACKEND": "django.core.files.storage.InMemoryStorage",
            "OPTIONS": {"location": f"carshop-test-{uuid.uuid4().hex}"},
        },
    }
    from django.core.files.storage import storages

    storages._storages.pop("dbbackup", None)
    full = backup("full")
    Part.objects.filter(sku="BK-001").update(description="in storage")
    incremental = backup("incremental")
    storage = storages["dbbackup"]
    assert storage.exists(full["file"]["name"])
    assert storage.exists(incremental["id"] + ".manifest.json")
    assert not os.path.exists(backup_dir)

    drill = service.test_recovery()
    assert drill["validated"], drill["mismatches"]
    assert drill["chain"] == [full["id"], incremental["id"]]
    storages._storages.pop("dbbackup", None)
