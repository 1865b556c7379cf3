"""Commissions (recorded by delivering and unwinding deals) and commission plans."""

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.locations import LocationScopedAdmin
from core.admin import CarshopModelAdmin
from sales.admin.common import (
    amount_text,
    salespeople,
)
from sales.models import (
    Commission,
    CommissionPlan,
)

# ---------------------------------------------------------------------------------------------
# Commissions
# ---------------------------------------------------------------------------------------------


@admin.register(Commission)
class CommissionAdmin(LocationScopedAdmin, CarshopModelAdmin):
    """Read-only: commissions are recorded by delivering and unwinding deals. A salesperson sees
    their own; a manager (sales.view_all_commissions) sees everyone's, at the lots they work at."""

    location_field = "deal__stock_unit__location"

    list_display = (
        "date_column",
        "salesperson",
        "deal_column",
        "kind",
        "gross_column",
        "amount_column",
    )
    list_select_related = ("salesperson", "deal")
    search_fields = ("deal__buyer__display_name", "deal__stock_unit__stock_number")
    fields = (
        "recorded_at",
        "salesperson",
        "deal",
        "kind",
        "plan_name",
        "gross",
        "rate",
        "minimum",
        "amount",
    )
    readonly_fields = fields
    date_hierarchy = "recorded_at"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not request.user.has_perm("sales.view_all_commissions"):
            queryset = queryset.filter(salesperson=request.user)
        return queryset

    @admin.display(description="Recorded", ordering="recorded_at")
    def date_column(self, obj):
        return timezone.localtime(obj.recorded_at).date().isoformat()

    @admin.display(description="Deal", ordering="deal")
    def deal_column(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:sales_deal_change", args=[obj.deal_id]), obj.deal
        )

    @admin.display(description="Gross", ordering="gross")
    def gross_column(self, obj):
        return amount_text(obj.gross)

    @admin.display(description="Commission", ordering="amount")
    def amount_column(self, obj):
        return amount_text(obj.amount)

    def get_list_filter(self, request):
        if request.user.has_perm("sales.view_all_commissions"):
            return ("kind", ("salesperson", admin.RelatedOnlyFieldListFilter))
        return ("kind",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CommissionPlan)
class CommissionPlanAdmin(CarshopModelAdmin):
    list_display = ("name", "salesperson", "basis", "rate", "minimum")
    list_select_related = ("salesperson",)
    search_fields = ("name", "salesperson__username", "salesperson__last_name")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "salesperson":
            kwargs["queryset"] = salespeople()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
