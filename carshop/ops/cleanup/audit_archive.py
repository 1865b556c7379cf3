"""archive_logs --type=audit: old audit log entries moved to verified, gzipped JSON lines."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError
from django.db import connections, models, transaction
from django.utils import timezone

from carshop.ops.cleanup.deletion import BATCH_SIZE, check_age
from carshop.ops.toolkit import no_progress

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import timedelta

    from _typeshed import StrPath
    from django.db.models import QuerySet

logger = logging.getLogger("carshop.commands")


# ---------------------------------------------------------------------------------------------
# archive_logs
# ---------------------------------------------------------------------------------------------

ARCHIVE_TYPES = ("audit",)
ARCHIVE_SUFFIX = ".jsonl.gz"
CHECKSUM_SUFFIX = ".sha256"
MANIFEST_SUFFIX = ".manifest.json"
PARTIAL_SUFFIX = ".partial"


def _json_default(value: object) -> str:
    # Full precision (DjangoJSONEncoder cuts datetimes to milliseconds): the archive must hold
    # exactly what the database held.
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def entry_as_dict(entry: Any) -> dict[str, Any]:
    """An audit entry as archived: every column, and its content type by name (ids differ from
    one database to another)."""
    row = {field.attname: getattr(entry, field.attname) for field in entry._meta.concrete_fields}
    row["content_type"] = [entry.content_type.app_label, entry.content_type.model]
    return row


def entry_line(entry: Any) -> bytes:
    return (
        json.dumps(
            entry_as_dict(entry),
            default=_json_default,
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        + b"\n"
    )


def ensure_writable(destination: StrPath, create: bool = True) -> Path:
    """The archive folder, made if missing (with `create`); CommandError in one line when it
    cannot be written. Without `create`, a missing folder is checked through the nearest folder
    above it that exists."""
    path = Path(destination).expanduser().absolute()
    probe = path
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        else:
            while not probe.exists() and probe != probe.parent:
                probe = probe.parent
            if not probe.is_dir():
                raise NotADirectoryError(20, "Not a directory")
        # Really write there: permission bits say nothing when running as root.
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".carshop-write-test-"):
            pass
    except OSError as exc:
        raise CommandError(
            f"cannot write to the destination {path}: {exc.strerror or exc}"
        ) from None
    return path


def _sha256(path: StrPath) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: StrPath) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_archive(path: StrPath, verify: bool = True) -> list[dict[str, Any]]:
    """The entries of an archive file (dicts), after checking its SHA-256 against the sidecar.
    Raises CommandError when the file does not match."""
    path = Path(path)
    if verify:
        sidecar = Path(str(path) + CHECKSUM_SUFFIX)
        expected = sidecar.read_text().split()[0]
        if _sha256(path) != expected:
            raise CommandError(f"{path.name}: SHA-256 does not match {sidecar.name}")
    with gzip.open(path, "rb") as handle:
        return [json.loads(line) for line in handle]


def _verify(path: Path, expected_ids: list[int], content_digest: str) -> None:
    """Read the written file back: it must decompress, parse, and hold exactly the entries."""
    digest = hashlib.sha256()
    ids = []
    with gzip.open(path, "rb") as handle:
        for line in handle:
            digest.update(line)
            ids.append(json.loads(line)["id"])
    if ids != expected_ids or digest.hexdigest() != content_digest:
        raise CommandError(
            f"{path.name}: the file read back does not hold the entries written; "
            "nothing was deleted"
        )


def archive_candidates(cutoff: dt.datetime) -> QuerySet[Any]:
    from auditlog.models import LogEntry

    return LogEntry.objects.filter(timestamp__lt=cutoff)


def archive_audit_log(
    age: timedelta,
    destination: StrPath,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    progress: Callable[..., Any] = no_progress,
) -> dict[str, Any]:
    """Move audit entries older than `age` into a verified archive file in `destination`.

    The file is written under a temporary name, fsynced, read back and compared, then renamed
    with its `.sha256` sidecar and manifest; only then are the entries deleted, in the same
    transaction that read them (rows locked on PostgreSQL). Any failure rolls the transaction back
    and removes the files, so the database keeps every entry. If the commit itself fails after the
    files were named, they are removed too (a leftover file would only duplicate entries that are
    still in the database, never lose any).
    """
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from carshop.audit import operator_login

    check_age(age)
    folder = ensure_writable(destination, create=not dry_run)
    now = now or timezone.now()
    cutoff = now - age
    candidates = archive_candidates(cutoff)
    if dry_run:
        summary = candidates.aggregate(
            count=models.Count("pk"), first=models.Min("timestamp"), last=models.Max("timestamp")
        )
        return {
            "dry_run": True,
            "type": "audit",
            "cutoff": cutoff,
            "destination": str(folder),
            "entries": summary["count"],
            "first_timestamp": summary["first"],
            "last_timestamp": summary["last"],
            "file": None,
        }

    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    written = []  # files to remove if anything fails
    try:
        with transaction.atomic():
            ids = list(candidates.select_for_update().order_by("pk").values_list("pk", flat=True))
            if not ids:
                return {
                    "dry_run": False,
                    "type": "audit",
                    "cutoff": cutoff,
                    "destination": str(folder),
                    "entries": 0,
                    "file": None,
                }
            name = f"audit-{stamp}-{ids[0]}-{ids[-1]}{ARCHIVE_SUFFIX}"
            final = folder / name
            if final.exists():
                raise CommandError(f"{final} exists already; nothing was archived")
            partial = folder / (name + PARTIAL_SUFFIX)
            written.append(partial)
            content = hashlib.sha256()
            first: Any = None
            last: Any = None
            chunks = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
            with open(partial, "wb") as raw:
                with gzip.GzipFile(filename=name[:-3], mode="wb", fileobj=raw, mtime=0) as out:
                    for chunk in progress(chunks, total=len(chunks), label="archiving"):
                        entries = (
                            LogEntry.objects.filter(pk__in=chunk)
                            .select_related("content_type")
                            .order_by("pk")
                        )
                        for entry in entries:
                            line = entry_line(entry)
                            content.update(line)
                            out.write(line)
                            first = first or entry.timestamp
                            last = entry.timestamp
                raw.flush()
                os.fsync(raw.fileno())
            _verify(partial, ids, content.hexdigest())
            checksum = _sha256(partial)
            manifest = {
                "type": "audit",
                "format": "gzip, one JSON object per line: the columns of auditlog's LogEntry, "
                "content_type as [app_label, model]",
                "file": name,
                "sha256": checksum,
                "bytes": partial.stat().st_size,
                "entries": len(ids),
                "first_id": ids[0],
                "last_id": ids[-1],
                "first_timestamp": first.isoformat(),
                "last_timestamp": last.isoformat(),
                "cutoff": cutoff.isoformat(),
                "created_at": now.isoformat(),
                "database": connections["default"].vendor,
                "operator": operator_login(),
            }
            sidecar = folder / (name + CHECKSUM_SUFFIX)
            manifest_path = folder / (name[: -len(ARCHIVE_SUFFIX)] + MANIFEST_SUFFIX)
            written += [final, sidecar, manifest_path]
            os.replace(partial, final)
            _write_synced(sidecar, f"{checksum}  {name}\n".encode())
            _write_synced(
                manifest_path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
            )
            _fsync_dir(folder)
            if _sha256(final) != checksum:
                raise CommandError(
                    f"{final.name} changed after it was written; nothing was deleted"
                )
            for chunk in chunks:
                LogEntry.objects.filter(pk__in=chunk).delete()
            # A trace in the audit log itself of where the entries went, credited to the
            # operator like every change a command makes.
            LogEntry.objects.create(
                content_type=ContentType.objects.get_for_model(LogEntry),
                object_pk="",
                object_repr=f"{len(ids)} audit entries archived to {name}",
                action=LogEntry.Action.DELETE,
                additional_data={
                    "archive": str(final),
                    "sha256": checksum,
                    "entries": len(ids),
                    "first_id": ids[0],
                    "last_id": ids[-1],
                    "cutoff": cutoff.isoformat(),
                },
            )
    except BaseException as exc:
        for path in written:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if isinstance(exc, OSError):
            raise CommandError(
                f"could not write the archive in {folder}: "
                f"{exc.strerror or exc}; nothing was deleted"
            ) from None
        raise
    logger.info(
        "audit log archived", extra={"archive": str(final), "entries": len(ids), "sha256": checksum}
    )
    return {
        "dry_run": False,
        **manifest,
        "destination": str(folder),
        "file": str(final),
        "manifest": str(manifest_path),
        "checksum_file": str(sidecar),
        "cutoff": cutoff,
    }


def _write_synced(path: StrPath, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
