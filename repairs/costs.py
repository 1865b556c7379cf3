"""What an internal repair order cost the business, defined once.

An order's cost counts the lines of its approved jobs: parts at the unit cost they had when added
(quantity x unit cost), labor at hours sold x rate rounded to the cent per line (a labor line's
`amount`). A canceled order cost nothing. The rule is written here once, as query expressions:
`internal_cost` reads it for one order, `with_internal_cost` for a list of orders, and the car lot
(sales.services) sums the same expressions per stock unit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Round

from core.money import ZERO, money
from repairs.choices import Authorization, RepairOrderStatus
from repairs.models import LaborLine, PartLine, RepairOrder

MONEY = DecimalField(max_digits=12, decimal_places=2)

# Each line's cost, by kind: (line model, the line's cost as an expression).
LINE_COSTS: dict[str, tuple[type[PartLine] | type[LaborLine], Any]] = {
    "parts": (PartLine, F("quantity") * F("unit_cost")),
    "labor": (LaborLine, Round(F("hours_sold") * F("rate"), 2)),
}


def counted_lines(kind: str) -> QuerySet[Any]:
    """The lines of `kind` ("parts" or "labor") whose cost counts: on approved jobs of orders
    that are not canceled."""
    line_model, _amount = LINE_COSTS[kind]
    return line_model.objects.filter(job__authorization=Authorization.APPROVED).exclude(
        job__repair_order__status=RepairOrderStatus.CANCELED
    )


def cost_subquery(kind: str, group_by: str, *conditions: Q, **filters: Any) -> Coalesce:
    """The summed cost of the counted lines of `kind` that match `conditions` and `filters`
    (which may use OuterRef), grouped by `group_by` (a lookup from the line, e.g.
    "job__repair_order"), as a subquery; zero when there are none."""
    _line_model, amount = LINE_COSTS[kind]
    total = (
        counted_lines(kind)
        .filter(*conditions, **filters)
        .order_by()
        .values(group_by)
        .annotate(total=Sum(amount, output_field=MONEY))
        .values("total")
    )
    return Coalesce(Subquery(total, output_field=MONEY), Value(ZERO), output_field=MONEY)


def with_internal_cost(queryset: QuerySet[RepairOrder]) -> QuerySet[Any]:
    """Repair orders annotated with `parts_cost` and `labor_cost`, in the list's one query."""
    return queryset.annotate(
        **{
            f"{kind}_cost": cost_subquery(
                kind, "job__repair_order", job__repair_order=OuterRef("pk")
            )
            for kind in LINE_COSTS
        }
    )


def internal_cost(repair_order: RepairOrder) -> tuple[Decimal, Decimal]:
    """(parts_cost, labor_cost) of an order, in Decimal cents (see the module doc)."""
    parts, labor = (
        with_internal_cost(RepairOrder.objects.filter(pk=repair_order.pk))
        .values_list("parts_cost", "labor_cost")
        .get()
    )
    return money(parts), money(labor)
