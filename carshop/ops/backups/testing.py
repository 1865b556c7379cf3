"""Helpers for the backup tests (tests/test_backup_*.py) and drills: an independent look at
every row of every table, and running the commands in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import connections

from carshop.ops.backups import capture
from carshop.ops.backups.introspect import pg_tables, qi, sqlite_tables

if TYPE_CHECKING:
    from subprocess import CompletedProcess, Popen


def table_contents(alias: str = "default") -> dict:
    """{table: sorted rows} of every table, read with plain SELECTs: a check that does not rely on
    the checksums under test."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        tables = pg_tables(cursor) if connection.vendor == "postgresql" else sqlite_tables(cursor)
        contents = {}
        for table in tables:
            columns = ", ".join(qi(c) for c in table.columns)
            cursor.execute(f"SELECT {columns} FROM {qi(table.name)}")
            contents[table.name] = sorted(tuple(map(repr, row)) for row in cursor.fetchall())
    return contents


def remove_capture(alias: str = "default") -> None:
    """Take change capture off a database (tests leave the test database as they found it)."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        if capture.is_installed(cursor, connection.vendor):
            capture.uninstall(cursor, connection.vendor)


def database_url(alias: str = "default") -> str:
    s = connections[alias].settings_dict
    if connections[alias].vendor == "sqlite":
        return "sqlite:///" + os.path.abspath(s["NAME"])
    credentials = s["USER"] or ""
    if s.get("PASSWORD"):
        credentials += ":" + s["PASSWORD"]
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{credentials}@{host}:{port}/{s['NAME']}"


def command_env(**extra: object) -> dict[str, str]:
    """Environment for `manage.py` in a child process, on the same database and folders."""
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url(),
        "BACKUP_DIR": str(settings.BACKUP_DIR),
        "BACKUP_STATUS_FILE": str(settings.BACKUP_STATUS_FILE),
        "BACKUP_SCRATCH_DATABASE": str(settings.BACKUP_SCRATCH_DATABASE),
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


def manage_command() -> list[str]:
    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]


def manage(
    *args: str, env: dict[str, str] | None = None, timeout: int = 120
) -> CompletedProcess[str]:
    connections.close_all()  # a restore wants the database to itself
    manage_py = Path(settings.BASE_DIR) / "manage.py"
    return subprocess.run(
        [sys.executable, str(manage_py), *args],
        env=env or command_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kill_at(point: str, *args: str, timeout: float = 60) -> str:
    """Run `manage.py *args` until it reports "paused at POINT", then SIGKILL it. Returns what it
    wrote on stderr. Fails if it never reaches the point."""
    connections.close_all()  # a restore wants the database to itself
    manage_py = Path(settings.BASE_DIR) / "manage.py"
    env = command_env(CARSHOP_BACKUP_PAUSE_AT=point)
    process = subprocess.Popen(
        [sys.executable, str(manage_py), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    deadline = time.monotonic() + timeout
    try:
        for line in cast("IO[str]", process.stderr):  # stderr=PIPE: never None
            seen.append(line)
            if line.strip() == f"paused at {point}":
                process.kill()
                process.wait()
                return "".join(seen)
            if time.monotonic() > deadline:
                break
        process.wait()
        raise AssertionError(f"never paused at {point}: {''.join(seen)}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def configure(tmp_path: Path, settings: Any) -> Path:
    """Point every backup setting at `tmp_path` (pytest-django's `settings` fixture)."""
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.STORAGES = {
        **settings.STORAGES,
        "dbbackup": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "backups")},
        },
    }
    settings.BACKUP_STATUS_FILE = tmp_path / "backup-status.json"
    if connections["default"].vendor == "postgresql":
        # One scratch database per test database: parallel runs on other databases of the same
        # server do not collide.
        live = connections["default"].settings_dict["NAME"]
        settings.BACKUP_SCRATCH_DATABASE = f"carshop_backups_scratch_{live}"[:63]
    else:
        settings.BACKUP_SCRATCH_DATABASE = str(tmp_path / "scratch.sqlite3")
    return settings.BACKUP_DIR


def cleanup() -> None:
    """After a test: no change capture left on the test database, no scratch database."""
    from carshop.ops.backups import postgres

    connections.close_all()
    remove_capture()
    if connections["default"].vendor == "postgresql":
        postgres.drop_database(
            connections["default"].settings_dict, settings.BACKUP_SCRATCH_DATABASE
        )


def seed() -> None:
    """A small shop: customers, vehicles, parts, a supplier, stock movements, a user in a group
    (rows in many tables, foreign keys and a many-to-many), and values that are awkward to copy
    (quotes, backslashes, newlines, non-ASCII, NULLs, decimals)."""
    from datetime import date
    from decimal import Decimal

    from django.contrib.auth.models import Group

    from accounts.models import Customer, User
    from inventory.models import OdometerReading, Part, StockMovement, Supplier, Vehicle

    user = User.objects.create_user("bk-advisor", email="advisor@example.com")
    user.groups.add(*Group.objects.all()[:2])
    # create() (not bulk_create) where a model fills derived fields in save().
    customers = [
        Customer.objects.create(
            first_name=f"First{i}",
            last_name=f"Last{i}",
            email=f"c{i}@example.com",
            city="Springfield",
        )
        for i in range(30)
    ]
    Customer.objects.create(
        first_name="Zoë",
        last_name="O'Brien",
        notes="quote ' backslash \\ tab\tnewline\n emoji \U0001f697 ;\\.",
    )
    vehicles = [
        Vehicle.objects.create(
            vin=f"1HGCM82633A{i:06d}",
            make="Honda",
            model="Accord",
            model_year=2010 + i,
            owner=customers[i] if i % 3 else None,
        )
        for i in range(10)
    ]
    OdometerReading.objects.bulk_create(
        [
            OdometerReading(
                vehicle=vehicle,
                reading=1000 * (i + 1),
                read_on=date(2024, 1, 1 + i),
                recorded_by=user,
            )
            for i, vehicle in enumerate(vehicles)
        ]
    )
    parts = Part.objects.bulk_create(
        [
            Part(
                sku=f"BK-{i:03d}",
                description=f"Brake pad set {i}",
                unit_cost=Decimal("12.50") + i,
                price_override=None if i % 2 else Decimal("99.99"),
            )
            for i in range(20)
        ]
    )
    Supplier.objects.create(name="Parts Depot", notes="Ships Tuesdays")
    from accounts.models import Location
    from inventory.models import PartStock

    location = Location.default()
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                part=part,
                location=location,
                kind="receipt",
                quantity=5,
                unit_cost=part.unit_cost,
                user=user,
            )
            for part in parts[:10]
        ]
    )
    PartStock.objects.bulk_create(
        [
            PartStock(part=part, location=location, on_hand=0, average_cost=part.unit_cost)
            for part in parts
        ]
    )


def checksums(alias: str = "default") -> dict[str, Any]:
    """Row count and checksum of every table of the live database, as a manifest holds them:
    what the fault drills compare with "the old state" and "the restored backup"."""
    from carshop.ops.backups import postgres, service, sqlite

    connections.close_all()
    target = service.Target.live(alias)
    if target.vendor == "postgresql":
        return postgres.compare(target.settings, target.name)
    conn = sqlite.connect(target.name)  # one connection, no checksum processes: a small database
    try:
        conn.execute("BEGIN")
        return {t.name: sqlite.scan_checksum(conn, t) for t in sqlite_tables(conn)}
    finally:
        conn.close()


def start(
    *args: str, pause_at: str | None = None, pause_seconds: float | None = None, **env: object
) -> Popen[str]:
    """`manage.py *args` in a child process (stderr piped, text), optionally pausing at a point."""
    connections.close_all()
    extra = dict(env)
    if pause_at:
        extra["CARSHOP_BACKUP_PAUSE_AT"] = pause_at
    if pause_seconds is not None:
        extra["CARSHOP_BACKUP_PAUSE_SECONDS"] = pause_seconds
    return subprocess.Popen(
        [*manage_command(), *args],
        env=command_env(**extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_pause(process: Popen[str], point: str, timeout: int = 60) -> str:
    """Read the child's stderr until it says "paused at POINT"; returns what it wrote."""
    seen = []
    deadline = time.monotonic() + timeout
    for line in cast("IO[str]", process.stderr):  # started with stderr=PIPE
        seen.append(line)
        if line.strip() == f"paused at {point}":
            return "".join(seen)
        if time.monotonic() > deadline:
            break
    process.kill()
    process.wait()
    raise AssertionError(f"never paused at {point}: {''.join(seen)}")


def descendants(pid: int) -> dict[int, str]:
    """Pids of every process below `pid` (Linux /proc), with their command names."""
    found = {}
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                try:
                    name = Path(f"/proc/{child}/comm").read_text().strip()
                except OSError:
                    continue
                found[child] = name
                pending.append(child)
    return found
