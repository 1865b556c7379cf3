"""Test environments: an anonymized copy of the live database, and checks run against it.

create_test_env copies the live database with the backup machinery (carshop/ops/backups): on
PostgreSQL a snapshot dump (pg_dump, the full backup's code) restored in one transaction into a
new database, checked table by table against the dump's row counts (CREATE DATABASE ... TEMPLATE
is refused while the live database has connections); on SQLite the online backup API into a file
beside the live one, built as `FILE.partial` and renamed when complete. The copy is then
anonymized in place (see `Anonymizer`) and marked with a `carshop_test_env` table. A copy that
fails half-way is removed: a half-anonymized copy is never left behind.

test_in_isolation runs its checks in a child `manage.py` process whose only database is the copy
(DATABASE_URL), after checking, in the parent and again in the child, that it is not the live
database and that it carries the mark.

Only databases with the mark are replaced (`--replace`) or checked: a mistyped --target never
drops or tests a database create_test_env did not make.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.db import connections, transaction
from django.utils import timezone

from carshop.ops.backups import capture, postgres, service, sqlite
from carshop.ops.backups.errors import BackupError
from carshop.ops.backups.util import remove_quietly
from carshop.ops.testenv.anonymize import Anonymizer
from carshop.ops.toolkit import Progress, no_progress

if TYPE_CHECKING:
    from collections.abc import Iterator

    from carshop.ops.backups.service import Target

MARKER_TABLE = "carshop_test_env"
ALIAS = "carshop_test_env"
LIVE_IDENTITY_ENV = "CARSHOP_TEST_ENV_LIVE_IDENTITY"


class TestEnvError(Exception):
    """Bad input or a refused target: one line for the operator."""

    __test__ = False  # not a test class, whatever pytest thinks of the name


# --- the databases -----------------------------------------------------------------------------


def default_name(live: Target) -> str:
    if live.vendor == "postgresql":
        return f"{live.name}_test_env"[:63]
    base, ext = os.path.splitext(live.name)
    return f"{base}_test_env{ext or '.sqlite3'}"


def resolve_target(value: str | None = None, live: Target | None = None) -> Target:
    """The test environment's database: a name (PostgreSQL, same server), a path (SQLite) or a
    database URL; never the live database."""
    live = live or service.Target.live()
    value = (value or "").strip() or default_name(live)
    if "://" in value:
        from carshop.settings.env import db_url_config

        try:
            config = db_url_config(value, "CARSHOP_TEST_ENV_URL")
        except Exception as exc:
            raise TestEnvError(f"--target: {exc}") from None
        vendor = (
            "sqlite"
            if config["ENGINE"].endswith("sqlite3")
            else ("postgresql" if "postgresql" in config["ENGINE"] else config["ENGINE"])
        )
        if vendor != live.vendor:
            raise TestEnvError(
                f"--target is {vendor}: a copy of this database is made on "
                f"{service.ENGINE_NAMES[live.vendor]}"
            )
        target = service.Target(vendor, {**live.settings, **{k: v for k, v in config.items() if v}})
    elif live.vendor == "postgresql":
        if "/" in value or len(value) > 63:
            raise TestEnvError(f"--target {value!r} is not a PostgreSQL database name")
        target = live.with_name(value)
    else:
        target = live.with_name(os.path.abspath(os.path.expanduser(value)))
    if target.vendor == "sqlite" and os.path.isdir(target.name):
        raise TestEnvError(f"--target {target.name} is a folder: give a file name")
    if is_live(target, live):
        raise TestEnvError(
            f"--target {value} is the live database: a test environment is always a separate copy"
        )
    return target


def is_live(target: Target, live: Target | None = None) -> bool:
    live = live or service.Target.live()
    try:
        return service.same_database(target, live)
    except BackupError:
        return False


def target_url(target: Target) -> str:
    """DATABASE_URL of the copy, for the operator and for the child process."""
    if target.vendor == "sqlite":
        return "sqlite:///" + os.path.abspath(target.name)
    s = target.settings
    credentials = quote(s.get("USER") or "", safe="")
    if s.get("PASSWORD"):
        credentials += ":" + quote(str(s["PASSWORD"]), safe="")
    host = s.get("HOST") or "localhost"
    if host.startswith("/"):
        return f"postgres://{credentials}@/{s['NAME']}?host={quote(host, safe='')}"
    return f"postgres://{credentials}@{host}:{s.get('PORT') or 5432}/{s['NAME']}"


def shown_url(target: Target) -> str:
    """target_url() with the password hidden, for printing."""
    url = target_url(target)
    if target.vendor == "postgresql" and target.settings.get("PASSWORD"):
        url = re.sub(r"^(postgres://[^:@/]*):[^@]*@", r"\1:***@", url)
    return url


def exists(target: Target) -> bool:
    if target.vendor == "sqlite":
        return os.path.exists(target.name)
    return postgres.database_exists(target.settings, target.name)


def read_marker(target: Target) -> Any:
    """The mark create_test_env leaves in a copy (a dict), or None."""
    if not exists(target):
        return None
    if target.vendor == "sqlite":
        conn = sqlite.connect(target.name)
        try:
            found = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", [MARKER_TABLE]
            ).fetchone()
            if not found:
                return None
            row = conn.execute(f"SELECT facts FROM {MARKER_TABLE}").fetchone()  # noqa: S608
        except Exception:
            return None
        finally:
            conn.close()
    else:
        conn = postgres.connect(target.settings)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s)", [MARKER_TABLE])
                if cursor.fetchone()[0] is None:
                    return None
                cursor.execute(f"SELECT facts FROM {MARKER_TABLE}")  # noqa: S608
                row = cursor.fetchone()
        finally:
            conn.close()
    return json.loads(row[0]) if row else None


def drop(target: Target) -> None:
    if target.vendor == "postgresql":
        postgres.drop_database(target.settings, target.name)
    else:
        remove_quietly(*_sqlite_files(target.name))


def _sqlite_files(path: str) -> tuple[str, str, str, str]:
    return (path, path + "-wal", path + "-shm", path + "-journal")


@contextlib.contextmanager
def opened(target: Target) -> Iterator:
    """A Django connection alias on the copy, for the ORM (`.using(ALIAS)`). The connection is
    handed to Django's handler for this thread only, not added to the configured databases:
    nothing that walks every configured database (close_all, test isolation) sees it."""
    from django.db.utils import load_backend

    settings_dict = {
        **connections["default"].settings_dict,
        **target.settings,
        "NAME": target.name,
        "CONN_MAX_AGE": 0,
    }
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, ALIAS)
    connections[ALIAS] = wrapper
    try:
        yield ALIAS
    finally:
        with contextlib.suppress(Exception):
            wrapper.close()
        with contextlib.suppress(Exception):
            del connections[ALIAS]


# --- create_test_env ---------------------------------------------------------------------------


def plan(target_value: str | None = None, replace: bool = False) -> tuple[Target, Target, bool]:
    """Where the copy goes; raises TestEnvError when it must not be made."""
    live = service.Target.live()
    target = resolve_target(target_value, live)
    present = exists(target)
    if present and not replace:
        raise TestEnvError(f"{target.label()} exists: add --replace to make it again")
    if present and read_marker(target) is None:
        raise TestEnvError(
            f"{target.label()} exists and was not made by create_test_env: refusing to replace it"
        )
    return live, target, present


def create_test_env(
    target_value: str | None = None,
    replace: bool = False,
    seed: int = 0,
    dry_run: bool = False,
    test_login: str | None = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    live, target, present = plan(target_value, replace)
    report = {
        "source": live.label(),
        "target": target.label(),
        "target_name": target.name,
        "database_url": shown_url(target),
        "engine": live.vendor,
        "seed": seed,
        "replaced": present,
        "dry_run": dry_run,
        "test_login": None,
    }
    if dry_run:
        report["anonymized"] = Anonymizer.preview()
        return report
    started = time.monotonic()
    building = (
        target if target.vendor == "postgresql" else target.with_name(target.name + ".partial")
    )
    try:
        _copy(live, target, building, present, progress)
        report["copy_seconds"] = round(time.monotonic() - started, 3)
        with opened(building) as alias:
            _remove_capture(alias)
            anonymizer = Anonymizer(alias, seed, progress=progress)
            with transaction.atomic(using=alias):
                report["anonymized"] = anonymizer.run()
                if test_login:
                    report["test_login"] = _test_login(alias, test_login)
                _mark(alias, live, seed)
            report["rows"] = _row_counts(alias)
        if building is not target:
            _replace_sqlite(building.name, target.name)
    except BaseException:
        connections.close_all()
        with contextlib.suppress(Exception):
            drop(building)
        raise
    report["seconds"] = round(time.monotonic() - started, 3)
    return report


def _copy(
    live: Target,
    target: Target,
    building: Target,
    present: bool,
    progress: Progress,
) -> None:
    if live.vendor == "postgresql":
        folder = tempfile.mkdtemp(prefix="carshop-test-env-")
        try:
            dump = os.path.join(folder, "live.dump")
            info = postgres.full_backup(live.settings, dump, compress=False, progress=progress)
            if present:
                postgres.drop_database(target.settings, target.name)
            postgres.create_database(target.settings, target.name)
            # The restore checks every table's row count against the dump's before it commits.
            postgres.restore(
                target.settings,
                target.name,
                [({"id": "test-env", "tables": info["tables"]}, dump)],
                progress,
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        remove_quietly(*_sqlite_files(building.name))
        folder = os.path.dirname(os.path.abspath(building.name))
        os.makedirs(folder, exist_ok=True)
        sqlite.copy_database(live.name, building.name)
        conn = sqlite.connect(building.name)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            conn.close()


def _replace_sqlite(partial: str, final: str) -> None:
    remove_quietly(final + "-wal", final + "-shm", final + "-journal")
    os.replace(partial, final)


def _remove_capture(alias: str) -> None:
    """The live database's change capture (backup triggers) is not wanted in a test copy: it
    would log every anonymized row, and the copy is not backed up in the live chain."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        if capture.is_installed(cursor, connection.vendor):
            capture.uninstall(cursor, connection.vendor)


def _mark(alias: str, live: Target, seed: int) -> None:
    facts = json.dumps(
        {
            "made_at": timezone.now().isoformat(),
            "source": live.label(),
            "seed": seed,
            "made_by": "create_test_env",
        }
    )
    with connections[alias].cursor() as cursor:
        cursor.execute(f"CREATE TABLE {MARKER_TABLE} (facts text NOT NULL)")
        cursor.execute(f"INSERT INTO {MARKER_TABLE} (facts) VALUES (%s)", [facts])  # noqa: S608


def _row_counts(alias: str) -> dict:
    from django.apps import apps

    counts = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        counts[model._meta.db_table] = model._base_manager.using(alias).count()
    return counts


def _test_login(alias: str, username: str) -> dict[str, Any]:
    """The one account of the copy that can log in: an existing user (keeps their roles) or a
    new superuser. Its password is random and printed once."""
    import secrets

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    model = get_user_model()
    password = secrets.token_urlsafe(12)
    users = model._default_manager.db_manager(alias)
    user = users.filter(username=username).first()
    if user is None:
        # bulk_create: no signals, so no audit entry is credited to anybody in the copy.
        users.bulk_create(
            [
                model(
                    username=username,
                    is_staff=True,
                    is_superuser=True,
                    is_active=True,
                    password=make_password(password),
                    first_name="Test",
                    last_name="Login",
                    email=f"{username}@example.com",
                )
            ]
        )
        created = True
    else:
        users.filter(pk=user.pk).update(
            password=make_password(password), is_active=True, is_staff=True
        )
        created = False
    return {"username": username, "password": password, "created": created}
