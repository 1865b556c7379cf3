"""cleanup_orphans: files no row names, and rows whose owner is gone (see the package)."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils import timezone

from carshop.ops.cleanup.deletion import BATCH_SIZE, Outcome, _db_sessions
from carshop.ops.toolkit import no_progress

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterator

    from django.core.files.storage import Storage
    from django.db.models import FileField, Model

logger = logging.getLogger("carshop.commands")

# An uploaded file is saved before its row commits: younger files are never called orphans.
ORPHAN_FILE_GRACE = timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# cleanup_orphans
# ---------------------------------------------------------------------------------------------


def _upload_prefix(upload_to: Any) -> Any:
    """The fixed folder of an upload_to such as 'stock/photos/%Y/%m/' -> 'stock/photos/'."""
    if callable(upload_to) or not upload_to:
        return None
    fixed = str(upload_to).split("%", 1)[0]
    return fixed.rsplit("/", 1)[0] + "/" if "/" in fixed else None


def file_fields() -> list[tuple[type[Model], FileField]]:
    """Every FileField of every model, as (model, field)."""
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, models.FileField)
    ]


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
    by_storage: dict[int, dict[str, Any]] = {}
    for model, field in file_fields():
        prefix = _upload_prefix(field.upload_to)
        if prefix is None:
            continue
        entry = by_storage.setdefault(
            id(field.storage), {"storage": field.storage, "prefixes": set(), "fields": []}
        )
        entry["prefixes"].add(prefix)
        entry["fields"].append((model, field))
    found = []
    for entry in by_storage.values():
        storage = entry["storage"]
        referenced = set()
        for model, field in entry["fields"]:
            referenced.update(
                model._default_manager.exclude(**{field.name: ""})
                .exclude(**{f"{field.name}__isnull": True})
                .values_list(field.name, flat=True)
            )
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
    owners: dict[str, list[str]] = {}
    for row in session.objects.filter(expire_date__gte=timezone.now()).iterator(chunk_size=1000):
        user_id = row.get_decoded().get("_auth_user_id")
        if user_id is not None:
            owners.setdefault(str(user_id), []).append(row.session_key)
    if not owners:
        return []
    existing: set[str] = set()
    keys = list(owners)
    for start in range(0, len(keys), BATCH_SIZE):
        with contextlib.suppress(ValueError, TypeError):
            existing.update(
                str(pk)
                for pk in user_model._default_manager.filter(
                    pk__in=keys[start : start + BATCH_SIZE]
                ).values_list("pk", flat=True)
            )
    return sorted(
        key for user_id, found in owners.items() if user_id not in existing for key in found
    )


def queued_tasks_of_deleted_deliveries() -> Any:
    """Webhook tasks still queued for a delivery that no longer exists (a task names its
    delivery by id in its arguments, not by a foreign key)."""
    if not apps.is_installed("django_tasks_db"):
        return None
    from django_tasks_db.models import DBTaskResult

    from accounts.models import WebhookDelivery

    queued = DBTaskResult.objects.filter(
        status="READY", task_path="accounts.webhooks.deliver_webhook"
    )
    wanted: dict[int, list[Any]] = {}
    for task_id, arguments in queued.values_list("pk", "args_kwargs").iterator(chunk_size=1000):
        args = (arguments or {}).get("args") or []
        if len(args) == 1 and isinstance(args[0], int):
            wanted.setdefault(args[0], []).append(task_id)
    existing: set[int] = set()
    ids = list(wanted)
    for start in range(0, len(ids), BATCH_SIZE):
        existing.update(
            WebhookDelivery.objects.filter(pk__in=ids[start : start + BATCH_SIZE]).values_list(
                "pk", flat=True
            )
        )
    return sorted(
        str(task)
        for delivery, tasks in wanted.items()
        if delivery not in existing
        for task in tasks
    )


def partner_users_without_partner() -> int:
    """Inactive partner service accounts whose partner was deleted: reported, never deleted
    (the audit log credits them with the partner's changes)."""
    from django.contrib.auth import get_user_model

    from accounts.models import Partner

    return (
        get_user_model()
        ._default_manager.filter(username__startswith="partner:")
        .exclude(Exists(Partner.objects.filter(user=OuterRef("pk"))))
        .count()
    )


def cleanup_orphans(
    *, dry_run: bool = False, progress: Callable[..., Any] = no_progress
) -> dict[str, Any]:
    """Delete (or count, in a dry run) rows and files whose parent is gone. Returns a report."""
    results = []
    files = orphan_files()
    freed = sum(size for _, _, size in files)
    verb = "would delete" if dry_run else "deleted"
    if not dry_run:
        for storage, name, _ in progress(files, total=len(files), label="files"):
            storage.delete(name)
    folders = sorted({_upload_prefix(field.upload_to) or "" for _, field in file_fields()})
    results.append(
        Outcome(
            "files",
            f"uploaded files no row names (in {', '.join(folders)})",
            len(files),
            verb,
            f"{freed} bytes" if files else "",
        )
    )

    keys = sessions_of_deleted_users()
    if keys is None:
        results.append(
            Outcome(
                "sessions",
                "sessions of deleted users",
                None,
                "skipped",
                "sessions are not kept in the database",
            )
        )
    else:
        if not dry_run and keys:
            session = _db_sessions()
            for start in range(0, len(keys), BATCH_SIZE):
                session.objects.filter(session_key__in=keys[start : start + BATCH_SIZE]).delete()
        results.append(Outcome("sessions", "sessions of deleted users", len(keys), verb))

    tasks = queued_tasks_of_deleted_deliveries()
    if tasks is not None:
        if not dry_run and tasks:
            from django_tasks_db.models import DBTaskResult

            for start in range(0, len(tasks), BATCH_SIZE):
                DBTaskResult.objects.filter(
                    pk__in=tasks[start : start + BATCH_SIZE], status="READY"
                ).delete()
        results.append(
            Outcome("webhook_tasks", "queued webhook tasks of deleted deliveries", len(tasks), verb)
        )

    partner_users = partner_users_without_partner()
    results.append(
        Outcome(
            "partner_users",
            "partner service accounts whose partner is gone",
            partner_users,
            "kept",
            "the audit log credits them: disable, never delete" if partner_users else "",
        )
    )
    results.append(
        Outcome(
            "audit_entries",
            "audit entries of deleted objects",
            None,
            "kept",
            "history, not orphans; archive_logs moves old entries out",
        )
    )
    report = {
        "dry_run": dry_run,
        "kinds": [outcome.as_dict() for outcome in results],
        "removed": sum(o.count or 0 for o in results if o.action in ("deleted", "would delete")),
        "freed_bytes": freed,
    }
    if not dry_run:
        logger.info(
            "orphans cleaned up",
            extra={"removed": {o.kind: o.count for o in results if o.action == "deleted"}},
        )
    return report
