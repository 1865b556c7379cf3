"""Leads: follow-ups, assignment, closing as lost."""

from datetime import timedelta

from django.contrib import admin
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from accounts.admin_exports import RoleExportMixin
from core.admin import CarshopModelAdmin
from core.admin_actions import run_for_each
from sales import services
from sales.admin.common import (
    run_action,
    salespeople,
)
from sales.forms import (
    ReasonForm,
)
from sales.models import (
    Lead,
)
from sales.resources import LeadResource

# ---------------------------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------------------------


class FollowUpFilter(admin.SimpleListFilter):
    title = "follow-up"
    parameter_name = "follow_up"

    def lookups(self, request, model_admin):
        return [
            ("overdue", "Overdue"),
            ("today", "Today"),
            ("week", "Next 7 days"),
            ("none", "Not scheduled"),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        open_leads = queryset.filter(status__in=Lead.OPEN)
        match self.value():
            case "overdue":
                return open_leads.filter(next_follow_up__lt=today)
            case "today":
                return open_leads.filter(next_follow_up=today)
            case "week":
                return open_leads.filter(
                    next_follow_up__gt=today, next_follow_up__lte=today + timedelta(days=7)
                )
            case "none":
                return open_leads.filter(next_follow_up__isnull=True)
        return queryset


@admin.register(Lead)
class LeadAdmin(RoleExportMixin, CarshopModelAdmin):
    export_resource_class = LeadResource
    list_display = ("customer_column", "status", "unit_column", "salesperson", "follow_up_column")
    list_filter = (
        "status",
        FollowUpFilter,
        "source",
        ("salesperson", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("customer", "stock_unit__vehicle", "salesperson")
    search_fields = (
        "customer__display_name",
        "customer__phone",
        "customer__email",
        "stock_unit__stock_number",
        "source_reference",
    )
    search_help_text = "Customer name, phone or email, stock number, marketplace lead id."
    autocomplete_fields = ("customer", "stock_unit")
    readonly_fields = ("lost_reason", "created_at", "partner", "message")
    actions = ("assign_to_me", "mark_lost")

    def delete_refusal(self, obj):
        return services.lead_deletion_refusal(obj)

    fieldsets = (
        (
            None,
            {
                "fields": (
                    "customer",
                    "source",
                    "source_reference",
                    "stock_unit",
                    "partner",
                    "message",
                )
            },
        ),
        ("Follow-up", {"fields": ("status", "salesperson", "next_follow_up", "lost_reason")}),
        ("Notes", {"fields": ("notes", "created_at")}),
    )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "salesperson":
            kwargs["queryset"] = salespeople()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "status":
            # Won comes from delivering a deal; lost from the action, which asks why.
            kwargs["choices"] = [(v, label) for v, label in Lead.Status.choices if v in Lead.OPEN]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status not in Lead.OPEN:
            fields.append("status")
        return fields

    def get_changeform_initial_data(self, request):
        return {"salesperson": request.user.pk, **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        services.save_lead(obj)  # tells the marketplace that posted it of a new status

    @admin.display(description="Customer", ordering="customer__display_name")
    def customer_column(self, obj):
        return format_html(
            "{}<br><small>{} · {}</small>",
            obj.customer,
            obj.get_source_display(),
            timezone.localtime(obj.created_at).date().isoformat(),
        )

    @admin.display(description="Stock unit of interest", ordering="stock_unit__stock_number")
    def unit_column(self, obj):
        if obj.stock_unit is None:
            return "—"
        return format_html(
            "{}<br><small>{}</small>", obj.stock_unit.stock_number, obj.stock_unit.vehicle_label
        )

    @admin.display(description="Next follow-up", ordering="next_follow_up")
    def follow_up_column(self, obj):
        if obj.next_follow_up is None:
            return "—"
        if obj.status in Lead.OPEN and obj.next_follow_up < timezone.localdate():
            return format_html(
                '<strong style="color:#ba2121" title="Overdue">{} ⚠</strong>',
                date_format(obj.next_follow_up),
            )
        return obj.next_follow_up

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        run_for_each(
            self,
            request,
            queryset,
            lambda lead: services.assign_lead(lead, request.user),
            summary=lambda done: f"{len(done)} lead(s) assigned to you.",
        )

    @admin.action(description="Mark lost…", permissions=["change"])
    def mark_lost(self, request, queryset):
        return run_action(
            self,
            request,
            queryset,
            form_class=ReasonForm,
            title="Mark leads lost",
            explanation="These leads are closed as lost.",
            submit_label="Mark lost",
            done="{count} lead(s) marked lost.",
            apply=lambda lead, reason: services.mark_lead_lost(lead, reason=reason),
        )
