"""User access: who has which role, who is active, who did what, and disabling the inactive.

Disabling sets `is_active` to False and nothing else: the account, its groups and everything it
did (audit log entries, repair orders, deals) stay, and an administrator can enable it again.
Django refuses an inactive user at the next request, so open sessions end too.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from carshop.audit import SYSTEM_USERNAME

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from accounts.models import User

AUTH_EVENTS = ("login", "login_failed", "lockout", "logout", "password_changed")
AUDIT_ACTIONS = {
    LogEntry.Action.CREATE: "created",
    LogEntry.Action.UPDATE: "updated",
    LogEntry.Action.DELETE: "deleted",
}


def user_model() -> type[User]:
    return get_user_model()


def get_user(username: str) -> User:
    """The user with that username, or CommandError naming it."""
    user = user_model()._default_manager.filter(username=username).first()
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user


def role_names(user: User) -> list[str]:
    """The user's roles (groups), alphabetical; uses prefetched groups."""
    return sorted(group.name for group in user.groups.all())


def describe_user(user: User) -> dict[str, Any]:
    """One user as a report row."""
    return {
        "username": user.username,
        "name": user.get_full_name(),
        "email": user.email,
        "roles": role_names(user),
        "active": user.is_active,
        "staff": user.is_staff,
        "superuser": user.is_superuser,
        "last_login": user.last_login,
        "date_joined": user.date_joined,
    }


def users_with_roles(role: str | None = None) -> QuerySet[User]:
    users = user_model()._default_manager.prefetch_related("groups").order_by("username")
    if role:
        users = users.filter(groups__name=role).distinct()
    return users


def inactivity_cutoff(days: int, now: datetime | None = None) -> datetime:
    if days < 1:
        raise CommandError(f"the number of days must be 1 or more, got {days}")
    return (now or timezone.now()) - timedelta(days=days)


def _inactive(cutoff: datetime) -> Q:
    return (
        Q(is_active=True)
        & (Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff))
        & ~Q(username=SYSTEM_USERNAME)
    )


def inactive_users(days: int, now: datetime | None = None) -> QuerySet[User]:
    """Active accounts with no login for `days` days; never-logged-in ones count from joining.

    The `system` account (credited with commands' changes) is never listed: it cannot log in.
    """
    cutoff = inactivity_cutoff(days, now)
    return (
        user_model()
        ._default_manager.filter(_inactive(cutoff))
        .prefetch_related("groups")
        .order_by("username")
    )


def last_seen(user: User) -> datetime:
    """The last login, or the day the account was made for a user who never logged in."""
    return user.last_login or user.date_joined


def inactive_row(user: User, now: datetime | None = None) -> dict[str, Any]:
    row = describe_user(user)
    row["inactive_days"] = ((now or timezone.now()) - last_seen(user)).days
    row["never_logged_in"] = user.last_login is None
    return row


def disable_inactive_users(
    days: int, include_superusers: bool = False, dry_run: bool = False
) -> tuple[list[User], list[User]]:
    """Disable every active account inactive for `days` days; superusers only when asked.

    Returns (disabled, kept): the users disabled (or that would be, in a dry run) and the
    superusers left active. The change of each is in the audit log, credited to the operator.
    """
    cutoff = inactivity_cutoff(days)
    with transaction.atomic():
        # Lock the candidates in id order: a login landing meanwhile waits, and PostgreSQL
        # re-checks the condition on a row that changed, so a user who just logged in is skipped.
        candidates = list(
            user_model()
            ._default_manager.select_for_update()
            .filter(_inactive(cutoff))
            .order_by("pk")
        )
        disabled, kept = [], []
        for user in candidates:
            if user.is_superuser and not include_superusers:
                kept.append(user)
                continue
            disabled.append(user)
            if not dry_run:
                user.is_active = False
                user.save(update_fields=["is_active"])
    disabled.sort(key=lambda user: user.username)
    kept.sort(key=lambda user: user.username)
    return disabled, kept


def user_activity(
    auth_entries: Iterable[dict[str, Any]], since: datetime, username: str | None = None
) -> list[dict[str, Any]]:
    """Per username: auth events from auth.log entries and audit log changes since `since`.

    Returns rows sorted by username, one per account plus one per name that appears in auth.log
    without an account (failed logins for unknown names), each with `account` True/False.
    """
    rows: defaultdict[Any, Any] = defaultdict(_empty_activity)
    for entry in auth_entries:
        name = entry.get("user")
        event = entry.get("event")
        if not name or event not in AUTH_EVENTS or (username and name != username):
            continue
        row = rows[name]
        row[event] += 1
        if event == "login":
            row["last_login"] = max(filter(None, [row["last_login"], entry["time"]]))
        if event in ("login_failed", "lockout") and entry.get("ip"):
            row["failed_from"].add(entry["ip"])

    changes = (
        LogEntry.objects.filter(timestamp__gte=since, actor__isnull=False)
        .values("actor__username", "action")
        .annotate(count=Count("id"))
        .order_by()
    )
    if username:
        changes = changes.filter(actor__username=username)
    for change in changes:
        label = AUDIT_ACTIONS.get(change["action"], "other")
        rows[change["actor__username"]]["changes"][label] += change["count"]

    accounts = user_model()._default_manager.all()
    if username:
        accounts = accounts.filter(username=username)
    known = {account.username: account for account in accounts}
    for name in known:  # every account gets a row, also without activity
        rows.setdefault(name, _empty_activity())

    result = []
    for name in sorted(rows):
        row = rows[name]
        account = known.get(name)
        changes_total = sum(row["changes"].values())
        result.append(
            {
                "username": name,
                "account": account is not None,
                "active": account.is_active if account else None,
                "logins": row["login"],
                "failed_logins": row["login_failed"],
                "lockouts": row["lockout"],
                "logouts": row["logout"],
                "password_changes": row["password_changed"],
                "last_login_in_period": row["last_login"],
                "failed_from": sorted(row["failed_from"]),
                "changes": changes_total,
                "changes_by_action": {
                    label: row["changes"].get(label, 0) for label in AUDIT_ACTIONS.values()
                },
            }
        )
    return result


def _empty_activity() -> dict[str, Any]:
    return {
        **dict.fromkeys(AUTH_EVENTS, 0),
        "last_login": None,
        "failed_from": set(),
        "changes": defaultdict(int),
    }


def has_activity(row: dict[str, Any]) -> bool:
    return any(
        row[key]
        for key in ("logins", "failed_logins", "lockouts", "logouts", "password_changes", "changes")
    )
