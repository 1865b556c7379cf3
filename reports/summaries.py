"""The shop's daily summaries: what they hold, how they are filled, how the figures read them.

A day's sums are counted from the raw rows by grouped queries (one per kind of row, grouped by
the shop's local date: a fixed number of queries whatever the number of days or rows), the
same queries whether the days are then stored (`refresh`) or used at once (`shop_days` for the
days not summarized yet, today at least). A figure over a period reads the stored rows of its
summarized days and counts the rest live, so it is the same figure either way; only its cost
changes. Stored days are refreshed by `manage.py refresh_report_summaries` (scheduled).
"""

import contextlib
import contextvars
import datetime
from collections import defaultdict
from decimal import Decimal

from django.db import connection, connections, router, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateField,
    DateTimeField,
    DecimalField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import (
    Coalesce,
    Greatest,
    Least,
    Round,
    TruncDate,
    TruncMonth,
)
from django.utils import timezone

from inventory.models import Part, PartStock, StockMovement
from repairs.choices import Authorization, RepairOrderStatus
from repairs.costs import LINE_COSTS, cost_subquery, counted_lines
from repairs.models import (
    CreditNote,
    Invoice,
    Job,
    LaborLine,
    PartLine,
    Payment,
    RepairOrder,
    TimeEntry,
)
from reports.models import (
    DeclinedJob,
    InvoiceSpan,
    OpenInvoice,
    PartMoved,
    PartsDay,
    PartStockMoved,
    ReconditioningOrder,
    ShopDay,
    StaleDay,
    SummaryState,
    TechnicianDay,
)
from sales.services import reconditioning_of_units

EXACT = ShopDay._meta.get_field("labor_total")
DATE = DateField()
MONEY = DecimalField(max_digits=14, decimal_places=2)
SUBLET_CATEGORY = "Sublet"
SUBLET = Q(part__category__iexact=SUBLET_CATEGORY)
LABOR_AMOUNT = Round(F("hours_sold") * F("rate"), 2)
PART_AMOUNT = F("quantity") * F("unit_cost")
PART_PRICE = F("quantity") * F("price")
CLOCKED = ExpressionWrapper(F("ended") - F("started"), output_field=DurationField())
NET_LABOR = (
    LABOR_AMOUNT
    * (Value(Decimal(100)) - F("job__repair_order__discount_percent"))
    / Value(Decimal(100))
)
# How many days before yesterday a scheduled refresh counts again (time clocked off late,
# corrections): older days stay as they are unless asked (`--since`, `--all`).
REFRESH_DAYS = 7

# What count_days counts, by kind of record, and the ShopDay sums each kind gives.
KIND_FIELDS = {
    "invoices": ("cars", "labor_total", "parts_total", "discount_total", "credits"),
    "lines": ("sublet_sales", "sublet_cost", "parts_cost", "hours_sold", "labor_net", "worked"),
    "decisions": ("approved_jobs", "approved_value", "declined_jobs", "declined_value"),
    "orders": ("opened_orders", "comebacks"),
    "technicians": (),
}
KINDS = tuple(KIND_FIELDS)
SHOP_FIELDS = [
    f.name
    for f in ShopDay._meta.get_fields()
    if f.concrete and f.name not in ("id", "day", "location")
]  # every sum of a day
TECHNICIAN_FIELDS = ("hours_sold", "worked")


# The locations the figures are of (a frozenset of ids), set by `locations()` for a page: None
# counts the whole group without asking (a single-shop install, management commands).
_LOCATIONS: contextvars.ContextVar = contextvars.ContextVar("report_locations", default=None)


@contextlib.contextmanager
def locations(ids):
    """Within the block, every figure counts only the rows of the locations `ids` (None: all)."""
    token = _LOCATIONS.set(None if ids is None else frozenset(ids))
    try:
        yield
    finally:
        _LOCATIONS.reset(token)


def chosen_locations():
    """The locations the figures are of now (None: the whole group)."""
    return _LOCATIONS.get()


def at(path="location"):
    """A filter on the rows whose location (`path` to it) is one of the chosen locations; no
    condition at all when the figures are of the whole group."""
    ids = _LOCATIONS.get()
    return Q() if ids is None else Q(**{f"{path}__in": sorted(ids)})


def midnight(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _empty_day():
    return {
        name: (
            datetime.timedelta(0)
            if name == "worked"
            else 0
            if name.endswith(("jobs", "cars", "orders", "comebacks"))
            else Decimal(0)
        )
        for name in SHOP_FIELDS
    }


def count_days(first, last, kinds=KINDS):
    """{(day, location id): {sum: value}} and {(day, location id, technician id): {sum: value}}
    for the days first..last (included), counted from the raw rows of the chosen locations
    (`at`); days with nothing are left out."""
    start_at, end_at = midnight(first), midnight(last + datetime.timedelta(days=1))
    days = defaultdict(_empty_day)
    issued = {"issued_at__gte": start_at, "issued_at__lt": end_at}
    on_invoice = {
        "job__repair_order__invoice__issued_at__gte": start_at,
        "job__repair_order__invoice__issued_at__lt": end_at,
    }
    invoice_day = TruncDate("job__repair_order__invoice__issued_at")
    # Lines and time count at their order's location (the invoice's).
    order_at = at("job__repair_order__location")
    order_location = {"loc": F("job__repair_order__location")}

    if "invoices" in kinds:
        for row in (
            Invoice.objects.filter(at(), **issued)
            .order_by()
            .values(d=TruncDate("issued_at"), loc=F("location"))
            .annotate(
                s_cars=Count("id"),
                s_labor_total=Sum("labor_total"),
                s_parts_total=Sum("parts_total"),
                s_discount_total=Sum("discount_total"),
            )
        ):
            _add(days, row)
        for row in (
            CreditNote.objects.filter(at(), **issued)
            .order_by()
            .values(d=TruncDate("issued_at"), loc=F("location"))
            .annotate(s_credits=Sum("amount"))
        ):
            _add(days, row)
    if "lines" in kinds:
        for row in (
            counted_lines("parts")
            .filter(order_at, **on_invoice)
            .order_by()
            .values(d=invoice_day, **order_location)
            .annotate(
                s_sublet_sales=Sum(PART_PRICE, filter=SUBLET, output_field=EXACT),
                s_sublet_cost=Sum(PART_AMOUNT, filter=SUBLET, output_field=EXACT),
                s_parts_cost=Sum(PART_AMOUNT, filter=~SUBLET, output_field=EXACT),
            )
        ):
            _add(days, row)
        for row in (
            counted_lines("labor")
            .filter(order_at, **on_invoice)
            .order_by()
            .values(d=invoice_day, **order_location)
            .annotate(
                s_hours_sold=Sum("hours_sold"), s_labor_net=Sum(NET_LABOR, output_field=EXACT)
            )
        ):
            _add(days, row)
        for row in (
            TimeEntry.objects.filter(order_at, **on_invoice, ended__isnull=False)
            .order_by()
            .values(d=invoice_day, **order_location)
            .annotate(s_worked=Sum(CLOCKED))
        ):
            _add(days, row)

    if "decisions" in kinds:
        # Decisions of the customers on their orders' jobs, by the day of the decision.
        decided = {
            "authorized_at__gte": start_at,
            "authorized_at__lt": end_at,
            "repair_order__internal": False,
            "authorization__in": [Authorization.APPROVED, Authorization.DECLINED],
        }
        names = {Authorization.APPROVED: "approved", Authorization.DECLINED: "declined"}
        for row in (
            Job.objects.filter(at("repair_order__location"), **decided)
            .order_by()
            .values("authorization", d=TruncDate("authorized_at"), loc=F("repair_order__location"))
            .annotate(n=Count("id"))
        ):
            key = f"s_{names[row['authorization']]}_jobs"
            _add(days, {"d": row["d"], "loc": row["loc"], key: row["n"]})
        on_decided = {f"job__{key}": value for key, value in decided.items()}
        for model, amount in ((LaborLine, LABOR_AMOUNT), (PartLine, PART_PRICE)):
            for row in (
                model.objects.filter(order_at, **on_decided)
                .order_by()
                .values("job__authorization", d=TruncDate("job__authorized_at"), **order_location)
                .annotate(t=Sum(amount, output_field=EXACT))
            ):
                key = f"s_{names[row['job__authorization']]}_value"
                _add(days, {"d": row["d"], "loc": row["loc"], key: row["t"]})

    if "orders" in kinds:
        # The customers' orders opened, not canceled, by the day they were opened.
        for row in (
            RepairOrder.objects.filter(
                at(), opened_at__gte=start_at, opened_at__lt=end_at, internal=False
            )
            .exclude(status=RepairOrderStatus.CANCELED)
            .order_by()
            .values(d=TruncDate("opened_at"), loc=F("location"))
            .annotate(
                s_opened_orders=Count("id"),
                s_comebacks=Count("id", filter=Q(comeback_of__isnull=False)),
            )
        ):
            _add(days, row)

    technicians = defaultdict(lambda: {"hours_sold": Decimal(0), "worked": datetime.timedelta(0)})
    if "technicians" in kinds:
        sold = counted_lines("labor").filter(order_at, technician__isnull=False).order_by()
        finished = (
            # Customers' orders are finished when invoiced, internal ones when closed at cost.
            sold.filter(**on_invoice).values("technician", d=invoice_day, **order_location),
            sold.filter(
                job__repair_order__invoice__isnull=True,
                job__repair_order__status=RepairOrderStatus.CLOSED,
                job__repair_order__status_changed_at__gte=start_at,
                job__repair_order__status_changed_at__lt=end_at,
            ).values(
                "technician", d=TruncDate("job__repair_order__status_changed_at"), **order_location
            ),
        )
        for lines in finished:
            for row in lines.annotate(t=Sum("hours_sold")):
                key = (row["d"], row["loc"], row["technician"])
                technicians[key]["hours_sold"] += row["t"] or 0
        for row in (
            TimeEntry.objects.filter(
                at(), started__gte=start_at, started__lt=end_at, ended__isnull=False
            )
            .order_by()
            .values("technician", d=TruncDate("started"), loc=F("location"))
            .annotate(t=Sum(CLOCKED))
        ):
            key = (row["d"], row["loc"], row["technician"])
            technicians[key]["worked"] += row["t"] or datetime.timedelta(0)
    return dict(days), dict(technicians)


def _add(days, row):
    day = days[(row["d"], row["loc"])]
    for key, value in row.items():
        if key not in ("d", "loc") and value is not None:
            day[key.removeprefix("s_")] += value


def state():
    """The summaries' state (read once within `reading()`)."""
    memo = _COUNTED.get()
    if memo is not None and "state" in memo:
        return memo["state"]
    found = SummaryState.objects.filter(pk=1).first() or SummaryState(pk=1)
    if memo is not None:
        memo["state"] = found
    return found


def split(first, last, through=None):
    """(summarized, live): the days first..last read from the summaries, and those counted
    from the raw rows, as (first, last) pairs or None."""
    if through is None or through < first:
        return None, (first, last)
    if through >= last:
        return (first, last), None
    return (first, through), (through + datetime.timedelta(days=1), last)


_COUNTED: contextvars.ContextVar = contextvars.ContextVar("report_counted", default=None)


@contextlib.contextmanager
def reading():
    """Within the block (one read-only transaction), the days counted from the records are
    counted once per kind and range (a page showing several figures or periods that all reach
    today, such as the dashboard), and the summaries' state is read once."""
    token = _COUNTED.set({})
    # The transaction is on the database the reads go to (the replica inside
    # core.replicas.reads_from_replica), so that opening it does not pin them to the primary.
    alias = router.db_for_read(None)
    try:
        with transaction.atomic(using=alias):
            if connections[alias].vendor == "postgresql":
                # The figures are a few aggregates each: PostgreSQL's JIT compiler, which the
                # cost of the larger ones (receivables over a month of payments) sets off, took
                # seconds to compile what runs in milliseconds.
                with connections[alias].cursor() as cursor:
                    cursor.execute("SET LOCAL jit = off")
            yield
    finally:
        _COUNTED.reset(token)


def once(key, compute):
    """`compute()`, called once per `key` within `reading()` (a figure as of now that a page
    shows beside each of its periods), at each call outside it."""
    memo = _COUNTED.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def once_within(kind, compute):
    """`compute()` -> {location id: rows} for the chosen locations, once per page within
    `reading()`: when the page already computed it for more locations (a comparison of them),
    those serve."""
    memo = _COUNTED.get()
    ids = _LOCATIONS.get()
    if memo is None or ids is None:
        return compute()
    found = memo.setdefault(("within", kind), {})
    for wider, rows in found.items():
        if ids <= wider:
            return {pk: value for pk, value in rows.items() if pk in ids}
    found[ids] = compute()
    return found[ids]


def _counted(first, last, kinds):
    memo = _COUNTED.get()
    if memo is None:
        return count_days(first, last, kinds)
    key = (first, last, tuple(sorted(kinds)), _LOCATIONS.get())
    if key not in memo:
        memo[key] = count_days(first, last, kinds)
    return memo[key]


def _kinds(fields):
    return tuple(kind for kind, names in KIND_FIELDS.items() if set(names) & set(fields))


def stale_runs(stored):
    """The days of `stored` (first, last) whose records changed since they were summarized
    (`reports.stale`), as runs of consecutive days (first, last): counted from the records."""
    if stored is None:
        return []
    memo = _COUNTED.get()
    key = ("stale", stored)
    if memo is not None and key in memo:
        return memo[key]
    runs = []
    for day in (
        StaleDay.objects.filter(day__range=stored).order_by("day").values_list("day", flat=True)
    ):
        if runs and runs[-1][1] + datetime.timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    if memo is not None:
        memo[key] = runs
    return runs


def _parts(first, last):
    """(state, stored, stale days, ranges counted from the records) for first..last."""
    current = state()
    stored, live = split(first, last, current.through)
    runs = stale_runs(stored)
    stale = [day for a, b in runs for day in _days(a, b)]
    return current, stored, stale, runs + ([live] if live else [])


def _days(first, last):
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


def shop_days(first, last, fields):
    """({day: {field: sum}}, state) for first..last: the summaries' rows for the days they
    hold, the records counted for the others and for the days changed since summarized (only
    the kinds of records `fields` need)."""
    current, stored, stale, counted = _parts(first, last)
    days = {}
    if stored:
        rows = ShopDay.objects.filter(at(), day__range=stored).exclude(day__in=stale)
        chosen = _LOCATIONS.get()
        if chosen is None or len(chosen) > 1:
            # Several locations: the database sums each day's rows (one row a day for one).
            rows = rows.order_by().values("day").annotate(**{name: Sum(name) for name in fields})
        for row in rows.values("day", *fields):
            days[row.pop("day")] = row
    zero = _empty_day()
    for span in counted:
        for (day, _location), sums in _counted(*span, _kinds(fields))[0].items():
            found = days.setdefault(day, {name: zero[name] for name in fields})
            for name in fields:
                found[name] += sums[name]
    return days, current


def shop_totals(first, last, fields):
    """({field: sum over first..last}, state): the summarized days summed by the database, the
    others (and those changed since summarized) counted from the records."""
    current, stored, stale, counted = _parts(first, last)
    totals = {name: _empty_day()[name] for name in fields}
    found = []
    if stored:
        found.append(
            ShopDay.objects.filter(at(), day__range=stored)
            .exclude(day__in=stale)
            .aggregate(**{name: Sum(name) for name in fields})
        )
    for span in counted:
        found.extend(_counted(*span, _kinds(fields))[0].values())
    for sums in found:
        for name in fields:
            if sums[name] is not None:
                totals[name] += sums[name]
    return totals, current


def technician_sums(first, last):
    """({technician id: {"hours_sold", "worked"}}, state) over first..last: the summarized days
    summed per technician by the database, the others (and those changed since summarized)
    counted from the records."""
    current, stored, stale, counted = _parts(first, last)
    sums = defaultdict(lambda: {"hours_sold": Decimal(0), "worked": datetime.timedelta(0)})
    found = []
    if stored:
        found.append(
            (row["technician"], row)
            for row in TechnicianDay.objects.filter(at(), day__range=stored)
            .exclude(day__in=stale)
            .order_by()
            .values("technician")
            .annotate(hours_sold=Sum("hours_sold"), worked=Sum("worked"))
        )
    for span in counted:
        found.append(
            (technician, row)
            for (_day, _location, technician), row in _counted(*span, ("technicians",))[1].items()
        )
    for rows in found:
        for technician, row in rows:
            sums[technician]["hours_sold"] += row["hours_sold"] or 0
            sums[technician]["worked"] += row["worked"] or datetime.timedelta(0)
    return dict(sums), current


# The stock movements the turns of the parts inventory count: issued to repair orders (negative
# quantities) and returned from them.
TURNOVER_KINDS = (StockMovement.Kind.ISSUE, StockMovement.Kind.RETURN)
MOVED_AMOUNT = F("quantity") * F("unit_cost")


def count_parts(first, last):
    """{(day, location id, category): Σ quantity x unit cost} of the parts issued to and returned
    from repair orders on the days first..last (included) at the chosen locations, counted from
    the stock movements; one grouped query."""
    return {
        (row["d"], row["location"], row["part__category"]): row["t"]
        for row in StockMovement.objects.filter(
            at(),
            kind__in=TURNOVER_KINDS,
            created_at__gte=midnight(first),
            created_at__lt=midnight(last + datetime.timedelta(days=1)),
        )
        .order_by()
        .values("location", "part__category", d=TruncDate("created_at"))
        .annotate(t=Sum(MOVED_AMOUNT, output_field=EXACT))
        if row["t"] is not None
    }


def parts_moved(first, last, by_location=False):
    """({category: Σ quantity x unit cost issued and returned}, state) over first..last: the
    summarized days summed per category by the database, the others (and those changed since
    summarized) counted from the stock movements. `by_location`: keyed by (location id,
    category)."""
    current, stored, stale, counted = _parts(first, last)
    sums = defaultdict(lambda: Decimal(0))
    by = ("location", "category") if by_location else ("category",)
    if stored:
        for row in (
            PartsDay.objects.filter(at(), day__range=stored)
            .exclude(day__in=stale)
            .order_by()
            .values(*by)
            .annotate(t=Sum("moved"))
        ):
            sums[tuple(row[key] for key in by) if by_location else row["category"]] += row["t"] or 0
    memo = _COUNTED.get()
    for span in counted:
        key = ("parts", span, _LOCATIONS.get())
        if memo is not None and key in memo:
            found = memo[key]
        else:
            found = count_parts(*span)
            if memo is not None:
                memo[key] = found
        for (_day, location, category), total in found.items():
            sums[(location, category) if by_location else category] += total
    return dict(sums), current


# The columns of ReconditioningOrder, in the order `reconditioned` selects them.
RECONDITIONED_FIELDS = ("repair_order", "unit", "day", "parts", "labor")


def reconditioned(spans):
    """The internal orders (not canceled) opened on the days of `spans` ((first, last) pairs)
    during a stock unit's stay, once per unit (sales.services.reconditioning_of_units), with the
    cost of their counted lines by kind (repairs.costs): the rows ReconditioningOrder stores,
    and those the reconditioning figures count from the records for the days it does not hold.
    One query (the costs are subqueries by order)."""
    opened = Q()
    for first, last in spans:
        opened |= Q(
            opened_at__gte=midnight(first),
            opened_at__lt=midnight(last + datetime.timedelta(days=1)),
        )
    return (
        reconditioning_of_units()
        .exclude(status=RepairOrderStatus.CANCELED)
        .filter(opened, at("unit_location"))
        .annotate(
            day=TruncDate("opened_at"),
            **{
                kind: cost_subquery(kind, "job__repair_order", job__repair_order=OuterRef("pk"))
                for kind in LINE_COSTS
            },
        )
        .order_by()
        .values("pk", "unit", "day", *LINE_COSTS)
    )


def reconditioning_months(first, last, by_location=False):
    """({month: {"spend", "orders", "units"}}, state) over first..last: the internal orders
    opened in each month that reconditioned a stock unit (once each), the units they
    reconditioned (once each) and what their lines cost (once per unit). The summarized days
    are read from ReconditioningOrder, the others (and those changed since summarized) counted
    from the records; a unit with orders on both kinds of days of a month is counted once (a
    third query finds those). At most three queries, whatever the number of orders.
    `by_location`: keyed by (the unit's location id, month)."""
    current, stored, stale, counted = _parts(first, last)
    months = defaultdict(lambda: {"spend": Decimal(0), "orders": 0, "units": 0})

    def key(row, location):
        return (row[location], row["month"]) if by_location else row["month"]

    live, live_found = None, False
    if counted:
        live = reconditioned(counted).annotate(month=TruncMonth("opened_at", output_field=DATE))
        by = ("at",) if by_location else ()
        if by_location:
            live = live.annotate(at=F("unit_location"))
        for row in (
            live.values(*by, "month")
            .annotate(
                spend=Sum(F("parts") + F("labor"), output_field=EXACT),
                orders=Count("pk", distinct=True),
                units=Count("unit", distinct=True),
            )
            .order_by()
        ):
            _add_month(months[key(row, "at")], row)
            live_found = True
    if stored:
        by = ("unit__location",) if by_location else ()
        rows = (
            ReconditioningOrder.objects.filter(at("unit__location"), day__range=stored)
            .exclude(day__in=stale)
            .annotate(month=TruncMonth("day", output_field=DATE))
        )
        for row in (
            rows.values(*by, "month")
            .annotate(
                spend=Sum(F("parts") + F("labor"), output_field=EXACT),
                orders=Count("repair_order", distinct=True),
                units=Count("unit", distinct=True),
            )
            .order_by()
        ):
            _add_month(months[key(row, "unit__location")], row)
        if live_found:
            # Units with orders on summarized and on counted days of the same month.
            twice = rows.filter(Exists(live.filter(unit=OuterRef("unit"), month=OuterRef("month"))))
            for row in (
                twice.values(*by, "month").annotate(units=Count("unit", distinct=True)).order_by()
            ):
                months[key(row, "unit__location")]["units"] -= row["units"]
    return dict(months), current


def _add_month(month, row):
    month["spend"] += row["spend"] or 0
    month["orders"] += row["orders"]
    month["units"] += row["units"]


def _moved(cutoff, own, since, stored_key):
    """A boolean expression: the row has a stock movement at or after `cutoff` (`own`: the
    movements' filter on the outer row). With summaries, the row's last movement before their
    end is read from its summary (`summary_moved`, keyed by `stored_key`; one join) and only the
    rows moved since then (`since(moment)`, a hashed set of primary keys) are looked up; a row
    without a summary looks up its own movements."""
    recent = Exists(StockMovement.objects.filter(created_at__gte=cutoff, **own))
    moment = horizon(state())
    if moment is None:
        return ExpressionWrapper(Q(recent), output_field=BooleanField())
    stored = Q(**{f"summary_moved__{stored_key}__isnull": False})
    return ExpressionWrapper(
        Q(pk__in=since(max(cutoff, moment)))
        | (stored & Q(summary_moved__last_moved_at__gte=cutoff))
        | (~stored & Q(recent)),
        output_field=BooleanField(),
    )


def moved_since(cutoff):
    """On parts: the part moved at or after `cutoff` anywhere (PartMoved)."""
    return _moved(
        cutoff,
        {"part": OuterRef("pk")},
        lambda moment: StockMovement.objects.filter(created_at__gte=moment).values("part"),
        "part",
    )


def moved_here_since(cutoff):
    """On parts stock rows (PartStock): the part moved at its location at or after `cutoff`
    (PartStockMoved)."""
    return _moved(
        cutoff,
        {"location": OuterRef("location"), "part": OuterRef("part")},
        lambda moment: PartStock.objects.filter(
            part__movements__created_at__gte=moment, part__movements__location=F("location")
        ).values("pk"),
        "part_stock",
    )


def freshness(current, last):
    """The line a page shows on how its figures were counted."""
    if current.through is None or current.refreshed_at is None:
        return "Counted from the records now"
    refreshed = timezone.localtime(current.refreshed_at).strftime("%Y-%m-%d %H:%M")
    if current.through >= last:
        return f"From the daily summaries refreshed {refreshed}"
    return (
        f"Days up to {current.through.isoformat()} from the daily summaries refreshed "
        f"{refreshed}; later days counted from the records now"
    )


def refresh_stale(before):
    """Count again the summarized days before `before` marked stale (`reports.stale`), one
    transaction per run of consecutive days. Returns the number of days counted."""
    counted = 0
    for first, last in stale_runs((datetime.date.min, before - datetime.timedelta(days=1))):
        refresh(first, last, facts=False)
        counted += (last - first).days + 1
    return counted


def refresh(first=None, last=None, facts=True):
    """Count the days first..last again for every location and store them: `_refresh`."""
    with locations(None):
        return _refresh(first, last, facts)


def _refresh(first=None, last=None, facts=True):
    """Count the days first..last again from the raw rows and store them (first: the earliest
    day with an invoice, a credit note, a decision or clocked time when None; last: yesterday
    when None). Returns the number of days stored. One transaction: a page sees the old sums
    or the new ones, never a mix. `facts`: the open invoices and declined jobs are stored again
    as of the end of the summarized days."""
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    last = min(last or yesterday, yesterday)
    first = first or _earliest()
    if first is None or first > last:
        first = last
    counting_from = timezone.now()
    days, technicians = count_days(first, last)
    parts = count_parts(first, last)
    with transaction.atomic():
        current = SummaryState.objects.select_for_update().filter(pk=1).first()
        ShopDay.objects.filter(day__range=(first, last)).delete()
        TechnicianDay.objects.filter(day__range=(first, last)).delete()
        PartsDay.objects.filter(day__range=(first, last)).delete()
        ReconditioningOrder.objects.filter(day__range=(first, last)).delete()
        _insert(ReconditioningOrder, RECONDITIONED_FIELDS, reconditioned([(first, last)]))
        PartsDay.objects.bulk_create(
            [
                PartsDay(day=day, location_id=location, category=category, moved=total)
                for (day, location, category), total in parts.items()
            ],
            batch_size=1000,
        )
        ShopDay.objects.bulk_create(
            [
                ShopDay(day=day, location_id=location, **sums)
                for (day, location), sums in days.items()
            ],
            batch_size=1000,
        )
        TechnicianDay.objects.bulk_create(
            [
                TechnicianDay(day=day, location_id=location, technician_id=technician, **sums)
                for (day, location, technician), sums in technicians.items()
            ],
            batch_size=1000,
        )
        # Days changed before the counting began are right again; a change since stays marked.
        StaleDay.objects.filter(day__range=(first, last), marked_at__lt=counting_from).delete()
        if current is None:
            current = SummaryState(pk=1)
        # The summaries hold every day up to `last` only when there is no gap before `first`.
        if current.through is None:
            complete = first <= (_earliest() or first)
        else:
            complete = first <= current.through + datetime.timedelta(days=1)
        if complete:
            current.through = max(last, current.through or last)
        current.refreshed_at = timezone.now()
        current.save()
        if facts and current.through is not None:
            _store_facts(horizon(current))
    return len({day for day, _location in days})


def horizon(current):
    """The first instant after the summarized days (None: nothing summarized)."""
    if current.through is None:
        return None
    return midnight(current.through + datetime.timedelta(days=1))


def _insert(model, fields, queryset):
    """INSERT INTO model's table (fields) SELECT the queryset's values, one statement."""
    sql, params = queryset.query.sql_with_params()
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(
        connection.ops.quote_name(model._meta.get_field(name).column) for name in fields
    )
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {sql}", params)


def settled_before(moment, outer="pk"):
    """What was paid and credited on the invoice (OuterRef `outer`) before `moment`."""
    return sum(
        (
            Coalesce(
                Subquery(
                    model.objects.filter(invoice=OuterRef(outer), **{f"{field}__lt": moment})
                    .order_by()
                    .values("invoice")
                    .annotate(t=Sum("amount"))
                    .values("t"),
                    output_field=MONEY,
                ),
                Value(Decimal(0)),
                output_field=MONEY,
            )
            for model, field in ((Payment, "received_at"), (CreditNote, "issued_at"))
        ),
        Value(Decimal(0), output_field=MONEY),
    )


def maybe_owing(moment):
    """Ids of the invoices that may have owed something at `moment`: those of orders not paid
    yet, and those paid or credited since (a UNION: an OR made PostgreSQL work out the balance
    of every invoice ever issued)."""
    return (
        Invoice.objects.filter(repair_order__status=RepairOrderStatus.INVOICED)
        .order_by()
        .values("pk")
        .union(
            Payment.objects.filter(received_at__gte=moment).order_by().values("invoice"),
            CreditNote.objects.filter(issued_at__gte=moment).order_by().values("invoice"),
            all=True,
        )
    )


def _store_facts(moment):
    """The invoices open at `moment`, those that owed something at the end of a day before
    it, each part's last stock movement and the customers' declined jobs, as of `moment`."""
    OpenInvoice.objects.all().delete()
    _insert(
        OpenInvoice,
        ("invoice", "issued_at", "location", "total", "settled"),
        Invoice.objects.filter(pk__in=maybe_owing(moment), issued_at__lt=moment)
        .annotate(paid_then=settled_before(moment))
        .filter(total__gt=F("paid_then"))
        .order_by()
        .values("pk", "issued_at", "location", "total", "paid_then"),
    )
    InvoiceSpan.objects.all().delete()

    def moves(function):
        """The invoice's (OuterRef) payments' and credit notes' `function` (Max, Min) of their
        moment before `moment`, each a subquery (None when there is none)."""
        return [
            Subquery(
                model.objects.filter(invoice=OuterRef("pk"), **{f"{field}__lt": moment})
                .order_by()
                .values("invoice")
                .annotate(t=function(field))
                .values("t"),
                output_field=DateTimeField(),
            )
            for model, field in ((Payment, "received_at"), (CreditNote, "issued_at"))
        ]

    last_move = Greatest(*(Coalesce(found, F("issued_at")) for found in moves(Max)))
    # The earlier of the two, or the one there is (LEAST is NULL with a NULL on SQLite).
    paid, credited = moves(Min)
    first_move = Least(Coalesce(paid, credited), Coalesce(credited, paid))
    _insert(
        InvoiceSpan,
        (
            "invoice",
            "issued_at",
            "location",
            "total",
            "settled_at",
            "settled",
            "first_settled_at",
        ),
        Invoice.objects.filter(issued_at__lt=moment)
        .annotate(paid_then=settled_before(moment), last_move=last_move)
        .annotate(
            settled_at=Case(
                When(paid_then__gte=F("total"), then=F("last_move")),
                default=None,
                output_field=DateTimeField(),
            )
        )
        # Owing at the end of its day at least: not paid off, or paid off on a later day.
        .filter(Q(paid_then__lt=F("total")) | Q(last_move__date__gt=TruncDate("issued_at")))
        .annotate(first_move=first_move)
        .order_by()
        .values("pk", "issued_at", "location", "total", "settled_at", "paid_then", "first_move"),
    )
    PartMoved.objects.all().delete()
    _insert(
        PartMoved,
        ("part", "last_moved_at"),
        Part.objects.annotate(
            last=Subquery(
                StockMovement.objects.filter(part=OuterRef("pk"), created_at__lt=moment)
                .order_by("-created_at")
                .values("created_at")[:1]
            )
        )
        .order_by()
        .values("pk", "last"),
    )
    PartStockMoved.objects.all().delete()
    _insert(
        PartStockMoved,
        ("part_stock", "last_moved_at"),
        PartStock.objects.annotate(
            last=Subquery(
                StockMovement.objects.filter(
                    location=OuterRef("location"), part=OuterRef("part"), created_at__lt=moment
                )
                .order_by("-created_at")
                .values("created_at")[:1]
            )
        )
        .order_by()
        .values("pk", "last"),
    )
    DeclinedJob.objects.all().delete()
    _insert(
        DeclinedJob,
        ("job", "authorized_at", "location", "vehicle_id", "value", "returned"),
        declined_jobs()
        .filter(authorized_at__lt=moment)
        .annotate(
            order_location=F("repair_order__location"),
            vehicle=F("repair_order__vehicle_id"),
            value=job_value(),
            returned=Exists(
                RepairOrder.objects.filter(
                    vehicle=OuterRef("repair_order__vehicle"),
                    opened_at__gt=OuterRef("authorized_at"),
                    opened_at__lt=moment,
                )
            ),
        )
        .order_by()
        .values("pk", "authorized_at", "order_location", "vehicle", "value", "returned"),
    )


def declined_jobs():
    """Jobs of customers' orders the customer declined."""
    return Job.objects.filter(
        authorization=Authorization.DECLINED,
        repair_order__internal=False,
        authorized_at__isnull=False,
    )


def job_value():
    """A job's value: its labor and part lines at the quoted prices (before discount)."""
    return sum(
        (
            Coalesce(
                Subquery(
                    model.objects.filter(job=OuterRef("pk"))
                    .order_by()
                    .values("job")
                    .annotate(t=Sum(amount, output_field=EXACT))
                    .values("t"),
                    output_field=EXACT,
                ),
                Value(Decimal(0)),
                output_field=EXACT,
            )
            for model, amount in ((LaborLine, LABOR_AMOUNT), (PartLine, PART_PRICE))
        ),
        Value(Decimal(0), output_field=EXACT),
    )


def _earliest():
    """The first day anything was invoiced, opened, decided, clocked, closed at cost or issued
    from stock."""
    found = [
        value
        for value in (
            Invoice.objects.order_by("issued_at").values_list("issued_at", flat=True).first(),
            RepairOrder.objects.order_by("opened_at").values_list("opened_at", flat=True).first(),
            Job.objects.filter(authorized_at__isnull=False)
            .order_by("authorized_at")
            .values_list("authorized_at", flat=True)
            .first(),
            TimeEntry.objects.order_by("started").values_list("started", flat=True).first(),
            StockMovement.objects.filter(kind__in=TURNOVER_KINDS)
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first(),
            RepairOrder.objects.filter(status=RepairOrderStatus.CLOSED)
            .order_by("status_changed_at")
            .values_list("status_changed_at", flat=True)
            .first(),
        )
        if value is not None
    ]
    return timezone.localdate(min(found)) if found else None


def scheduled_first():
    """The first day a scheduled refresh counts again: REFRESH_DAYS before yesterday, or the
    day after the last summarized one when the summaries are further behind (or all days when
    there are none)."""
    current = state()
    if current.through is None:
        return None
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    return min(
        yesterday - datetime.timedelta(days=REFRESH_DAYS),
        current.through + datetime.timedelta(days=1),
    )
