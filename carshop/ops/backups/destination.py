"""Where backups live: a local folder, or any Django storage (object storage through
django-storages, by configuring STORAGES["dbbackup"]).

A backup is two files: its data and `<id>.manifest.json`. The data is written under a temporary
name and renamed (or uploaded) only when complete; the manifest is written last. A backup without
a manifest is therefore not a backup, and no half-written file ever carries a backup's name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from carshop.ops.backups.errors import BackupError
from carshop.ops.backups.util import disk_error, fsync_dir, fsync_file, remove_quietly

if TYPE_CHECKING:
    from _typeshed import StrPath
    from django.core.files.storage import Storage

MANIFEST_SUFFIX = ".manifest.json"
PARTIAL_SUFFIX = ".partial"


class LocalDestination:
    """A folder on this machine (or a mounted network share)."""

    def __init__(self, path: StrPath) -> None:
        self.path = Path(path).expanduser().absolute()

    @property
    def label(self) -> str:
        return str(self.path)

    def hint(self) -> str:
        return str(self.path)

    def ensure(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise disk_error(exc, self.label) from None

    def staging_path(self, name: str) -> str:
        return str(self.path / (name + PARTIAL_SUFFIX))

    def commit(self, staged: StrPath, name: str) -> None:
        fsync_file(staged)
        os.replace(staged, self.path / name)
        fsync_dir(self.path)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        name = manifest["id"] + MANIFEST_SUFFIX
        staged = self.path / (name + PARTIAL_SUFFIX)
        try:
            with open(staged, "w") as handle:
                json.dump(manifest, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(staged, self.path / name)
            fsync_dir(self.path)
        except OSError as exc:
            remove_quietly(staged)
            raise disk_error(exc, self.label) from None

    def names(self) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(os.listdir(self.path))

    def read_manifest(self, name: str) -> dict[str, Any]:
        with open(self.path / name) as handle:
            return json.load(handle)

    def exists(self, name: str) -> bool:
        return (self.path / name).exists()

    def local_file(self, name: str) -> str:
        """A local path to read the file from (here: the file itself)."""
        return str(self.path / name)

    def release(self, local: str) -> None:
        pass

    def size(self, name: str) -> int:
        return (self.path / name).stat().st_size

    def modified(self, name: str) -> float:
        return (self.path / name).stat().st_mtime

    def delete(self, name: str) -> None:
        remove_quietly(self.path / name)


class StorageDestination:
    """A Django storage: files are staged in a local folder, then uploaded."""

    def __init__(self, storage: Storage, alias: str = "dbbackup") -> None:
        self.storage = storage
        self.alias = alias

    @property
    def label(self) -> str:
        return f"storage {self.alias!r} ({type(self.storage).__name__})"

    def hint(self) -> str:
        return f"storage:{self.alias}"

    def ensure(self) -> None:
        pass

    def _staging_dir(self) -> str:
        folder = getattr(settings, "BACKUP_STAGING_DIR", "") or tempfile.gettempdir()
        os.makedirs(folder, exist_ok=True)
        return folder

    def staging_path(self, name: str) -> str:
        return os.path.join(self._staging_dir(), name + PARTIAL_SUFFIX)

    def commit(self, staged: StrPath, name: str) -> None:
        from django.core.files import File

        try:
            if self.storage.exists(name):
                self.storage.delete(name)
            with open(staged, "rb") as handle:
                saved = self.storage.save(name, File(handle, name=name))
            if saved != name:
                raise BackupError(f"{self.label} stored {name} as {saved}")
        finally:
            remove_quietly(staged)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        from django.core.files.base import ContentFile

        name = manifest["id"] + MANIFEST_SUFFIX
        if self.storage.exists(name):
            self.storage.delete(name)
        self.storage.save(name, ContentFile(json.dumps(manifest, indent=2, sort_keys=True)))

    def names(self) -> list[str]:
        try:
            return sorted(self.storage.listdir("")[1])
        except FileNotFoundError:
            return []

    def read_manifest(self, name: str) -> dict[str, Any]:
        with self.storage.open(name, "rb") as handle:
            return json.loads(handle.read().decode())

    def exists(self, name: str) -> bool:
        return self.storage.exists(name)

    def local_file(self, name: str) -> str:
        handle_fd, local = tempfile.mkstemp(
            prefix="carshop-restore-", suffix="-" + name, dir=self._staging_dir()
        )
        os.close(handle_fd)
        with self.storage.open(name, "rb") as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        return local

    def release(self, local: str) -> None:
        remove_quietly(local)

    def size(self, name: str) -> int:
        return self.storage.size(name)

    def modified(self, name: str) -> float:
        with contextlib.suppress(NotImplementedError, AttributeError):
            return self.storage.get_modified_time(name).timestamp()
        return 0

    def delete(self, name: str) -> None:
        self.storage.delete(name)


# Where backups are kept: a folder, or a storage of the settings.
Destination = LocalDestination | StorageDestination


def default_destination() -> LocalDestination | StorageDestination:
    """STORAGES["dbbackup"]: its folder when it is a file-system storage, else the storage."""
    backend = settings.STORAGES.get("dbbackup", {}).get("BACKEND", "")
    if backend in (
        "",
        "django.core.files.storage.FileSystemStorage",
        "django.core.files.storage.filesystem.FileSystemStorage",
    ):
        location = settings.STORAGES.get("dbbackup", {}).get("OPTIONS", {}).get("location")
        return LocalDestination(location or settings.BACKUP_DIR)
    from django.core.files.storage import storages

    return StorageDestination(storages["dbbackup"])


def destination_for(value: StrPath | None) -> LocalDestination | StorageDestination:
    return LocalDestination(value) if value else default_destination()


def from_hint(hint: str | None) -> LocalDestination | StorageDestination | None:
    if not hint:
        return None
    if hint.startswith("storage:"):
        from django.core.files.storage import storages

        return StorageDestination(storages[hint.split(":", 1)[1]], hint.split(":", 1)[1])
    return LocalDestination(hint) if os.path.isdir(hint) else None
