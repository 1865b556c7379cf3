"""The lot's part of a customer's and a vehicle's page (core.history): their deals, as buyer or
co-buyer, or of the vehicle's stock units. Prices only for whoever may see them."""

from __future__ import annotations

from django.db.models import Q
from django.urls import reverse
from django.utils.http import urlencode

from accounts.models import Customer
from accounts.roles import sees_prices
from core.history import HistoryPanel, first_rows, register
from inventory.models import Vehicle
from sales.models import Deal

ROWS_SHOWN = 10


def sees_deals(request):
    return request.user.has_perm("sales.view_deal")


def _deals(request, queryset, list_url):
    if not sees_deals(request):
        return None
    rows, count = first_rows(
        queryset.select_related("stock_unit__vehicle", "buyer", "salesperson").order_by(
            "-created_at", "-id"
        ),
        ROWS_SHOWN,
    )
    return {
        "rows": rows,
        "count": count,
        "shown": len(rows),
        "list_url": list_url,
        "prices": sees_prices(request.user),
    }


def customer_deals(request, customer):
    list_url = reverse("admin:sales_deal_changelist")
    return _deals(
        request,
        Deal.objects.filter(Q(buyer=customer) | Q(co_buyer=customer)),
        f"{list_url}?{urlencode({'buyer__id__exact': customer.pk})}",
    )


def vehicle_deals(request, vehicle):
    return _deals(request, Deal.objects.filter(stock_unit__vehicle=vehicle), None)


def register_panels():
    """Called from SalesConfig.ready()."""
    template = "admin/sales/history/deals.html"
    for model, deals in ((Customer, customer_deals), (Vehicle, vehicle_deals)):
        register(model, HistoryPanel("deals", "Deals", template, deals, 60, sees_deals))
