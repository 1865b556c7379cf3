"""Inventory's part of a customer's page (core.history): the vehicles they own."""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode

from accounts.models import Customer
from core.history import HistoryPanel, first_rows, register
from inventory.models import Vehicle

ROWS_SHOWN = 20


def sees_vehicles(request):
    return request.user.has_perm("inventory.view_vehicle")


def customer_vehicles(request, customer):
    if not sees_vehicles(request):
        return None
    rows, count = first_rows(
        Vehicle.objects.filter(owner=customer).order_by("-updated_at", "-id"), ROWS_SHOWN
    )
    list_url = reverse("admin:inventory_vehicle_changelist")
    return {
        "rows": rows,
        "count": count,
        "shown": len(rows),
        "list_url": f"{list_url}?{urlencode({'owner__id__exact': customer.pk})}",
    }


def register_panels():
    """Called from InventoryConfig.ready()."""
    register(
        Customer,
        HistoryPanel(
            "vehicles",
            "Vehicles",
            "admin/inventory/history/vehicles.html",
            customer_vehicles,
            order=20,
            allowed=sees_vehicles,
        ),
    )
