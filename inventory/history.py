"""Inventory's part of a customer's page (core.history): the vehicles they own."""

from __future__ import annotations

from django.db.models import Count
from django.urls import reverse
from django.utils.http import urlencode

from accounts.models import Customer
from core.history import HistoryPanel, register
from inventory.models import Vehicle

ROWS_SHOWN = 20


def customer_vehicles(request, customer):
    if not request.user.has_perm("inventory.view_vehicle"):
        return None
    vehicles = Vehicle.objects.filter(owner=customer)
    rows = list(vehicles.order_by("-updated_at", "-id")[:ROWS_SHOWN])
    count = len(rows) if len(rows) < ROWS_SHOWN else vehicles.aggregate(n=Count("id"))["n"]
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
        ),
    )
