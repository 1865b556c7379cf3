"""The comparison: the same lists through a plain Django ModelAdmin, with no tuning at all.

Registered on its own AdminSite, served under /untuned-admin/ by bench/urls.py (templates in
bench/templates) only while the benchmarks run; the product never loads this module. Each admin
shows the same columns and searches the same things as Carshop's, the way one writes it first:
search_fields across the related tables, no list_select_related, Django's paginator (a COUNT of
the list and of the whole table on every page).
"""

from typing import Any

from django.apps import apps
from django.contrib import admin

untuned_site = admin.AdminSite(name="untuned")

PLAIN: dict[str, dict[str, Any]] = {
    "repairs.RepairOrder": {
        "list_display": (
            "number",
            "status",
            "customer",
            "vehicle",
            "advisor",
            "opened_at",
            "promised_at",
            "internal",
        ),
        "list_filter": ("status", "internal", "opened_at"),
        "date_hierarchy": "opened_at",
        "search_fields": (
            "number",
            "customer__display_name",
            "customer__phone",
            "vehicle__vin",
            "vehicle__plate",
        ),
    },
    "inventory.Vehicle": {
        "list_display": (
            "vin",
            "model_year",
            "make",
            "model",
            "plate",
            "owner",
            "odometer",
            "odometer_read_on",
        ),
        "list_filter": ("make",),
        "search_fields": ("vin", "plate", "owner__display_name", "owner__phone"),
    },
    "accounts.Customer": {
        "list_display": ("display_name", "kind", "phone", "email", "city", "consent_reminders"),
        "list_filter": ("kind", "consent_reminders"),
        "search_fields": (
            "display_name",
            "company_name",
            "first_name",
            "last_name",
            "phone",
            "phone_other",
            "email",
        ),
    },
    "inventory.Part": {
        "list_display": (
            "sku",
            "description",
            "brand",
            "category",
            "bin_location",
            "on_hand",
            "reorder_point",
            "reorder_quantity",
            "unit_cost",
            "supplier",
            "active",
        ),
        "list_filter": ("active", "taxable", "category", "supplier"),
        "search_fields": ("sku", "description", "brand"),
    },
    "inventory.StockUnit": {
        "list_display": (
            "stock_number",
            "vehicle",
            "status",
            "acquired_on",
            "acquisition_cost",
            "asking_price",
        ),
        "list_filter": ("status", "source"),
        "search_fields": (
            "stock_number",
            "vehicle__vin",
            "vehicle__plate",
            "vehicle__make",
            "vehicle__model",
        ),
    },
    "sales.Deal": {
        "list_display": (
            "pk",
            "status",
            "stock_unit",
            "buyer",
            "salesperson",
            "sale_price",
            "created_at",
        ),
        "list_filter": ("status",),
        "search_fields": (
            "buyer__display_name",
            "stock_unit__stock_number",
            "stock_unit__vehicle__vin",
        ),
    },
}

for label, options in PLAIN.items():
    model = apps.get_model(label)
    untuned_site.register(
        model,
        type(
            f"Plain{model.__name__}Admin",
            (admin.ModelAdmin,),
            {
                **options,
                # Django's own list and page, without the product's links to its extra views.
                "change_list_template": "untuned/change_list.html",
                "change_form_template": "untuned/change_form.html",
            },
        ),
    )
