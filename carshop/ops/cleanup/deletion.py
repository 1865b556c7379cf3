"""What the cleanup commands share: an outcome per kind of row, batched deletes, the age option."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction

from carshop.ops.toolkit import no_progress

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from django.db.models import QuerySet

# Rows deleted per statement: big enough to be quick, small enough not to hold long locks.
BATCH_SIZE = 2000


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


def delete_in_batches(
    queryset: QuerySet[Any], progress: Callable[..., Any] = no_progress, label: str = "deleting"
) -> int:
    """Delete the rows of `queryset` BATCH_SIZE at a time, each batch in its own transaction.
    Returns how many rows of the queryset's model were deleted (cascades not counted)."""
    model = queryset.model
    total = queryset.count()
    deleted = 0

    def batches() -> Iterator[list[Any]]:
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
    kind: str,
    what: str,
    queryset: QuerySet[Any],
    dry_run: bool,
    progress: Callable[..., Any],
    note: str = "",
) -> Outcome:
    if dry_run:
        return Outcome(kind, what, queryset.count(), "would delete", note)
    return Outcome(kind, what, delete_in_batches(queryset, progress, kind), "deleted", note)


def _db_sessions() -> Any:
    """The Session model when sessions are kept in the database, else None."""
    if settings.SESSION_ENGINE not in (
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    ):
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
        lines.append(
            f"  {kind['action']:<12} {count:>7}  {kind['kind']:<{width}}  {kind['what']}{note}"
        )
    if report["dry_run"]:
        lines.append(f"{report['removed']} would be deleted; dry run, nothing changed")
    else:
        lines.append(f"{report['removed']} deleted")
    return lines
