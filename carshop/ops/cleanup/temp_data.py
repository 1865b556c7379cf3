"""prune_temp_data: machine records and files that only matter for a while (see the package)."""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from carshop.ops.cleanup.deletion import Outcome, _count_or_delete, _db_sessions, check_age
from carshop.ops.toolkit import no_progress

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

logger = logging.getLogger("carshop.commands")


# ---------------------------------------------------------------------------------------------
# prune_temp_data
# ---------------------------------------------------------------------------------------------


def _delete_draft_deals(
    cutoff: dt.datetime, dry_run: bool, progress: Callable[..., Any]
) -> Outcome:
    """Deleted one by one through the model, so each deletion (and its add-ons') is in the audit
    log, credited to the operator."""
    from sales.models import Deal
    from sales.services import stale_draft_deals

    what = "draft deals untouched for the age, without payments, commissions or trade-ins"
    candidates = stale_draft_deals(cutoff)
    kept = (
        Deal.objects.filter(status=Deal.Status.DRAFT, updated_at__lt=cutoff)
        .exclude(pk__in=candidates.values("pk"))
        .count()
    )
    note = f"{kept} stale drafts with payments, commissions or trade-ins kept" if kept else ""
    if dry_run:
        return Outcome("draft_deals", what, candidates.count(), "would delete", note)
    deleted = 0
    ids = list(candidates.order_by("pk").values_list("pk", flat=True))
    chunks = [ids[i : i + 100] for i in range(0, len(ids), 100)]
    for chunk in progress(chunks, total=len(chunks), label="draft deals"):
        with transaction.atomic():
            # Lock, then read the conditions again in a fresh statement: a deal edited or paid
            # meanwhile is no longer stale and stays.
            list(
                Deal.objects.select_for_update()
                .filter(pk__in=chunk)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            for deal in stale_draft_deals(cutoff).filter(pk__in=chunk).order_by("pk"):
                deal.delete()
                deleted += 1
    return Outcome("draft_deals", what, deleted, "deleted", note)


def _stale_estimates(cutoff: dt.datetime) -> Outcome:
    from repairs.models import RepairOrder

    count = RepairOrder.objects.filter(
        status=RepairOrder.Status.ESTIMATE, updated_at__lt=cutoff
    ).count()
    return Outcome(
        "stale_estimates",
        "repair orders still estimates, untouched for the age",
        count,
        "kept",
        "never deleted (numbered documents): cancel them in the admin" if count else "",
    )


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
    merged: dict[Path, set[str]] = {}
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


def _temporary_files(cutoff: dt.datetime, dry_run: bool) -> Outcome:
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
    progress: Callable[..., Any] = no_progress,
) -> dict[str, Any]:
    """Delete (or count, in a dry run) the temporary data older than `age`. Returns a report."""
    from accounts.models import IdempotentRequest, WebhookDelivery, WebhookEvent

    check_age(age)
    now = now or timezone.now()
    cutoff = now - age
    results = []

    session = _db_sessions()
    if session is None:
        results.append(
            Outcome(
                "sessions",
                "expired sessions",
                None,
                "skipped",
                f"not kept in the database ({settings.SESSION_ENGINE})",
            )
        )
    else:
        # Expired is expired: a session past its expiry date is refused whatever its age.
        results.append(
            _count_or_delete(
                "sessions",
                "expired sessions (any age)",
                session.objects.filter(expire_date__lt=now),
                dry_run,
                progress,
            )
        )

    unfinished = WebhookDelivery.objects.filter(
        event=OuterRef("pk"),
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.SENDING],
    )
    events = WebhookEvent.objects.filter(created_at__lt=cutoff).exclude(Exists(unfinished))
    deliveries = WebhookDelivery.objects.filter(event__in=events.values("pk")).count()
    results.append(
        _count_or_delete(
            "webhook_events",
            "webhook events all of whose deliveries were delivered or given up",
            events,
            dry_run,
            progress,
            note=f"with {deliveries} deliveries" if deliveries else "",
        )
    )

    # Never before a key's remembered window ends, whatever the age.
    key_cutoff = min(cutoff, now - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS))
    results.append(
        _count_or_delete(
            "idempotency_keys",
            "API Idempotency-Keys and their stored answers",
            IdempotentRequest.objects.filter(created_at__lt=key_cutoff),
            dry_run,
            progress,
        )
    )

    if apps.is_installed("django_tasks_db"):
        from django_tasks_db.models import DBTaskResult

        results.append(
            _count_or_delete(
                "task_results",
                "finished background task results (succeeded or failed)",
                DBTaskResult.objects.finished().filter(finished_at__lt=cutoff),
                dry_run,
                progress,
            )
        )

    if apps.is_installed("axes"):
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog

        # A lockout lasts AXES_COOLOFF_TIME: attempts inside it still count, whatever the age.
        cooloff = timedelta(hours=float(getattr(settings, "AXES_COOLOFF_TIME", 0) or 0))
        results.append(
            _count_or_delete(
                "login_attempts",
                "failed-login counters (django-axes)",
                AccessAttempt.objects.filter(attempt_time__lt=min(cutoff, now - cooloff)),
                dry_run,
                progress,
            )
        )
        results.append(
            _count_or_delete(
                "login_records",
                "login records (django-axes)",
                AccessLog.objects.filter(attempt_time__lt=cutoff),
                dry_run,
                progress,
            )
        )
        results.append(
            _count_or_delete(
                "login_failure_records",
                "failed-login records (django-axes)",
                AccessFailureLog.objects.filter(attempt_time__lt=cutoff),
                dry_run,
                progress,
            )
        )

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
        logger.info(
            "temporary data pruned",
            extra={
                "cutoff": cutoff.isoformat(),
                "removed": {o.kind: o.count for o in results if o.action == "deleted"},
            },
        )
    return report
