from decimal import Decimal

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import timezone

from reports.registry import visible_reports

register = template.Library()


@register.filter
def figure(value, kind):
    """A figure as the pages show it: money with cents, percents, hours; "—" for none."""
    if value is None or value == "":
        return "—"
    if kind == "money":
        return intcomma(f"{Decimal(value):.2f}")
    if kind == "percent":
        return f"{Decimal(value):.1f} %"
    if kind == "hours":
        return f"{Decimal(value):.2f} h"
    if kind == "decimal":
        return f"{Decimal(value):.1f}"
    if kind == "int":
        return intcomma(value)
    if kind == "date" and hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@register.filter
def get_item(row, key):
    """A row's value by key (the comparison by location's cells)."""
    return row.get(key)


@register.filter
def trend(change):
    """An arrow and the change in percent, in words for screen readers and paper."""
    if change is None:
        return "no comparison"
    if change > 0:
        return f"▲ up {change:.1f} %"
    if change < 0:
        return f"▼ down {-change:.1f} %"
    return "= unchanged"


@register.simple_tag(takes_context=True)
def reports_for_user(context):
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return []
    return visible_reports(request.user)


@register.inclusion_tag("reports/dashboard_panel.html", takes_context=True)
def manager_dashboard(context):
    """The manager's key figures (today's and the month's, with trend) and the month's chart."""
    from reports.views import DASHBOARD_PERMISSION, dashboard_figures, figure_locations

    request = context.get("request")
    if request is None or not request.user.has_perm(DASHBOARD_PERMISSION):
        return {"show": False}
    return {
        "show": True,
        "today": timezone.localdate(),
        **dashboard_figures(request.user, location_ids=figure_locations(request)),
    }
