"""Profiling a page or a management command with cProfile, for the `profile` command.

A page is requested through Django's test Client in this process, against the configured
database, logged in as a user: the login is a signed-cookie session made here (no session row,
no `last_login` update), so profiling a page of the live system writes nothing to its database.
One request is made first, unprofiled, to check the page answers and to warm imports and caches;
then `repeat` requests are profiled together.

When the process already runs under a profiler (`python -m cProfile -o profile.pstats manage.py
profile`, the maintenance guide's usage), a second one cannot run at the same time: the page or
command is then run under the outer profiler, which writes its file when the process ends.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import shlex
import sys
import time
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from django.test import Client

    from accounts.models import User

SIGNED_COOKIE_SESSIONS = "django.contrib.sessions.backends.signed_cookies"


class ProfileError(Exception):
    """Bad input for a profile run: one line for the operator."""


# --- a logged-in test Client -------------------------------------------------------------------


def client_host() -> str:
    """A host name the configured ALLOWED_HOSTS accept (production allows no `testserver`)."""
    for host in settings.ALLOWED_HOSTS:
        if host and host != "*" and not host.startswith("."):
            return host
    return "testserver"


def find_user(username: str | None = None) -> User:
    """The user to log in as: `username`, else the first active superuser."""
    from django.contrib.auth import get_user_model

    model = get_user_model()
    if username:
        user = model._default_manager.filter(username=username).first()
        if user is None:
            raise ProfileError(f"no user {username!r}: give the username of an existing user")
        return user
    user = model._default_manager.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if user is None:
        raise ProfileError("there is no active superuser to log in as: give --user NAME")
    return user


@contextlib.contextmanager
def logged_in_client(user: User | None) -> Iterator[Client]:
    """A test Client logged in as `user` through a signed-cookie session: the login writes nothing
    to the database (no session row, no last_login), unlike Client.force_login."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.signed_cookies import SessionStore
    from django.test import Client

    with override_settings(SESSION_ENGINE=SIGNED_COOKIE_SESSIONS):
        client = Client(HTTP_HOST=client_host(), secure=bool(settings.SECURE_SSL_REDIRECT))
        if user is not None:
            session = SessionStore()
            session[SESSION_KEY] = user._meta.pk.value_to_string(user)
            session[BACKEND_SESSION_KEY] = _login_backend()
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.save()
            # Saved, the session has its key.
            client.cookies[settings.SESSION_COOKIE_NAME] = cast(str, session.session_key)
        yield client


def _login_backend() -> str:
    """The backend a password login would record (axes' only guards logins, it loads nobody)."""
    return next(
        (
            path
            for path in settings.AUTHENTICATION_BACKENDS
            if ".axes" not in path and not path.startswith("axes.")
        ),
        settings.AUTHENTICATION_BACKENDS[-1],
    )


def check_path(path: str | None) -> str:
    from django.urls import Resolver404, resolve

    path = (path or "").strip()
    if not path.startswith("/"):
        raise ProfileError(f"--url {path!r}: give a path that starts with /, e.g. /admin/")
    try:
        resolve(path.split("?", 1)[0])
    except Resolver404:
        raise ProfileError(
            f"no page at {path}: check the path (e.g. /admin/ or /api/v1/cars/)"
        ) from None
    return path


# --- profiling ---------------------------------------------------------------------------------


def outer_profiler_active() -> bool:
    return sys.getprofile() is not None


def _run_profiled(work: Callable[[], object], repeat: int, output: str) -> tuple[list[float], bool]:
    """Run `work()` `repeat` times under cProfile (or the outer profiler); returns the seconds
    of each run and whether a profile file was written here."""
    durations = []
    if outer_profiler_active():
        for _ in range(repeat):
            started = time.perf_counter()
            work()
            durations.append(time.perf_counter() - started)
        return durations, False
    profiler = cProfile.Profile()
    for _ in range(repeat):
        started = time.perf_counter()
        profiler.enable()
        try:
            work()
        finally:
            profiler.disable()
        durations.append(time.perf_counter() - started)
    folder = os.path.dirname(os.path.abspath(output))
    os.makedirs(folder, exist_ok=True)
    profiler.dump_stats(output)
    return durations, True


def profile_page(
    path: str,
    username: str | None = None,
    repeat: int = 1,
    output: str = "profile.pstats",
    top: int = 20,
) -> dict[str, Any]:
    path = check_path(path)
    user = find_user(username) if username or not _public(path) else None
    with logged_in_client(user) as client:
        warm = client.get(path)
        if warm.status_code >= 400:
            raise ProfileError(
                f"GET {path} answered {warm.status_code} as "
                f"{user.username if user else 'anonymous'}: nothing profiled"
            )
        statuses = []
        with CaptureQueriesContext(connection) as queries:
            durations, written = _run_profiled(
                lambda: statuses.append(client.get(path).status_code), repeat, output
            )
    return _report(
        {
            "kind": "page",
            "target": path,
            "user": user.username if user else None,
            "status": statuses[-1],
            "queries_per_run": len(queries) // max(repeat, 1),
        },
        durations,
        written,
        output,
        top,
    )


def _public(path: str) -> bool:
    """Pages that need no login (health checks, API docs): profiled as anonymous when no --user
    is given; everything else is profiled as a logged-in user."""
    return not (
        path.startswith("/admin") or path.startswith("/api/") or path.startswith("/reports")
    )


def profile_command(
    command_line: str, repeat: int = 1, output: str = "profile.pstats", top: int = 20
) -> dict[str, Any]:
    from django.core.management import call_command, get_commands

    try:
        words = shlex.split(command_line or "")
    except ValueError as exc:
        raise ProfileError(f"--command: {exc}") from None
    if not words:
        raise ProfileError('--command needs a command, e.g. --command "list_users"')
    name, args = words[0], words[1:]
    if name not in get_commands():
        raise ProfileError(f"unknown command {name!r}: see python manage.py help")
    if name == "profile":
        raise ProfileError("--command cannot profile the profile command itself")
    failures = []

    def work() -> None:
        try:
            call_command(name, *args, stdout=io.StringIO(), stderr=io.StringIO())
        except CommandError as exc:
            failures.append(str(exc))
        except SystemExit as exc:  # argparse on a bad option of the profiled command
            failures.append(f"exit status {exc.code}: check its options")

    with CaptureQueriesContext(connection) as queries:
        durations, written = _run_profiled(work, repeat, output)
    if failures:
        if written:
            with contextlib.suppress(OSError):
                os.remove(output)
        raise ProfileError(f"the profiled command failed: {failures[-1]}")
    return _report(
        {
            "kind": "command",
            "target": command_line,
            "user": None,
            "status": None,
            "queries_per_run": len(queries) // max(repeat, 1),
        },
        durations,
        written,
        output,
        top,
    )


def _report(
    report: dict[str, Any], durations: list[float], written: bool, output: str, top: int
) -> dict[str, Any]:
    report.update(
        {
            "repeat": len(durations),
            "seconds": [round(d, 4) for d in durations],
            "mean_seconds": round(sum(durations) / len(durations), 4) if durations else 0,
            "output": os.path.abspath(output) if written else None,
            "outer_profiler": not written,
            "top": top_functions(output, top) if written else [],
        }
    )
    return report


def top_functions(path: str, top: int = 20) -> list[dict[str, Any]]:
    """The `top` functions of a .pstats file by cumulative time."""
    stats = pstats.Stats(path, stream=io.StringIO())
    rows = []
    # Stats.stats, the table the profile loaded into, is not in the type stubs.
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": name,
                "file": _short(filename),
                "line": line,
                "calls": calls,
                "tottime": round(tottime, 6),
                "cumtime": round(cumtime, 6),
            }
        )
    rows.sort(key=lambda row: (-row["cumtime"], -row["tottime"], row["file"], row["line"]))
    return rows[:top]


def _short(filename: str) -> str:
    """Paths relative to the project or to site-packages, so the table stays readable."""
    marker = os.sep + "site-packages" + os.sep
    if marker in filename:
        return filename.split(marker, 1)[1]
    base = str(settings.BASE_DIR) + os.sep
    if filename.startswith(base):
        return filename[len(base) :]
    return filename
