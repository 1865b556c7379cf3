"""test_in_isolation: checks run against a test environment, never the live database."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connections

from carshop.ops.backups import service
from carshop.ops.testenv.environment import (
    LIVE_IDENTITY_ENV,
    TestEnvError,
    exists,
    read_marker,
    resolve_target,
    target_url,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from carshop.ops.backups.service import Target

# --- test_in_isolation -------------------------------------------------------------------------

CHECKS = ("system", "migrations", "health", "smoke")


def prepare_isolation(target_value: str | None = None) -> tuple:
    """The copy to check: never the live database, and one create_test_env made."""
    live = service.Target.live()
    target = resolve_target(target_value, live)
    if not exists(target):
        raise TestEnvError(f"{target.label()} does not exist: run create_test_env first")
    marker = read_marker(target)
    if marker is None:
        raise TestEnvError(
            f"{target.label()} was not made by create_test_env: checks run "
            "only against an anonymized copy"
        )
    return live, target, marker


def child_environment(live: Target, target: Target) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": target_url(target),
        LIVE_IDENTITY_ENV: json.dumps(list(live.identity())),
    }
    return env


def run_in_copy(
    live: Target, target: Target, checks: Iterable[str], max_queries: int, timeout: int = 1800
) -> Any:
    """Run the checks in a child manage.py whose only database is the copy; returns its report."""
    command = [
        sys.executable,
        str(Path(settings.BASE_DIR) / "manage.py"),
        "test_in_isolation",
        "--inside-copy",
        "--format=json",
        f"--checks={','.join(checks)}",
        f"--max-queries={max_queries}",
    ]
    connections.close_all()
    result = subprocess.run(
        command,
        env=child_environment(live, target),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    try:
        return json.loads(result.stdout)
    except ValueError:
        lines = (result.stderr or result.stdout or "").strip().splitlines()
        raise TestEnvError(
            "the checks did not run in the copy: "
            + (lines[-1] if lines else f"exit status {result.returncode}")
        ) from None


def run_pytest(target: Target, pytest_args: Iterable[str], timeout: int = 7200) -> dict[str, Any]:
    """The project's pytest suite with DATABASE_URL on the copy's server (pytest-django makes its
    own test_<name> database there; on SQLite the test settings' var/test.sqlite3)."""
    live = service.Target.live()
    env = child_environment(live, target)
    env["DJANGO_ENV"] = "test"  # the suite's own settings, whatever this process runs with
    command = [sys.executable, "-m", "pytest", *pytest_args]
    started = time.monotonic()
    result = subprocess.run(
        command,
        env=env,
        cwd=str(settings.BASE_DIR),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    tail = (result.stdout or "").strip().splitlines()
    return {
        "check": "pytest",
        "ok": result.returncode == 0,
        "detail": tail[-1] if tail else f"exit status {result.returncode}",
        "seconds": round(time.monotonic() - started, 2),
        "exit_status": result.returncode,
        "output": result.stdout[-20000:],
        "items": [],
    }


def verify_inside_copy() -> Target:
    """In the child: the configured database is the copy, not the live one the parent named."""
    live_identity = os.environ.get(LIVE_IDENTITY_ENV)
    if not live_identity:
        raise TestEnvError("--inside-copy is run by test_in_isolation only")
    here = service.Target.live()
    if list(here.identity()) == json.loads(live_identity):
        raise TestEnvError("refusing: the configured database is the live database")
    if read_marker(here) is None:
        raise TestEnvError(f"refusing: {here.label()} was not made by create_test_env")
    return here


def isolated_checks(checks: Iterable[str], max_queries: int) -> list[dict[str, Any]]:
    """The checks, in the process whose database is the copy. Returns [check results]."""
    runners = {
        "system": check_system,
        "migrations": check_migrations,
        "health": check_health,
        "smoke": lambda: smoke(max_queries),
    }
    results = []
    for name in checks:
        started = time.monotonic()
        try:
            result = runners[name]()
        except Exception as exc:  # one broken check must not hide the others
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            result = {
                "ok": False,
                "detail": f"could not run: {type(exc).__name__}: {first}",
                "items": [],
            }
        result["check"] = name
        result["seconds"] = round(time.monotonic() - started, 2)
        results.append(result)
    return results


def check_system() -> Any:
    import io

    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check", stdout=out, stderr=err)
    except SystemCheckError as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        return {
            "ok": False,
            "detail": lines[-1] if lines else "system checks failed",
            "items": lines,
        }
    return {"ok": True, "detail": (out.getvalue().strip().splitlines() or ["ok"])[-1], "items": []}


def check_migrations() -> Any:
    from django.db import connection
    from django.db.migrations.exceptions import InconsistentMigrationHistory
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    loader = executor.loader
    try:
        loader.check_consistent_history(connection)
    except InconsistentMigrationHistory as exc:
        return {"ok": False, "detail": str(exc), "items": []}
    unapplied = [
        f"{m.app_label}.{m.name}" for m, _ in executor.migration_plan(loader.graph.leaf_nodes())
    ]
    unknown = sorted(
        f"{app}.{name}"
        for app, name in loader.applied_migrations
        if (app, name) not in loader.disk_migrations
    )
    items = [f"not applied: {name}" for name in unapplied]
    items += [f"applied in the copy, missing from the code: {name}" for name in unknown]
    detail = (
        f"{len(loader.applied_migrations)} migrations applied, none missing"
        if not items
        else f"{len(unapplied)} not applied, {len(unknown)} unknown"
    )
    return {"ok": not items, "detail": detail, "items": items}


def check_health() -> dict[str, bool | str | list]:
    import asyncio

    from health_check.views import HealthCheckView

    from carshop.health import LIVENESS_CHECKS

    # Liveness only: backup freshness is about the live database's backups, not the copy.
    view = HealthCheckView(checks=LIVENESS_CHECKS)

    async def run_all() -> list[Any]:
        return await asyncio.gather(*(check.get_result() for check in view.get_checks()))

    items = []
    for result in asyncio.run(run_all()):
        name = type(result.check).__name__
        items.append(f"{name}: OK" if result.error is None else f"{name}: FAIL {result.error}")
    failed = [item for item in items if ": FAIL" in item]
    return {
        "ok": not failed,
        "detail": f"{len(items) - len(failed)} of {len(items)} checks OK",
        "items": items,
    }


def smoke_pages() -> list:
    """The admin index, every admin list and the first row's change page of each, and every
    API list a staff member may read: what people and partners open first."""
    from django.contrib import admin
    from django.contrib.admin.utils import quote as admin_quote
    from django.urls import NoReverseMatch, reverse

    from carshop.api_urls import router

    pages = [reverse("admin:index")]
    for model, _model_admin in sorted(
        admin.site._registry.items(), key=lambda item: item[0]._meta.label
    ):
        info = (model._meta.app_label, model._meta.model_name)
        try:
            pages.append(reverse("admin:{}_{}_changelist".format(*info)))
        except NoReverseMatch:
            continue
        first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        if first is not None:
            with contextlib.suppress(NoReverseMatch):
                pages.append(reverse("admin:{}_{}_change".format(*info), args=[admin_quote(first)]))
    for _prefix, viewset, basename in router.registry:
        if _partner_only(viewset):
            continue  # answers partner keys only; the copy's keys are revoked
        with contextlib.suppress(NoReverseMatch):
            pages.append(reverse(f"api:{basename}-list"))
    return pages


def _partner_only(viewset: Any) -> bool:
    """Endpoints about the calling partner itself: no staff session is admitted."""
    from accounts.api.permissions import HasScope

    view = viewset()
    view.action = "list"
    try:
        permissions = view.get_permissions()
    except Exception:
        return False
    return bool(permissions) and all(isinstance(p, HasScope) and not p.staff for p in permissions)


def smoke(max_queries: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from carshop.ops.monitoring.profiling import logged_in_client

    users = get_user_model()._default_manager
    user = users.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if user is None:
        # Made in the copy only, never in the live database; bulk_create: no audit entry.
        users.bulk_create(
            [
                get_user_model()(
                    username="test-env-smoke",
                    is_superuser=True,
                    is_staff=True,
                    is_active=True,
                    password="!",  # noqa: S106 - an unusable password, not a secret
                )
            ]
        )
        user = users.get(username="test-env-smoke")
    items, failures = [], 0
    with logged_in_client(user) as client:
        for page in smoke_pages():
            with CaptureQueriesContext(connection) as queries:
                response = client.get(page, HTTP_ACCEPT="text/html,application/json")
            ok = response.status_code == 200 and len(queries) <= max_queries
            failures += not ok
            items.append(
                {"page": page, "status": response.status_code, "queries": len(queries), "ok": ok}
            )
    worst = max((item["queries"] for item in items), default=0)
    return {
        "ok": failures == 0,
        "detail": f"{len(items) - failures} of {len(items)} pages 200 within {max_queries} "
        f"queries (most: {worst})",
        "items": items,
    }
