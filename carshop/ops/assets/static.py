"""The static files (`optimize_assets`): collected, compressed (gzip, brotli) and measured.

Commands call these functions; they return plain dicts, which the commands print as text or
JSON.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.management.base import CommandError

from carshop.ops.toolkit import first_line

if TYPE_CHECKING:
    from _typeshed import StrPath

# ---------------------------------------------------------------------------------------------
# optimize_assets
# ---------------------------------------------------------------------------------------------

COMPRESSED_SUFFIXES = {".gz": "gzip", ".br": "brotli"}


def check_writable(folder: StrPath) -> None:
    """Make `folder` if missing and prove it can be written, or raise one CommandError line."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".carshop-write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CommandError(
            f"STATIC_ROOT {folder} is not writable: {exc.strerror or first_line(exc)}"
        ) from None


def _brotli_available() -> bool:
    try:
        import brotli  # noqa: F401
    except ImportError:
        try:
            import brotlicffi  # noqa: F401
        except ImportError:
            return False
    return True


def static_inventory(root: StrPath) -> dict[str, Any]:
    """Files under STATIC_ROOT: originals, their hashed copies (manifest) and compressed copies,
    with sizes and the savings of each compression."""
    root = Path(root)
    files = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.name.startswith(".carshop-write-test-"):
            files[path.relative_to(root).as_posix()] = path.stat().st_size
    hashed = set()
    manifest_path = root / "staticfiles.json"
    if manifest_path.is_file():
        import json

        manifest = json.loads(manifest_path.read_text()).get("paths", {})
        hashed = {name for original, name in manifest.items() if name != original}
    compressed: dict[str, dict[str, float]] = {
        label: {"files": 0, "bytes": 0, "original_bytes": 0}
        for label in COMPRESSED_SUFFIXES.values()
    }
    plain_count = plain_bytes = 0
    by_type: Counter[str] = Counter()
    for name, size in files.items():
        suffix = Path(name).suffix
        if suffix in COMPRESSED_SUFFIXES and name[: -len(suffix)] in files:
            entry = compressed[COMPRESSED_SUFFIXES[suffix]]
            entry["files"] += 1
            entry["bytes"] += size
            entry["original_bytes"] += files[name[: -len(suffix)]]
            continue
        if name in hashed or name == "staticfiles.json":
            continue
        plain_count += 1
        plain_bytes += size
        by_type[suffix.lstrip(".").lower() or "(none)"] += size
    for entry in compressed.values():
        entry["saved_bytes"] = entry["original_bytes"] - entry["bytes"]
        entry["saved_percent"] = (
            round(100 * entry["saved_bytes"] / entry["original_bytes"], 1)
            if entry["original_bytes"]
            else 0.0
        )
    return {
        "files": plain_count,
        "bytes": plain_bytes,
        "hashed_copies": len(hashed & files.keys()),
        "total_files_on_disk": len(files),
        "total_bytes_on_disk": sum(files.values()),
        "compressed": compressed,
        "bytes_by_type": dict(by_type.most_common()),
    }


def _collect() -> dict[str, list[str]]:
    """Run collectstatic as Django does: {"modified", "unmodified", "post_processed"}."""
    from django.contrib.staticfiles.management.commands.collectstatic import (
        Command as CollectStatic,
    )

    collector = CollectStatic()
    collector.set_options(
        interactive=False,
        verbosity=0,
        link=False,
        clear=False,
        dry_run=False,
        ignore_patterns=[],
        use_default_ignore_patterns=True,
        post_process=True,
    )
    return collector.collect()


def optimize_assets(dry_run: bool = False) -> dict[str, Any]:
    """collectstatic with the configured storage (whitenoise's CompressedManifestStaticFiles
    Storage on servers: hashed names and gzip, brotli when installed), then what is on disk."""
    storage = settings.STORAGES["staticfiles"]["BACKEND"]
    root = Path(settings.STATIC_ROOT) if settings.STATIC_ROOT else None
    if root is None:
        raise CommandError("STATIC_ROOT is not set: nothing to collect into")
    compressing = "whitenoise" in storage and "Compressed" in storage
    notes = []
    if not compressing:
        notes.append(
            f"{storage} does not compress: servers use "
            f"whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    elif not _brotli_available():
        notes.append("brotli is not installed: gzip only (pip install Brotli for .br files)")
    notes.append(
        "no minifying or bundling: the static files are Django's admin, the REST "
        "framework's and Swagger UI's, shipped minified; Carshop has no build step"
    )
    started = time.monotonic()
    if dry_run:
        if root.exists() and not os.access(root, os.W_OK):
            notes.append(f"STATIC_ROOT {root} is not writable: a real run would fail")
        elif not root.exists():
            notes.append(f"STATIC_ROOT {root} does not exist yet: a real run makes it")
        sources = static_sources()
        return {
            "dry_run": True,
            "storage": storage,
            "static_root": str(root),
            "source_files": len(sources),
            "source_bytes": sum(sources.values()),
            "seconds": round(time.monotonic() - started, 2),
            "notes": notes,
        }
    check_writable(root)
    collected = _collect()
    inventory = static_inventory(root)
    return {
        "dry_run": False,
        "storage": storage,
        "static_root": str(root),
        "copied": len(collected["modified"]),
        "unchanged": len(collected["unmodified"]),
        "post_processed": len(collected["post_processed"]),
        "seconds": round(time.monotonic() - started, 2),
        "notes": notes,
        **inventory,
    }


def static_sources() -> dict[str, int]:
    """{path: size} of the static files the finders offer, first found wins (as collectstatic)."""
    from django.apps import apps
    from django.contrib.staticfiles import finders
    from django.contrib.staticfiles.apps import StaticFilesConfig

    ignore = cast(StaticFilesConfig, apps.get_app_config("staticfiles")).ignore_patterns
    sources = {}
    for finder in finders.get_finders():
        for path, storage in finder.list(ignore):
            prefixed = (
                os.path.join(storage.prefix, path) if getattr(storage, "prefix", None) else path
            )
            if prefixed not in sources:
                sources[prefixed] = storage.size(path)
    return sources
