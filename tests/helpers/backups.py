"""Taking backups in the backup and restore tests: the command as an operator runs it, and the
files it leaves in the backup folder. The folder itself is the `backup_dir` fixture
(tests/conftest.py): a seeded database and a configured, empty backup folder."""

import io
import json

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
