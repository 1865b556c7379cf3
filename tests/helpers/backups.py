"""Taking backups in the backup and restore tests: the command as an operator runs it, and the
files it leaves in the backup folder. The folder itself is the `backup_dir` fixture
(tests/conftest.py): a seeded database and a configured, empty backup folder."""

import contextlib
import io
import json
import os
import subprocess

import pytest
from django.core.management import call_command


def backup(kind="full", *extra, **options):
    """Run the backup command (`extra` arguments, `options` for call_command); its manifest."""
    out = io.StringIO()
    options.setdefault("stderr", io.StringIO())
    call_command("backup", f"--type={kind}", "--format=json", *extra, stdout=out, **options)
    return json.loads(out.getvalue())["backup"]


def manifest_path(folder, manifest):
    return folder / f"{manifest['id']}.manifest.json"


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


@contextlib.contextmanager
def small_filesystem(path, size="16m"):
    """A real small filesystem (tmpfs) at `path`."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    if not mounted:
        # CI runs as root and must drill the full disk; a developer without root skips it.
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("cannot mount a small filesystem here (needs root)")
        pytest.skip("cannot mount a small filesystem here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder):
    """Write into `folder` until its filesystem is full, to the last byte."""
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as handle:
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    with contextlib.suppress(OSError), open(folder / "filler-tail", "wb") as handle:
        for _ in range(65536):
            handle.write(b"\0")
            handle.flush()
