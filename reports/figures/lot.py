"""The car lot's figures: units sold, gross, inventory aging, reconditioning, leads, commissions.

Each figure is defined once here (and in words in docs/reports-lot.md); each is a fixed number
of aggregate queries, whatever the number of rows. The rules they read have one home each:

- a deal's front and back gross: sales.calculations.deal_figures, frozen on the deal when it is
  delivered; summed here through sales.models.FRONT_GROSS, BACK_GROSS and TOTAL_GROSS;
- what a stock unit cost: sales.services (acquisition + other costs + reconditioning, where
  reconditioning is the internal repair orders opened during the unit's stay, costed by
  repairs.costs); read here over every unit at once through sales.services.reconditioning_of_units
  and repairs.costs.cost_subquery, kept per order in the summaries (reports.summaries);
- the aging target: ShopSettings.aging_threshold_days (a unit is past it when its days in
  stock are more than that, as StockUnit.is_aged and the stock list's "aged" filter say);
- a commission and its chargeback: the Commission rows sales.services records.

Sales count in the period they happen: a delivery adds the unit and its gross in the period it
was delivered; an unwind takes them off again in the period it was unwound (as its commission
chargeback does), so a period's figures never change afterwards. Canceled deals were never sold
and count nowhere; refunds give the buyer's money back and change no gross.
"""

import datetime
from decimal import Decimal

from django.db.models import (
    Count,
    DateField,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from accounts.models import ShopSettings
from core.money import ZERO, money
from inventory.models import StockUnit, StockUnitCost
from repairs.costs import cost_subquery
from reports.figures.common import admin_list, between, percent
from reports.periods import Period
from reports.registry import Column, Figure, by_location, report
from reports.summaries import at, chosen_locations, freshness, reconditioning_months
from sales.models import BACK_GROSS, FRONT_GROSS, TOTAL_GROSS, Commission, Deal, Lead
from sales.services import during_stay

LOT = "reports.view_lot_reports"
DELIVERED, UNWOUND = Deal.Status.DELIVERED, Deal.Status.UNWOUND
NO_LEAD = "No lead"


# ---------------------------------------------------------------------------------------------
# Helpers: periods, months, links
# ---------------------------------------------------------------------------------------------


def _within(field, period):
    """Filter kwargs: the datetime `field` falls in the period (shop's time zone)."""
    return {f"{field}__gte": period.start_at, f"{field}__lt": period.end_at}


def _month(field):
    return TruncMonth(field, output_field=DateField())


def _months(period):
    """The first day of each month the period touches, in order."""
    months, month = [], period.start.replace(day=1)
    while month <= period.end:
        months.append(month)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return months


def _month_period(month, period):
    """The part of `period` that falls in `month`."""
    last = (month + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    return Period(max(month, period.start), min(last, period.end))


def _deals_url(period, **filters):
    """The deals delivered in the period (those unwound since included: the list shows their
    status)."""
    return admin_list("sales_deal", **between("delivered_at", period), **filters)


def _person(row, prefix="salesperson"):
    full = f"{row[f'{prefix}__first_name']} {row[f'{prefix}__last_name']}".strip()
    return full or row[f"{prefix}__username"]


PERSON = (
    "salesperson",
    "salesperson__first_name",
    "salesperson__last_name",
    "salesperson__username",
)


def _per(amount, count):
    """The amount per deal or unit; none when nothing is left to share it (a period that
    unwound as many deals as it delivered, or more)."""
    return money(amount / count) if count > 0 else None


# ---------------------------------------------------------------------------------------------
# Sales and gross: deliveries less unwinds
# ---------------------------------------------------------------------------------------------


def deliveries(period):
    """Deals delivered in the period (including those unwound since)."""
    return Deal.objects.filter(
        at("stock_unit__location"),
        status__in=[DELIVERED, UNWOUND],
        **_within("delivered_at", period),
    )


def unwinds(period):
    """Deals unwound in the period (whenever they were delivered)."""
    return Deal.objects.filter(
        at("stock_unit__location"), status=UNWOUND, **_within("closed_at", period)
    )


def _net_gross(period, delivered_key, unwound_key, *fields):
    """{key: {"deals", "front", "back", "total"}}: deliveries in the period less unwinds in the
    period, grouped by `fields` (the month, with each side's own date, when `*_key` names it).
    Two queries."""

    def grouped(queryset, month_of):
        if month_of:
            queryset = queryset.annotate(month=_month(month_of))
        keys = (["month"] if month_of else []) + list(fields)
        return (
            queryset.order_by()
            .values(*keys)
            .annotate(
                deals=Count("pk"),
                front=Sum(FRONT_GROSS),
                back=Sum(BACK_GROSS),
                total=Sum(TOTAL_GROSS),
            )
        )

    result = {}
    for sign, rows in (
        (1, grouped(deliveries(period), delivered_key)),
        (-1, grouped(unwinds(period), unwound_key)),
    ):
        for row in rows:
            key = tuple(row[k] for k in (["month"] if delivered_key else []) + list(fields))
            entry = result.setdefault(
                key, {"row": row, "deals": 0, "front": ZERO, "back": ZERO, "total": ZERO}
            )
            entry["deals"] += sign * row["deals"]
            for name in ("front", "back", "total"):
                entry[name] += sign * (row[name] or ZERO)
    return result


def _gross_row(entry):
    deals = entry["deals"]
    return {
        "deals": deals,
        "front": money(entry["front"]),
        "back": money(entry["back"]),
        "total": money(entry["total"]),
        "front_per_deal": _per(entry["front"], deals),
        "back_per_deal": _per(entry["back"], deals),
        "total_per_deal": _per(entry["total"], deals),
    }


def _gross_summary(entries):
    deals = sum(e["deals"] for e in entries)
    total = {name: sum((e[name] for e in entries), ZERO) for name in ("front", "back", "total")}
    return _gross_row({"deals": deals, **total})


GROSS_COLUMNS = [
    Column("deals", "Deals", "int"),
    Column("front", "Front gross", "money"),
    Column("back", "Back gross", "money"),
    Column("total", "Total gross", "money"),
    Column("front_per_deal", "Front per deal", "money"),
    Column("back_per_deal", "Back per deal", "money"),
    Column("total_per_deal", "Total per deal", "money"),
]
GROSS_SUMMARY = [
    Column("deals", "Deals (net of unwinds)", "int"),
    Column("total", "Total gross", "money"),
    Column("front_per_deal", "Front gross per deal", "money"),
    Column("back_per_deal", "Back gross per deal", "money"),
    Column("total_per_deal", "Total gross per deal", "money"),
]


@report(
    slug="lot-units-sold",
    title="Units sold",
    area="lot",
    permission="reports.view_lot_units_sold",
    columns=[
        Column("month", "Month", "date"),
        Column("delivered", "Delivered", "int"),
        Column("unwound", "Unwound", "int"),
        Column("units", "Units sold", "int"),
    ],
    chart="bar",
    chart_label="month",
    chart_series=["units"],
    summary=[Column("units", "Units sold", "int"), Column("unwound", "Unwound", "int")],
    description="Cars delivered in each month, less the deals unwound in that month.",
    order=10,
)
def units_sold(period):
    """Two queries: deals delivered in the period, by month of delivery (deal_delivered_idx);
    deals unwound in the period, by month of the unwind."""
    counted = _units_counted(period)
    return _units_figure(period, counted)


def _units_counted(period, *by):
    """{"delivered"/"unwound": {(*by, month): units}}."""
    counted = {}
    for name, queryset, field in (
        ("delivered", deliveries(period), "delivered_at"),
        ("unwound", unwinds(period), "closed_at"),
    ):
        rows = (
            queryset.order_by()
            .annotate(month=_month(field))
            .values(*by, "month")
            .annotate(units=Count("pk"))
        )
        counted[name] = {(*(row[key] for key in by), row["month"]): row["units"] for row in rows}
    return counted


def _units_figure(period, counted):
    rows = []
    for month in _months(period):
        delivered = counted["delivered"].get((month,), 0)
        unwound = counted["unwound"].get((month,), 0)
        rows.append(
            {
                "month": month,
                "delivered": delivered,
                "unwound": unwound,
                "units": delivered - unwound,
                "url": _deals_url(_month_period(month, period)),
            }
        )
    return Figure(
        rows=rows,
        url=_deals_url(period),
        summary={
            "units": sum(r["units"] for r in rows),
            "unwound": sum(r["unwound"] for r in rows),
        },
    )


@by_location("lot-units-sold")
def units_sold_by_location(period):
    """The two queries of `units_sold`, grouped by the unit's lot too."""
    counted = _units_counted(period, "stock_unit__location")

    def of(keep):
        found = {}
        for name, units in counted.items():
            found[name] = {}
            for (pk, month), n in units.items():
                if keep(pk):
                    found[name][(month,)] = found[name].get((month,), 0) + n
        return _units_figure(period, found).summary

    each = {pk: of(lambda at_, pk=pk: at_ == pk) for pk in chosen_locations()}
    return each, of(lambda _at: True)


@report(
    slug="lot-gross",
    title="Gross per deal",
    area="lot",
    permission=LOT,
    columns=[Column("month", "Month", "date"), *GROSS_COLUMNS],
    chart="stacked",
    chart_label="month",
    chart_series=["front", "back"],
    summary=GROSS_SUMMARY,
    description="Front gross (price less the unit's cost and any trade-in over-allowance) and "
    "back gross (add-on profit and finance reserve) of the deals delivered, less "
    "those unwound, by month.",
    order=20,
)
def gross_by_month(period):
    """Two queries: the gross of deals delivered in the period by month of delivery, and of
    deals unwound in the period by month of the unwind (both summed on the frozen columns)."""
    entries = _net_gross(period, "delivered_at", "closed_at")
    empty = {"deals": 0, "front": ZERO, "back": ZERO, "total": ZERO}
    rows = [
        {
            "month": month,
            **_gross_row(entries.get((month,), empty)),
            "url": _deals_url(_month_period(month, period)),
        }
        for month in _months(period)
    ]
    return Figure(rows=rows, summary=_gross_summary(list(entries.values())), url=_deals_url(period))


@report(
    slug="lot-gross-salespeople",
    title="Gross per salesperson",
    area="lot",
    permission=LOT,
    columns=[Column("salesperson", "Salesperson"), *GROSS_COLUMNS],
    chart="stacked",
    chart_label="salesperson",
    chart_series=["front", "back"],
    summary=GROSS_SUMMARY,
    description="Each salesperson's deals delivered less unwound in the period, with their "
    "front, back and total gross, in all and per deal.",
    order=30,
)
def gross_by_salesperson(period):
    """Two queries: delivered and unwound deals of the period grouped by salesperson (joined to
    the user for the name)."""
    entries = _net_gross(period, None, None, *PERSON)
    rows = sorted(
        (
            {
                "salesperson": _person(e["row"]),
                **_gross_row(e),
                "url": _deals_url(period, salesperson__id__exact=e["row"]["salesperson"]),
            }
            for e in entries.values()
        ),
        key=lambda r: (-r["total"], r["salesperson"]),
    )
    return Figure(rows=rows, summary=_gross_summary(list(entries.values())), url=_deals_url(period))


@report(
    slug="lot-gross-sources",
    title="Gross per lead source",
    area="lot",
    permission=LOT,
    columns=[Column("source", "Lead source"), *GROSS_COLUMNS],
    chart="stacked",
    chart_label="source",
    chart_series=["front", "back"],
    summary=GROSS_SUMMARY,
    description="Deals delivered less unwound in the period by where the buyer came from (the "
    "deal's lead), with their gross; deals written without a lead are one line.",
    order=40,
)
def gross_by_source(period):
    """Two queries: delivered and unwound deals of the period grouped by their lead's source
    (a left join to the lead)."""
    entries = _net_gross(period, None, None, "lead__source")
    labels = dict(Lead.Source.choices)
    rows = sorted(
        (
            {
                "source": labels.get(e["row"]["lead__source"], NO_LEAD),
                **_gross_row(e),
                "url": _deals_url(period, **_source_filter(e["row"]["lead__source"])),
            }
            for e in entries.values()
        ),
        key=lambda r: (-r["total"], r["source"]),
    )
    return Figure(rows=rows, summary=_gross_summary(list(entries.values())), url=_deals_url(period))


def _gross_by_location(period):
    """The gross reports' comparison: deliveries less unwinds grouped by the unit's lot (two
    queries); each lot's summary and theirs together from the same sums as the reports'."""
    entries = _net_gross(period, None, None, "stock_unit__location")
    each = {
        pk: _gross_summary([entries[(pk,)]] if (pk,) in entries else [])
        for pk in chosen_locations()
    }
    return each, _gross_summary(list(entries.values()))


for _slug in ("lot-gross", "lot-gross-salespeople", "lot-gross-sources"):
    by_location(_slug)(_gross_by_location)


def _source_filter(source):
    """The deal list's filter for deals with a lead from `source` (None: without a lead)."""
    return {"lead__source__exact": source} if source else {"lead__isnull": "True"}


# ---------------------------------------------------------------------------------------------
# Inventory aging
# ---------------------------------------------------------------------------------------------

# (key, label, fewest days, most days) in stock.
BUCKETS = (
    ("d0_30", "0 to 30 days", 0, 30),
    ("d31_60", "31 to 60 days", 31, 60),
    ("d61_90", "61 to 90 days", 61, 90),
    ("d91_", "Over 90 days", 91, None),
)


MONEY = DecimalField(max_digits=14, decimal_places=2)


def _bucket(field, as_of, low, high):
    """Q: the unit acquired on `field` has been in stock low..high days on `as_of`."""
    condition = Q(**{f"{field}__lte": as_of - datetime.timedelta(days=low)})
    if high is not None:
        condition &= Q(**{f"{field}__gte": as_of - datetime.timedelta(days=high)})
    return condition


def _in_stock_on(as_of, acquired_on, left_on):
    """Q: a unit acquired on `acquired_on` and gone on `left_on` (lookups) was on the lot at the
    end of `as_of`."""
    return Q(**{f"{acquired_on}__lte": as_of}) & (
        Q(**{f"{left_on}__isnull": True}) | Q(**{f"{left_on}__gt": as_of})
    )


@report(
    slug="lot-aging",
    title="Inventory aging",
    area="lot",
    permission=LOT,
    columns=[
        Column("bucket", "Days in stock"),
        Column("units", "Units", "int"),
        Column("capital", "Capital tied up", "money"),
        Column("past_target", "Past the target", "int"),
    ],
    chart="bar",
    chart_label="bucket",
    chart_series=["units"],
    summary=[
        Column("units", "Units in stock", "int"),
        Column("capital", "Capital tied up", "money"),
        Column("past_target", "Units past the target", "int"),
    ],
    description="The units on the lot at the end of the period by days in stock, with what "
    "they cost the business so far (acquisition, other costs, reconditioning) and "
    "how many are past the aging target of the shop settings.",
    snapshot=True,
    order=50,
)
def inventory_aging(period):
    """Two queries, as of the period's last day (today at the latest): the shop settings; the
    units then on the lot (stockunit_acquired_idx), each with its other costs incurred by then
    and the parts and labor of its reconditioning by then as subqueries by unit (cost_subquery
    on the lines of its vehicle's internal orders opened during its stay: a few index lookups a
    unit, where a join of every reconditioning line to the units read every internal order),
    summed per bucket: count, capital, units past the target."""
    as_of, target, units, aggregates = _aging(period)
    return _aging_figure(as_of, target, units.aggregate(**aggregates))


def _aging(period):
    """(as of, the aging target, the units on the lot then with their capital, the aggregates
    by bucket) of inventory_aging."""
    as_of = min(period.end, timezone.localdate())
    target = ShopSettings.current().aging_threshold_days
    past_target = StockUnit.aged_on(as_of, target)

    other = (
        StockUnitCost.objects.filter(unit=OuterRef("pk"), incurred_on__lte=as_of)
        .order_by()
        .values("unit")
        .annotate(total=Sum("amount"))
        .values("total")
    )

    def reconditioning(kind):
        return cost_subquery(
            kind,
            "job__repair_order__vehicle",
            during_stay("job__repair_order__", OuterRef("acquired_on"), OuterRef("_window_end")),
            job__repair_order__vehicle=OuterRef("vehicle_id"),
            job__repair_order__opened_at__lt=Period(as_of, as_of).end_at,
        )

    units = (
        StockUnit.objects.filter(at(), _in_stock_on(as_of, "acquired_on", "disposed_on"))
        .annotate(
            _window_end=Coalesce("disposed_on", Value(datetime.date.max), output_field=DateField())
        )
        .annotate(
            capital=ExpressionWrapper(
                F("acquisition_cost")
                + Coalesce(Subquery(other, output_field=MONEY), Value(ZERO), output_field=MONEY)
                + reconditioning("parts")
                + reconditioning("labor"),
                output_field=MONEY,
            )
        )
    )
    aggregates = {}
    for key, _label, low, high in BUCKETS:
        bucket = _bucket("acquired_on", as_of, low, high)
        aggregates[f"units_{key}"] = Count("pk", filter=bucket)
        aggregates[f"cost_{key}"] = Sum("capital", filter=bucket)
        aggregates[f"past_{key}"] = Count("pk", filter=bucket & past_target)
    return as_of, target, units, aggregates


def _aging_figure(as_of, target, found):
    """The figure of the units on the lot by bucket (`found`: the aggregates of _aging)."""
    on_lot_now = as_of == timezone.localdate()
    rows = []
    for key, label, low, high in BUCKETS:
        capital = found[f"cost_{key}"] or ZERO
        url = None
        if on_lot_now:  # the stock list shows the lot as it is now
            url = admin_list(
                "inventory_stockunit",
                status__in=",".join(StockUnit.IN_STOCK),
                acquired_on__lte=(as_of - datetime.timedelta(days=low)).isoformat(),
                **(
                    {}
                    if high is None
                    else {"acquired_on__gte": (as_of - datetime.timedelta(days=high)).isoformat()}
                ),
            )
        rows.append(
            {
                "bucket": label,
                "units": found[f"units_{key}"],
                "capital": money(capital),
                "past_target": found[f"past_{key}"],
                "url": url,
            }
        )
    return Figure(
        rows=rows,
        summary={
            "units": sum(r["units"] for r in rows),
            "capital": sum((r["capital"] for r in rows), ZERO),
            "past_target": sum(r["past_target"] for r in rows),
        },
        url=(
            admin_list("inventory_stockunit", aging="aged")
            if on_lot_now
            else admin_list("inventory_stockunit")
        ),
        note=f"As of {as_of.isoformat()}; the aging target is {target} days (shop settings).",
    )


@by_location("lot-aging")
def inventory_aging_by_location(period):
    """The query of `inventory_aging`, grouped by the unit's lot (a unit is at one: the lots'
    buckets add up to theirs together)."""
    as_of, target, units, aggregates = _aging(period)
    found = {row.pop("location"): row for row in units.values("location").annotate(**aggregates)}
    together = {}
    for row in found.values():
        for key, value in row.items():
            if value is not None:
                together[key] = together.get(key, 0) + value
    empty = {key: None if key.startswith("cost_") else 0 for key in aggregates}
    each = {
        pk: _aging_figure(as_of, target, {**empty, **found.get(pk, {})}).summary
        for pk in chosen_locations()
    }
    return each, _aging_figure(as_of, target, {**empty, **together}).summary


# ---------------------------------------------------------------------------------------------
# Reconditioning
# ---------------------------------------------------------------------------------------------


@report(
    slug="lot-reconditioning",
    title="Reconditioning",
    area="lot",
    permission=LOT,
    columns=[
        Column("month", "Month", "date"),
        Column("spend", "Reconditioning spend", "money"),
        Column("orders", "Internal orders", "int"),
        Column("units", "Units reconditioned", "int"),
        Column("spend_per_unit", "Spend per unit", "money"),
        Column("front_lined", "Units on the front line", "int"),
        Column("days_to_front_line", "Days from purchase to front line", "decimal"),
    ],
    chart="bar",
    chart_label="month",
    chart_series=["spend"],
    summary=[
        Column("spend", "Reconditioning spend", "money"),
        Column("units", "Units reconditioned", "int"),
        Column("front_lined", "Units on the front line", "int"),
        Column("days_to_front_line", "Days from purchase to front line", "decimal"),
    ],
    description="What the shop's internal repair orders opened in the period cost for the "
    "stock units they reconditioned (parts at cost, labor hours sold x rate), and "
    "how many days the units that went on sale in the period took from purchase to "
    "the front line.",
    order=60,
)
def reconditioning(period):
    """Queries: the summaries' state; the internal orders that reconditioned a unit, the units
    and the spend by month, from the per-order summaries for the summarized days and from the
    records for the others (reports.summaries.reconditioning_months: two or three queries); the
    units that first went on sale in the period, by month, with their days from acquisition
    (stockunit_available_idx)."""
    orders, current = reconditioning_months(period.start, period.end)
    front = {row["month"]: row for row in _front_lined(period)}
    return _reconditioning_figure(period, orders, front, current)


def _front_lined(period, *by):
    """The units that first went on sale in the period, by month (and `by`), with their days
    from acquisition."""
    days = ExpressionWrapper(F("available_on") - F("acquired_on"), output_field=DurationField())
    return (
        StockUnit.objects.filter(at(), available_on__range=(period.start, period.end))
        .annotate(month=TruncMonth("available_on"))
        .order_by()
        .values(*by, "month")
        .annotate(units=Count("pk"), days=Sum(days))
    )


def _reconditioning_figure(period, orders, front, current):
    """The figure of the reconditioning by month (`orders`) and the units front-lined by month
    (`front`)."""
    rows, totals = [], {"spend": ZERO, "units": 0, "front": 0, "days": datetime.timedelta()}
    for month in _months(period):
        ordered = orders.get(month, {"spend": ZERO, "orders": 0, "units": 0})
        lined = front.get(month, {"units": 0, "days": None})
        cost = money(ordered["spend"])
        waited = lined["days"] or datetime.timedelta()
        part = _month_period(month, period)
        rows.append(
            {
                "month": month,
                "spend": cost,
                "orders": ordered["orders"],
                "units": ordered["units"],
                "spend_per_unit": _per(cost, ordered["units"]),
                "front_lined": lined["units"],
                "days_to_front_line": _days(waited, lined["units"]),
                "url": admin_list(
                    "repairs_repairorder", internal__exact="1", **between("opened_at", part)
                ),
            }
        )
        totals["spend"] += cost
        totals["units"] += ordered["units"]
        totals["front"] += lined["units"]
        totals["days"] += waited
    return Figure(
        rows=rows,
        summary={
            "spend": totals["spend"],
            "units": totals["units"],
            "front_lined": totals["front"],
            "days_to_front_line": _days(totals["days"], totals["front"]),
        },
        url=admin_list("repairs_repairorder", internal__exact="1", **between("opened_at", period)),
        note="Units reconditioned are counted in each month they had an order; the period's "
        f"total counts a unit once a month. {freshness(current, period.end)}.",
    )


@by_location("lot-reconditioning")
def reconditioning_by_location(period):
    """The queries of `reconditioning`, grouped by the unit's location too (a unit is at one
    location, so the locations' months add up to theirs together)."""
    orders, current = reconditioning_months(period.start, period.end, by_location=True)
    front = {(row["location"], row["month"]): row for row in _front_lined(period, "location")}

    def at_(location):
        def mine(found):
            return {month: row for (pk, month), row in found.items() if pk == location}

        return mine(orders), mine(front)

    each = {
        pk: _reconditioning_figure(period, *at_(pk), current).summary for pk in chosen_locations()
    }
    together_orders, together_front = {}, {}
    for (_pk, month), row in orders.items():
        into = together_orders.setdefault(month, {"spend": ZERO, "orders": 0, "units": 0})
        for name in into:
            into[name] += row[name]
    for (_pk, month), row in front.items():
        into = together_front.setdefault(month, {"units": 0, "days": datetime.timedelta()})
        into["units"] += row["units"]
        into["days"] += row["days"] or datetime.timedelta()
    return each, _reconditioning_figure(period, together_orders, together_front, current).summary


def _days(total, count):
    """The average of `count` waits summing to `total` (a timedelta), in days to a tenth."""
    if not count:
        return None
    return (Decimal(total.days) / count).quantize(Decimal("0.1"))


# ---------------------------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------------------------


def _lead_at():
    """Leads about a unit on the chosen lots; those about no unit belong to the whole group and
    are counted at every location."""
    if chosen_locations() is None:
        return Q()
    return at("stock_unit__location") | Q(stock_unit__isnull=True)


@report(
    slug="lot-leads",
    title="Lead sources and conversion",
    area="lot",
    permission=LOT,
    columns=[
        Column("source", "Source"),
        Column("leads", "Leads", "int"),
        Column("converted", "Sold", "int"),
        Column("lost", "Lost", "int"),
        Column("open", "Still open", "int"),
        Column("conversion", "Conversion", "percent"),
    ],
    chart="stacked",
    chart_label="source",
    chart_series=["converted", "lost", "open"],
    summary=[
        Column("leads", "Leads", "int"),
        Column("converted", "Sold", "int"),
        Column("conversion", "Conversion", "percent"),
    ],
    description="The leads that came in during the period by source, and how many of them "
    "bought (a deal on the lead delivered and not unwound), were lost or are still "
    "open.",
    order=70,
)
def leads(period):
    """One query: the leads created in the period (lead_created_idx) by source, those with a
    delivered deal among them."""
    return _leads_figure(period, _lead_counts(period))


LEAD_COUNTS = ("leads", "converted", "lost", "open")


def _lead_counts(period, *by):
    """The leads of the period counted by source (and by `by`). Sold: a deal on the lead was
    delivered (a hashed set of those leads, so that a lead is one row however many deals)."""
    sold = Deal.objects.filter(status=DELIVERED, lead__isnull=False).values("lead")
    return (
        Lead.objects.filter(_lead_at(), **_within("created_at", period))
        .order_by()
        .values(*by, "source")
        .annotate(
            leads=Count("pk"),
            converted=Count("pk", filter=Q(pk__in=sold)),
            lost=Count("pk", filter=Q(status=Lead.Status.LOST)),
            open=Count("pk", filter=Q(status__in=Lead.OPEN)),
        )
    )


def _leads_figure(period, counts):
    """The figure of the leads counted by source (`counts`: rows of _lead_counts)."""
    labels = dict(Lead.Source.choices)
    rows = sorted(
        (
            {
                "source": labels.get(row["source"], row["source"]),
                "leads": row["leads"],
                "converted": row["converted"],
                "lost": row["lost"],
                "open": row["open"],
                "conversion": percent(row["converted"], row["leads"]),
                "url": admin_list(
                    "sales_lead", source=row["source"], **between("created_at", period)
                ),
            }
            for row in counts
        ),
        key=lambda r: (-r["leads"], r["source"]),
    )
    total = sum(r["leads"] for r in rows)
    converted = sum(r["converted"] for r in rows)
    return Figure(
        rows=rows,
        summary={"leads": total, "converted": converted, "conversion": percent(converted, total)},
        url=admin_list("sales_lead", **between("created_at", period)),
    )


@by_location("lot-leads")
def leads_by_location(period):
    """One query: the leads of `leads` grouped by their unit's lot too. A lead's unit is at one
    lot, so each lot's counts are its own leads' and those about no unit (counted at every
    location), and the chosen lots' together are all of them."""
    found = {}
    for row in _lead_counts(period, "stock_unit__location"):
        found.setdefault(row.pop("stock_unit__location"), []).append(row)
    shared = found.pop(None, [])

    def summary(groups):
        counts = {}
        for row in groups:
            into = counts.setdefault(row["source"], dict.fromkeys(LEAD_COUNTS, 0))
            for key in LEAD_COUNTS:
                into[key] += row[key]
        rows = [{"source": source, **sums} for source, sums in counts.items()]
        return _leads_figure(period, rows).summary

    each = {pk: summary([*found.get(pk, ()), *shared]) for pk in chosen_locations()}
    return each, summary([*shared, *(row for rows in found.values() for row in rows)])


# ---------------------------------------------------------------------------------------------
# Commissions
# ---------------------------------------------------------------------------------------------


@report(
    slug="lot-commissions",
    title="Commissions due",
    area="lot",
    permission=LOT,
    columns=[
        Column("salesperson", "Salesperson"),
        Column("deals", "Deals", "int"),
        Column("earned", "Earned", "money"),
        Column("chargebacks", "Charged back", "money"),
        Column("due", "Due", "money"),
    ],
    chart="hbar",
    chart_label="salesperson",
    chart_series=["due"],
    summary=[
        Column("due", "Commissions due", "money"),
        Column("chargebacks", "Charged back", "money"),
    ],
    description="Commissions earned on the deals delivered in the period, less the "
    "chargebacks of the deals unwound in it, per salesperson.",
    order=80,
)
def commissions(period):
    """One query: the commission rows recorded in the period (commission_person_idx) by
    salesperson."""
    return _commissions_figure(period, _commission_rows(period))


def _commission_rows(period, *by):
    """The commission rows recorded in the period summed by salesperson (and `by`)."""
    return (
        Commission.objects.filter(
            at("deal__stock_unit__location"), **_within("recorded_at", period)
        )
        .order_by()
        .values(*by, *PERSON)
        .annotate(
            deals=Count("pk", filter=Q(kind=Commission.Kind.EARNED)),
            earned=Sum("amount", filter=Q(kind=Commission.Kind.EARNED)),
            chargebacks=Sum("amount", filter=Q(kind=Commission.Kind.CHARGEBACK)),
            due=Sum("amount"),
        )
    )


def _commissions_figure(period, rows):
    rows = sorted(
        (
            {
                "salesperson": _person(row),
                "deals": row["deals"],
                "earned": money(row["earned"] or ZERO),
                "chargebacks": money(row["chargebacks"] or ZERO),
                "due": money(row["due"] or ZERO),
                "url": admin_list(
                    "sales_commission",
                    salesperson__id__exact=row["salesperson"],
                    **between("recorded_at", period),
                ),
            }
            for row in rows
        ),
        key=lambda r: (-r["due"], r["salesperson"]),
    )
    return Figure(
        rows=rows,
        summary={
            "due": sum((r["due"] for r in rows), ZERO),
            "chargebacks": sum((r["chargebacks"] for r in rows), ZERO),
        },
        url=admin_list("sales_commission", **between("recorded_at", period)),
    )


@by_location("lot-commissions")
def commissions_by_location(period):
    """The query of `commissions`, grouped by the deal's unit's lot too."""
    rows = list(_commission_rows(period, "deal__stock_unit__location"))
    each = {
        pk: _commissions_figure(
            period, [r for r in rows if r["deal__stock_unit__location"] == pk]
        ).summary
        for pk in chosen_locations()
    }
    together = {}
    for row in rows:
        key = tuple(row[name] for name in PERSON)
        into = together.setdefault(
            key, {**row, "deals": 0, "earned": None, "chargebacks": None, "due": None}
        )
        into["deals"] += row["deals"]
        for name in ("earned", "chargebacks", "due"):
            if row[name] is not None:
                into[name] = (into[name] or ZERO) + row[name]
    return each, _commissions_figure(period, list(together.values())).summary
