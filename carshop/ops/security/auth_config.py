"""Authentication settings as they are in effect: sessions, passwords, login lockout.

What check_auth_config prints, and the lockout figures reset_password and diagnostics use.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from carshop.ops import on_server
from carshop.ops.toolkit import Report, first_line

if TYPE_CHECKING:
    from datetime import datetime

    from django.db.models import QuerySet

# Hashers fit for a test run only: fast and weak.
WEAK_HASHERS = {
    "MD5PasswordHasher",
    "UnsaltedMD5PasswordHasher",
    "UnsaltedSHA1PasswordHasher",
    "SHA1PasswordHasher",
}
# Beyond these, the lockout hardly slows a password guesser down.
MAX_SANE_FAILURE_LIMIT = 10
MIN_SANE_COOL_OFF = timedelta(minutes=5)
AXES_BACKENDS = {
    "axes.backends.AxesStandaloneBackend",
    "axes.backends.AxesBackend",
    "axes.backends.AxesModelBackend",
}


def cool_off() -> timedelta | None:
    """How long a lockout lasts (None: until an administrator resets it)."""
    import axes.conf  # noqa: F401 - sets axes' defaults on the settings
    from axes.helpers import get_cool_off

    return get_cool_off()


def locked_out_attempts(now: datetime | None = None) -> QuerySet[Any]:
    """Axes records that lock a login now: failures at the limit, within the cool-off time."""
    from axes.models import AccessAttempt

    attempts = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
    length = cool_off()
    if length is not None:
        attempts = attempts.filter(attempt_time__gte=(now or timezone.now()) - length)
    return attempts.order_by("-attempt_time")


def human_duration(delta: timedelta | None) -> str:
    if delta is None:
        return "until reset by an administrator"
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def check_auth_config(now: datetime | None = None, server: bool | None = None) -> Report:
    """The authentication findings. `server`: judge the settings as a server needs them (default:
    when DJANGO_ENV is production or staging); security_check always does."""
    now = now or timezone.now()
    server = on_server() if server is None else server
    report = Report("authentication")
    _sessions(report, now, server)
    _passwords(report, server)
    _lockout(report, now, server)
    return report


def _cookie_flag(
    report: Report, name: str, value: object, needed: object, why: str, server: bool
) -> None:
    if value == needed:
        report.ok(name, str(value))
    elif server:
        report.fail(name, f"{value}: {why}")
    else:
        report.ok(name, f"{value} ({settings.DJANGO_ENV}: plain HTTP; production sets it)")


def _sessions(report: Report, now: datetime, server: bool) -> None:
    report.ok("SESSION_ENGINE", settings.SESSION_ENGINE)
    age = timedelta(seconds=settings.SESSION_COOKIE_AGE)
    if age > timedelta(days=1):
        report.warn(
            "SESSION_COOKIE_AGE", f"{human_duration(age)}: a login outlives the working day"
        )
    else:
        report.ok("SESSION_COOKIE_AGE", human_duration(age))
    report.ok("SESSION_EXPIRE_AT_BROWSER_CLOSE", str(settings.SESSION_EXPIRE_AT_BROWSER_CLOSE))
    _cookie_flag(
        report,
        "SESSION_COOKIE_SECURE",
        settings.SESSION_COOKIE_SECURE,
        True,
        "the session cookie is also sent over plain HTTP",
        server,
    )
    _cookie_flag(
        report,
        "CSRF_COOKIE_SECURE",
        settings.CSRF_COOKIE_SECURE,
        True,
        "the CSRF cookie is also sent over plain HTTP",
        server,
    )
    for name in ("SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_HTTPONLY"):
        value = getattr(settings, name)
        if value:
            report.ok(name, "True")
        else:
            report.warn(name, "False: scripts in the page can read the cookie")
    samesite = settings.SESSION_COOKIE_SAMESITE
    if samesite in ("Lax", "Strict"):
        report.ok("SESSION_COOKIE_SAMESITE", samesite)
    else:
        report.warn("SESSION_COOKIE_SAMESITE", f"{samesite}: other sites' requests carry it")
    if settings.SESSION_ENGINE.endswith(("db", "cached_db")):
        from django.contrib.sessions.models import Session

        try:
            live = Session.objects.filter(expire_date__gt=now).count()
            expired = Session.objects.filter(expire_date__lte=now).count()
        except DatabaseError as exc:
            report.fail("sessions", f"cannot read the session table: {first_line(exc)}")
            return
        report.data["sessions"] = {"live": live, "expired": expired}
        detail = f"{live} live, {expired} expired"
        if expired:
            detail += " (python manage.py clearsessions removes them)"
        report.ok("sessions", detail)


def _passwords(report: Report, server: bool) -> None:
    validators = cast("list[dict[str, Any]]", settings.AUTH_PASSWORD_VALIDATORS)
    names = [item["NAME"].rsplit(".", 1)[-1] for item in validators]
    report.data["password_validators"] = [
        {"name": item["NAME"], "options": item.get("OPTIONS", {})} for item in validators
    ]
    if not validators:
        (report.fail if server else report.warn)(
            "AUTH_PASSWORD_VALIDATORS", "none: any password is accepted"
        )
    else:
        report.ok("AUTH_PASSWORD_VALIDATORS", ", ".join(names))
    lengths = [
        item.get("OPTIONS", {}).get("min_length", 8)
        for item in validators
        if item["NAME"].endswith("MinimumLengthValidator")
    ]
    if lengths:
        report.ok("minimum password length", str(max(lengths)))
    elif validators:
        report.warn("minimum password length", "no MinimumLengthValidator")

    hashers = settings.PASSWORD_HASHERS
    report.data["password_hashers"] = list(hashers)
    first = hashers[0].rsplit(".", 1)[-1]
    if first in WEAK_HASHERS and (server or settings.DJANGO_ENV != "test"):
        report.fail("PASSWORD_HASHERS", f"new passwords are hashed with {first}, which is weak")
    else:
        note = " (test runs only)" if first in WEAK_HASHERS else ""
        report.ok("PASSWORD_HASHERS", f"new passwords: {first}{note}; {len(hashers)} accepted")


def _lockout(report: Report, now: datetime, server: bool) -> None:
    backends = settings.AUTHENTICATION_BACKENDS
    # django-axes adds its AXES_* defaults to settings when loaded; the stubs do not know them.
    enabled = settings.AXES_ENABLED  # type: ignore[misc]
    report.data["authentication_backends"] = list(backends)
    if not enabled:
        (report.fail if server else report.warn)(
            "AXES_ENABLED", "False: failed logins are never locked out"
        )
        return
    if not AXES_BACKENDS & set(backends):
        report.fail("AUTHENTICATION_BACKENDS", "no axes backend: lockouts are not enforced")
    elif not any(backend in AXES_BACKENDS for backend in backends[:1]):
        report.warn("AUTHENTICATION_BACKENDS", "the axes backend should come first")
    else:
        report.ok("AUTHENTICATION_BACKENDS", ", ".join(backends))
    if "axes.middleware.AxesMiddleware" not in settings.MIDDLEWARE:
        report.fail("MIDDLEWARE", "axes.middleware.AxesMiddleware is missing")

    length = cool_off()
    limit = settings.AXES_FAILURE_LIMIT
    if limit > MAX_SANE_FAILURE_LIMIT:
        report.warn(
            "AXES_FAILURE_LIMIT",
            f"{limit} failed logins lock: a guesser gets {limit} tries per lockout",
        )
    else:
        report.ok("AXES_FAILURE_LIMIT", f"{limit} failed logins lock")
    if length is not None and length < MIN_SANE_COOL_OFF:
        report.warn(
            "AXES_COOLOFF_TIME", f"{human_duration(length)}: a guesser is back after a short pause"
        )
    else:
        report.ok("AXES_COOLOFF_TIME", human_duration(length))
    parameters = settings.AXES_LOCKOUT_PARAMETERS
    alone = (
        {p for p in parameters if isinstance(p, str)}
        if isinstance(parameters, (list, tuple))
        else {"username", "ip_address"}
    )  # a callable: its own rule
    if not {"username", "ip_address"} <= alone:
        report.warn(
            "AXES_LOCKOUT_PARAMETERS",
            f"{parameters}: lock by username and by address each on its own, or "
            "password spraying (one address) or guessing from many addresses is unlimited",
        )
    else:
        report.ok("AXES_LOCKOUT_PARAMETERS", str(parameters))
    report.ok("AXES_RESET_ON_SUCCESS", str(settings.AXES_RESET_ON_SUCCESS))
    proxies = settings.TRUSTED_PROXY_COUNT
    if server and proxies == 0:
        report.warn(
            "TRUSTED_PROXY_COUNT",
            "0 on a server: behind nginx every failure counts against nginx's address",
        )
    else:
        report.ok("TRUSTED_PROXY_COUNT", str(proxies))

    handler = settings.AXES_HANDLER  # type: ignore[misc]  # a django-axes default, as above
    if not handler.endswith("AxesDatabaseHandler"):
        report.ok("locked out now", f"not counted: {handler} keeps lockouts outside the database")
        return
    try:
        locked = list(locked_out_attempts(now)[:50])
        count = locked_out_attempts(now).count()
    except DatabaseError as exc:
        report.fail("locked out now", f"cannot read axes' attempts: {first_line(exc)}")
        return
    report.data["locked_out"] = [
        {
            "username": attempt.username,
            "ip_address": attempt.ip_address,
            "failures": attempt.failures_since_start,
            "last_failure": attempt.attempt_time,
            "locked_until": attempt.attempt_time + length if length else None,
        }
        for attempt in locked
    ]
    if count:
        names = ", ".join(f"{a.username or '?'} from {a.ip_address or '?'}" for a in locked[:5])
        more = f" and {count - 5} more" if count > 5 else ""
        report.warn(
            "locked out now", f"{count}: {names}{more} (python manage.py axes_reset_username NAME)"
        )
    else:
        report.ok("locked out now", "0")
