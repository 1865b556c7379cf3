"""Reading from the PostgreSQL read replica (DATABASE_REPLICA_URL), with a person's own writes
read from the primary right after they make them.

The replica is a streaming copy of the primary, a little behind it. Pages that read a lot and
write nothing — the report pages, the admin's CSV and Excel exports, the API's list pages, the
`export` command — read from it, so they do not compete with the counter for the primary. Every
other read, and every write, goes to the primary ("default").

Read-your-writes: after a request that may have changed something (any method but GET, HEAD,
OPTIONS and TRACE) by a signed-in person or a partner key, a marker naming that user is kept in
the shared cache for REPLICA_PIN_SECONDS (carshop.middleware.ReadYourWritesMiddleware). While it
is there, that user's reads stay on the primary, on whichever host serves them: a salesperson who
saves a deal and opens the export, or a partner who posts a lead and lists its leads, sees it at
once. Other people see it when the replica has replayed it (usually well under a second).

Two ways to read from the replica:

    queryset.using(read_database(request))      # one queryset (API lists, admin exports)

    with reads_from_replica(request):           # every read inside (report pages), through
        figure = report.figure(period)           # ReplicaRouter in DATABASE_ROUTERS

Without DATABASE_REPLICA_URL both read from the primary: nothing changes for one server.
"""

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections

REPLICA = "replica"
PRIMARY = "default"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")

# True inside reads_from_replica() when its reads go to the replica.
_scope: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "carshop_replica_scope", default=False
)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def _marker(user_pk: Any) -> str:
    return f"replica-pin:{user_pk}"


def _user_pk(request: Any) -> Any:
    user = getattr(request, "user", None) if request is not None else None
    if user is None or not user.is_authenticated:
        return None
    return user.pk


def remember_write(request: Any) -> None:
    """After `request` (a method that may write), keep its user's reads on the primary for
    REPLICA_PIN_SECONDS, on every host (the marker is in the shared cache)."""
    if not replica_configured() or request.method in SAFE_METHODS:
        return
    user_pk = _user_pk(request)
    if user_pk is not None:
        cache.set(_marker(user_pk), 1, timeout=settings.REPLICA_PIN_SECONDS)


def wrote_recently(request: Any) -> bool:
    """Whether `request`'s user made a write within REPLICA_PIN_SECONDS."""
    user_pk = _user_pk(request)
    return user_pk is not None and cache.get(_marker(user_pk)) is not None


def read_database(request: Any = None) -> str:
    """The database alias a read-only page for `request` reads from: the replica when there is
    one and the request's user has not just written; otherwise the primary. No request (a
    command): the replica when there is one."""
    if not replica_configured() or connections[PRIMARY].in_atomic_block:
        return PRIMARY
    if request is not None and wrote_recently(request):
        return PRIMARY
    return REPLICA


@contextlib.contextmanager
def reads_from_replica(request: Any = None) -> Iterator[str]:
    """Route every read inside to read_database(request), for code that only reads (a row it
    writes goes to the primary, and reading it back inside would read the replica). Inside a
    transaction on the primary, reads stay there. Yields the alias."""
    alias = read_database(request)
    token = _scope.set(alias == REPLICA)
    try:
        yield alias
    finally:
        _scope.reset(token)


class ReplicaRouter:
    """DATABASE_ROUTERS: reads inside reads_from_replica() go to the replica; everything else,
    and every write, to the primary. The replica is never migrated (it copies the primary)."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if _scope.get() and not connections[PRIMARY].in_atomic_block:
            return REPLICA
        return None  # Django's default: the primary, or the database of a given instance

    def db_for_write(self, model: Any, **hints: Any) -> str:
        # Always the primary, also for an instance read from the replica.
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The same rows, in the same database or its copy.
        databases = {obj1._state.db, obj2._state.db}
        return True if databases <= {PRIMARY, REPLICA} else None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None
