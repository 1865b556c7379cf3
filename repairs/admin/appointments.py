"""Appointments: bookings, the day's list, opening a repair order from a booking."""

import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html

from accounts.locations import allowed_location_ids
from accounts.models import Customer
from accounts.roles import SERVICE_ADVISOR
from core.admin import CarshopModelAdmin
from core.admin_actions import RefusalsAsMessages, run_for_each
from inventory.models import Vehicle
from repairs import services
from repairs.admin.common import (
    CustomerVehicleSearchMixin,
    ShopFloorLocationAdmin,
    lookup_fields,
    staff_choices,
)
from repairs.choices import (
    AppointmentStatus,
)
from repairs.exceptions import RepairError
from repairs.models import (
    Appointment,
)

# --------------------------------------------------------------------------------------------
# Appointments
# --------------------------------------------------------------------------------------------


class AppointmentForm(forms.ModelForm):
    """A booking, checked by repairs.services.check_appointment: the customer's own vehicle, not
    in the past, a free slot."""

    class Meta:
        model = Appointment
        fields = ("location", "date", "time", "customer", "vehicle", "concern", "advisor", "status")

    def _post_clean(self):
        super()._post_clean()
        if not self.errors:
            try:
                services.check_appointment(self.instance)
            except RepairError as exc:
                self.add_error(None, str(exc))


@admin.register(Appointment)
class AppointmentAdmin(
    ShopFloorLocationAdmin, CustomerVehicleSearchMixin, RefusalsAsMessages, CarshopModelAdmin
):
    form = AppointmentForm
    list_display = ("date", "time", "customer", "vehicle", "status", "advisor", "repair_order_link")
    list_select_related = ("customer", "vehicle", "advisor", "repair_order")
    list_filter = ("status", "date")
    date_hierarchy = "date"
    search_fields = ("customer__display_name", "customer__phone")
    search_help_text = "Customer name or phone, VIN or its last characters, plate."
    autocomplete_fields, raw_id_fields = lookup_fields(customer=Customer, vehicle=Vehicle)
    fields = ("location", "date", "time", "customer", "vehicle", "concern", "advisor", "status")
    actions = ["open_repair_order"]
    ordering = ("-date", "time", "id")

    class Media:
        # The vehicle picker lists the chosen customer's vehicles (after Django's jQuery).
        js = ["admin/js/jquery.init.js", "repairs/admin/appointment_vehicle.js"]

    def delete_refusal(self, obj):
        return services.appointment_deletion_refusal(obj)

    def get_changeform_initial_data(self, request):
        # The advisor who books the visit (only offered when they are one of the advisors).
        return {"advisor": request.user.pk, **super().get_changeform_initial_data(request)}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "advisor":
            field.choices = staff_choices(SERVICE_ADVISOR, allowed_location_ids(request.user))
        return field

    @admin.display(description="repair order")
    def repair_order_link(self, appointment):
        order = getattr(appointment, "repair_order", None)
        if order is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:repairs_repairorder_change", args=[order.pk]),
            order.number,
        )

    def save_model(self, request, obj, form, change):
        services.save_appointment(obj, user=request.user)

    def has_open_order_permission(self, request):
        return request.user.has_perm("repairs.add_repairorder")

    @admin.action(description="Open a repair order for the appointment", permissions=["open_order"])
    def open_repair_order(self, request, queryset):
        def report(done):
            for appointment, created in done:
                self.message_user(
                    request,
                    f"Opened {created.repair_order.number} for {appointment.customer}.",
                    messages.SUCCESS,
                )
                for warning in created.warnings:
                    self.message_user(request, warning, messages.WARNING)

        run_for_each(
            self,
            request,
            queryset.select_related("customer", "vehicle"),
            lambda appointment: services.create_repair_order_from_appointment(
                appointment, user=request.user
            ),
            summary=report,
        )

    def get_urls(self):
        return [
            path("day/", self.admin_site.admin_view(self.day_view), name="repairs_appointment_day"),
            *super().get_urls(),
        ]

    def day_view(self, request):
        """One day's appointments in time order, with the previous and next day."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        day = parse_date(request.GET.get("date", "") or "") or timezone.localdate()
        appointments = (
            self.get_queryset(request)
            .filter(date=day)
            .select_related("customer", "vehicle", "advisor", "repair_order")
            .order_by("time", "id")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Appointments on {day:%A %Y-%m-%d}",
            "opts": self.model._meta,
            "day": day,
            "previous_day": day - datetime.timedelta(days=1),
            "next_day": day + datetime.timedelta(days=1),
            "today": timezone.localdate(),
            "appointments": appointments,
            "scheduled": AppointmentStatus.SCHEDULED,
        }
        return TemplateResponse(request, "admin/repairs/appointment_day.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "day_url": reverse("admin:repairs_appointment_day"),
        }
        return super().changelist_view(request, extra_context)
