"""The managers' report pages at scale: every report of reports/registry.py (its page and its CSV)
and the dashboard, over a month, a year and five years, logged in as the manager.

For each: the page's median milliseconds, its queries and the time they spent in SQL, the CSV's
median milliseconds, and "bare": the same SQL statements the page ran, run again straight
through a cursor (what the figures cost in the database alone, without Django, the figure code
or the template). In a group of shops whose manager works at several, each report's comparison
by location too. Run by `python -m bench.run --reports-only` (or `make bench-reports`); the
full `make bench` measures them too.
"""

import datetime
import os
import statistics
import time
from typing import Any

# (key, label): the ranges each report is measured over.
RANGES = (("month", "last month"), ("year", "this year"), ("five_years", "five years"))
TARGET_MS = 200
MANAGER = "manager"


def ranges(today):
    """{key: query parameters}: last month (the last full month of data), this year (to date)
    and a custom range of five years ending today."""
    five_years_ago = today.replace(year=today.year - 5) + datetime.timedelta(days=1)
    return {
        "month": {"period": "last_month"},
        "year": {"period": "year"},
        "five_years": {
            "period": "custom",
            "start": five_years_ago.isoformat(),
            "end": today.isoformat(),
        },
    }


def _median(function, runs):
    function()  # warm-up (the first call also fills PostgreSQL's cache)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _get(client, url, params):
    response = client.get(url, params)
    if response.status_code != 200:
        raise RuntimeError(f"{url} {params}: status {response.status_code}")
    return response


def _captured(client, url, params):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        _get(client, url, params)
    return list(context.captured_queries)


def _bare(queries, runs):
    """The median milliseconds of the page's SELECTs run again through a cursor, one after the
    other (sessions, permissions and settings included: they are part of the page's SQL)."""
    from django.db import connection

    statements = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]

    def run():
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                cursor.fetchall()

    return _median(run, runs)


def run_reports(args, log, client_for):
    from django.urls import reverse
    from django.utils import timezone

    from reports.registry import AREAS, REPORTS

    client = client_for(MANAGER)
    params_of = ranges(timezone.localdate())
    results = []
    refresh_summaries(log)

    quick = getattr(args, "reports_quick", False)

    def measure(name, url, params, csv_url=None):
        page_ms = _median(lambda: _get(client, url, params), args.runs)
        queries = _captured(client, url, params)
        sql_ms = sum(float(q["time"]) for q in queries) * 1000
        bare_ms = None if quick else _bare(queries, args.runs)
        csv_ms = (
            _median(lambda: _get(client, csv_url, params), args.runs)
            if csv_url and not quick
            else None
        )
        row = {
            "page": name,
            "ms": page_ms,
            "queries": len(queries),
            "sql_ms": sql_ms,
            "bare_ms": bare_ms,
            "csv_ms": csv_ms,
        }
        log(
            f"{name}: {page_ms:,.1f} ms, {len(queries)} queries, SQL {sql_ms:,.1f} ms, "
            f"bare {_ms(bare_ms)} ms" + (f", CSV {csv_ms:,.1f} ms" if csv_ms else "")
        )
        return row

    results.append(
        {
            "report": "dashboard",
            "title": "Dashboard",
            "area": "",
            "ranges": {"today": measure("dashboard", reverse("reports:index"), {})},
        }
    )
    selected = set(args.reports.split(",")) if getattr(args, "reports", "") else None
    ordered = sorted(REPORTS.values(), key=lambda r: (list(AREAS).index(r.area), r.order))
    for found in ordered:
        if selected and found.slug not in selected:
            continue
        entry = {"report": found.slug, "title": found.title, "area": found.area, "ranges": {}}
        for key, _label in RANGES:
            entry["ranges"][key] = measure(
                f"{found.slug} ({key})",
                reverse("reports:report", args=[found.slug]),
                params_of[key],
                reverse("reports:csv", args=[found.slug]),
            )
        results.append(entry)
    # A group of shops: each report's comparison of the manager's locations side by side
    # (`?by=location`), when the manager works at more than one.
    if _locations_of(MANAGER) > 1:
        for found in ordered:
            if (selected and found.slug not in selected) or not found.summary:
                continue
            entry = {
                "report": f"{found.slug} by location",
                "title": f"{found.title}, by location",
                "area": found.area,
                "ranges": {},
            }
            for key, _label in RANGES:
                params = {**params_of[key], "by": "location"}
                entry["ranges"][key] = measure(
                    f"{found.slug} by location ({key})",
                    reverse("reports:report", args=[found.slug]),
                    params,
                    reverse("reports:csv", args=[found.slug]),
                )
            results.append(entry)
    return results


def _locations_of(username):
    """How many locations `username` works at (1 in a single-shop database)."""
    from django.contrib.auth import get_user_model

    from accounts.locations import allowed_location_ids

    user = get_user_model().objects.filter(username=username).first()
    return len(allowed_location_ids(user)) if user is not None else 0


SUMMARIES: dict[str, Any] = {}


def refresh_summaries(log):
    """Bring the daily summaries up to yesterday as the nightly timer does (all days the first
    time), timed: the pages are measured as a shop that runs the timer sees them."""
    from django.utils import timezone

    from reports import summaries

    current = summaries.state()
    if current.through == timezone.localdate() - datetime.timedelta(days=1):
        log(f"summaries: already up to {current.through} (refreshed {current.refreshed_at})")
        SUMMARIES.setdefault("what", f"nothing (already up to {current.through})")
        return
    first = summaries.scheduled_first()
    started = time.perf_counter()
    days = summaries.refresh(first)
    seconds = time.perf_counter() - started
    SUMMARIES.update(
        {
            "seconds": seconds,
            "days": days,
            "what": "every day (first run)" if first is None else f"the days from {first}",
        }
    )
    log(f"summaries: {days} days with figures stored ({SUMMARIES['what']}) in {seconds:,.1f} s")


def _ms(value):
    return "-" if value is None else f"{value:,.1f}"


def section(context):
    """The "## Report pages" section of bench/RESULTS.md (lines)."""
    rows = context["reports"]
    m = context["machine"]
    load_end = m.get("load_end", ["?"])[0]
    lines = [
        "## Report pages",
        "",
        f"Measured {context['date']} with `python -m bench.run --reports-only` "
        f"(`make bench-reports`), {context['runs']} timed runs after one warm-up (median), "
        f"logged in as the manager; load average {m['load'][0]} at the start and {load_end} at "
        f"the end ({m['cores']} cores shared with other work). Each page shows its period and "
        "the previous one (two calls of the figure). Ranges: last month, this year (to date) and "
        "a custom range of five years ending today. ms: the page's median; SQL: the time its "
        "queries took; bare: those same SELECTs run again straight through a cursor; CSV: the "
        f"download's median. Target: every page and CSV under {TARGET_MS} ms.",
        "",
        "| report | month ms | year ms | 5 years ms | queries | 5 years SQL ms | 5 years bare ms "
        "| CSV ms (month / year / 5 years) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    before = context.get("reports_before", {})
    if before:
        lines[2] += (
            f" In brackets: the same page before this round of indexes and query fixes "
            f"({context.get('reports_before_date', 'earlier')}, "
            f"{context.get('reports_before_runs', 1)} timed run(s))."
        )
    missed = []
    for row in rows:
        by = row["ranges"]
        if "today" in by:
            r = by["today"]
            was = before.get(row["report"], {}).get("today")
            lines.append(
                f"| {row['title']} (today and this month) | {_ms(r['ms'])}"
                + (f" ({_ms(was)})" if was else "")
                + " | - | - | "
                f"{r['queries']} | {_ms(r['sql_ms'])} | {_ms(r['bare_ms'])} | - |"
            )
            if r["ms"] >= TARGET_MS:
                missed.append(f"{row['title']} ({r['ms']:,.0f} ms)")
            continue
        queries = sorted({by[k]["queries"] for k, _label in RANGES})
        five = by["five_years"]
        earlier = before.get(row["report"], {})
        lines.append(
            f"| {row['title']} (`{row['report']}`) | "
            + " | ".join(
                _ms(by[k]["ms"]) + (f" ({_ms(earlier[k])})" if k in earlier else "")
                for k, _label in RANGES
            )
            + f" | {'-'.join(str(q) for q in queries)} | {_ms(five['sql_ms'])} | "
            f"{_ms(five['bare_ms'])} | "
            + " / ".join(_ms(by[k]["csv_ms"]) for k, _label in RANGES)
            + " |"
        )
        worst = max(max(by[k]["ms"], by[k]["csv_ms"] or 0) for k, _label in RANGES)
        if worst >= TARGET_MS:
            missed.append(f"{row['title']} ({worst:,.0f} ms)")
    lines += ["", "- Over the target: " + (", ".join(missed) if missed else "**none**") + "."]
    if SUMMARIES and "seconds" not in SUMMARIES:
        lines.append(
            f"- The daily summaries were already up to yesterday ({SUMMARIES['what']}): car "
            "count, sales and gross, technicians, approvals, comebacks, declined work, "
            "receivables, the parts inventory and the lot's reconditioning read them and count "
            "today from the records."
        )
    elif SUMMARIES:
        lines.append(
            f"- Before measuring, `refresh_report_summaries` (as the nightly timer runs it) "
            f"stored {SUMMARIES['what']}: {SUMMARIES['days']:,} days with figures in "
            f"{SUMMARIES['seconds']:,.1f} s. Car count, sales and gross, technicians, "
            "approvals, comebacks, declined work, receivables, the parts inventory and the lot's "
            "reconditioning read those summaries and count today from the records."
        )
    for note in context.get("reports_notes", []):
        lines.append(f"- {note}")
    return [*lines, ""]


def before_of(path):
    """{report: {range: ms}} of an earlier run's JSON (bench/data/last-run-reports.json)."""
    import json
    from pathlib import Path

    earlier = json.loads(Path(path).read_text())
    return (
        {
            row["report"]: {key: r["ms"] for key, r in row["ranges"].items()}
            for row in earlier["reports"]
        },
        earlier["date"],
        earlier["runs"],
    )


def replace_or_add(text, lines, heading="## Report pages", before="## Reproduce"):
    """`text` with its `heading` section replaced by `lines`, or added before `before`."""
    start = text.find(f"\n{heading}\n")
    body = "\n".join(lines) + "\n"
    if start >= 0:
        start += 1
        following = text.find("\n## ", start + len(heading))
        end = len(text) if following < 0 else following + 1
        return text[:start] + body + text[end:]
    at = text.find(f"\n{before}\n")
    if at < 0:
        return text.rstrip("\n") + "\n\n" + body
    return text[: at + 1] + body + text[at + 1 :]


def load():
    return [round(value, 2) for value in os.getloadavg()]
