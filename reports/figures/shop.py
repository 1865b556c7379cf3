"""The shop's figures: repair orders, labor, parts, technicians, receivables, parts stock.

Each figure is defined once here and in words in docs/reports.md. Each is a fixed number of
aggregate queries (its docstring names them), whatever the number of rows behind it.

What counts, everywhere below:
- Work is sold when its invoice is issued (`Invoice.issued_at` in the period). Internal orders
  (reconditioning of the lot's cars) are never invoiced, so they are not sales; canceled orders
  have no invoice either.
- A credit note takes its amount off the sales of the period in which it is issued.
- Lines count when their job was approved (repairs.costs.counted_lines).
- Sublet: work bought from another business and resold, entered as a part line on a part of the
  category "Sublet" (SUBLET_CATEGORY); every other part line is parts.
"""

import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Round
from django.utils import timezone

from accounts.models import ShopSettings
from core.money import ZERO, money
from inventory.models import Part, PartStock
from repairs.choices import OPEN_STATUSES, Authorization, RepairOrderStatus
from repairs.models import (
    CreditNote,
    Invoice,
    Job,
    LaborLine,
    PartLine,
    Payment,
    RepairOrder,
)
from reports.figures.common import (
    MONEY,
    admin_list,
    between,
    bucket_end,
    buckets,
    daily,
    hours,
    percent,
    ratio,
)
from reports.models import DeclinedJob, InvoiceSpan, OpenInvoice
from reports.periods import Period
from reports.registry import Column, Figure, by_location, report
from reports.summaries import (
    at,
    chosen_locations,
    declined_jobs,
    freshness,
    horizon,
    job_value,
    maybe_owing,
    moved_here_since,
    moved_since,
    once,
    once_within,
    parts_moved,
    settled_before,
    shop_days,
    shop_totals,
    technician_sums,
)
from reports.summaries import state as summary_state

SHOP = "reports.view_shop_reports"
# Hours a technician is available on a weekday (attendance is not recorded).
HOURS_PER_WEEKDAY = Decimal(8)
# A part on hand with no stock movement for this long is dead stock.
DEAD_STOCK_DAYS = 180
# Work in progress: ages (days since the order was opened) and their labels.
WIP_AGES = (
    ("age_0_1", "0-1 days", 0, 1),
    ("age_2_3", "2-3 days", 2, 3),
    ("age_4_7", "4-7 days", 4, 7),
    ("age_8_plus", "8+ days", 8, None),
)
# Receivables: days since the invoice was issued (invoices are due when issued).
# The receivables as of a summarized day at most this many days before the summaries' end
# tell the invoices paid or credited since from a set of them (see receivables).
MOVED_SET_DAYS = 92
AR_AGES = (
    ("Current", 0, 0),
    ("1-30 days", 1, 30),
    ("31-60 days", 31, 60),
    ("61-90 days", 61, 90),
    ("90+ days", 91, None),
)


def weekdays(period):
    full_weeks, rest = divmod(period.days, 7)
    extra = sum(1 for n in range(rest) if (period.start + datetime.timedelta(days=n)).weekday() < 5)
    return full_weeks * 5 + extra


LABOR_AMOUNT = Round(F("hours_sold") * F("rate"), 2)
PART_AMOUNT = F("quantity") * F("price")


# --- car count and average repair order ------------------------------------------------------


@report(
    slug="car-count",
    title="Car count and average repair order",
    area="shop",
    permission=SHOP,
    columns=[
        Column("day", "Day or month", "date"),
        Column("cars", "Cars", "int"),
        Column("sales", "Net sales", "money"),
        Column("aro", "Average repair order", "money"),
    ],
    chart="bar",
    chart_label="day",
    chart_series=["cars"],
    summary=[
        Column("cars", "Car count", "int"),
        Column("sales", "Net sales", "money"),
        Column("aro", "Average repair order", "money"),
    ],
    description="Cars: customer repair orders invoiced. Net sales: labor and parts after "
    "discount (no fees, no taxes), less the credit notes issued. Average repair "
    "order: net sales ÷ cars.",
    order=10,
)
def car_count(period):
    """Queries: the daily summaries of the period's summarized days; the invoices and credit
    notes of the other days (today at least) grouped by day (reports.summaries)."""
    days, current = shop_days(
        period.start,
        period.end,
        ("cars", "labor_total", "parts_total", "discount_total", "credits"),
    )
    grouped = _by_bucket(days, period)
    rows = []
    for day in buckets(period):
        sums = grouped.get(day, {})
        cars = sums.get("cars", 0)
        sales = money(
            sums.get("labor_total", ZERO)
            + sums.get("parts_total", ZERO)
            - sums.get("discount_total", ZERO)
        ) - money(sums.get("credits", ZERO))
        end = bucket_end(day, period)
        rows.append(
            {
                "day": day,
                "cars": cars,
                "sales": sales,
                "aro": money(sales / cars) if cars else None,
                "url": admin_list("repairs_invoice", **between("issued_at", _days(day, end))),
            }
        )
    cars = sum(row["cars"] for row in rows)
    sales = sum((row["sales"] for row in rows), ZERO)
    return Figure(
        rows=rows,
        summary={"cars": cars, "sales": sales, "aro": money(sales / cars) if cars else None},
        url=admin_list("repairs_invoice", **between("issued_at", period)),
        note=freshness(current, period.end),
    )


def _by_bucket(days, period):
    """The daily sums added up per bucket of the period (its days, or its months)."""
    grouped = {}
    monthly = not daily(period)
    for day, sums in days.items():
        key = day.replace(day=1) if monthly else day
        if key in grouped:
            grouped[key] = {name: grouped[key][name] + value for name, value in sums.items()}
        else:
            grouped[key] = dict(sums)
    return grouped


def _days(start, end):
    return Period(start, end)


# --- sales and gross profit ------------------------------------------------------------------


@report(
    slug="sales-gross",
    title="Sales and gross profit",
    area="shop",
    permission=SHOP,
    columns=[
        Column("kind", "Sales of", "text"),
        Column("sales", "Sales", "money"),
        Column("cost", "Cost", "money"),
        Column("gross", "Gross profit", "money"),
        Column("margin", "Margin", "percent"),
    ],
    chart="bar",
    chart_label="kind",
    chart_series=["sales", "gross"],
    summary=[
        Column("sales", "Net sales", "money"),
        Column("gross", "Gross profit", "money"),
        Column("margin", "Margin", "percent"),
        Column("elr", "Effective labor rate", "money"),
        Column("hours_sold", "Hours sold", "hours"),
    ],
    description="Labor, parts and sublet sold on the invoices of the period, their cost and "
    "gross profit. Labor cost: the hours technicians clocked on those orders x the "
    "technician cost per hour (shop settings). Effective labor rate: labor after "
    "discount ÷ hours sold.",
    order=20,
)
def sales_gross(period):
    """Queries: the shop settings; the daily summaries of the period's summarized days; for the
    other days (today at least), the invoices, their counted lines and clocked time, and the
    credit notes, grouped by day (reports.summaries)."""
    rate = ShopSettings.current().technician_cost_rate
    sums, current = shop_totals(
        period.start,
        period.end,
        (
            "labor_total",
            "parts_total",
            "discount_total",
            "credits",
            "sublet_sales",
            "sublet_cost",
            "parts_cost",
            "hours_sold",
            "labor_net",
            "worked",
        ),
    )

    def get(name):
        return sums.get(name) or ZERO

    totals = {
        "labor": get("labor_total"),
        "parts": get("parts_total"),
        "discount": get("discount_total"),
    }
    parts = {name: get(name) for name in ("sublet_sales", "sublet_cost", "parts_cost")}
    labor = {"hours": get("hours_sold"), "net": get("labor_net")}
    worked = {"time": sums.get("worked")}
    credits = get("credits")

    sublet_sales = money(parts["sublet_sales"] or ZERO)
    hours_worked = hours(worked["time"])
    lines = [
        ("Labor", money(totals["labor"] or ZERO), money(hours_worked * rate)),
        (
            "Parts",
            money(totals["parts"] or ZERO) - sublet_sales,
            money(parts["parts_cost"] or ZERO),
        ),
        ("Sublet", sublet_sales, money(parts["sublet_cost"] or ZERO)),
        ("Discounts", -money(totals["discount"] or ZERO), ZERO),
        ("Credit notes", -money(credits), ZERO),
    ]
    invoice_list = admin_list("repairs_invoice", **between("issued_at", period))
    links = {"Credit notes": admin_list("repairs_creditnote", **between("issued_at", period))}
    rows = [
        {
            "kind": kind,
            "sales": sales,
            "cost": cost,
            "gross": sales - cost,
            "margin": percent(sales - cost, sales)
            if kind in ("Labor", "Parts", "Sublet")
            else None,
            "url": links.get(kind, invoice_list),
        }
        for kind, sales, cost in lines
    ]
    sales = sum((row["sales"] for row in rows), ZERO)
    cost = sum((row["cost"] for row in rows), ZERO)
    rows.append(
        {
            "kind": "Total",
            "sales": sales,
            "cost": cost,
            "gross": sales - cost,
            "margin": percent(sales - cost, sales),
            "url": invoice_list,
        }
    )
    hours_sold = (labor["hours"] or Decimal(0)).quantize(Decimal("0.01"))
    return Figure(
        rows=rows,
        summary={
            "sales": sales,
            "gross": sales - cost,
            "margin": percent(sales - cost, sales),
            "elr": money(labor["net"] / hours_sold) if hours_sold else None,
            "hours_sold": hours_sold,
        },
        url=invoice_list,
        note=freshness(current, period.end),
    )


# --- technicians ------------------------------------------------------------------------------


@report(
    slug="technicians",
    title="Technicians: hours sold and hours worked",
    area="shop",
    permission=SHOP,
    columns=[
        Column("technician", "Technician", "text"),
        Column("hours_sold", "Hours sold", "hours"),
        Column("hours_worked", "Hours worked", "hours"),
        Column("available", "Hours available", "hours"),
        Column("efficiency", "Efficiency", "percent"),
        Column("productivity", "Productivity", "percent"),
    ],
    chart="bar",
    chart_label="technician",
    chart_series=["hours_sold", "hours_worked"],
    summary=[
        Column("hours_sold", "Hours sold", "hours"),
        Column("hours_worked", "Hours worked", "hours"),
        Column("efficiency", "Efficiency", "percent"),
    ],
    description="Hours sold: labor hours of the technician's lines on orders finished in the "
    "period (invoiced, or internal and closed). Hours worked: time clocked on jobs, "
    "started in the period. Efficiency: hours sold ÷ hours worked. Productivity: "
    "hours worked ÷ hours available (8 h per weekday; attendance is not recorded).",
    order=30,
)
def technicians(period):
    """Queries: the technicians' daily summaries of the period's summarized days; for the other
    days (today at least), counted labor lines of the orders finished then and time entries
    started then, grouped by day and technician (reports.summaries); the technicians' names."""
    from django.contrib.auth import get_user_model

    per_technician, current = technician_sums(period.start, period.end)
    sold_by = {pk: sums["hours_sold"] for pk, sums in per_technician.items()}
    worked_by = {pk: sums["worked"] for pk, sums in per_technician.items()}
    worked_by = {pk: hours(time) for pk, time in worked_by.items() if time}
    sold_by = {pk: value.quantize(Decimal("0.01")) for pk, value in sold_by.items() if value}
    names = {
        row["pk"]: _name({f"technician__{k}": v for k, v in row.items()})
        for row in get_user_model()
        .objects.filter(pk__in=set(sold_by) | set(worked_by))
        .values("pk", "username", "first_name", "last_name")
    }
    available = HOURS_PER_WEEKDAY * weekdays(period)
    rows = []
    for pk in sorted(names, key=lambda pk: names[pk].lower()):
        sold_hours = sold_by.get(pk) or Decimal("0.00")
        worked_hours = worked_by.get(pk, Decimal("0.00"))
        rows.append(
            {
                "technician": names[pk],
                "hours_sold": sold_hours,
                "hours_worked": worked_hours,
                "available": available,
                "efficiency": percent(sold_hours, worked_hours),
                "productivity": percent(worked_hours, available),
                "url": admin_list(
                    "repairs_timeentry", technician__id__exact=pk, **between("started", period)
                ),
            }
        )
    total_sold = sum((row["hours_sold"] for row in rows), Decimal("0.00"))
    total_worked = sum((row["hours_worked"] for row in rows), Decimal("0.00"))
    return Figure(
        rows=rows,
        summary={
            "hours_sold": total_sold,
            "hours_worked": total_worked,
            "efficiency": percent(total_sold, total_worked),
        },
        url=admin_list("repairs_timeentry", **between("started", period)),
        note=freshness(current, period.end),
    )


def _name(row):
    full = f"{row['technician__first_name']} {row['technician__last_name']}".strip()
    return full or row["technician__username"]


# --- approvals and declined work -------------------------------------------------------------


def decided_jobs(period):
    """Jobs of customers' orders approved or declined in the period."""
    return Job.objects.filter(
        at("repair_order__location"),
        authorized_at__gte=period.start_at,
        authorized_at__lt=period.end_at,
        repair_order__internal=False,
        authorization__in=[Authorization.APPROVED, Authorization.DECLINED],
    )


@report(
    slug="approvals",
    title="Approval rate of recommended work",
    area="shop",
    permission=SHOP,
    columns=[
        Column("decision", "Decision", "text"),
        Column("jobs", "Jobs", "int"),
        Column("value", "Value", "money"),
        Column("share", "Share of value", "percent"),
    ],
    chart="bar",
    chart_label="decision",
    chart_series=["value"],
    summary=[
        Column("rate", "Approval rate (value)", "percent"),
        Column("rate_jobs", "Approval rate (jobs)", "percent"),
        Column("declined", "Declined value", "money"),
    ],
    description="Jobs of customers' orders the customer approved or declined in the period, "
    "and their value (labor + parts at the quoted prices, before discount). "
    "Approval rate: approved ÷ decided.",
    order=40,
)
def approvals(period):
    """Queries: the daily summaries of the period's summarized days; for the other days (today
    at least), the decided jobs and their lines grouped by day and decision
    (reports.summaries)."""
    sums, current = shop_totals(
        period.start,
        period.end,
        ("approved_jobs", "approved_value", "declined_jobs", "declined_value"),
    )
    counts = {
        Authorization.APPROVED: sums.get("approved_jobs", 0),
        Authorization.DECLINED: sums.get("declined_jobs", 0),
    }
    values = {
        Authorization.APPROVED: money(sums.get("approved_value") or ZERO),
        Authorization.DECLINED: money(sums.get("declined_value") or ZERO),
    }
    whole = sum(values.values(), ZERO)
    rows = [
        {
            "decision": label,
            "jobs": counts.get(key, 0),
            "value": values[key],
            "share": percent(values[key], whole),
            "url": admin_list(
                "repairs_job", authorization__exact=key, **between("authorized_at", period)
            ),
        }
        for key, label in (
            (Authorization.APPROVED, "Approved"),
            (Authorization.DECLINED, "Declined"),
        )
    ]
    decided = sum(row["jobs"] for row in rows)
    return Figure(
        rows=rows,
        summary={
            "rate": percent(values[Authorization.APPROVED], whole),
            "rate_jobs": percent(counts.get(Authorization.APPROVED, 0), decided),
            "declined": values[Authorization.DECLINED],
        },
        url=admin_list("repairs_job", **between("authorized_at", period)),
        note=freshness(current, period.end),
    )


FOLLOW_UP_ROWS = 50


@report(
    slug="declined-work",
    title="Declined work to follow up",
    area="shop",
    permission=SHOP,
    columns=[
        Column("order", "Repair order", "text"),
        Column("customer", "Customer", "text"),
        Column("vehicle", "Vehicle", "text"),
        Column("job", "Job", "text"),
        Column("decided", "Declined on", "date"),
        Column("value", "Value", "money"),
    ],
    chart="hbar",
    chart_label="order",
    chart_series=["value"],
    summary=[Column("jobs", "Jobs to follow up", "int"), Column("value", "Their value", "money")],
    description="Jobs customers declined in the period whose vehicle has not been back since "
    "(no repair order opened after the decline): the work still due, to offer "
    f"again. The {FOLLOW_UP_ROWS} of most value are listed; the summary counts all.",
    order=50,
)
def declined_work(period):
    """Queries (with the summaries): the summary state; the declined jobs of the summarized
    days (DeclinedJob) whose vehicle had no later order by then nor since, and not decided again
    since: count and Σ value, the first rows by value; the same from the jobs declined after the
    summarized days (NOT EXISTS a later order; labor and part subqueries per job); the first
    rows' order, customer and vehicle. Without summaries: the second over the whole period."""
    current = summary_state()
    found = [_due(jobs, key) for jobs, key, _at in _due_jobs(period, current)]
    total = _due_total((n, value) for n, value, _top in found)
    first = sorted(
        (row for _n, _value, top in found for row in top), key=lambda r: (-r[0], -r[1].timestamp())
    )[:FOLLOW_UP_ROWS]
    shown = {
        row["pk"]: row
        for row in Job.objects.filter(pk__in=[pk for _v, _at, pk in first]).values(
            "pk",
            "title",
            "authorized_at",
            "repair_order__number",
            "repair_order__customer__first_name",
            "repair_order__customer__last_name",
            "repair_order__customer__company_name",
            "repair_order__vehicle__model_year",
            "repair_order__vehicle__make",
            "repair_order__vehicle__model",
            "repair_order__vehicle__vin",
        )
    }
    top = [{**shown[pk], "value": value} for value, _at, pk in first if pk in shown]
    rows = [
        {
            "order": row["repair_order__number"],
            "customer": (
                row["repair_order__customer__company_name"]
                or f"{row['repair_order__customer__first_name']} "
                f"{row['repair_order__customer__last_name']}"
            ).strip(),
            "vehicle": " ".join(
                str(part)
                for part in (
                    row["repair_order__vehicle__model_year"],
                    row["repair_order__vehicle__make"],
                    row["repair_order__vehicle__model"],
                )
                if part
            )
            or row["repair_order__vehicle__vin"],
            "job": row["title"],
            "decided": timezone.localdate(row["authorized_at"]),
            "value": money(row["value"]),
            "url": admin_list("repairs_job", id__exact=row["pk"]),
        }
        for row in top
    ]
    return Figure(
        rows=rows,
        summary=total,
        note=freshness(current, period.end),
        url=admin_list(
            "repairs_job",
            authorization__exact=Authorization.DECLINED,
            **between("authorized_at", period),
        ),
    )


def _due_jobs(period, current):
    """[(jobs, key, location path)]: the declined jobs due for follow-up of the period, from the
    summaries' DeclinedJob rows for the summarized days (keyed by job_id) and from the records
    after them (keyed by pk)."""
    since = horizon(current)
    start, end = period.start_at, period.end_at
    found = []
    if since is not None and start < since:
        stored = DeclinedJob.objects.filter(
            at(),
            authorized_at__gte=start,
            authorized_at__lt=min(end, since),
            returned=False,
        ).exclude(
            # Back since the summaries' end, or decided again since.
            Q(vehicle_id__in=RepairOrder.objects.filter(opened_at__gte=since).values("vehicle"))
            | Q(job__in=Job.objects.filter(authorized_at__gte=since).values("pk"))
        )
        found.append((stored, "job_id", "location"))
    if since is None or end > since:
        live_start = start if since is None else max(start, since)
        returned = RepairOrder.objects.filter(
            vehicle=OuterRef("repair_order__vehicle"), opened_at__gt=OuterRef("authorized_at")
        )
        live = (
            declined_jobs()
            .filter(
                at("repair_order__location"), authorized_at__gte=live_start, authorized_at__lt=end
            )
            .filter(~Exists(returned))
            .annotate(value=job_value())
        )
        found.append((live, "pk", "repair_order__location"))
    return found


def _due_total(found):
    """The summary of the due jobs' (count, value) from each source."""
    found = list(found)
    return {
        "jobs": sum(n for n, _value in found),
        "value": money(sum((value for _n, value in found), ZERO)),
    }


def _due_sums(jobs, key, by=None):
    """{`by` value (None without): (count, unrounded Σ value)} of due jobs."""
    if key == "pk":  # jobs from the records: the sums of their lines
        if by:
            counted = jobs.order_by().values(by).annotate(n=Count("pk"))
            found = {row[by]: [row["n"], ZERO] for row in counted}
        else:
            found = {None: [jobs.count(), ZERO]}
        ids = jobs.values("pk")
        for model, amount in ((LaborLine, LABOR_AMOUNT), (PartLine, PART_AMOUNT)):
            lines = model.objects.filter(job__in=ids).order_by()
            total = {"t": Sum(amount, output_field=MONEY)}
            if by:
                rows = lines.values(at=F(f"job__{by}")).annotate(**total)
            else:
                rows = [{"at": None, **lines.aggregate(**total)}]
            for row in rows:
                found.setdefault(row["at"], [0, ZERO])[1] += row["t"] or ZERO
    else:
        sums = {"n": Count("pk"), "value": Sum("value")}
        rows = jobs.order_by().values(by).annotate(**sums) if by else [jobs.aggregate(**sums)]
        found = {row.get(by): [row["n"], row["value"] or ZERO] for row in rows}
    if not by:
        found.setdefault(None, [0, ZERO])
    return {pk: tuple(sums) for pk, sums in found.items()}


def _due(jobs, key):
    """(count, Σ value, the first rows by value as (value, decided at, job id)) of due jobs."""
    n, value = _due_sums(jobs, key)[None]
    top = jobs.order_by("-value", "-authorized_at").values_list("value", "authorized_at", key)
    return n, money(value), list(top[:FOLLOW_UP_ROWS])


@by_location("declined-work")
def declined_work_by_location(period):
    """The counts and values of `declined_work`, grouped by location (of the summary row, of
    the order): each source's value rounded once per location, as the figure at one location
    does, and once for them together."""
    current = summary_state()
    sources = [_due_sums(jobs, key, by) for jobs, key, by in _due_jobs(period, current)]
    each = {
        pk: _due_total(
            (sums.get(pk, (0, ZERO))[0], money(sums.get(pk, (0, ZERO))[1])) for sums in sources
        )
        for pk in chosen_locations()
    }
    together = _due_total(
        (
            sum(n for n, _value in sums.values()),
            money(sum((value for _n, value in sums.values()), ZERO)),
        )
        for sums in sources
    )
    return each, together


# --- comebacks --------------------------------------------------------------------------------


@report(
    slug="comebacks",
    title="Comebacks",
    area="shop",
    permission=SHOP,
    columns=[
        Column("day", "Day or month", "date"),
        Column("orders", "Orders opened", "int"),
        Column("comebacks", "Comebacks", "int"),
        Column("rate", "Comeback rate", "percent"),
    ],
    chart="bar",
    chart_label="day",
    chart_series=["orders", "comebacks"],
    summary=[Column("comebacks", "Comebacks", "int"), Column("rate", "Comeback rate", "percent")],
    description="Customers' repair orders opened in the period (canceled ones left out), and "
    "those opened as a comeback: the vehicle came back for the work of an earlier "
    "order (the order's “comeback of” field).",
    order=60,
)
def comebacks(period):
    """Queries: the daily summaries of the period's summarized days; for the other days (today
    at least), the customers' orders opened, not canceled, grouped by day: count, and count of
    those with comeback_of set (reports.summaries)."""
    days, current = shop_days(period.start, period.end, ("opened_orders", "comebacks"))
    grouped = _by_bucket(days, period)
    rows = []
    for day in buckets(period):
        row = grouped.get(day, {})
        n, back = row.get("opened_orders", 0), row.get("comebacks", 0)
        rows.append(
            {
                "day": day,
                "orders": n,
                "comebacks": back,
                "rate": percent(back, n),
                "url": admin_list(
                    "repairs_repairorder",
                    comeback_of__isnull="False",
                    **between("opened_at", _days(day, bucket_end(day, period))),
                ),
            }
        )
    n = sum(row["orders"] for row in rows)
    back = sum(row["comebacks"] for row in rows)
    return Figure(
        rows=rows,
        summary={"comebacks": back, "rate": percent(back, n)},
        url=admin_list(
            "repairs_repairorder", comeback_of__isnull="False", **between("opened_at", period)
        ),
        note=freshness(current, period.end),
    )


# --- work in progress -------------------------------------------------------------------------


@report(
    slug="work-in-progress",
    title="Work in progress",
    area="shop",
    permission="reports.view_work_in_progress",
    columns=[
        Column("status", "Status", "text"),
        *[Column(key, label, "int") for key, label, _low, _high in WIP_AGES],
        Column("total", "Total", "int"),
    ],
    chart="stacked",
    chart_label="status",
    chart_series=[key for key, _label, _low, _high in WIP_AGES],
    summary=[Column("total", "Open orders", "int"), Column("late", "Open 8 days or more", "int")],
    description="Repair orders open now (estimate, approved, in progress, completed but not "
    "invoiced), by status and by age: days since the order was opened. Always as "
    "of now: the period does not change it.",
    snapshot=True,
    compare=False,
    order=70,
)
def work_in_progress(period):
    """Query: open orders grouped by status, counted per age (conditional counts)."""
    today = timezone.localdate()

    def since(days):
        return Period(today - datetime.timedelta(days=days), today).start_at

    ages = {}
    for key, _label, low, high in WIP_AGES:
        condition = Q(opened_at__lt=since(low - 1)) if low else Q()
        if high is not None:
            condition &= Q(opened_at__gte=since(high))
        ages[key] = Count("id", filter=condition) if condition else Count("id")
    grouped = {
        row["status"]: row
        for row in RepairOrder.objects.filter(at(), status__in=OPEN_STATUSES)
        .order_by()
        .values("status")
        .annotate(**ages)
    }
    rows = []
    for status in OPEN_STATUSES:
        row = {"status": RepairOrderStatus(status).label}
        for key, *_rest in WIP_AGES:
            row[key] = grouped.get(status, {}).get(key, 0)
        row["total"] = sum(row[key] for key, *_rest in WIP_AGES)
        row["url"] = admin_list("repairs_repairorder", status__exact=status)
        rows.append(row)
    return Figure(
        rows=rows,
        summary={
            "total": sum(row["total"] for row in rows),
            "late": sum(row["age_8_plus"] for row in rows),
        },
        url=admin_list("repairs_repairorder"),
        note=f"As of now ({today.isoformat()})",
    )


# --- receivables ------------------------------------------------------------------------------


def owing_at(end):
    """Invoices (InvoiceSpan) issued before `end` and not paid off before it, `end` within the
    summarized days: an index lookup on PostgreSQL (the GiST index of reports 0004 on the
    span), the same conditions elsewhere."""
    spans = InvoiceSpan.objects.filter(issued_at__lt=end).filter(
        Q(settled_at__isnull=True) | Q(settled_at__gte=end)
    )
    if connection.vendor == "postgresql":
        spans = spans.extra(
            where=["tstzrange(issued_at, settled_at, '(]') @> %s::timestamptz"], params=[end]
        )
    return spans


@report(
    slug="receivables",
    title="Accounts receivable aging",
    area="shop",
    permission=SHOP,
    columns=[
        Column("age", "Days since the invoice", "text"),
        Column("invoices", "Invoices", "int"),
        Column("balance", "Balance due", "money"),
    ],
    chart="bar",
    chart_label="age",
    chart_series=["balance"],
    summary=[Column("balance", "Receivables", "money"), Column("over_60", "Over 60 days", "money")],
    description="What customers owed on the period's last day: each invoice issued by then, "
    "less the payments received and credit notes issued by then, when something is "
    "left to pay; by days since the invoice was issued (an invoice is due when "
    "issued: “current” is the same day).",
    snapshot=True,
    order=80,
)
def receivables(period):
    """Queries (with the summaries): the summary state; as of a summarized day, the invoices'
    spans holding its end, their balance then (their total, what was left at the summaries'
    end, or payment and credit note subqueries for the few paid on both before and after it)
    summed per age; as of a later day, the invoices open at the end of the summarized days
    (OpenInvoice) with no payment or credit note between then and the period's end, their
    balance then summed per age, and the other invoices that may owe something at the end (paid
    or credited in between, or issued since), with their balance at the end (payment and credit
    note subqueries), summed per age. Without summaries: the second query over every invoice not
    paid yet or paid or credited after the end."""
    current = summary_state()
    totals = _receivable_totals(period, current)[None]
    return _receivables_figure(period, totals, current)


def _age_midnight(as_of, days_before):
    """The first instant of the day `days_before` days before `as_of`."""
    day = as_of - datetime.timedelta(days=days_before)
    return Period(day, day).start_at


def _receivable_totals(period, current, by=None):
    """{`by` value (None without): {"n<age>": invoices, "b<age>": unrounded balance}} of the
    invoices owing at the period's end, by age (see receivables)."""
    as_of = period.end
    end = period.end_at

    since = horizon(current)
    if since is None:
        parts = [(Invoice.objects.filter(pk__in=maybe_owing(end)), "issued_at", None)]
    elif end < since:
        # A day within the summarized ones: the invoices that owed something at its end are
        # those issued before it and paid off after it (or not by the summaries' end).
        # Those nothing was paid on before it owed their total. When the day is recent, those
        # paid or credited on before it and not since (a hashed set of the invoices paid or
        # credited since) owed what was left at the summaries' end. Only the others take
        # payment and credit note subqueries. (Further back, that set, read from every
        # payment since the day, costs more than the subqueries it saves.)
        whens = [When(Q(settled=0) | Q(first_settled_at__gte=end), then=F("total"))]
        if since - end <= datetime.timedelta(days=MOVED_SET_DAYS):
            moved = (
                Payment.objects.filter(received_at__gte=end, received_at__lt=since)
                .order_by()
                .values("invoice")
                .union(
                    CreditNote.objects.filter(issued_at__gte=end, issued_at__lt=since)
                    .order_by()
                    .values("invoice"),
                    all=True,
                )
            )
            whens.append(
                When(
                    Q(settled__isnull=False) & ~Q(invoice__in=moved),
                    then=ExpressionWrapper(F("total") - F("settled"), output_field=MONEY),
                )
            )
        due = Case(
            *whens,
            default=ExpressionWrapper(F("total") - settled_before(end), output_field=MONEY),
            output_field=MONEY,
        )
        parts = [(owing_at(end).annotate(due=due), "issued_at", "spans")]
    else:
        # What came in between the summaries' end and the period's end (either way round).
        low, high = min(since, end), max(since, end)
        paid = Payment.objects.filter(received_at__gte=low, received_at__lt=high)
        credited = CreditNote.objects.filter(issued_at__gte=low, issued_at__lt=high)
        moved = (
            paid.order_by().values("invoice").union(credited.order_by().values("invoice"), all=True)
        )
        unchanged = OpenInvoice.objects.exclude(invoice__in=moved).annotate(
            due=ExpressionWrapper(F("total") - F("settled"), output_field=MONEY)
        )
        # One set of ids (a UNION): an OR of the two made PostgreSQL read every invoice.
        others = Invoice.objects.filter(
            pk__in=paid.order_by()
            .values("invoice")
            .union(
                credited.order_by().values("invoice"),
                Invoice.objects.filter(issued_at__gte=since).order_by().values("pk"),
                all=True,
            )
        )
        parts = [(unchanged, "issued_at", "unchanged"), (others, "issued_at", None)]

    def age(low, high):
        """Issued between `low` and `high` days before the end (both included)."""
        condition = Q(issued_at__lt=_age_midnight(as_of, low - 1)) if low else Q()
        if high is not None:
            condition &= Q(issued_at__gte=_age_midnight(as_of, high))
        return condition

    # Grouped by age (one CASE) rather than a filtered sum per age: the balance, with its
    # subqueries, is written twice in the query (the filter and the sum), not once per age.
    bucket = Case(
        *(When(age(low, high), then=Value(n)) for n, (_label, low, high) in enumerate(AR_AGES)),
        default=None,
        output_field=IntegerField(),
    )
    empty = {f"{key}{n}": 0 for n in range(len(AR_AGES)) for key in "nb"}
    found = {} if by else {None: dict(empty)}
    for queryset, _field, kind in parts:
        if kind is None:
            queryset = queryset.annotate(
                due=ExpressionWrapper(F("total") - settled_before(end), output_field=MONEY)
            )
        queryset = queryset.filter(at())  # the invoice's location (kept on the summary rows)
        for row in (
            queryset.filter(issued_at__lt=end, due__gt=0)
            .annotate(age_bucket=bucket)
            .order_by()
            .values(*((by,) if by else ()), "age_bucket")
            .annotate(n=Count("pk"), balance=Sum("due"))
        ):
            if row["age_bucket"] is not None:
                totals = found.setdefault(row[by] if by else None, dict(empty))
                totals[f"n{row['age_bucket']}"] += row["n"]
                totals[f"b{row['age_bucket']}"] += row["balance"] or 0
    return found


def _receivables_figure(period, totals, current):
    """The figure of the invoices owing at the period's end by age (`totals`)."""
    as_of = period.end
    end = period.end_at

    def midnight(days_before):
        return _age_midnight(as_of, days_before)

    rows = []
    for n, (label, low, high) in enumerate(AR_AGES):
        filters = {"issued_at__lt": (midnight(low - 1) if low else end).isoformat()}
        if high is not None:
            filters["issued_at__gte"] = midnight(high).isoformat()
        rows.append(
            {
                "age": label,
                "invoices": totals[f"n{n}"],
                "balance": money(totals[f"b{n}"] or ZERO),
                "url": admin_list("repairs_invoice", **filters),
            }
        )
    balance = sum((row["balance"] for row in rows), ZERO)
    return Figure(
        rows=rows,
        summary={"balance": balance, "over_60": sum((row["balance"] for row in rows[3:]), ZERO)},
        url=admin_list("repairs_invoice", issued_at__lt=end.isoformat()),
        note=f"As of {as_of.isoformat()}. " + freshness(current, as_of),
    )


@by_location("receivables")
def receivables_by_location(period):
    """The queries of `receivables`, grouped by the invoice's location too (an invoice is at
    one location: the locations' invoices and balances by age add up to theirs together)."""
    current = summary_state()
    found = _receivable_totals(period, current, by="location")
    empty = {f"{key}{n}": 0 for n in range(len(AR_AGES)) for key in "nb"}
    together = dict(empty)
    for totals in found.values():
        for key, value in totals.items():
            together[key] += value
    each = {
        pk: _receivables_figure(period, found.get(pk, empty), current).summary
        for pk in chosen_locations()
    }
    return each, _receivables_figure(period, together, current).summary


# --- parts inventory --------------------------------------------------------------------------


def _parts_on_hand():
    """{category: parts on hand, their value and dead stock} as of now (once per page)."""
    chosen = chosen_locations()
    if chosen is not None and len(chosen) == 1:
        # One location: a part is one stock row there (the grouping without DISTINCT).
        return _parts_on_hand_by_location().get(next(iter(chosen)), {})
    cutoff = timezone.now() - datetime.timedelta(days=DEAD_STOCK_DAYS)
    dead = Q(moved=False)
    if chosen is not None:
        # The stock of the chosen locations (PartStock), at the parts' unit cost; dead: no
        # movement there since the cutoff (PartStockMoved, and the movements since).
        value = F("on_hand") * F("part__unit_cost")
        return {
            row["category"]: row
            for row in _stock_here(cutoff)
            .values("category")
            .annotate(
                parts=Count("part", distinct=True),
                value=Sum(value, output_field=MONEY),
                dead_parts=Count("part", filter=dead, distinct=True),
                dead_value=Sum(value, filter=dead, output_field=MONEY),
            )
        }
    value = F("on_hand") * F("unit_cost")
    return {
        row["category"]: row
        for row in Part.objects.filter(on_hand__gt=0)
        .annotate(moved=moved_since(cutoff))
        .order_by()
        .values("category")
        .annotate(
            parts=Count("id"),
            value=Sum(value, output_field=MONEY),
            dead_parts=Count("id", filter=dead),
            dead_value=Sum(value, filter=dead, output_field=MONEY),
        )
    }


def _stock_here(cutoff):
    """The stock rows on hand at the chosen locations, with their category and whether they
    moved there since `cutoff`."""
    return (
        PartStock.objects.filter(at(), on_hand__gt=0)
        .annotate(moved=moved_here_since(cutoff), category=F("part__category"))
        .order_by()
    )


def _parts_on_hand_by_location():
    """{location id: {category: parts on hand, their value and dead stock}} as of now, for the
    chosen locations: one query grouped by location, category and whether the row moved (a
    part has one stock row at a location, so its rows are its parts; the test of a row's last
    movement is made once a row), once per page for them or more."""
    return once_within("parts on hand", _stock_by_location)


def _stock_by_location():
    cutoff = timezone.now() - datetime.timedelta(days=DEAD_STOCK_DAYS)
    found = {}
    for row in (
        _stock_here(cutoff)
        .values("location", "category", "moved")
        .annotate(
            parts=Count("pk"),
            value=Sum(F("on_hand") * F("part__unit_cost"), output_field=MONEY),
        )
    ):
        into = found.setdefault(row["location"], {}).setdefault(
            row["category"], {"parts": 0, "value": ZERO, "dead_parts": 0, "dead_value": ZERO}
        )
        into["parts"] += row["parts"]
        into["value"] += row["value"]
        if not row["moved"]:
            into["dead_parts"] += row["parts"]
            into["dead_value"] += row["value"]
    return found


@report(
    slug="parts-inventory",
    title="Parts inventory: value, turns and dead stock",
    area="shop",
    permission=SHOP,
    columns=[
        Column("category", "Category", "text"),
        Column("parts", "Parts in stock", "int"),
        Column("value", "Value at cost", "money"),
        Column("issued", "Cost issued in the period", "money"),
        Column("turns", "Turns a year", "decimal"),
        Column("dead_parts", "Dead stock parts", "int"),
        Column("dead_value", "Dead stock value", "money"),
    ],
    chart="stacked",
    chart_label="category",
    chart_series=["value", "dead_value"],
    summary=[
        Column("value", "Inventory value", "money"),
        Column("turns", "Turns a year", "decimal"),
        Column("dead_value", "Dead stock", "money"),
    ],
    description="Value: parts on hand now x their unit cost. Turns: the cost of parts issued "
    "to repair orders in the period (less returns), per year, ÷ the value. Dead "
    f"stock: parts on hand with no stock movement for {DEAD_STOCK_DAYS} days.",
    order=90,
)
def parts_inventory(period):
    """Queries: parts on hand grouped by category, once per page (count, value, dead stock: no
    movement since the cutoff, moved_since: with summaries a join to each part's last movement
    before their end and a hashed set of the parts moved since); the parts issued and returned
    per category
    over the period (parts_moved: PartsDay rows of the summarized days, the stock movements of
    the others grouped by day and category)."""
    stock = once(("parts on hand", chosen_locations()), _parts_on_hand)
    issued, current = parts_moved(period.start, period.end)
    return _inventory_figure(period, stock, issued, current)


def _inventory_figure(period, stock, issued, current):
    """The figure of the parts on hand (`stock`, by category) and issued (`issued`)."""
    per_year = Decimal(365) / Decimal(period.days)
    rows = []
    for category in sorted(set(stock) | set(issued), key=str.lower):
        row = stock.get(category, {})
        cost = -money(issued.get(category) or ZERO)
        on_hand = money(row.get("value") or ZERO)
        rows.append(
            {
                "category": category or "(none)",
                "parts": row.get("parts", 0),
                "value": on_hand,
                "issued": cost,
                "turns": ratio(cost * per_year, on_hand, "0.1"),
                "dead_parts": row.get("dead_parts", 0),
                "dead_value": money(row.get("dead_value") or ZERO),
                "url": admin_list("inventory_part", category__exact=category),
            }
        )
    value_total = sum((row["value"] for row in rows), ZERO)
    issued_total = sum((row["issued"] for row in rows), ZERO)
    return Figure(
        rows=rows,
        summary={
            "value": value_total,
            "turns": ratio(issued_total * per_year, value_total, "0.1"),
            "dead_value": sum((row["dead_value"] for row in rows), ZERO),
        },
        url=admin_list("inventory_part"),
        note="Value and dead stock as of now. Issued: " + freshness(current, period.end),
    )


@by_location("parts-inventory")
def parts_inventory_by_location(period):
    """The queries of `parts_inventory`, grouped by location too. Together: each category's
    value, cost issued and dead stock added up over the locations (a stock row and a movement
    are at one location); its summary reads nothing else."""
    stock = _parts_on_hand_by_location()
    issued, current = parts_moved(period.start, period.end, by_location=True)
    each = {}
    for pk in chosen_locations():
        here = {category: total for (at_, category), total in issued.items() if at_ == pk}
        each[pk] = _inventory_figure(period, stock.get(pk, {}), here, current).summary
    together_stock, together_issued = {}, {}
    for rows in stock.values():
        for category, row in rows.items():
            into = together_stock.setdefault(category, {"value": ZERO, "dead_value": ZERO})
            into["value"] += row["value"] or ZERO
            into["dead_value"] += row["dead_value"] or ZERO
    for (_at, category), total in issued.items():
        together_issued[category] = together_issued.get(category, ZERO) + total
    return each, _inventory_figure(period, together_stock, together_issued, current).summary
