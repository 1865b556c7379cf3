"""Data export and import against the bare tools, side by side in one run.

    .venv/bin/python -m bench.dataio --source postgres://postgres@127.0.0.1:5432/carshop_bench \
        --label "full (1,000,000 repair orders)" --write

For one source database (read only), each step in its own process, timed with its peak memory
(`/usr/bin/time`): Carshop's JSON export (with its default parallel workers and without any)
against a bare `COPY ... TO STDOUT` of every table (one snapshot), Carshop's JSON import of that
file into an empty, migrated database against a bare `COPY ... FROM STDIN` of the bare files into
another (foreign keys unchecked, as pg_restore does), and a CSV import of the vehicles table:
Carshop's, django-import-export's bulk mode, a bare COPY of the same file, and a bare COPY of the
file and of the audit entries Carshop's import wrote for it (--csv-only: that part alone). The
scratch databases are carshop_dataio_* (another prefix with --scratch-prefix) on the same
server, dropped at the end. With --write the figures go into
bench/RESULTS-dataio.md, one section per --label.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
RESULTS = ROOT / "bench" / "RESULTS-dataio.md"
EMPTY = "carshop_dataio_empty"
TARGET = "carshop_dataio_target"
CSV_TABLE = "vehicles"


def url_for(source: str, name: str) -> str:
    parts = urlsplit(source)
    return urlunsplit(parts._replace(path=f"/{name}"))


def psql_args(url: str) -> list[str]:
    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """(seconds, peak RSS in MB, stdout) of a command run under /usr/bin/time."""
    started = time.monotonic()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *command],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    peak_kb = int(result.stderr.strip().splitlines()[-1])
    return seconds, peak_kb // 1024, result.stdout


def manage_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=url, DEBUG="false", DJANGO_ENV=env.get("DJANGO_ENV", "development"))
    return env


def fresh(source: str, name: str) -> str:
    """An empty, migrated database `name` (a copy of the migrated template)."""
    admin = url_for(source, "postgres")
    subprocess.run([*psql_args(admin), "-c", f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run(
        [*psql_args(admin), "-c", f"CREATE DATABASE {name} TEMPLATE {EMPTY}"], check=True
    )
    return url_for(source, name)


def make_template(source: str) -> None:
    admin = url_for(source, "postgres")
    subprocess.run([*psql_args(admin), "-c", f"DROP DATABASE IF EXISTS {EMPTY}"], check=True)
    subprocess.run([*psql_args(admin), "-c", f"CREATE DATABASE {EMPTY}"], check=True)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput"],
        env=manage_env(url_for(source, EMPTY)),
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    # The rows some migrations add (starter templates): the source's own come with the import.
    template = url_for(source, EMPTY)
    tables = data_tables(template)
    subprocess.run(
        [*psql_args(template), "-c", f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"],
        check=True,
    )


def drop(source: str, *names: str) -> None:
    admin = url_for(source, "postgres")
    for name in names:
        subprocess.run([*psql_args(admin), "-c", f"DROP DATABASE IF EXISTS {name}"], check=True)


def data_tables(url: str) -> list[str]:
    """The tables with rows that an export carries (not migrate's own)."""
    out = subprocess.run(
        [
            *psql_args(url),
            "-At",
            "-c",
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname NOT IN "
            "('django_migrations', 'django_content_type', 'auth_permission', 'django_session', "
            "'django_admin_log') AND c.relname NOT LIKE 'axes_%' "
            "AND c.relname NOT LIKE 'django_tasks%' AND c.relname NOT LIKE 'reports_%' "
            "ORDER BY 1",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def row(
    step: str, rows: int, seconds: float, peak: int, note: str = "", work: float | None = None
) -> dict[str, object]:
    """A figure; `work`: the time the command itself reports, without Python's and Django's
    start-up (which alone takes seconds on a loaded machine), the time rows/s is of."""
    spent = work if work is not None else seconds
    return {
        "step": step,
        "rows": rows,
        "seconds": seconds,
        "work": spent,
        "rate": rows / spent if spent else 0,
        "peak": peak,
        "note": note,
    }


def reported_seconds(out: str) -> float:
    return float(re.findall(r"([0-9.]+) s\)", out)[-1])


def measure(
    source: str, folder: Path, verify: bool, csv_limit: int | None, export_only: bool = False
) -> list[dict[str, object]]:
    figures = []
    tables = data_tables(source)

    # Export: Carshop's JSON against a bare COPY of every table, both from one snapshot.
    export = folder / "all.json"
    seconds, peak, out = timed(
        [PYTHON, "manage.py", "export", "--format=json", "--include-secrets", f"--output={export}"],
        manage_env(source),
    )
    rows = int(re.search(r"exported (\d+) rows", out).group(1))  # type: ignore[union-attr]
    size = export.stat().st_size / 1e9
    figures.append(
        row(
            "Carshop `export --format=json` (parallel workers: 2, the default)",
            rows,
            seconds,
            peak,
            f"{size:.2f} GB",
            reported_seconds(out),
        )
    )
    alone = folder / "alone.json"
    seconds, peak, out = timed(
        [
            PYTHON,
            "manage.py",
            "export",
            "--format=json",
            "--include-secrets",
            "--workers=0",
            f"--output={alone}",
        ],
        manage_env(source),
    )
    figures.append(
        row(
            "Carshop `export --format=json --workers 0` (no parallel workers)",
            rows,
            seconds,
            peak,
            f"{alone.stat().st_size / 1e9:.2f} GB",
            reported_seconds(out),
        )
    )
    alone.unlink()
    bare = folder / "bare"
    bare.mkdir()
    script = folder / "bare_out.sql"
    script.write_text(
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"
        + "".join(f"\\copy {table} TO '{bare / table}.tsv'\n" for table in tables)
        + "COMMIT;\n"
    )
    seconds, peak, _ = timed([*psql_args(source), "-f", str(script)])
    size = sum(path.stat().st_size for path in bare.iterdir()) / 1e9
    figures.append(
        row("bare `COPY table TO STDOUT` (psql \\copy)", rows, seconds, peak, f"{size:.2f} GB")
    )

    if export_only:
        return figures

    # Import: Carshop's JSON import into an empty database against a bare COPY of every table.
    target = fresh(source, TARGET)
    seconds, peak, out = timed(
        [PYTHON, "manage.py", "import", "--format=json", f"--input={export}"], manage_env(target)
    )
    imported = int(re.search(r"imported (\d+) rows", out).group(1))  # type: ignore[union-attr]
    note = "every check, one transaction"
    if verify:
        note += "; " + compare(source, target)
    figures.append(
        row("Carshop `import --format=json`", imported, seconds, peak, note, reported_seconds(out))
    )
    export.unlink()
    target = fresh(source, TARGET)
    script = folder / "bare_in.sql"
    script.write_text(
        "BEGIN;\nSET session_replication_role = replica;\n"
        f"TRUNCATE {', '.join(tables)} CASCADE;\n"
        + "".join(f"\\copy {table} FROM '{bare / table}.tsv'\n" for table in tables)
        + "COMMIT;\n"
    )
    seconds, peak, _ = timed([*psql_args(target), "-f", str(script)])
    figures.append(
        row(
            "bare `COPY table FROM STDIN` (psql \\copy)",
            rows,
            seconds,
            peak,
            "no checks at all, foreign keys not checked",
        )
    )
    shutil.rmtree(bare)
    return figures + measure_csv(source, folder, csv_limit)


def measure_csv(source: str, folder: Path, csv_limit: int | None) -> list[dict[str, object]]:
    """CSV of one large table: Carshop, django-import-export's bulk mode, a bare COPY of the
    file, and a bare COPY of the file and of the audit entries Carshop's import writes for it
    (the same rows into both tables, no check at all)."""
    figures = []
    csv_path = folder / f"{CSV_TABLE}.csv"
    subprocess.run(
        [
            PYTHON,
            "manage.py",
            "export",
            "--format=csv",
            f"--tables={CSV_TABLE}",
            f"--output={csv_path}",
        ],
        env=manage_env(source),
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(csv_path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        records = list(reader) if csv_limit else None
    if records is not None:  # the first csv_limit rows, the same file for every contender
        with open(csv_path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(records[:csv_limit])
    with open(csv_path, newline="") as handle:
        csv_rows = sum(1 for _ in csv.reader(handle)) - 1
    for step, command in (
        (
            "Carshop `import --format=csv` (COPY to staging, checks in SQL and batches)",
            [
                PYTHON,
                "manage.py",
                "import",
                "--format=csv",
                f"--tables={CSV_TABLE}",
                f"--input={csv_path}",
            ],
        ),
        (
            "django-import-export, bulk mode (use_bulk, batch_size 1000)",
            [PYTHON, "-m", "bench.dataio_bulk", CSV_TABLE, str(csv_path)],
        ),
    ):
        target = prepared_csv_target(source)
        seconds, peak, out = timed(command, manage_env(target))
        work = reported_seconds(out) if "(" in out else None
        figures.append(row(f"CSV {CSV_TABLE}: {step}", csv_rows, seconds, peak, work=work))
        if step.startswith("Carshop"):  # the audit entries it wrote, for the last bare step
            entries = audit_entries(target, folder / "audit.tsv")
    target = prepared_csv_target(source)
    columns, texts = csv_columns(header, target)
    copy_file = (
        f"\\copy inventory_vehicle ({', '.join(columns)}) FROM '{csv_path}' "
        f"WITH (FORMAT csv, HEADER, FORCE_NOT_NULL ({', '.join(texts)}))\n"
    )
    script = folder / "csv_in.sql"
    script.write_text(copy_file)
    seconds, peak, _ = timed([*psql_args(target), "-f", str(script)])
    figures.append(
        row(f"CSV {CSV_TABLE}: bare `COPY ... FROM STDIN` (psql \\copy)", csv_rows, seconds, peak)
    )
    target = prepared_csv_target(source)
    subprocess.run(
        [*psql_args(target), "-c", f"\\copy accounts_user FROM '{folder / 'audit.tsv'}.users'"],
        check=True,
    )
    script.write_text(
        "BEGIN;\n"
        + copy_file
        + f"\\copy auditlog_logentry ({entries}) FROM '{folder / 'audit.tsv'}'\n"
        "COMMIT;\n"
    )
    seconds, peak, _ = timed([*psql_args(target), "-f", str(script)])
    figures.append(
        row(
            f"CSV {CSV_TABLE}: bare `COPY` of the file and of the import's audit entries "
            "(psql \\copy, one transaction)",
            csv_rows,
            seconds,
            peak,
            "the rows Carshop writes, in both tables, no check",
        )
    )
    drop(source, TARGET)
    return figures


def audit_entries(url: str, path: Path) -> str:
    """The audit log's rows in the database `url` (all of them the CSV import's) written to
    `path` for COPY, without their ids; the columns written."""
    out = subprocess.run(
        [
            *psql_args(url),
            "-At",
            "-c",
            "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) "
            "FROM information_schema.columns "
            "WHERE table_name = 'auditlog_logentry' AND column_name <> 'id'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    columns = out.stdout.strip()
    subprocess.run(  # the operator they are credited to, whom the bare COPY's database lacks
        [
            *psql_args(url),
            "-c",
            "\\copy (SELECT * FROM accounts_user WHERE id IN "  # noqa: S608
            f"(SELECT actor_id FROM auditlog_logentry)) TO '{path}.users'",
        ],
        check=True,
    )
    subprocess.run(
        [
            *psql_args(url),
            "-c",
            f"\\copy (SELECT {columns} FROM auditlog_logentry ORDER BY id) TO '{path}'",  # noqa: S608
        ],
        check=True,
    )
    return columns


def prepared_csv_target(source: str) -> str:
    """An empty database with the vehicles' owners in place (customers copied from the
    source), so that the CSV import of vehicles has its foreign keys to check."""
    target = fresh(source, TARGET)
    dump = subprocess.Popen(
        [*psql_args(source), "-c", "\\copy accounts_customer TO STDOUT"], stdout=subprocess.PIPE
    )
    subprocess.run(
        [*psql_args(target), "-c", "\\copy accounts_customer FROM STDIN"],
        stdin=dump.stdout,
        check=True,
    )
    dump.wait()
    return target


def csv_columns(header: list[str], url: str) -> tuple[list[str], list[str]]:
    """The table's column for each CSV column (a foreign key's field name is its _id column),
    and those of them where an empty cell is an empty text, not NULL."""
    out = subprocess.run(
        [
            *psql_args(url),
            "-At",
            "-F",
            " ",
            "-c",
            "SELECT column_name, is_nullable, data_type FROM information_schema.columns "
            "WHERE table_name = 'inventory_vehicle'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    kinds = {
        name: (nullable, kind)
        for name, nullable, kind in (line.split(" ", 2) for line in out.stdout.splitlines())
    }
    columns = [name if name in kinds else f"{name}_id" for name in header]
    texts = [
        name
        for name in columns
        if kinds[name][0] == "NO" and kinds[name][1] in ("character varying", "text")
    ]
    return columns, texts


def compare(source: str, target: str) -> str:
    """Every table's checksum in both databases (the link tables by rows: their ids are new)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carshop.settings")
    os.environ["DATABASE_URL"] = source
    import django

    django.setup()
    from django.db import connection

    from carshop.ops.backups import postgres

    settings_dict = connection.settings_dict
    left = postgres.compare(settings_dict, urlsplit(source).path.lstrip("/"))
    right = postgres.compare(settings_dict, urlsplit(target).path.lstrip("/"))
    from carshop.ops.data import tables

    fields: list[Any] = [
        field for table in tables.TABLES for field in table.model._meta.many_to_many
    ]
    links = {field.remote_field.through._meta.db_table for field in fields}
    # What an export holds: the tables of carshop.ops.data.tables and their links. The rest is
    # Django's own, the report summaries (made again by refresh_report_summaries) and the
    # sign-in logs (django-axes), none of which an export carries.
    exported = {table.model._meta.db_table for table in tables.TABLES} | links
    differ = [
        name
        for name in left
        if name in exported
        and (
            left[name]["rows"] != right.get(name, {}).get("rows")
            if name in links
            else left[name] != right.get(name)
        )
    ]
    if differ:
        return f"differ: {differ}"
    return f"the checksums of all {len(exported)} exported tables equal the source's"


def render(label: str, figures: list[dict[str, object]], load: str) -> str:
    lines = [
        f"## {label}",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average {load}.",
        "",
        "| step | rows | time | with start-up | rows/s | peak RSS | notes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for item in figures:
        lines.append(
            f"| {item['step']} | {item['rows']:,} | {item['work']:.1f} s | "
            f"{item['seconds']:.1f} s | {item['rate']:,.0f} | {item['peak']} MB | "
            f"{item['note']} |"
        )
    return "\n".join(lines) + "\n"


def write(label: str, text: str) -> None:
    content = RESULTS.read_text() if RESULTS.exists() else "# Data export and import: figures\n"
    pattern = re.compile(rf"^## {re.escape(label)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(content):
        content = pattern.sub(lambda _match: text + "\n", content)
    else:
        content = content.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(content)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--source", required=True, help="the database to export (read only)")
    parser.add_argument("--label", required=True, help="the section of RESULTS-dataio.md")
    parser.add_argument("--verify", action="store_true", help="compare checksums after import")
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS-dataio.md")
    parser.add_argument(
        "--export-only", action="store_true", help="measure the exports only (no scratch database)"
    )
    parser.add_argument(
        "--csv-only", action="store_true", help="measure the CSV imports only (the last section)"
    )
    parser.add_argument(
        "--csv-rows", type=int, default=None, help="import only the first N rows of the CSV file"
    )
    parser.add_argument("--folder", default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument(
        "--scratch-prefix",
        default="carshop_dataio",
        help="the scratch databases' names start with this (default: carshop_dataio)",
    )
    args = parser.parse_args(argv)
    # Scratch databases named after the source, so that runs on two sources do not meet.
    global EMPTY, TARGET
    name = urlsplit(args.source).path.lstrip("/").removeprefix("carshop_").removeprefix("dataio_")
    prefix = args.scratch_prefix
    EMPTY, TARGET = f"{prefix}_{name}_empty", f"{prefix}_{name}_target"
    if not args.export_only:
        make_template(args.source)
    folder = Path(tempfile.mkdtemp(prefix="dataio-", dir=args.folder))
    try:
        if args.csv_only:
            figures = measure_csv(args.source, folder, args.csv_rows)
        else:
            figures = measure(args.source, folder, args.verify, args.csv_rows, args.export_only)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        drop(args.source, TARGET, EMPTY)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    text = render(args.label, figures, load)
    print(text)
    if args.write:
        write(args.label, text)


if __name__ == "__main__":
    main()
