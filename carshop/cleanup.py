"""Data cleanup and database upkeep: temporary data, orphans, audit archives, VACUUM.

What each command may delete, and why the rest is kept:

- temporary data (`prune_temp_data`): machine records that only matter for a while — expired
  sessions, webhook events whose deliveries are all finished, Idempotency-Keys, finished task
  results, old login attempts — and leftover temporary files. Of the business's own records only
  draft deals qualify: untouched for the whole age, with no payment, commission or trade-in. Repair
  orders are never deleted (their numbers are a gapless series and "Orders are canceled, never
  deleted"): stale estimates are only reported, to be canceled by a person.
- orphans (`cleanup_orphans`): rows and files whose parent is gone where no foreign key keeps
  them consistent — uploaded files no row names, sessions of deleted users, queued webhook tasks
  of deleted deliveries. Audit entries of deleted objects are history, not orphans: they stay
  (`archive_logs` moves old ones out of the database into verified files).
- `archive_logs`: audit entries older than the age go to a gzip JSON lines file with a SHA-256
  sidecar and a manifest; they are deleted only after the file is written, fsynced, read back and
  verified, in one transaction, so any failure leaves the database as it was.
- `vacuum_database`: VACUUM / ANALYZE on PostgreSQL (per table, outside a transaction) and SQLite
  (the whole file), with the sizes before and after.

Commands call these functions; they report what they did as plain data (dicts and lists) that the
commands print as text or JSON.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import gzip
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections, models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from carshop import tables

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from _typeshed import StrPath
    from django.core.files.storage import Storage
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import FileField, Model, QuerySet

    from sales.models import Deal


T = TypeVar("T")

logger = logging.getLogger("carshop.commands")

# Rows deleted per statement: big enough to be quick, small enough not to hold long locks.
BATCH_SIZE = 2000
# An uploaded file is saved before its row commits: younger files are never called orphans.
ORPHAN_FILE_GRACE = timedelta(days=1)


def _identity(iterable: Iterable[T], total: int | None = None,
              label: str | None = None) -> Iterable[T]:
    return iterable


# ---------------------------------------------------------------------------------------------
# Friendly table names (`--tables=sessions,audit`)
# ---------------------------------------------------------------------------------------------

# Tables outside the Carshop apps, named only here; the rest are carshop.tables' names.
SYSTEM_TABLES = {
    "sessions": ["sessions.Session"],
    "tasks": ["django_tasks_db.DBTaskResult"],
    "logins": ["axes.AccessAttempt", "axes.AccessFailureLog", "axes.AccessLog"],
}


def resolve_tables(value, connection):
    """`--tables` (friendly names of carshop.tables, sessions, tasks, logins, or the database's
    own table names) -> sorted table names. An unknown name raises CommandError listing them."""
    existing = set(connection.introspection.table_names())
    names = [name.strip() for name in str(value or "").split(",") if name.strip()]
    if not names:
        raise CommandError("--tables is empty: give friendly names such as sessions,audit")
    chosen = set()
    for name in names:
        key = name.lower()
        if key in SYSTEM_TABLES:
            chosen.update(apps.get_model(label)._meta.db_table for label in SYSTEM_TABLES[key])
        elif name in existing:
            chosen.add(name)
        else:
            try:
                chosen.add(tables.get(name).model._meta.db_table)
            except CommandError:
                raise CommandError(
                    f"unknown table {name!r}; tables: {tables.valid_names()}, "
                    f"{', '.join(SYSTEM_TABLES)} (or a table name of the database)") from None
    return sorted(table for table in chosen if table in existing)


# ---------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One kind of thing cleaned: how many, and what was done with them."""

    kind: str
    what: str
    count: int | None
    action: str  # deleted, would delete, kept (reported only), skipped
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_age(age: timedelta, option: str = "--age") -> timedelta:
    if age <= timedelta(0):
        raise CommandError(f"{option} must be more than zero")
    return age


def delete_in_batches(queryset: QuerySet[Any], progress: Callable[..., Any] = _identity,
                      label: str = "deleting") -> int:
    """Delete the rows of `queryset` BATCH_SIZE at a time, each batch in its own transaction.
    Returns how many rows of the queryset's model were deleted (cascades not counted)."""
    model = queryset.model
    total = queryset.count()
    deleted = 0

    def batches():
        while True:
            ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:BATCH_SIZE])
            if not ids:
                return
            yield ids

    for ids in progress(batches(), total=-(-total // BATCH_SIZE) or None, label=label):
        with transaction.atomic():
            _, per_model = model._default_manager.filter(pk__in=ids).delete()
        deleted += per_model.get(model._meta.label, 0)
    return deleted


def _count_or_delete(
    kind: str, what, queryset, dry_run: bool, progress: Callable[..., Any], note: str = ""
):
    if dry_run:
        return Outcome(kind, what, queryset.count(), "would delete", note)
    return Outcome(kind, what, delete_in_batches(queryset, progress, kind), "deleted", note)


def _db_sessions() -> Any:
    """The Session model when sessions are kept in the database, else None."""
    if settings.SESSION_ENGINE not in ("django.contrib.sessions.backends.db",
                                       "django.contrib.sessions.backends.cached_db"):
        return None
    from django.contrib.sessions.models import Session

    return Session


def outcome_lines(report: dict[str, Any]) -> list[str]:
    """A cleanup report as lines for people: one line per kind, then the total."""
    width = max(len(kind["kind"]) for kind in report["kinds"])
    lines = []
    for kind in report["kinds"]:
        count = "-" if kind["count"] is None else kind["count"]
        note = f" ({kind['note']})" if kind["note"] else ""
        lines.append(f"  {kind['action']:<12} {count:>7}  {kind['kind']:<{width}}  "
                     f"{kind['what']}{note}")
    if report["dry_run"]:
        lines.append(f"{report['removed']} would be deleted; dry run, nothing changed")
    else:
        lines.append(f"{report['removed']} deleted")
    return lines


# ---------------------------------------------------------------------------------------------
# prune_temp_data
# ---------------------------------------------------------------------------------------------


def stale_draft_deals(cutoff: dt.datetime) -> QuerySet[Deal]:
    """Draft deals untouched since `cutoff` with nothing attached that must be kept: no payment
    (money received), no commission, no trade-in (an appraisal of the buyer's car)."""
    from sales.models import Commission, Deal, DealPayment, TradeIn

    return (Deal.objects.filter(status=Deal.Status.DRAFT, updated_at__lt=cutoff)
            .exclude(Exists(DealPayment.objects.filter(deal=OuterRef("pk"))))
            .exclude(Exists(Commission.objects.filter(deal=OuterRef("pk"))))
            .exclude(Exists(TradeIn.objects.filter(deal=OuterRef("pk")))))


def _delete_draft_deals(cutoff: dt.datetime, dry_run: bool, progress: Callable[..., Any]):
    """Deleted one by one through the model, so each deletion (and its add-ons') is in the audit
    log, credited to the operator."""
    from sales.models import Deal

    what = "draft deals untouched for the age, without payments, commissions or trade-ins"
    candidates = stale_draft_deals(cutoff)
    kept = (Deal.objects.filter(status=Deal.Status.DRAFT, updated_at__lt=cutoff)
            .exclude(pk__in=candidates.values("pk")).count())
    note = f"{kept} stale drafts with payments, commissions or trade-ins kept" if kept else ""
    if dry_run:
        return Outcome("draft_deals", what, candidates.count(), "would delete", note)
    deleted = 0
    ids = list(candidates.order_by("pk").values_list("pk", flat=True))
    chunks = [ids[i:i + 100] for i in range(0, len(ids), 100)]
    for chunk in progress(chunks, total=len(chunks), label="draft deals"):
        with transaction.atomic():
            # Lock, then read the conditions again in a fresh statement: a deal edited or paid
            # meanwhile is no longer stale and stays.
            list(Deal.objects.select_for_update().filter(pk__in=chunk).order_by("pk")
                 .values_list("pk", flat=True))
            for deal in stale_draft_deals(cutoff).filter(pk__in=chunk).order_by("pk"):
                deal.delete()
                deleted += 1
    return Outcome("draft_deals", what, deleted, "deleted", note)


def _stale_estimates(cutoff: dt.datetime) -> Outcome:
    from repairs.models import RepairOrder

    count = RepairOrder.objects.filter(status=RepairOrder.Status.ESTIMATE,
                                       updated_at__lt=cutoff).count()
    return Outcome("stale_estimates", "repair orders still estimates, untouched for the age",
                   count, "kept",
                   "never deleted (numbered documents): cancel them in the admin" if count else "")


def temporary_file_rules() -> list[tuple[Path, tuple[str, ...]]]:
    """(folder, file name patterns) of the temporary files Carshop and Django leave behind."""
    upload_dir = settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir()
    staging_dir = getattr(settings, "BACKUP_STAGING_DIR", "") or tempfile.gettempdir()
    rules = [
        # Django's temporary uploads (TemporaryUploadedFile), left by a killed worker.
        (Path(upload_dir), ("tmp*.upload", "tmp*.upload.*")),
        # Backups staged for a remote storage, and files fetched from it for a restore.
        (Path(staging_dir), ("*.partial", "carshop-restore-*")),
    ]
    merged: dict[Any, Any] = {}
    for folder, patterns in rules:
        merged.setdefault(folder, set()).update(patterns)
    return [(folder, tuple(sorted(patterns))) for folder, patterns in merged.items()]


def old_temporary_files(cutoff: dt.datetime) -> list[Path]:
    """Regular files of temporary_file_rules() last modified before `cutoff`."""
    limit = cutoff.timestamp()
    found = []
    for folder, patterns in temporary_file_rules():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not any(fnmatch.fnmatch(entry.name, pattern) for pattern in patterns):
                continue
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < limit:
                    found.append(Path(entry.path))
    return sorted(found)


def _temporary_files(cutoff: dt.datetime, dry_run: bool):
    files = old_temporary_files(cutoff)
    folders = ", ".join(str(folder) for folder, _ in temporary_file_rules())
    what = f"temporary upload and backup staging files in {folders}"
    if dry_run:
        return Outcome("temporary_files", what, len(files), "would delete")
    removed = 0
    for path in files:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return Outcome("temporary_files", what, removed, "deleted")


def prune_temp_data(
    age: timedelta,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    progress: Callable[..., Any] = _identity,
) -> dict[str, Any]:
    """Delete (or count, in a dry run) the temporary data older than `age`. Returns a report."""
    from accounts.models import IdempotentRequest, WebhookDelivery, WebhookEvent

    check_age(age)
    now = now or timezone.now()
    cutoff = now - age
    results = []

    session = _db_sessions()
    if session is None:
        results.append(Outcome("sessions", "expired sessions", None, "skipped",
                               f"not kept in the database ({settings.SESSION_ENGINE})"))
    else:
        # Expired is expired: a session past its expiry date is refused whatever its age.
        results.append(_count_or_delete("sessions", "expired sessions (any age)",
                                        session.objects.filter(expire_date__lt=now),
                                        dry_run, progress))

    unfinished = WebhookDelivery.objects.filter(
        event=OuterRef("pk"),
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.SENDING])
    events = WebhookEvent.objects.filter(created_at__lt=cutoff).exclude(Exists(unfinished))
    deliveries = WebhookDelivery.objects.filter(event__in=events.values("pk")).count()
    results.append(_count_or_delete(
        "webhook_events", "webhook events all of whose deliveries were delivered or given up",
        events, dry_run, progress, note=f"with {deliveries} deliveries" if deliveries else ""))

    # Never before a key's remembered window ends, whatever the age.
    key_cutoff = min(cutoff, now - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS))
    results.append(_count_or_delete(
        "idempotency_keys", "API Idempotency-Keys and their stored answers",
        IdempotentRequest.objects.filter(created_at__lt=key_cutoff), dry_run, progress))

    if apps.is_installed("django_tasks_db"):
        from django_tasks_db.models import DBTaskResult

        results.append(_count_or_delete(
            "task_results", "finished background task results (succeeded or failed)",
            DBTaskResult.objects.finished().filter(finished_at__lt=cutoff), dry_run, progress))

    if apps.is_installed("axes"):
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog

        # A lockout lasts AXES_COOLOFF_TIME: attempts inside it still count, whatever the age.
        cooloff = timedelta(hours=float(getattr(settings, "AXES_COOLOFF_TIME", 0) or 0))
        results.append(_count_or_delete(
            "login_attempts", "failed-login counters (django-axes)",
            AccessAttempt.objects.filter(attempt_time__lt=min(cutoff, now - cooloff)),
            dry_run, progress))
        results.append(_count_or_delete(
            "login_records", "login records (django-axes)",
            AccessLog.objects.filter(attempt_time__lt=cutoff), dry_run, progress))
        results.append(_count_or_delete(
            "login_failure_records", "failed-login records (django-axes)",
            AccessFailureLog.objects.filter(attempt_time__lt=cutoff), dry_run, progress))

    results.append(_delete_draft_deals(cutoff, dry_run, progress))
    results.append(_stale_estimates(cutoff))
    results.append(_temporary_files(cutoff, dry_run))

    report = {
        "dry_run": dry_run,
        "cutoff": cutoff,
        "kinds": [outcome.as_dict() for outcome in results],
        "removed": sum(o.count or 0 for o in results if o.action in ("deleted", "would delete")),
    }
    if not dry_run:
        logger.info("temporary data pruned", extra={
            "cutoff": cutoff.isoformat(),
            "removed": {o.kind: o.count for o in results if o.action == "deleted"}})
    return report


# ---------------------------------------------------------------------------------------------
# cleanup_orphans
# ---------------------------------------------------------------------------------------------


def _upload_prefix(upload_to) -> Any:
    """The fixed folder of an upload_to such as 'stock/photos/%Y/%m/' -> 'stock/photos/'."""
    if callable(upload_to) or not upload_to:
        return None
    fixed = str(upload_to).split("%", 1)[0]
    return fixed.rsplit("/", 1)[0] + "/" if "/" in fixed else None


def file_fields() -> list[tuple[type[Model], FileField]]:
    """Every FileField of every model, as (model, field)."""
    return [(model, field) for model in apps.get_models()
            for field in model._meta.concrete_fields if isinstance(field, models.FileField)]


def _walk(storage: Storage, folder: str) -> Iterator[str]:
    try:
        dirs, files = storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in sorted(files):
        yield f"{folder}{name}"
    for name in sorted(dirs):
        yield from _walk(storage, f"{folder}{name}/")


def orphan_files(now: dt.datetime | None = None) -> list[tuple[Any, str, Any]]:
    """Files in the upload folders of the file fields that no row names, older than
    ORPHAN_FILE_GRACE. Returns [(storage, name, size)]. Files outside those folders are not
    Carshop's uploads and are never touched."""
    now = now or timezone.now()
    by_storage: dict[Any, Any] = {}
    for model, field in file_fields():
        prefix = _upload_prefix(field.upload_to)
        if prefix is None:
            continue
        entry = by_storage.setdefault(id(field.storage), {"storage": field.storage,
                                                          "prefixes": set(), "fields": []})
        entry["prefixes"].add(prefix)
        entry["fields"].append((model, field))
    found = []
    for entry in by_storage.values():
        storage = entry["storage"]
        referenced = set()
        for model, field in entry["fields"]:
            referenced.update(model._default_manager.exclude(**{field.name: ""})
                              .exclude(**{f"{field.name}__isnull": True})
                              .values_list(field.name, flat=True))
        # A folder inside another (stock/ and stock/photos/) is walked once.
        prefixes = sorted(entry["prefixes"])
        prefixes = [p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)]
        for prefix in prefixes:
            for name in _walk(storage, prefix):
                if name in referenced:
                    continue
                try:
                    modified = storage.get_modified_time(name)
                    size = storage.size(name)
                except (OSError, NotImplementedError):
                    continue
                if timezone.is_naive(modified):
                    modified = timezone.make_aware(modified)
                if now - modified >= ORPHAN_FILE_GRACE:
                    found.append((storage, name, size))
    return found


def sessions_of_deleted_users() -> list | None:
    """Live sessions of a user id that no longer exists (no foreign key ties a session to its
    user). Returns the session keys."""
    from django.contrib.auth import get_user_model

    session = _db_sessions()
    if session is None:
        return None
    user_model = get_user_model()
    owners: dict[Any, Any] = {}
    for row in session.objects.filter(expire_date__gte=timezone.now()).iterator(chunk_size=1000):
        user_id = row.get_decoded().get("_auth_user_id")
        if user_id is not None:
            owners.setdefault(str(user_id), []).append(row.session_key)
    if not owners:
        return []
    existing: set[Any] = set()
    keys = list(owners)
    for start in range(0, len(keys), BATCH_SIZE):
        with contextlib.suppress(ValueError, TypeError):
            existing.update(str(pk) for pk in user_model._default_manager.filter(
                pk__in=keys[start:start + BATCH_SIZE]).values_list("pk", flat=True))
    return sorted(key for user_id, found in owners.items() if user_id not in existing
                  for key in found)


def queued_tasks_of_deleted_deliveries() -> Any:
    """Webhook tasks still queued for a delivery that no longer exists (a task names its
    delivery by id in its arguments, not by a foreign key)."""
    if not apps.is_installed("django_tasks_db"):
        return None
    from django_tasks_db.models import DBTaskResult

    from accounts.models import WebhookDelivery

    queued = DBTaskResult.objects.filter(status="READY",
                                         task_path="accounts.webhooks.deliver_webhook")
    wanted: dict[Any, Any] = {}
    for task_id, arguments in queued.values_list("pk", "args_kwargs").iterator(chunk_size=1000):
        args = (arguments or {}).get("args") or []
        if len(args) == 1 and isinstance(args[0], int):
            wanted.setdefault(args[0], []).append(task_id)
    existing: set[Any] = set()
    ids = list(wanted)
    for start in range(0, len(ids), BATCH_SIZE):
        existing.update(WebhookDelivery.objects.filter(pk__in=ids[start:start + BATCH_SIZE])
                        .values_list("pk", flat=True))
    return sorted(str(task) for delivery, tasks in wanted.items() if delivery not in existing
                  for task in tasks)


def partner_users_without_partner() -> int:
    """Inactive partner service accounts whose partner was deleted: reported, never deleted
    (the audit log credits them with the partner's changes)."""
    from django.contrib.auth import get_user_model

    from accounts.models import Partner

    return (get_user_model()._default_manager.filter(username__startswith="partner:")
            .exclude(Exists(Partner.objects.filter(user=OuterRef("pk")))).count())


def cleanup_orphans(*, dry_run: bool = False,
                    progress: Callable[..., Any] = _identity) -> dict[str, Any]:
    """Delete (or count, in a dry run) rows and files whose parent is gone. Returns a report."""
    results = []
    files = orphan_files()
    freed = sum(size for _, _, size in files)
    verb = "would delete" if dry_run else "deleted"
    if not dry_run:
        for storage, name, _ in progress(files, total=len(files), label="files"):
            storage.delete(name)
    folders = sorted({_upload_prefix(field.upload_to) or "" for _, field in file_fields()})
    results.append(Outcome("files", f"uploaded files no row names (in {', '.join(folders)})",
                           len(files), verb, f"{freed} bytes" if files else ""))

    keys = sessions_of_deleted_users()
    if keys is None:
        results.append(Outcome("sessions", "sessions of deleted users", None, "skipped",
                               "sessions are not kept in the database"))
    else:
        if not dry_run and keys:
            session = _db_sessions()
            for start in range(0, len(keys), BATCH_SIZE):
                session.objects.filter(session_key__in=keys[start:start + BATCH_SIZE]).delete()
        results.append(Outcome("sessions", "sessions of deleted users", len(keys), verb))

    tasks = queued_tasks_of_deleted_deliveries()
    if tasks is not None:
        if not dry_run and tasks:
            from django_tasks_db.models import DBTaskResult

            for start in range(0, len(tasks), BATCH_SIZE):
                DBTaskResult.objects.filter(pk__in=tasks[start:start + BATCH_SIZE],
                                            status="READY").delete()
        results.append(Outcome("webhook_tasks", "queued webhook tasks of deleted deliveries",
                               len(tasks), verb))

    partner_users = partner_users_without_partner()
    results.append(Outcome("partner_users", "partner service accounts whose partner is gone",
                           partner_users, "kept",
                           "the audit log credits them: disable, never delete" if partner_users
                           else ""))
    results.append(Outcome("audit_entries", "audit entries of deleted objects", None, "kept",
                           "history, not orphans; archive_logs moves old entries out"))
    report = {
        "dry_run": dry_run,
        "kinds": [outcome.as_dict() for outcome in results],
        "removed": sum(o.count or 0 for o in results if o.action in ("deleted", "would delete")),
        "freed_bytes": freed,
    }
    if not dry_run:
        logger.info("orphans cleaned up", extra={
            "removed": {o.kind: o.count for o in results if o.action == "deleted"}})
    return report


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
    return json.dumps(entry_as_dict(entry), default=_json_default, sort_keys=True,
                      ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


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
        raise CommandError(f"cannot write to the destination {path}: "
                           f"{exc.strerror or exc}") from None
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


def _verify(path, expected_ids, content_digest) -> None:
    """Read the written file back: it must decompress, parse, and hold exactly the entries."""
    digest = hashlib.sha256()
    ids = []
    with gzip.open(path, "rb") as handle:
        for line in handle:
            digest.update(line)
            ids.append(json.loads(line)["id"])
    if ids != expected_ids or digest.hexdigest() != content_digest:
        raise CommandError(f"{path.name}: the file read back does not hold the entries written; "
                           "nothing was deleted")


def archive_candidates(cutoff: dt.datetime):
    from auditlog.models import LogEntry

    return LogEntry.objects.filter(timestamp__lt=cutoff)


def archive_audit_log(age, destination, *, dry_run=False, now=None, progress=_identity):
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
        summary = candidates.aggregate(count=models.Count("pk"), first=models.Min("timestamp"),
                                       last=models.Max("timestamp"))
        return {"dry_run": True, "type": "audit", "cutoff": cutoff, "destination": str(folder),
                "entries": summary["count"], "first_timestamp": summary["first"],
                "last_timestamp": summary["last"], "file": None}

    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    written = []  # files to remove if anything fails
    try:
        with transaction.atomic():
            ids = list(candidates.select_for_update().order_by("pk")
                       .values_list("pk", flat=True))
            if not ids:
                return {"dry_run": False, "type": "audit", "cutoff": cutoff,
                        "destination": str(folder), "entries": 0, "file": None}
            name = f"audit-{stamp}-{ids[0]}-{ids[-1]}{ARCHIVE_SUFFIX}"
            final = folder / name
            if final.exists():
                raise CommandError(f"{final} exists already; nothing was archived")
            partial = folder / (name + PARTIAL_SUFFIX)
            written.append(partial)
            content = hashlib.sha256()
            first = last = None
            chunks = [ids[i:i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
            with open(partial, "wb") as raw:
                with gzip.GzipFile(filename=name[:-3], mode="wb", fileobj=raw, mtime=0) as out:
                    for chunk in progress(chunks, total=len(chunks), label="archiving"):
                        entries = (LogEntry.objects.filter(pk__in=chunk)
                                   .select_related("content_type").order_by("pk"))
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
            _write_synced(manifest_path, (json.dumps(manifest, indent=2, sort_keys=True)
                                          + "\n").encode())
            _fsync_dir(folder)
            if _sha256(final) != checksum:
                raise CommandError(f"{final.name} changed after it was written; nothing was "
                                   "deleted")
            for chunk in chunks:
                LogEntry.objects.filter(pk__in=chunk).delete()
            # A trace in the audit log itself of where the entries went, credited to the
            # operator like every change a command makes.
            LogEntry.objects.create(
                content_type=ContentType.objects.get_for_model(LogEntry), object_pk="",
                object_repr=f"{len(ids)} audit entries archived to {name}",
                action=LogEntry.Action.DELETE,
                additional_data={"archive": str(final), "sha256": checksum,
                                 "entries": len(ids), "first_id": ids[0],
                                 "last_id": ids[-1], "cutoff": cutoff.isoformat()},
            )
    except BaseException as exc:
        for path in written:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if isinstance(exc, OSError):
            raise CommandError(f"could not write the archive in {folder}: "
                               f"{exc.strerror or exc}; nothing was deleted") from None
        raise
    logger.info("audit log archived", extra={"archive": str(final), "entries": len(ids),
                                              "sha256": checksum})
    return {"dry_run": False, **manifest, "destination": str(folder),
            "file": str(final), "manifest": str(manifest_path), "checksum_file": str(sidecar),
            "cutoff": cutoff}


def _write_synced(path: StrPath, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


# ---------------------------------------------------------------------------------------------
# vacuum_database
# ---------------------------------------------------------------------------------------------


def vacuum(
    connection: BaseDatabaseWrapper,
    *,
    tables: list[str] | None = None,
    analyze_only: bool = False,
    full: bool = False,
    progress: Callable[..., Any] = _identity,
) -> dict[str, Any]:
    """VACUUM (and ANALYZE) the database, or ANALYZE only. Returns a report with sizes before and
    after. Must run outside a transaction (VACUUM cannot run inside one)."""
    if analyze_only and full:
        raise CommandError("--full and --analyze-only exclude each other")
    if connection.in_atomic_block:
        raise CommandError("VACUUM cannot run inside a transaction; run the command on its own")
    if connection.vendor == "postgresql":
        return _vacuum_postgresql(connection, tables, analyze_only, full, progress)
    if connection.vendor == "sqlite":
        return _vacuum_sqlite(connection, tables, analyze_only, full)
    raise CommandError(f"vacuum_database supports PostgreSQL and SQLite, not {connection.vendor}")


def _pg_table_stats(cursor, tables) -> dict:
    cursor.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid), COALESCE(s.n_dead_tup, 0) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
        "WHERE c.relkind IN ('r', 'm') AND n.nspname = current_schema() "
        "AND c.relname = ANY(%s)", [list(tables)])
    return {name: (size, dead) for name, size, dead in cursor.fetchall()}


def _vacuum_postgresql(
    connection: BaseDatabaseWrapper,
    tables,
    analyze_only: bool,
    full: bool,
    progress: Callable[..., Any],
) -> dict:
    connection.ensure_connection()
    if tables is None:
        tables = sorted(connection.introspection.table_names())
    quote = connection.ops.quote_name
    if analyze_only:
        statement = "ANALYZE {}"
    elif full:
        statement = "VACUUM (FULL, ANALYZE) {}"
    else:
        statement = "VACUUM (ANALYZE) {}"
    rows = []
    with connection.cursor() as cursor:
        before = _pg_table_stats(cursor, tables)
        for table in progress(tables, total=len(tables), label="tables"):
            if table not in before:
                continue
            cursor.execute(statement.format(quote(table)))
        after = _pg_table_stats(cursor, tables)
    for table in tables:
        if table not in before:
            continue
        size_before, dead = before[table]
        size_after = after.get(table, (size_before, 0))[0]
        rows.append({"table": table, "bytes_before": size_before, "bytes_after": size_after,
                     "reclaimed_bytes": size_before - size_after, "dead_rows_before": dead})
    return _vacuum_report(connection, "ANALYZE" if analyze_only else statement.split(" {")[0],
                          rows)


def _sqlite_pages(cursor) -> tuple:
    cursor.execute("PRAGMA page_count")
    pages = cursor.fetchone()[0]
    cursor.execute("PRAGMA freelist_count")
    free = cursor.fetchone()[0]
    cursor.execute("PRAGMA page_size")
    return pages, free, cursor.fetchone()[0]


def _sqlite_file_size(connection: BaseDatabaseWrapper) -> Any:
    from carshop.ops.database import sqlite_files

    path, wal = sqlite_files(connection)
    if path is None:
        return None
    return sum(file.stat().st_size for file in (path, wal) if file.exists())


def _vacuum_sqlite(connection: BaseDatabaseWrapper, tables, analyze_only: bool, full: bool) -> dict:
    if tables is not None and not analyze_only:
        raise CommandError("SQLite vacuums the whole file: leave out --tables, or add "
                           "--analyze-only to analyze only those tables")
    connection.ensure_connection()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Write the WAL back first, so the sizes compare the file with itself.
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages_before, free_before, page_size = _sqlite_pages(cursor)
        size_before = _sqlite_file_size(connection)
        if analyze_only:
            for table in tables or [None]:
                cursor.execute("ANALYZE" if table is None else f"ANALYZE {quote(table)}")
        else:
            cursor.execute("VACUUM")
            cursor.execute("ANALYZE")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages_after, free_after, _ = _sqlite_pages(cursor)
        size_after = _sqlite_file_size(connection)
    if size_before is None:  # in memory
        size_before, size_after = pages_before * page_size, pages_after * page_size
    rows = [{"table": "(database file)", "bytes_before": size_before, "bytes_after": size_after,
             "reclaimed_bytes": size_before - size_after, "free_pages_before": free_before,
             "free_pages_after": free_after}]
    return _vacuum_report(connection, "ANALYZE" if analyze_only else "VACUUM; ANALYZE", rows)


def _vacuum_report(connection: BaseDatabaseWrapper, statement, rows) -> dict:
    report = {
        "database": connection.vendor,
        "name": str(connection.settings_dict["NAME"]),
        "statement": statement,
        "tables": rows,
        "bytes_before": sum(row["bytes_before"] for row in rows),
        "bytes_after": sum(row["bytes_after"] for row in rows),
    }
    report["reclaimed_bytes"] = report["bytes_before"] - report["bytes_after"]
    logger.info("database vacuumed", extra={"statement": statement,
                                            "reclaimed_bytes": report["reclaimed_bytes"]})
    return report

