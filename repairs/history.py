"""The service shop's part of a customer's and a vehicle's page (core.history): buttons to book
an appointment or open a repair order for them, their repair orders, their invoices with what is
still owed, and the work declined on earlier visits.

Each panel reads at most a page of rows with a fixed number of queries, and links to the whole
list. Money (invoices) only for whoever may see prices; none of it for a technician, who sees only
their own work.
"""

from __future__ import annotations

from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils.http import urlencode

from accounts.models import Customer
from accounts.roles import sees_prices
from core.history import HistoryPanel, first_rows, register
from inventory.models import Vehicle
from repairs.models import Invoice, Job, RepairOrder

ROWS_SHOWN = 10
VEHICLES_SHOWN = 20


def _shop_staff(request):
    """Advisors, managers: who works with customers' orders (not a technician limited to their
    own jobs, nor a salesperson)."""
    return request.user.has_perm("repairs.view_repairorder") and request.user.has_perm(
        "accounts.view_customer"
    )


def _books_visits(request):
    """Shop staff who may book an appointment or open a repair order."""
    user = request.user
    return _shop_staff(request) and (
        user.has_perm("repairs.add_appointment") or user.has_perm("repairs.add_repairorder")
    )


def _sees_invoices(request):
    return request.user.has_perm("repairs.view_invoice") and sees_prices(request.user)


def _changelist(model_url, **filters):
    return f"{reverse(model_url)}?{urlencode(filters)}"


def _add_url(model_url, **initial):
    return f"{reverse(model_url)}?{urlencode({k: v for k, v in initial.items() if v})}"


def _new_visit_buttons(request, customer_id, vehicle_id):
    user = request.user
    buttons = []
    if user.has_perm("repairs.add_appointment"):
        buttons.append(
            {
                "label": "New appointment",
                "url": _add_url(
                    "admin:repairs_appointment_add", customer=customer_id, vehicle=vehicle_id
                ),
            }
        )
    if user.has_perm("repairs.add_repairorder"):
        buttons.append(
            {
                "label": "New repair order",
                "url": _add_url(
                    "admin:repairs_repairorder_add", customer=customer_id, vehicle=vehicle_id
                ),
            }
        )
    return buttons


# --- New visit ------------------------------------------------------------------------------


def customer_new_visit(request, customer):
    if not _books_visits(request):
        return None
    buttons = _new_visit_buttons(request, customer.pk, None)
    vehicles = list(
        Vehicle.objects.filter(owner=customer).order_by("-updated_at", "-id")[:VEHICLES_SHOWN]
    )
    rows = [
        {"vehicle": vehicle, "buttons": _new_visit_buttons(request, customer.pk, vehicle.pk)}
        for vehicle in vehicles
    ]
    return {"buttons": buttons, "rows": rows}


def vehicle_new_visit(request, vehicle):
    if not _books_visits(request):
        return None
    return {"buttons": _new_visit_buttons(request, vehicle.owner_id, vehicle.pk), "rows": []}


# --- Repair orders --------------------------------------------------------------------------


def _orders(queryset, list_url):
    rows, count = first_rows(
        queryset.select_related("vehicle", "customer").order_by("-opened_at", "-id"), ROWS_SHOWN
    )
    return {"rows": rows, "count": count, "shown": len(rows), "list_url": list_url}


def customer_orders(request, customer):
    if not _shop_staff(request):
        return None
    return _orders(
        RepairOrder.objects.filter(customer=customer),
        _changelist("admin:repairs_repairorder_changelist", customer__id__exact=customer.pk),
    )


def vehicle_orders(request, vehicle):
    if not _shop_staff(request):
        return None
    return _orders(
        RepairOrder.objects.filter(vehicle=vehicle),
        _changelist("admin:repairs_repairorder_changelist", vehicle__id__exact=vehicle.pk),
    )


# --- Invoices -------------------------------------------------------------------------------


def _invoices(request, queryset, list_url):
    if not _sees_invoices(request):
        return None
    with_balance = queryset.with_balance()
    summary = with_balance.aggregate(
        n=Count("id"), due=Sum("balance_amount", filter=Q(balance_amount__gt=0))
    )
    rows = list(
        with_balance.select_related("repair_order")
        # The invoice's frozen snapshot (every line, as JSON) is not shown here.
        .defer("snapshot", "repair_order__notes")
        .order_by("-issued_at", "-id")[:ROWS_SHOWN]
    )
    return {
        "rows": rows,
        "count": summary["n"],
        "shown": len(rows),
        "due": summary["due"] or 0,
        "list_url": list_url,
    }


def customer_invoices(request, customer):
    return _invoices(
        request,
        Invoice.objects.filter(customer=customer),
        _changelist("admin:repairs_invoice_changelist", customer__id__exact=customer.pk),
    )


def vehicle_invoices(request, vehicle):
    return _invoices(
        request,
        Invoice.objects.filter(repair_order__vehicle=vehicle),
        # The invoice list filters by customer, not by vehicle: no link to a longer list.
        None,
    )


# --- Recommendations declined earlier --------------------------------------------------------


def _recommendations(queryset):
    rows = list(
        queryset.select_related("repair_order__vehicle").order_by("-authorized_at", "-id")[
            :ROWS_SHOWN
        ]
    )
    return {"rows": rows}


def customer_recommendations(request, customer):
    if not _shop_staff(request):
        return None
    return _recommendations(Job.objects.recommendations().filter(repair_order__customer=customer))


def vehicle_recommendations(request, vehicle):
    if not _shop_staff(request):
        return None
    return _recommendations(Job.objects.recommendations().for_vehicle(vehicle))


def register_panels():
    """Called from RepairsConfig.ready()."""
    here = "admin/repairs/history/"
    for model, new_visit, orders, invoices, recommendations in (
        (
            Customer,
            customer_new_visit,
            customer_orders,
            customer_invoices,
            customer_recommendations,
        ),
        (Vehicle, vehicle_new_visit, vehicle_orders, vehicle_invoices, vehicle_recommendations),
    ):
        for panel in (
            HistoryPanel(
                "new-visit",
                "Book or open a visit",
                f"{here}new_visit.html",
                new_visit,
                10,
                _books_visits,
            ),
            HistoryPanel(
                "repair-orders", "Repair orders", f"{here}orders.html", orders, 30, _shop_staff
            ),
            HistoryPanel(
                "invoices", "Invoices", f"{here}invoices.html", invoices, 40, _sees_invoices
            ),
            HistoryPanel(
                "recommendations",
                "Recommended earlier, declined",
                f"{here}recommendations.html",
                recommendations,
                50,
                _shop_staff,
            ),
        ):
            register(model, panel)
