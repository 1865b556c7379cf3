"""Backup and restore figures against the bare database tools, on a generated Carshop database.

    .venv/bin/python bench/backup_bench.py --engine postgresql --size-mb 1024
    .venv/bin/python bench/backup_bench.py --engine sqlite --size-mb 1024

PostgreSQL uses the database carshop_backups_bench (override with --database; it is dropped and
created), SQLite a file in bench/data/. Steps, all in one run:
1. migrate, then grow the Carshop tables (customers, vehicles, parts, suppliers, stock movements,
   odometer readings) by copying a few template rows made through the ORM until the database
   reaches --size-mb (varying every text column so the data does not compress away);
2. full backup: `pg_dump -Fc` (or `sqlite3 DB .backup`) against `backup --type=full`;
3. restore into an empty database: `pg_restore -d` (or `sqlite3 NEW .restore`) against Carshop's
   restore path (chain verification, one-transaction restore and its checks);
4. change 1% of the rows of every generated table (spread evenly), then
   `backup --type=incremental` against the full backup's time and size.
Figures are printed and appended to bench/RESULTS-backups.md with --write.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
GROWN = (
    "accounts_customer",
    "inventory_vehicle",
    "inventory_part",
    "inventory_supplier",
    "inventory_stockmovement",
    "inventory_odometerreading",
)


def setup(engine, database):
    DATA.mkdir(parents=True, exist_ok=True)
    if engine == "postgresql":
        url = f"postgres://postgres@127.0.0.1:5432/{database}"
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-qc",
                f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
            ],
            check=True,
        )
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'CREATE DATABASE "{database}"'],
            check=True,
        )
    else:
        path = DATA / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    os.environ.update(
        {
            "DATABASE_URL": url,
            "DJANGO_ENV": "development",
            "LOG_TO_CONSOLE": "false",
            "VAR_DIR": str(DATA / "var"),
            "BACKUP_DIR": str(DATA / "backups"),
            "DJANGO_SETTINGS_MODULE": "carshop.settings",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def grow(target_mb):
    """Copy template rows of each table in SQL until the database is big enough."""
    from django.db import connection, transaction

    from carshop.ops.backups import testing

    testing.seed()
    vendor = connection.vendor
    plans = {}
    with connection.cursor() as cursor:
        tables = (
            testing.pg_tables(cursor) if vendor == "postgresql" else testing.sqlite_tables(cursor)
        )
    for table in tables:
        if table.name not in GROWN:
            continue
        columns, values = [], []
        for column, coltype in zip(table.columns, table.types, strict=True):
            if column in table.pk:
                continue
            columns.append(column)
            text = any(word in coltype for word in ("char", "text"))
            if text:
                # Keep the length limit, and make every row's text different.
                limit = coltype.split("(")[1].rstrip(")") if "(" in coltype else "200"
                values.append(_vary(vendor, f"t.{testing.qi(column)}", int(limit), column))
            else:
                values.append(f"t.{testing.qi(column)}")
        plans[table.name] = (columns, values)
    weights = {
        "inventory_stockmovement": 8,
        "inventory_odometerreading": 4,
        "accounts_customer": 4,
        "inventory_vehicle": 3,
        "inventory_part": 2,
        "inventory_supplier": 1,
    }
    batch = 0
    while size_mb() < target_mb:
        batch += 1
        for name, (columns, values) in plans.items():
            count = 2500 * weights.get(name, 1)
            column_list = ", ".join(testing.qi(c) for c in columns)
            series = (
                f"generate_series(1, {count}) AS g(n)"
                if vendor == "postgresql"
                else f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
                f"WHERE n < {count}) SELECT n FROM s) AS g"
            )
            sql = (
                f"INSERT INTO {testing.qi(name)} ({column_list}) "
                f"SELECT {', '.join(values)} FROM (SELECT * FROM {testing.qi(name)} "
                f"ORDER BY 1 LIMIT 1) AS t, {series}"
            )
            sql = sql.replace("{batch}", str(batch))
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)
        if batch % 10 == 0:
            print(f"  generated {size_mb():.0f} MB", flush=True)
    return rows_by_table()


def _vary(vendor, expression, limit, column):
    # Random hex, so that the data compresses about as well as real text does, not to nothing.
    noise = (
        "md5(g.n::text || '{batch}')" if vendor == "postgresql" else "lower(hex(randomblob(16)))"
    )
    suffix = f"'{{batch}}-' || g.n || ' ' || {noise}"
    if column.startswith("vin"):
        # A VIN is exactly 17 characters and unique (and so are the columns derived from it).
        if vendor == "sqlite":
            return "printf('V%05d%011d', {batch}, g.n)"
        return "'V' || lpad('{batch}', 5, '0') || lpad(CAST(g.n AS TEXT), 11, '0')"
    if column == "kind":
        return expression
    return f"substr({expression} || ' ' || {suffix} || ' ' || {noise}, 1, {max(limit, 1)})"


def size_mb():
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0] / 1024 / 1024
    path = connection.settings_dict["NAME"]
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p)) / 1048576


def rows_by_table():
    from django.db import connection

    from carshop.ops.backups import testing

    with connection.cursor() as cursor:
        return {
            name: _count(cursor, name)
            for name in GROWN
            if name
            in {
                t.name
                for t in (
                    testing.pg_tables(cursor)
                    if connection.vendor == "postgresql"
                    else testing.sqlite_tables(cursor)
                )
            }
        }


def _count(cursor, name):
    from carshop.ops.backups.introspect import qi

    cursor.execute(f"SELECT count(*) FROM {qi(name)}")
    return cursor.fetchone()[0]


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def run(engine, target_mb, database, write):
    setup(engine, database)
    from django.db import connection

    from carshop.ops.backups import destination, postgres, service

    print(f"generating about {target_mb} MB of Carshop data ({engine})", flush=True)
    seconds, rows = timed(lambda: grow(target_mb))
    if engine == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = size_mb()
    print(f"  {size:.0f} MB, {sum(rows.values())} rows in the grown tables ({seconds:.0f}s)")
    connection.close()
    out = DATA / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    settings_dict = dict(connection.settings_dict)
    figures = {"engine": engine, "database_mb": round(size), "rows": sum(rows.values())}

    # --- full backup ---------------------------------------------------------------------------
    if engine == "postgresql":
        args, env = postgres.cli_args(settings_dict)
        bare_file = out / "bare.dump"
        bare_seconds, _ = timed(
            lambda: subprocess.run(
                ["pg_dump", *args, "-Fc", f"--file={bare_file}"], env=env, check=True
            )
        )
    else:
        bare_file = out / "bare.sqlite3"
        bare_seconds, _ = timed(
            lambda: subprocess.run(
                ["sqlite3", settings_dict["NAME"], f".backup '{bare_file}'"], check=True
            )
        )
    place = destination.LocalDestination(out / "carshop")
    full_seconds, full = timed(lambda: service.create_backup("full", place))
    figures["full"] = {
        "bare_seconds": round(bare_seconds, 2),
        "bare_bytes": bare_file.stat().st_size,
        "carshop_seconds": round(full_seconds, 2),
        "carshop_bytes": full["file"]["size"],
    }
    print(
        f"full: bare {bare_seconds:.1f}s {bare_file.stat().st_size / 1048576:.0f} MB; carshop "
        f"{full_seconds:.1f}s {full['file']['size'] / 1048576:.0f} MB "
        f"(x{full_seconds / bare_seconds:.2f} time, "
        f"x{full['file']['size'] / bare_file.stat().st_size:.2f} size)",
        flush=True,
    )

    # --- restore into an empty database --------------------------------------------------------
    if engine == "postgresql":
        bare_db, our_db = f"{database}_bare", f"{database}_ours"
        for name in (bare_db, our_db):
            postgres.drop_database(settings_dict, name)
            postgres.create_database(settings_dict, name)
        args, env = postgres.cli_args(settings_dict, bare_db)
        bare_restore, _ = timed(
            lambda: subprocess.run(
                ["pg_restore", *args, "--no-owner", str(bare_file)], env=env, check=True
            )
        )
        target = service.Target("postgresql", {**settings_dict, "NAME": our_db})
    else:
        bare_path, our_path = out / "bare-restored.sqlite3", out / "ours-restored.sqlite3"
        bare_restore, _ = timed(
            lambda: subprocess.run(
                ["sqlite3", str(bare_path), f".restore '{bare_file}'"], check=True
            )
        )
        target = service.Target("sqlite", {**settings_dict, "NAME": str(our_path)})

    def our_restore():
        chain = service.resolve_chain(full, place)
        local = service.verify_chain(chain, target)
        service._restore_into(target, [(m, path) for m, path, _ in local])

    ours_restore, _ = timed(our_restore)
    figures["restore"] = {
        "bare_seconds": round(bare_restore, 2),
        "carshop_seconds": round(ours_restore, 2),
    }
    print(
        f"restore: bare {bare_restore:.1f}s; carshop {ours_restore:.1f}s "
        f"(x{ours_restore / bare_restore:.2f})",
        flush=True,
    )
    if engine == "postgresql":
        for name in (bare_db, our_db):
            postgres.drop_database(settings_dict, name)

    # --- incremental after changing 1% of the rows ---------------------------------------------
    from django.db import transaction

    changed = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for name in rows:
            text_column = {
                "accounts_customer": "city",
                "inventory_vehicle": "color",
                "inventory_part": "bin_location",
                "inventory_supplier": "phone",
                "inventory_stockmovement": "reference",
                "inventory_odometerreading": "note",
            }[name]
            cursor.execute(f"UPDATE {name} SET {text_column} = 'changed' WHERE id % 100 = 0")
            changed += cursor.rowcount
    connection.close()
    inc_seconds, inc = timed(lambda: service.create_backup("incremental", place, compress=True))
    assert inc["kind"] == "incremental", inc.get("promoted_reason")
    figures["incremental"] = {
        "changed_rows": changed,
        "carshop_seconds": round(inc_seconds, 2),
        "carshop_bytes": inc["file"]["size"],
        "time_vs_full": round(inc_seconds / full_seconds, 4),
        "size_vs_full": round(inc["file"]["size"] / full["file"]["size"], 4),
    }
    print(
        f"incremental, compressed ({changed} rows changed): {inc_seconds:.2f}s "
        f"{inc['file']['size'] / 1048576:.1f} MB = {100 * inc_seconds / full_seconds:.1f}% of "
        f"the full backup's time, {100 * inc['file']['size'] / full['file']['size']:.1f}% of "
        "its size",
        flush=True,
    )
    if write:
        _write(figures)
    return figures


def _write(figures):
    import json

    path = ROOT / "bench" / "RESULTS-backups.md"
    with open(path, "a") as handle:
        handle.write(f"\n<!-- raw figures {time.strftime('%Y-%m-%d %H:%M')} -->\n")
        handle.write("```json\n" + json.dumps(figures, indent=2) + "\n```\n")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--database", default="carshop_backups_bench")
    parser.add_argument(
        "--write", action="store_true", help="append the raw figures to bench/RESULTS-backups.md"
    )
    options = parser.parse_args()
    run(options.engine, options.size_mb, options.database, options.write)


if __name__ == "__main__":
    main()
