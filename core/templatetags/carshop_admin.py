"""Admin template tags for large tables (see core/admin.py)."""

import datetime

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.db.models import F, Subquery
from django.utils import timezone

register = template.Library()

# Up to this many rows, the drill-down lists the periods that have rows (Django's way, a
# DISTINCT over the rows); above, every period between the first and the last date.
EXACT_DATES_LIMIT = 1000


def first_and_last(queryset, field_name):
    """{"first": ..., "last": ...}: the lowest and highest value of `field_name` over `queryset`
    (None over no rows), as Min and Max give them, in one query: two subqueries ordered by the
    field, LIMIT 1, which the database answers by walking the field's index from either end to
    the first row that matches. MIN and MAX would read every matching row first, and that is
    the whole list when a row's condition is checked row by row (a technician's own orders: a
    labor line of theirs)."""
    values = queryset.filter(**{f"{field_name}__isnull": False}).values(field_name)
    bounds = (
        queryset.model._base_manager.using(queryset.db)
        .annotate(
            first=Subquery(values.order_by(F(field_name).asc())[:1]),
            last=Subquery(values.order_by(F(field_name).desc())[:1]),
        )
        .values("first", "last")
        .order_by()[:1]
    )
    return next(iter(bounds), {"first": None, "last": None})


class _PeriodsBetweenFirstAndLast:
    """Stands in for a changelist's queryset in Django's date_hierarchy(): the periods it lists
    are all those between the first and the last date (two index lookups), not the distinct
    dates of every row (a read of the whole list)."""

    def __init__(self, queryset):
        self.queryset = queryset
        self._bounds = {}

    def _first_and_last(self, field_name):
        if field_name not in self._bounds:
            self._bounds[field_name] = first_and_last(self.queryset, field_name)
        return self._bounds[field_name]

    def aggregate(self, *, first, last):
        """Django's date_hierarchy() asks for first=Min(field) and last=Max(field)."""
        (field_name,) = {expression.source_expressions[0].name for expression in (first, last)}
        return self._first_and_last(field_name)

    def datetimes(self, field_name, kind):
        return self.dates(field_name, kind)

    def dates(self, field_name, kind):
        bounds = self._first_and_last(field_name)
        first, last = bounds["first"], bounds["last"]
        if first is None or last is None:
            return []
        if isinstance(first, datetime.datetime):
            if timezone.is_aware(first):
                first, last = timezone.localtime(first), timezone.localtime(last)
            first, last = first.date(), last.date()
        periods = []
        if kind == "year":
            periods = [datetime.date(year, 1, 1) for year in range(first.year, last.year + 1)]
        elif kind == "month":
            year, month = first.year, first.month
            while (year, month) <= (last.year, last.month):
                periods.append(datetime.date(year, month, 1))
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        else:
            periods = [
                first + datetime.timedelta(days=offset) for offset in range((last - first).days + 1)
            ]
        return periods


class _LargeChangeList:
    def __init__(self, changelist):
        self._changelist = changelist
        self.queryset = _PeriodsBetweenFirstAndLast(changelist.queryset)

    def __getattr__(self, name):
        return getattr(self._changelist, name)


def carshop_date_hierarchy(changelist):
    """Django's date drill-down; above EXACT_DATES_LIMIT rows, without reading them all; not
    at all over a list that fits on one page (a search's result: nothing to narrow down)."""
    estimated = getattr(changelist.paginator, "estimated", False)
    drilling = any(name.startswith(f"{changelist.date_hierarchy}__") for name in changelist.params)
    if not (estimated or drilling or changelist.result_count > changelist.list_per_page):
        return {"show": False}
    large = estimated or changelist.result_count > EXACT_DATES_LIMIT
    return date_hierarchy(_LargeChangeList(changelist) if large else changelist)


@register.tag(name="carshop_date_hierarchy")
def carshop_date_hierarchy_tag(parser, token):
    return InclusionAdminNode(
        parser,
        token,
        func=carshop_date_hierarchy,
        template_name="date_hierarchy.html",
        takes_context=False,
    )
