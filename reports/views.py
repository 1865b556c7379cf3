"""The report pages, inside the back office (/admin/reports/): the dashboard, each report with
its period, comparison, chart, table and CSV download. Every page is drawn from the registry
(reports/registry.py); a figure function is called once per period shown."""

import csv
import datetime
import functools
from decimal import Decimal

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.locations import allowed_location_ids, location_count, selected_location_ids
from accounts.models import Location
from core.replicas import reads_from_replica
from core.spreadsheets import neutralize_cell
from reports.periods import PRESETS, PeriodError, period_from_query, preset_period
from reports.registry import AREAS, REPORTS, visible_reports
from reports.summaries import locations, reading

DASHBOARD_PERMISSION = "reports.view_dashboard"
LOT_PERMISSION = "reports.view_lot_reports"
NUMERIC = ("int", "decimal", "money", "percent", "hours", "days")


def from_replica(view):
    """The view reads from the read replica, unless its user has just written
    (core/replicas.py): the reports' large reads do not compete with the counter."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        with reads_from_replica(request):
            return view(request, *args, **kwargs)

    return wrapped


def _report(request, slug):
    found = REPORTS.get(slug)
    if found is None:
        raise Http404("No such report.")
    if not found.visible_to(request.user):
        raise PermissionDenied("Your role does not open this report.")
    return found


def change(current, previous):
    """The change from previous to current, in percent (None when it cannot be said)."""
    if current is None or previous is None or not isinstance(current, (int, Decimal)):
        return None
    if not previous:
        return None
    return ((Decimal(current) - Decimal(previous)) * 100 / abs(Decimal(previous))).quantize(
        Decimal("0.1")
    )


def comparison(found, figure, before):
    return [
        {
            "column": column,
            "current": figure.summary.get(column.key),
            "previous": before.summary.get(column.key) if before else None,
            "change": change(figure.summary.get(column.key), before.summary.get(column.key))
            if before
            else None,
        }
        for column in found.summary
    ]


def chart_data(found, figure, title=None):
    """What reports.js draws: the labels and one dataset per series column, from the rows."""
    columns = {column.key: column for column in found.columns}
    return {
        "kind": found.chart,
        "title": title or found.title,
        "labels": [
            _text(row.get(found.chart_label), columns[found.chart_label].kind)
            for row in figure.rows
            if row.get(found.chart_label) != "Total"
        ],
        "datasets": [
            {
                "label": columns[key].label,
                "unit": columns[key].kind,
                "data": [
                    _number(row.get(key))
                    for row in figure.rows
                    if row.get(found.chart_label) != "Total"
                ],
            }
            for key in found.chart_series
        ],
    }


def _number(value):
    return None if value is None else float(value)


def _text(value, kind):
    if isinstance(value, datetime.date):
        return value.isoformat()
    return "" if value is None else str(value)


# What a page shows when its period is not one.
FALLBACK_PRESET = "month"


def _period(request):
    """(period, error): the period the request asks for, or this month and the message."""
    try:
        return period_from_query(request.GET), None
    except PeriodError as error:
        return preset_period(FALLBACK_PRESET), str(error)


def figure_locations(request):
    """The locations the request's figures are of: those chosen in the header (one, or all the
    user's: never a location they do not work at), None in a single-shop install (nothing to
    filter, nothing asked)."""
    if location_count() < 2:
        return None
    return selected_location_ids(request)


def compare_locations(request, area=None):
    """[(id, name)] of the locations a comparison shows side by side: those chosen in the
    header, or all the user's when one is chosen, of the kind the report is about (a shop
    report compares service shops, a lot report car lots; a location that is both is in
    either); None when that leaves fewer than two."""
    kinds = {
        "shop": (Location.Kind.SHOP, Location.Kind.BOTH),
        "lot": (Location.Kind.LOT, Location.Kind.BOTH),
    }.get(area)
    allowed = allowed_location_ids(request.user)
    if len(allowed) < 2:
        return None
    of_kind = Location.objects.filter(pk__in=allowed)
    if kinds is not None:
        of_kind = of_kind.filter(kind__in=kinds)
    places = list(of_kind.order_by("name").values_list("pk", "name"))
    chosen = selected_location_ids(request)
    if len(chosen) > 1 and len([pk for pk, _name in places if pk in chosen]) > 1:
        places = [(pk, name) for pk, name in places if pk in chosen]
    return places if len(places) > 1 else None


def by_location(found, period, places, chosen=None, figure=None):
    """A row per location (its summary figures) and a last row for them together: from the
    report's grouped queries by location when it has them (Report.per_location), else its
    figure taken once per location (a few grouped queries each, no row read in Python) and the
    page's own `figure` for them together when it is of the same locations (`chosen`)."""
    ids = frozenset(pk for pk, _name in places)
    if found.per_location is not None:
        with locations(ids):
            each, together = found.per_location(period)
        rows = [{"location": name, **each[pk]} for pk, name in places]
        return [*rows, {"location": "Together", **together}]
    rows = []
    for pk, name in places:
        with locations({pk}):
            rows.append({"location": name, **found.figure(period).summary})
    if figure is None or chosen != ids:
        with locations(ids):
            figure = found.figure(period)
    rows.append({"location": "Together", **figure.summary})
    return rows


def comparison_chart(found, rows):
    """The comparison's chart: a bar per location for the summary figures of the first one's
    kind (money beside money, counts beside counts)."""
    kind = found.summary[0].kind
    return {
        "kind": "bar",
        "title": f"{found.title} by location",
        "labels": [row["location"] for row in rows[:-1]],
        "datasets": [
            {
                "label": column.label,
                "unit": column.kind,
                "data": [_number(row.get(column.key)) for row in rows[:-1]],
            }
            for column in found.summary
            if column.kind == kind
        ],
    }


def _context(request, **extra):
    return {**admin.site.each_context(request), "areas": AREAS, **extra}


@staff_member_required
@from_replica
def index(request):
    """The dashboard (managers) and the list of the reports the user may open."""
    reports = visible_reports(request.user)
    dashboard = request.user.has_perm(DASHBOARD_PERMISSION)
    if not reports and not dashboard:
        raise PermissionDenied("Your role opens no report.")
    sections = [(label, [r for r in reports if r.area == area]) for area, label in AREAS.items()]
    return render(
        request,
        "reports/index.html",
        _context(
            request,
            title="Reports",
            reports=reports,
            dashboard=dashboard,
            sections=[(label, found) for label, found in sections if found],
        ),
    )


@staff_member_required
@from_replica
def report_page(request, slug):
    found = _report(request, slug)
    period, error = _period(request)
    places = compare_locations(request, found.area)
    comparing = bool(places) and bool(found.summary) and request.GET.get("by") == "location"
    chosen = figure_locations(request)
    with reading(), locations(chosen):
        per_location = None
        if comparing and found.per_location is not None:
            # First, so that the figure of locations among them reads their grouped rows.
            per_location = by_location(found, period, places)
        figure = found.figure(period)
        before = found.figure(period.previous()) if found.compare else None
        if comparing and per_location is None:
            per_location = by_location(found, period, places, chosen, figure)
    columns = list(found.columns)
    rows = [
        {"cells": [{"value": row.get(c.key), "column": c} for c in columns], "url": row.get("url")}
        for row in figure.rows
    ]
    return render(
        request,
        "reports/report.html",
        _context(
            request,
            title=found.title,
            report=found,
            period=period,
            previous=period.previous(),
            presets=PRESETS,
            error=error,
            figure=figure,
            columns=columns,
            rows=rows,
            comparison=comparison(found, figure, before),
            chart=comparison_chart(found, per_location) if comparing else chart_data(found, figure),
            query=_shown_query(request, error).urlencode(),
            can_compare=bool(places) and bool(found.summary),
            locations_label=_locations_label(request, places, chosen),
            per_location=per_location,
            compare_query=_with_by(_shown_query(request, error), "location"),
            plain_query=_with_by(_shown_query(request, error), None),
            reports=visible_reports(request.user),
            start=request.GET.get("start", period.start.isoformat())[:20],
            end=request.GET.get("end", period.end.isoformat())[:20],
        ),
        status=400 if error else 200,
    )


@staff_member_required
@from_replica
def report_csv(request, slug):
    found = _report(request, slug)
    period, error = _period(request)
    if error:
        return render(
            request,
            "reports/report.html",
            _context(
                request,
                title=found.title,
                report=found,
                period=period,
                presets=PRESETS,
                error=error,
                reports=visible_reports(request.user),
                csv_error=True,
                start=request.GET.get("start", "")[:20],
                end=request.GET.get("end", "")[:20],
            ),
            status=400,
        )
    places = compare_locations(request, found.area) if found.summary else None
    comparing = bool(places) and request.GET.get("by") == "location"
    with reading(), locations(figure_locations(request)):
        if comparing:
            per_location = by_location(found, period, places)
        else:
            figure = found.figure(period)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    by = "-by-location" if comparing else ""
    name = f"{found.slug}{by}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    if comparing:
        writer.writerow(["Location", *(neutralize_cell(c.label) for c in found.summary)])
        for row in per_location:
            writer.writerow(
                [
                    neutralize_cell(row["location"]),
                    *(
                        neutralize_cell(_csv_value(row.get(c.key)), numeric=c.kind in NUMERIC)
                        for c in found.summary
                    ),
                ]
            )
        return response
    writer.writerow([neutralize_cell(column.label) for column in found.columns])
    for row in figure.rows:
        writer.writerow(
            [
                neutralize_cell(_csv_value(row.get(column.key)), numeric=column.kind in NUMERIC)
                for column in found.columns
            ]
        )
    return response


def _locations_label(request, places, chosen):
    """Which locations the page's figures are of, for someone who works at several."""
    if not places or chosen is None:
        return ""
    if chosen == allowed_location_ids(request.user) and len(chosen) > 1:
        return "All my locations"
    return ", ".join(name for pk, name in places if pk in chosen)


def _shown_query(request, error):
    """The request's query, of the period the page shows: this month when it asked for a period
    that is not one (`error`), so that its links (the CSV, the comparison) are of the figures on
    the screen."""
    query = request.GET.copy()
    if error:
        for key in ("period", "start", "end"):
            query.pop(key, None)
        query["period"] = FALLBACK_PRESET
    return query


def _with_by(query, by):
    """The query string with `by` set (None: left out)."""
    query = query.copy()
    query.pop("by", None)
    if by:
        query["by"] = by
    return query.urlencode()


def _csv_value(value):
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def dashboard_figures(user, today=None, location_ids=None):
    """The manager's key figures: today's and the month's, each with the period before, of the
    locations `location_ids` (None: the whole group)."""

    today = today or timezone.localdate()
    with reading(), locations(location_ids):
        return _dashboard_figures(user, today)


# In place of the figure before: a figure as of now, shown without a comparison.
SNAPSHOT = object()


def _panel(label, period, before, figures):
    """A row of dashboard cards: (name, kind, now, before or SNAPSHOT, report slug) for each
    figure."""
    return {
        "label": label,
        "period": period,
        "previous": before,
        "figures": [
            {
                "label": name,
                "kind": kind,
                "current": now,
                "previous": None if then is SNAPSHOT else then,
                "change": None if then is SNAPSHOT else change(now, then),
                "compared": then is not SNAPSHOT,
                "slug": slug,
                "query": period.querystring(),
            }
            for name, kind, now, then, slug in figures
        ],
    }


def _lot_panel(today):
    """The lot this month: units sold and gross against the same days of last month; the units
    on the lot now, the capital they tie up and those past the aging target."""
    from reports.figures import lot

    period = preset_period("month", today)
    before = period.previous()
    sold, sold_before = lot.units_sold(period).summary, lot.units_sold(before).summary
    gross, gross_before = lot.gross_by_month(period).summary, lot.gross_by_month(before).summary
    # The lot now (a snapshot: taken once; its report compares any two days).
    stock = lot.inventory_aging(period).summary
    return _panel(
        "The lot this month",
        period,
        before,
        [
            ("Units sold", "int", sold["units"], sold_before["units"], "lot-units-sold"),
            ("Total gross", "money", gross["total"], gross_before["total"], "lot-gross"),
            (
                "Gross per deal",
                "money",
                gross["total_per_deal"],
                gross_before["total_per_deal"],
                "lot-gross",
            ),
            ("Units on the lot now", "int", stock["units"], SNAPSHOT, "lot-aging"),
            ("Capital tied up now", "money", stock["capital"], SNAPSHOT, "lot-aging"),
            ("Past the aging target now", "int", stock["past_target"], SNAPSHOT, "lot-aging"),
        ],
    )


def _dashboard_figures(user, today):
    from reports.figures import shop

    panels = []
    for preset, label in (("today", "Today"), ("month", "This month")):
        period = preset_period(preset, today)
        before = period.previous()
        cars, cars_before = shop.car_count(period), shop.car_count(before)
        month_cars = cars
        gross, gross_before = shop.sales_gross(period), shop.sales_gross(before)
        figures = [
            ("Car count", "int", cars.summary["cars"], cars_before.summary["cars"], "car-count"),
            (
                "Net sales",
                "money",
                cars.summary["sales"],
                cars_before.summary["sales"],
                "sales-gross",
            ),
            (
                "Average repair order",
                "money",
                cars.summary["aro"],
                cars_before.summary["aro"],
                "car-count",
            ),
            (
                "Gross profit",
                "money",
                gross.summary["gross"],
                gross_before.summary["gross"],
                "sales-gross",
            ),
            (
                "Effective labor rate",
                "money",
                gross.summary["elr"],
                gross_before.summary["elr"],
                "sales-gross",
            ),
        ]
        panels.append(_panel(label, period, before, figures))
    if user.has_perm(LOT_PERMISSION):
        panels.append(_lot_panel(today))
    month = preset_period("month", today)
    chart = chart_data(REPORTS["car-count"], month_cars, title="Cars this month, per day")
    wip = shop.work_in_progress(month).summary
    receivable = shop.receivables(preset_period("today", today)).summary
    return {"panels": panels, "chart": chart, "wip": wip, "receivable": receivable}
