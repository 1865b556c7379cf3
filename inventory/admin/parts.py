"""Parts, their stock ledger, suppliers and the markup matrix."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin_exports import RoleExportMixin
from accounts.locations import (
    allowed_location_ids,
    allowed_locations,
    home_location,
    location_count,
    may_work_at,
    selected_location,
    selected_location_ids,
)
from accounts.models import Location
from core.admin import CarshopModelAdmin, IndexedValuesListFilter, ReadOnlyMixin
from core.admin_actions import add_refusal_to_form
from inventory import pricing, services
from inventory.admin.common import CostHidingMixin, LocationFieldsMixin, LocationScoped, ServiceForm
from inventory.exceptions import InventoryError
from inventory.models import (
    MarkupRule,
    Part,
    PartStock,
    PurchaseOrder,
    StockMovement,
    Supplier,
)
from inventory.resources import PartResource

RECENT_MOVEMENTS = 20


def chosen_stock_location(request):
    """The one location whose stock the parts pages show in a group (the header's choice, else
    the user's home); None in a single-location install, whose pages show the part's figures."""
    if location_count() < 2:
        return None
    location = selected_location(request) or home_location(request.user)
    return location if may_work_at(request.user, location) else None


class StockFilter(admin.SimpleListFilter):
    """Low, out of or in stock: at the chosen location in a group."""

    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return (("low", "At or below reorder point"), ("out", "Out of stock"), ("in", "In stock"))

    def queryset(self, request, queryset):
        location = chosen_stock_location(request)
        if location is not None:
            stocked = PartStock.objects.filter(location=location, on_hand__gt=0).values("part_id")
            if self.value() == "low":
                return queryset.low_stock_at(location)
            if self.value() == "out":
                return queryset.exclude(pk__in=stocked)
            if self.value() == "in":
                return queryset.filter(pk__in=stocked)
            return queryset
        if self.value() == "low":
            return queryset.low_stock()
        if self.value() == "out":
            return queryset.filter(on_hand=0)
        if self.value() == "in":
            return queryset.filter(on_hand__gt=0)
        return queryset


class RecentMovementsFormSet(BaseInlineFormSet):
    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            self._queryset = super().get_queryset()[:RECENT_MOVEMENTS]
        return self._queryset


class RecentMovementInline(
    LocationFieldsMixin, ReadOnlyMixin, CostHidingMixin, admin.TabularInline
):
    """The part's latest stock movements (at the locations the user works at), read-only: the
    ledger is written by the services."""

    model = StockMovement
    formset = RecentMovementsFormSet
    fields = (
        "created_at",
        "location",
        "kind",
        "quantity",
        "unit_cost",
        "reason",
        "reference",
        "user",
    )
    readonly_fields = fields
    cost_fields = ("unit_cost",)
    extra = 0
    can_delete = False
    verbose_name_plural = f"Latest {RECENT_MOVEMENTS} stock movements"

    def get_queryset(self, request):
        # The row title is str(movement), which names the part.
        queryset = super().get_queryset(request)
        if location_count() > 1:
            queryset = queryset.filter(location__in=allowed_location_ids(request.user))
        return queryset.select_related("part", "user", "location").order_by("-created_at", "-id")


class PartStockInline(ReadOnlyMixin, CostHidingMixin, admin.TabularInline):
    """The part's stock at each location the user works at (a group only)."""

    model = PartStock
    fields = ("location", "on_hand", "average_cost", "reorder_point", "reorder_quantity", "bin")
    readonly_fields = fields
    cost_fields = ("average_cost",)
    extra = 0
    can_delete = False
    verbose_name_plural = "Stock by location"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(location__in=allowed_location_ids(request.user))
            .select_related("location", "part")
        )


class AdjustStockForm(ServiceForm):
    location = forms.ModelChoiceField(
        queryset=Location.objects.none(),
        required=False,
        help_text="Where the stock was counted.",
    )
    quantity = forms.IntegerField(
        label="Change by",
        help_text="Positive adds stock, negative removes it (-2 when a count found two fewer).",
    )
    reason = forms.CharField(
        max_length=200,
        required=False,
        help_text="Why the stock changes: count, damaged, found, returned to supplier...",
    )

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        if request is None or location_count() < 2:
            del self.fields["location"]
            return
        field = self.fields["location"]
        field.queryset = allowed_locations(request.user)
        field.required = True
        chosen = chosen_stock_location(request)
        field.initial = chosen.pk if chosen else None


class PricingAdminMixin:
    """Prices a whole page with one read of the markup matrix (rendering happens inside)."""

    def _with_matrix(self, view, *args, **kwargs):
        with pricing.matrix_snapshot():
            response = view(*args, **kwargs)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        return response

    def changelist_view(self, request, extra_context=None):
        return self._with_matrix(super().changelist_view, request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._with_matrix(
            super().changeform_view, request, object_id, form_url, extra_context
        )


@admin.register(Part)
class PartAdmin(RoleExportMixin, PricingAdminMixin, CostHidingMixin, CarshopModelAdmin):
    export_resource_class = PartResource
    list_display = (
        "sku",
        "description",
        "brand",
        "category",
        "bin_location",
        "on_hand_here",
        "on_hand",
        "reorder_point",
        "reorder_quantity",
        "unit_cost",
        "price",
        "supplier",
        "active",
    )
    list_select_related = ("supplier",)
    list_filter = (
        StockFilter,
        "active",
        "taxable",
        ("category", IndexedValuesListFilter),
        "supplier",
    )
    search_fields = ("sku", "description", "brand")
    search_help_text = "SKU (or its start), words of the description, brand."
    autocomplete_fields = ("supplier",)
    readonly_fields = ("on_hand", "price", "created_at", "updated_at")
    # Technicians (no inventory.view_part_cost) see neither costs nor prices: either reveals
    # the other through the markup matrix.
    cost_fields = ("unit_cost", "price_override", "price")
    fieldsets = (
        (None, {"fields": ("sku", "description", ("brand", "category"), "supplier", "active")}),
        ("Price", {"fields": (("unit_cost", "price_override", "price"), "taxable")}),
        (
            "Stock",
            {
                "fields": (
                    ("on_hand", "bin_location"),
                    ("reorder_point", "reorder_quantity"),
                    ("created_at", "updated_at"),
                )
            },
        ),
    )
    inlines = (PartStockInline, RecentMovementInline)
    actions = ("reorder_selected", "adjust_selected")

    def hidden_fields(self, request):
        hidden = super().hidden_fields(request)
        return hidden if location_count() > 1 else hidden | {"on_hand_here"}

    def get_inlines(self, request, obj):
        inlines = super().get_inlines(request, obj)
        return inlines if location_count() > 1 else [i for i in inlines if i is not PartStockInline]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if location_count() < 2:
            return queryset
        here = (
            PartStock.objects.filter(
                part=OuterRef("pk"), location__in=selected_location_ids(request)
            )
            .order_by()
            .values("part")
            .annotate(total=Sum("on_hand"))
            .values("total")
        )
        return queryset.annotate(
            on_hand_here=Coalesce(Subquery(here), 0, output_field=IntegerField())
        )

    @admin.display(description="on hand here", ordering="on_hand_here")
    def on_hand_here(self, obj):
        return getattr(obj, "on_hand_here", obj.on_hand)

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        if location_count() > 1 and "on_hand" in columns:
            # The group's total, next to the chosen location's.
            columns[columns.index("on_hand")] = "group_on_hand"
        return columns

    @admin.display(description="group on hand", ordering="on_hand")
    def group_on_hand(self, obj):
        return obj.on_hand

    @admin.display(description="selling price")
    def price(self, obj):
        return obj.selling_price

    def save_model(self, request, obj, form, change):
        # A cost corrected by hand is the average cost at the chosen location (in a
        # single-location install: the one stock row), kept with the ledger's figures.
        super().save_model(request, obj, form, change)
        if "unit_cost" in form.changed_data and change:
            location = chosen_stock_location(request)
            services.set_average_cost(obj, form.cleaned_data["unit_cost"], location=location)

    def get_search_results(self, request, queryset, search_term):
        for word in search_term.split():
            queryset = queryset.filter(
                Q(sku__startswith=word.upper())
                | Q(description__icontains=word)
                | Q(brand__istartswith=word)
            )
        return queryset, False

    def get_urls(self):
        return [
            path(
                "<path:object_id>/adjust-stock/",
                self.admin_site.admin_view(self.adjust_stock_view),
                name="inventory_part_adjust_stock",
            ),
            *super().get_urls(),
        ]

    def has_adjust_permission(self, request):
        return request.user.has_perm("inventory.add_stockmovement")

    def has_reorder_permission(self, request):
        return request.user.has_perm("inventory.add_purchaseorder")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_adjust_stock": self.has_adjust_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def adjust_stock_view(self, request, object_id):
        if not self.has_adjust_permission(request):
            raise PermissionDenied
        part = self.get_object(request, unquote(object_id))
        if part is None:
            raise Http404("No such part.")
        form = AdjustStockForm(request.POST if request.method == "POST" else None, request=request)
        if form.is_bound and form.is_valid():
            location = form.cleaned_data.get("location")
            try:
                movement = services.adjust_stock(
                    part,
                    form.cleaned_data["quantity"],
                    reason=form.cleaned_data["reason"],
                    user=request.user,
                    location=location,
                )
            except InventoryError as exc:
                add_refusal_to_form(form, exc)
            else:
                self.message_user(
                    request,
                    f"Stock of {part.sku} adjusted by {movement.quantity:+d}: "
                    f"{part.on_hand} on hand now.",
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:inventory_part_change", args=[part.pk]))
        return TemplateResponse(
            request,
            "admin/inventory/service_form.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Adjust stock of {part.sku}",
                "intro": f"{part} - {part.on_hand} on hand, bin {part.bin_location or 'none'}.",
                "opts": self.model._meta,
                "original": part,
                "form": form,
                "submit_label": "Adjust stock",
            },
        )

    @admin.action(
        description="Order reorder quantities (a draft purchase order per supplier)",
        permissions=["reorder"],
    )
    def reorder_selected(self, request, queryset):
        # Delivered to the chosen location (the default one in a single-location install).
        result = services.reorder_parts(
            queryset.select_related("supplier"),
            user=request.user,
            location=chosen_stock_location(request),
        )
        if result.orders:
            made = ", ".join(f"{order.number} ({order.supplier.name})" for order in result.orders)
            self.message_user(
                request,
                f"Created {len(result.orders)} draft purchase order(s): {made}.",
                messages.SUCCESS,
            )
        if result.skipped:
            left = "; ".join(f"{part.sku}: {why}" for part, why in result.skipped)
            self.message_user(
                request, f"Left out {len(result.skipped)} part(s) - {left}.", messages.WARNING
            )

    @admin.action(description="Adjust stock of the selected part", permissions=["adjust"])
    def adjust_selected(self, request, queryset):
        selected = list(queryset.values_list("pk", flat=True)[:2])
        if len(selected) != 1:
            self.message_user(
                request, "Select exactly one part to adjust its stock.", messages.ERROR
            )
            return None
        return redirect(reverse("admin:inventory_part_adjust_stock", args=[selected[0]]))


@admin.register(StockMovement)
class StockMovementAdmin(
    LocationScoped, LocationFieldsMixin, ReadOnlyMixin, CostHidingMixin, CarshopModelAdmin
):
    """The parts ledger, read-only: movements are made by issuing, returning, receiving and
    adjusting stock."""

    list_display = (
        "created_at",
        "part",
        "location",
        "kind",
        "quantity",
        "unit_cost",
        "reason",
        "reference",
        "user",
    )
    list_select_related = ("part", "user", "location")
    list_filter = ("kind",)
    date_hierarchy = "created_at"
    search_fields = ("part__sku", "reference")
    search_help_text = "Part SKU (or its start), or a reference (inventory.purchasereceipt:12)."
    cost_fields = ("unit_cost",)

    def get_search_results(self, request, queryset, search_term):
        for word in search_term.split():
            queryset = queryset.filter(
                Q(part__sku__startswith=word.upper()) | Q(reference__startswith=word)
            )
        return queryset, False


@admin.register(Supplier)
class SupplierAdmin(CarshopModelAdmin):
    list_display = ("name", "account_number", "phone", "email", "part_count", "open_orders")
    search_fields = ("name", "account_number", "email", "phone")

    def get_queryset(self, request):
        parts = Part.objects.filter(supplier=OuterRef("pk")).order_by().values("supplier")
        orders = (
            PurchaseOrder.objects.filter(supplier=OuterRef("pk"), status__in=services.OPEN_STATUSES)
            .order_by()
            .values("supplier")
        )
        count = Count("pk")
        return (
            super()
            .get_queryset(request)
            .annotate(
                part_count=Coalesce(
                    Subquery(parts.annotate(n=count).values("n")), 0, output_field=IntegerField()
                ),
                open_orders=Coalesce(
                    Subquery(orders.annotate(n=count).values("n")), 0, output_field=IntegerField()
                ),
            )
        )

    @admin.display(description="parts", ordering="part_count")
    def part_count(self, obj):
        return obj.part_count

    @admin.display(description="open orders", ordering="open_orders")
    def open_orders(self, obj):
        return obj.open_orders


@admin.register(MarkupRule)
class MarkupRuleAdmin(CarshopModelAdmin):
    """The markup matrix: managers edit the bands; advisors may look."""

    list_display = ("up_to", "multiplier", "example")
    list_editable = ("multiplier",)

    @admin.display(description="a part costing the upper bound sells at")
    def example(self, obj):
        return pricing.markup_price(obj.up_to, ((obj.up_to, obj.multiplier),))

    def changelist_view(self, request, extra_context=None):
        if not MarkupRule.objects.exists():
            bands = ", ".join(f"up to {up_to}: x {mult}" for up_to, mult in pricing.DEFAULT_MATRIX)
            self.message_user(
                request,
                f"No bands yet, so the default matrix applies ({bands}; "
                f"above: the last multiplier).",
                messages.INFO,
            )
        return super().changelist_view(request, extra_context)
