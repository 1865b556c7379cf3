"""Carshop's benchmarks at scale: `make bench` (python -m bench.run), against the database
that `seed_demo --scale large` filled (BENCH_DATABASE_URL, default carshop_bench).

What it measures, each page once to warm up and then the median of --runs runs:
- admin lists, searches (VIN tail, plate, customer name, RO number) and change pages of repair
  orders, vehicles, customers, parts, stock units and deals, logged in as a service advisor
  (the lot's pages as a salesperson), through Django's test client: milliseconds, queries, the
  time the page spent in SQL, and the page's main query run bare; beside it, the same page
  through a plain ModelAdmin (bench/untuned.py);
- EXPLAIN ANALYZE of every query of every search: a sequential scan of a table over 10,000
  rows is printed;
- API lists (bench/api.py) at page sizes 50 and 500: milliseconds, queries, rows per second,
  beside a bare view returning the same rows with .values();
- peak RSS of a separate worker process serving all these pages, at two table sizes (the
  full database and a small one, filled with --fraction 0.01 when it is empty).

It prints each table and writes them to bench/RESULTS.md with the date, the machine and the
database size. It only reads: the key it issues itself per API partner, and what the API records
of its use, are rolled back when the API lists are measured (the memory worker keeps its keys).
`--api-only` measures the API lists alone and rewrites only that section of the file;
`--reports-only` measures the managers' report pages alone (bench/reports.py: each report's page
and CSV over a month, a year and five years) and rewrites only their section.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
SEQ_SCAN_ROWS = 10_000
QUERY_LIMIT = 10


def setup_django(database_url=None):
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carshop.settings")
    # Timed like production: no debug pages, no query log kept in memory.
    os.environ["DEBUG"] = "false"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's response.context and friends
    settings.TEMPLATES[0]["DIRS"] = [*settings.TEMPLATES[0]["DIRS"], BENCH_DIR / "templates"]
    settings.ROOT_URLCONF = "bench.urls"
    settings.ALLOWED_HOSTS = ["*"]
    # Static file URLs without a collectstatic manifest (the files are not served here).
    # (override_settings resets the storages Django may have built already, e.g. whitenoise's.)
    from django.test.utils import override_settings

    override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()


# -- measuring ---------------------------------------------------------------------------------


def timed(function, runs, warmup=1):
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def timed_pair(first, second, runs, warmup=1):
    """The medians of two functions run in turns (first, second, first, ...): on a shared
    machine, a busy moment slows both rather than only the one being timed then."""
    for _ in range(warmup):
        first()
        second()
    samples = ([], [])
    for _ in range(runs):
        for function, timings in zip((first, second), samples, strict=True):
            started = time.perf_counter()
            function()
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])


def get(client, url, params=None):
    response = client.get(url, params or {})
    if response.status_code != 200:
        raise RuntimeError(f"{url} {params or ''}: status {response.status_code}")
    return response


def captured(client, url, params=None):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        get(client, url, params)
    return list(context.captured_queries)


def main_query(queries, table, kind):
    """The query that reads the page's own rows: the list's page, or the object shown."""
    quoted = f'FROM "{table}"'
    candidates = [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT")
        and quoted in q["sql"]
        and "COUNT(" not in q["sql"]
        and "EXPLAIN" not in q["sql"]
    ]
    if kind == "change":
        for sql in candidates:
            if f'WHERE "{table}"."id" =' in sql:
                return sql
    limited = [sql for sql in candidates if " LIMIT " in sql]
    return (limited or candidates or [None])[-1]


def bare_ms(sql, runs):
    from django.db import connection

    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql)
            cursor.fetchall()

    return timed(run, runs)


def big_tables():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class "
            "WHERE relkind = 'r' AND reltuples > %s",
            [SEQ_SCAN_ROWS],
        )
        return dict(cursor.fetchall())


def sequential_scans(queries, large):
    """(table, rows) of each sequential scan of a large table in the plans of `queries`."""
    from django.db import connection

    found = []

    def walk(node):
        # Plans are run (EXPLAIN ANALYZE, the pages only read): a branch the database skipped
        # (say, the exact count of a table it estimates instead) does not count.
        if (
            node.get("Node Type") == "Seq Scan"
            and node.get("Relation Name") in large
            and node.get("Actual Loops", 1) > 0
        ):
            found.append((node["Relation Name"], large[node["Relation Name"]]))
        for child in node.get("Plans", []):
            walk(child)

    with connection.cursor() as cursor:
        for query in queries:
            sql = query["sql"]
            if not sql.startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            plan = cursor.fetchone()[0]
            if isinstance(plan, str):
                plan = json.loads(plan)
            walk(plan[0]["Plan"])
    return sorted(set(found))


# -- the admin ---------------------------------------------------------------------------------


def clients():
    from django.test import Client

    from accounts.models import User

    cache = {}

    def client_for(username, location=None):
        """A client logged in as `username`, with `location` (a code, or "all") chosen in the
        header as the session keeps it."""
        if (username, location) not in cache:
            client = Client()
            client.force_login(
                User.objects.get(username=username),
                backend="accounts.backends.PermissionsInOneQueryBackend",
            )
            if location is not None:
                choose_location(client, location)
            cache[username, location] = client
        return cache[username, location]

    return client_for


def choose_location(client, code):
    from accounts.locations import ALL, SESSION_KEY
    from accounts.models import Location

    session = client.session
    session[SESSION_KEY] = ALL if code == ALL else Location.objects.get(code=code).pk
    session.save()


def run_admin(args, log):
    from bench.pages import admin_pages

    client_for = clients()
    large = big_tables()
    results = []
    for page in admin_pages():
        client = client_for(page.user, page.location)
        url = page.url()
        tuned_ms = timed(
            lambda client=client, url=url, page=page: get(client, url, page.params), args.runs
        )
        queries = captured(client, url, page.params)
        sql_ms = sum(float(q["time"]) for q in queries) * 1000
        table = page.model_class._meta.db_table
        sql = main_query(queries, table, page.kind)
        bare = bare_ms(sql, args.runs) if sql else None
        scans = sequential_scans(queries, large) if page.kind == "search" else []
        row = {
            "page": page.label,
            "kind": page.kind,
            "url": url,
            "params": page.params,
            "queries": len(queries),
            "ms": tuned_ms,
            "sql_ms": sql_ms,
            "bare_ms": bare,
            "seq_scans": scans,
            "main_sql": sql,
        }
        if not args.skip_untuned:
            row.update(untuned(client, page, args))
        results.append(row)
        log(format_admin_row(row))
    return results


def untuned(client, page, args):
    """The same page through the plain ModelAdmin: once, and if that is quick, the median of
    three more (a slow page is not worth repeating: it is slow every time)."""
    from django.urls import NoReverseMatch

    try:
        url = page.url(site="untuned")
    except NoReverseMatch:
        return {}
    if page.kind == "change":
        return untuned_in_own_process(page, url, args.untuned_timeout)
    started = time.perf_counter()
    get(client, url, page.params)
    first = (time.perf_counter() - started) * 1000
    ms = first if first > 2000 else timed(lambda: get(client, url, page.params), 3, warmup=0)
    queries = captured(client, url, page.params) if first < 20_000 else None
    return {"untuned_ms": ms, "untuned_queries": len(queries) if queries is not None else None}


def untuned_in_own_process(page, url, timeout):
    """A page that may take minutes (a change page whose selects list a whole table), timed in a
    process of its own that is stopped after `timeout` seconds."""
    command = [
        sys.executable,
        "-m",
        "bench.one_page",
        "--user",
        page.user,
        "--url",
        url,
        "--params",
        json.dumps(page.params),
    ]
    try:
        output = subprocess.run(
            command,
            cwd=ROOT,
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return {"untuned_ms": None, "untuned_timeout": timeout, "untuned_queries": None}
    result = json.loads(output.stdout.strip().splitlines()[-1])
    return {"untuned_ms": result["ms"], "untuned_queries": result["queries"]}


def format_admin_row(row):
    untuned_ms = row.get("untuned_ms")
    parts = [
        f"{row['page']:<42}",
        f"{row['queries']:>3} q",
        f"{row['ms']:8.1f} ms",
        f"sql {row['sql_ms']:7.1f}",
        f"bare {row['bare_ms'] or 0:7.1f}",
    ]
    if untuned_ms is not None:
        parts.append(f"untuned {untuned_ms:9.1f} ms ({row.get('untuned_queries')} q)")
    elif row.get("untuned_timeout"):
        parts.append(f"untuned > {row['untuned_timeout']} s (stopped)")
    if row["seq_scans"]:
        parts.append("SEQ SCAN " + ", ".join(f"{t} ({n:,} rows)" for t, n in row["seq_scans"]))
    return "  ".join(parts)


# -- the API -----------------------------------------------------------------------------------


def issue_bench_key(slug, scope, name="benchmarks"):
    """A key of the bench partner `slug` for the scope (its earlier benchmark keys revoked),
    with a rate limit the benchmark never reaches."""
    from accounts import services
    from accounts.models import Partner

    partner = Partner.objects.get(slug=slug)
    for key in partner.keys.filter(name=name, revoked_at__isnull=True):
        services.revoke_key(key)
    _key, plain = services.issue_key(partner, name=name, scopes=[scope], throttle_rate="100000/min")
    return plain


class _RollBack(Exception):
    pass


def run_api(args, log):
    """Each API list beside its bare view, in one transaction rolled back at the end: the keys
    issued for the run (and their last use) are not kept."""
    from django.db import transaction

    results = []
    try:
        with transaction.atomic():
            _measure_api(args, log, results)
            raise _RollBack
    except _RollBack:
        pass
    return results


def _measure_api(args, log, results):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from bench.api import api_pages

    keys = {}
    for page in api_pages():
        if (page.partner, page.scope) not in keys:
            keys[page.partner, page.scope] = issue_bench_key(
                page.partner, page.scope, f"benchmarks {page.scope}"
            )
        client = Client(HTTP_AUTHORIZATION=f"Api-Key {keys[page.partner, page.scope]}")
        bare = Client()
        for size in (50, 500):
            params = {**page.params, "page_size": size}
            url = page.url()
            bare_url = reverse("bench-bare", args=[page.label])
            ms, bare_ms_ = timed_pair(
                lambda client=client, url=url, params=params: get(client, url, params),
                lambda bare=bare, bare_url=bare_url, params=params: get(bare, bare_url, params),
                args.runs,
            )
            with CaptureQueriesContext(connection) as context:
                response = get(client, url, params)
            # Counted now: the next request empties the connection's query log.
            queries = len(context.captured_queries)
            rows = len(response.json().get("results", []))
            bare_rows = len(get(bare, bare_url, params).json()["results"])
            row = {
                "endpoint": page.label,
                "url": url,
                "page_size": size,
                "rows": rows,
                "ms": ms,
                "queries": queries,
                "rows_per_s": rows / ms * 1000 if ms else 0,
                "bare_ms": bare_ms_,
                "bare_rows": bare_rows,
                "bare_rows_per_s": bare_rows / bare_ms_ * 1000 if bare_ms_ else 0,
            }
            results.append(row)
            log(
                f"{page.label:<40} size {size:>3}: {rows:>3} rows {ms:7.1f} ms "
                f"{row['queries']} q {row['rows_per_s']:9,.0f} rows/s | bare {bare_ms_:7.1f} ms "
                f"{row['bare_rows_per_s']:9,.0f} rows/s"
            )


# -- memory ------------------------------------------------------------------------------------


def run_memory(database_url, rounds):
    """Peak RSS of a separate process serving every page `rounds` times (bench/memory.py)."""
    environment = {**os.environ, "DATABASE_URL": database_url}
    output = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--rounds", str(rounds)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if output.returncode != 0:
        raise RuntimeError(f"memory run on {database_url} failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def ensure_small_database(url, log):
    """The second table size for the memory comparison: filled with 1% of the full set the first
    time (about half a minute)."""
    environment = {**os.environ, "DATABASE_URL": url}
    name = url.rsplit("/", 1)[-1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    check = subprocess.run(
        ["psql", admin_url, "-Atc", "SELECT datname FROM pg_database"],
        capture_output=True,
        text=True,
        check=True,
    )
    if name not in check.stdout.split():
        log(f"creating {name}")
        subprocess.run(["psql", admin_url, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=environment, check=True)
    counted = subprocess.run(
        [
            *manage,
            "shell",
            "-v0",
            "-c",
            "from repairs.models import RepairOrder;print(RepairOrder.objects.exists())",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    if counted.stdout.strip().splitlines()[-1:] != ["True"]:
        log(f"filling {name} with 1% of the large data set")
        subprocess.run(
            [*manage, "seed_demo", "--scale", "large", "--fraction", "0.01", "-v0"],
            cwd=ROOT,
            env=environment,
            check=True,
        )


# -- the report --------------------------------------------------------------------------------


def machine():
    import psutil
    from django.db import connection

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT version(), pg_size_pretty(pg_database_size(current_database())),"
            " current_setting('shared_buffers'), current_database()"
        )
        version, size, shared_buffers, database = cursor.fetchone()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "postgresql": version.split(" on ")[0],
        "database": database,
        "database_size": size,
        "shared_buffers": shared_buffers,
    }


def row_counts():
    from django.apps import apps

    labels = [
        "accounts.Customer",
        "inventory.Vehicle",
        "inventory.Part",
        "inventory.StockMovement",
        "repairs.RepairOrder",
        "repairs.RepairOrderEvent",
        "repairs.Job",
        "repairs.LaborLine",
        "repairs.PartLine",
        "repairs.TimeEntry",
        "repairs.Invoice",
        "repairs.Payment",
        "inventory.StockUnit",
        "sales.Lead",
        "sales.Deal",
    ]
    counts = {}
    for label in labels:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        counts[str(model._meta.verbose_name_plural)] = model._default_manager.count()
    return counts


NONE = "-"


def _ms(value):
    return NONE if value is None else f"{value:,.1f}"


def _ratio(numerator, denominator):
    if not numerator or not denominator:
        return NONE
    return f"{numerator / denominator:,.1f} x"


def _untuned_ms(row):
    if row.get("untuned_timeout"):
        return f"> {row['untuned_timeout'] * 1000:,} (stopped)"
    return _ms(row.get("untuned_ms"))


def _untuned_ratio(row):
    if row.get("untuned_timeout"):
        return f"> {row['untuned_timeout'] * 1000 / row['ms']:,.0f} x"
    return _ratio(row.get("untuned_ms"), row["ms"])


def admin_targets(rows):
    """The issue's targets, page by page: which pages meet them and which do not."""

    def names(selected):
        return ", ".join(row["page"] for row in selected) or "none"

    slow_untuned = [
        row
        for row in rows
        if not row.get("untuned_timeout")
        and row.get("untuned_ms")
        and row["untuned_ms"] < 10 * row["ms"]
    ]
    far_from_bare = [
        row for row in rows if row["bare_ms"] and row["sql_ms"] > 5 * max(row["bare_ms"], 1.0)
    ]
    if not any(row.get("untuned_ms") or row.get("untuned_timeout") for row in rows):
        untuned = [
            "- The untuned admin was not measured in this run (`--skip-untuned`); "
            "`git log -p bench/RESULTS.md` has the runs that measured it."
        ]
    else:
        untuned = [
            f"- At least 10x faster than the untuned admin: {len(rows) - len(slow_untuned)} of "
            f"{len(rows)} pages. Not 10x: {names(slow_untuned)}. There the plain admin does little "
            "that grows with the table: the tables are small (100,000 customers, 20,000 parts, "
            "about 30,000 stock units and 25,000 deals) and read whole in tens of milliseconds, "
            "the vehicle list's two counts and make filter read its 200,000 rows about as fast, "
            "and rendering takes the same time in both; the stock and deal lists also compute "
            "costs and gross the plain one does not show. The gap grows with the table: see the "
            "repair orders and every change page with a foreign key to a large table."
        ]
    return [
        *untuned,
        f"- The page's SQL within 5x of its main query run bare (under 1 ms counted as 1 ms): "
        f"{len(rows) - len(far_from_bare)} of {len(rows)} pages. Not within: "
        f"{names(far_from_bare)}. The rest of a page's time is Django rendering the admin "
        "(15-50 ms whatever the table size: templates, forms, 50 rows of links).",
        "- SQL ms is the time the database took for all of the page's queries (session, user "
        "and permissions included); the main query bare is the one query that reads the page's "
        "rows, run again on its own.",
    ]


def api_section(context):
    """The "## API lists" section of the report."""
    rows = context.get("api")
    if not rows:
        return [
            "## API lists",
            "",
            context.get("api_note", "No API list endpoints are installed yet."),
            "",
        ]
    lines = ["## API lists", ""]
    if context.get("api_only"):
        m = context["machine"]
        lines += [
            f"Measured {context['date']} with `python -m bench.run --api-only` (DATABASE_URL "
            f"naming `{m['database']}`, {m['database_size']}), {context['runs']} timed runs per "
            f"page and bare view, run in turns after one warm-up (median); load average at the "
            f"start {m['load'][0]}, at "
            f"the end {m.get('load_end', ['?'])[0]}.",
            "",
        ]
    over = [r for r in rows if r["ms"] > 2 * r["bare_ms"]]
    lines += [
        "Each list with a partner's key, at page sizes 50 and 500 (the API caps a page at "
        "200 rows, its maximum page size; `rows` is what came back), beside a bare Django "
        "view returning the same rows with `.values()` (no authentication, serializer, "
        "filters or pagination; for the repair orders, without the status history, jobs "
        "and invoice totals the API nests in each order). Listings: the available stock "
        "units; fleet repair orders: those of the fleet partner's linked customers; "
        "invoices: the accounting feed's last 30 days (`updated_since`); leads: those the "
        "marketplace posted.",
        "",
        "| endpoint | page size | rows | ms | queries | rows/s | bare ms | bare rows/s | "
        "API ÷ bare |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {r['endpoint']} | {r['page_size']} | {r['rows']} | {_ms(r['ms'])} | "
            f"{r['queries']} | {r['rows_per_s']:,.0f} | {_ms(r['bare_ms'])} | "
            f"{r['bare_rows_per_s']:,.0f} | "
            f"{_ratio(r['ms'], r['bare_ms'])} |"
            for r in rows
        ),
        "",
        "Both return the same rows (the bare view is capped at the API's largest page too). "
        "The API's own work on top: finding the key, checking its scope and rate, the "
        "filters, the cursor, turning the rows into JSON (and for repair orders their nested "
        "history, jobs and invoice totals, three more queries). These list pages read their "
        "rows with `.values()` and build each one in plain Python (core/api/rows.py), "
        "with the same fields and formats as Django REST framework's serializers give "
        "field by field (tests/test_api_list_rows.py compares them).",
        "",
        f"- Within 2x of the bare view: {len(rows) - len(over)} of {len(rows)} pages."
        + (
            " Not within: " + ", ".join(f"{r['endpoint']} ({r['page_size']})" for r in over) + "."
            if over
            else ""
        ),
    ]
    note = context.get("api_note")
    if note:
        lines += [f"- {note}"]
    return [*lines, ""]


def replace_section(text, section):
    """`text` (a report) with its "## API lists" section replaced by `section` (lines)."""
    heading = "## API lists"
    start = text.find(f"\n{heading}\n")
    if start < 0:
        raise ValueError(f"no {heading!r} section in the report")
    start += 1
    following = text.find("\n## ", start + len(heading))
    end = len(text) if following < 0 else following + 1
    return text[:start] + "\n".join(section) + "\n" + text[end:]


def report(context):
    m = context["machine"]
    lines = [
        "# Carshop at scale: benchmark results",
        "",
        f"Measured {context['date']} with `make bench` (`python -m bench.run`), "
        f"{context['runs']} timed runs per page after one warm-up (median). "
        "How to reproduce: see the end of this file.",
        "",
        "## Machine and data",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM; load average at the "
        f"start {m['load'][0]} (the machine is shared: other people's builds and tests ran at "
        "the same time, so single figures can be noisy)",
        f"- {m['postgresql']}, shared_buffers {m['shared_buffers']}; Python {m['python']}",
        f"- database `{m['database']}`: {m['database_size']}",
        "",
        "| table | rows |",
        "| --- | ---: |",
        *(f"| {name} | {count:,} |" for name, count in context["counts"].items()),
        "",
    ]
    generated = context.get("generated")
    if generated:
        lines += [
            "### The generator",
            "",
            f"`python manage.py seed_demo --scale large --seed {generated['seed']} --fraction "
            f"{generated['fraction']} --until {generated['until']}` loaded the rows above in "
            f"**{generated['seconds']['total'] / 60:.1f} minutes** "
            f"({generated.get('note', 'on this machine')}).",
            "",
            "| stage | seconds |",
            "| --- | ---: |",
            *(f"| {stage} | {seconds} |" for stage, seconds in generated["seconds"].items()),
            "",
        ]
    admin_rows = context["admin"]
    lines += [
        "## Admin pages",
        "",
        "Carshop's page (ms, queries, time spent in SQL), the page's main query run bare, and the "
        "same page through a plain `ModelAdmin` with no tuning (bench/untuned.py) on the same "
        "data. Logged in as a service advisor (stock units and deals: a salesperson).",
        "",
        "| page | queries | ms | SQL ms | main query bare, ms | page SQL ÷ bare | untuned ms | "
        "untuned queries | untuned ÷ Carshop |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in admin_rows:
        lines.append(
            f"| {row['page']} | {row['queries']} | {_ms(row['ms'])} | {_ms(row['sql_ms'])} | "
            f"{_ms(row['bare_ms'])} | {_ratio(row['sql_ms'], row['bare_ms'])} | "
            f"{_untuned_ms(row)} | {row.get('untuned_queries') or NONE} | "
            f"{_untuned_ratio(row)} |"
        )
    worst_queries = max((row["queries"] for row in admin_rows), default=0)
    scans = [(row["page"], table, rows) for row in admin_rows for table, rows in row["seq_scans"]]
    lines += [
        "",
        f"- Queries per page: at most **{worst_queries}** (target: under {QUERY_LIMIT}, the same "
        "at any row count: tests/test_scale_queries.py checks the count does not change with "
        "the rows).",
    ]
    lines.append(
        "- Sequential scans of a table over 10,000 rows in the plans of every search "
        "query (EXPLAIN ANALYZE): "
        + (
            "**none**."
            if not scans
            else ", ".join(f"{page}: {table} ({rows:,} rows)" for page, table, rows in scans) + ". "
            "Each search can be answered by indexes (tests/test_scale_search.py plans "
            "every search with sequential scans priced out and finds no table read "
            "whole); a scan listed here is PostgreSQL's choice for that query, e.g. "
            "reading a table of 26,000 deals once rather than probing two indexes for "
            "the many customers a common surname matches."
        )
    )
    lines += ["", *admin_targets(admin_rows), ""]
    lines += api_section(context)
    if context.get("reports"):
        from bench.reports import section

        lines += section(context)
    if context.get("memory"):
        lines += [
            "## Memory",
            "",
            "Peak resident memory of a separate worker process (bench/memory.py) that served every "
            f"admin page and API list above {context['memory_rounds']} times, on the full "
            "database and on a small one (1% of the rows): it does not grow with the tables.",
            "",
            "| database | repair orders | RSS after the first round, MB | peak RSS, MB |",
            "| --- | ---: | ---: | ---: |",
            *(
                f"| {r['database']} | {r['repair_orders']:,} | {r['rss_first_round_mb']:.0f} | "
                f"{r['peak_rss_mb']:.0f} |"
                for r in context["memory"]
            ),
            "",
        ]
    lines += [
        "## Reproduce",
        "",
        "```bash",
        "createdb -h 127.0.0.1 -U postgres carshop_bench",
        "export BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/carshop_bench",
        "make bench-data   # migrate, then seed_demo --scale large (one time, about 10-15 min)",
        "make bench        # these tables, into bench/RESULTS.md (a few minutes)",
        "make bench-reports  # the report pages alone (their section only)",
        "```",
        "",
        "`make bench` also fills `carshop_bench_small` (BENCH_SMALL_DATABASE_URL) with 1% of the "
        "data the first time, for the memory comparison. `python -m bench.run --help` lists the "
        "options (fewer runs, no untuned pages, no memory run).",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per page (default 5)")
    parser.add_argument("--skip-untuned", action="store_true", help="no untuned admin pages")
    parser.add_argument(
        "--untuned-timeout",
        type=int,
        default=60,
        help="seconds an untuned change page may take before it is stopped",
    )
    parser.add_argument("--skip-memory", action="store_true", help="no memory measurement")
    parser.add_argument("--memory-rounds", type=int, default=3)
    parser.add_argument(
        "--small-database-url",
        default=os.environ.get("BENCH_SMALL_DATABASE_URL", ""),
        help="the small database of the memory comparison",
    )
    parser.add_argument("--output", default=str(BENCH_DIR / "RESULTS.md"))
    parser.add_argument(
        "--api-only",
        action="store_true",
        help="only the API lists: rewrite only their section of --output "
        "(bench/data/last-run-api.json)",
    )
    parser.add_argument(
        "--api-note",
        default="",
        help="a line added under the API lists' table (with --api-only; with "
        "--report-only too, to the last API run's figures)",
    )
    parser.add_argument(
        "--reports-only",
        action="store_true",
        help="only the report pages (bench/reports.py): rewrite only their "
        "section of --output (bench/data/last-run-reports.json)",
    )
    parser.add_argument(
        "--reports",
        default="",
        help="with --reports-only: only these report slugs (comma-separated)",
    )
    parser.add_argument(
        "--reports-quick",
        action="store_true",
        help="with --reports-only: the pages alone (no CSV, no bare queries)",
    )
    parser.add_argument(
        "--reports-before",
        default="",
        help="an earlier run's JSON: its milliseconds shown in brackets",
    )
    parser.add_argument(
        "--reports-note",
        action="append",
        default=[],
        help="a line added under the report pages' table (repeatable)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="write the report again from the last run's figures "
        "(bench/data/last-run.json), measuring nothing",
    )
    args = parser.parse_args(argv)
    if args.report_only and args.api_only:
        context = json.loads((BENCH_DIR / "data" / "last-run-api.json").read_text())
        if args.api_note:
            context["api_note"] = args.api_note
        output = Path(args.output)
        output.write_text(replace_section(output.read_text(), api_section(context)))
        return
    if args.report_only and args.reports_only:
        from bench.reports import replace_or_add, section

        context = json.loads((BENCH_DIR / "data" / "last-run-reports.json").read_text())
        context["reports_notes"] = args.reports_note or context.get("reports_notes", [])
        if args.reports_before:
            from bench.reports import before_of

            (
                context["reports_before"],
                context["reports_before_date"],
                context["reports_before_runs"],
            ) = before_of(args.reports_before)
        output = Path(args.output)
        output.write_text(replace_or_add(output.read_text(), section(context)))
        (BENCH_DIR / "data" / "last-run-reports.json").write_text(
            json.dumps(context, indent=1, default=str)
        )
        return
    if args.report_only:
        context = json.loads((BENCH_DIR / "data" / "last-run.json").read_text())
        Path(args.output).write_text(report(context))
        return

    setup_django()
    from django.db import connection
    from django.utils import timezone

    if connection.vendor != "postgresql":
        parser.error(
            "the benchmarks need the PostgreSQL database filled by "
            "`seed_demo --scale large`: set DATABASE_URL (make bench sets it from "
            "BENCH_DATABASE_URL)"
        )

    def log(line):
        print(line, flush=True)

    context = {
        "date": timezone.localtime().strftime("%Y-%m-%d %H:%M %Z"),
        "runs": args.runs,
        "machine": machine(),
        "counts": row_counts(),
    }
    from carshop.ops.testenv.large_data import summary_path

    generated = summary_path()
    if generated.exists():
        context["generated"] = json.loads(generated.read_text())
    log(
        f"{context['machine']['database']}: {context['machine']['database_size']}, "
        f"{context['counts'].get('repair orders', 0):,} repair orders"
    )
    if args.api_only:
        context["api_only"] = True
        if args.api_note:
            context["api_note"] = args.api_note
        log("\nAPI lists")
        context["api"] = run_api(args, log)
        context["machine"]["load_end"] = [round(value, 2) for value in os.getloadavg()]
        output = Path(args.output)
        output.write_text(replace_section(output.read_text(), api_section(context)))
        (BENCH_DIR / "data").mkdir(exist_ok=True)
        (BENCH_DIR / "data" / "last-run-api.json").write_text(
            json.dumps(context, indent=1, default=str)
        )
        log(f"\nWritten to {args.output} (its API lists section)")
        return
    if args.reports_only:
        from bench.reports import replace_or_add, run_reports, section

        log("\nReport pages")
        context["reports"] = run_reports(args, log, clients())
        context["reports_notes"] = args.reports_note
        if args.reports_before:
            from bench.reports import before_of

            (
                context["reports_before"],
                context["reports_before_date"],
                context["reports_before_runs"],
            ) = before_of(args.reports_before)
        context["machine"]["load_end"] = [round(value, 2) for value in os.getloadavg()]
        output = Path(args.output)
        output.write_text(replace_or_add(output.read_text(), section(context)))
        (BENCH_DIR / "data").mkdir(exist_ok=True)
        (BENCH_DIR / "data" / "last-run-reports.json").write_text(
            json.dumps(context, indent=1, default=str)
        )
        log(f"\nWritten to {args.output} (its report pages section)")
        return
    log("\nAdmin pages")
    context["admin"] = run_admin(args, log)
    log("\nAPI lists")
    context["api"] = run_api(args, log)
    log("\nReport pages")
    from bench.reports import run_reports

    context["reports"] = run_reports(args, log, clients())
    if not args.skip_memory:
        log("\nMemory")
        url = os.environ["DATABASE_URL"]
        small = args.small_database_url or re.sub(r"/([^/]+)$", r"/\1_small", url)
        ensure_small_database(small, log)
        context["memory_rounds"] = args.memory_rounds
        context["memory"] = []
        for database_url in (small, url):
            result = run_memory(database_url, args.memory_rounds)
            context["memory"].append(result)
            log(
                f"{result['database']}: {result['repair_orders']:,} repair orders, peak RSS "
                f"{result['peak_rss_mb']:.0f} MB"
            )
    context["machine"]["load_end"] = [round(value, 2) for value in os.getloadavg()]
    Path(args.output).write_text(report(context))
    (BENCH_DIR / "data").mkdir(exist_ok=True)
    (BENCH_DIR / "data" / "last-run.json").write_text(json.dumps(context, indent=1, default=str))
    log(f"\nWritten to {args.output}")


if __name__ == "__main__":
    main()
