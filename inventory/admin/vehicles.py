"""Vehicles and their odometer readings."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from django import forms
from django.contrib import admin

from accounts.admin_exports import RoleExportMixin
from core.admin import AddOnlyMixin, CarshopModelAdmin, IndexedValuesListFilter, ReadOnlyMixin
from core.history import HistoryPanelsMixin
from inventory import services
from inventory.exceptions import InventoryError
from inventory.models import OdometerReading, Vehicle
from inventory.resources import VehicleResource

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise


class OwnershipFilter(admin.SimpleListFilter):
    title = "owned by"
    parameter_name = "owned_by"

    def lookups(self, request, model_admin):
        return (("customer", "a customer"), ("business", "the business"))

    def queryset(self, request, queryset):
        if self.value() == "customer":
            return queryset.filter(owner__isnull=False)
        if self.value() == "business":
            return queryset.filter(owner__isnull=True)
        return queryset


class OdometerReadingForm(forms.ModelForm):
    class Meta:
        model = OdometerReading
        fields = ("read_on", "reading", "note")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        vehicle = Vehicle(pk=self.instance.vehicle_id)
        try:
            services.check_odometer(
                vehicle, data.get("reading"), data.get("read_on"), data.get("note", "")
            )
        except InventoryError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


class OdometerReadingInline(AddOnlyMixin, admin.TabularInline):
    """Readings so far (read-only: they are history) and a row to record a new one."""

    model = OdometerReading
    form = OdometerReadingForm
    fields = ("read_on", "reading", "note", "recorded_by")
    readonly_fields = ("recorded_by",)
    extra = 1
    can_delete = False
    ordering = ("-read_on", "-id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("recorded_by")


class VehicleSearchMixin:
    search_help_text: ClassVar[_StrOrPromise | None] = (
        "VIN, or its last 6 or 8 characters; plate; owner's name or phone."
    )

    def get_search_results(self, request, queryset, search_term):
        queryset = self._narrow_picker(request, queryset)
        if not search_term.strip():
            return queryset, False
        return queryset.search(search_term), False

    def _narrow_picker(self, request, queryset):
        """A picker that names a customer (`vehicle_owner`, sent by the appointment form) lists
        only that customer's vehicles."""
        owner = request.GET.get("vehicle_owner", "")
        match = getattr(request, "resolver_match", None)
        if (
            owner.isdigit()
            and match is not None
            and match.url_name == "autocomplete"
            and queryset.model is Vehicle
        ):
            return queryset.filter(owner_id=int(owner))
        return queryset


@admin.register(Vehicle)
class VehicleAdmin(HistoryPanelsMixin, RoleExportMixin, VehicleSearchMixin, CarshopModelAdmin):
    """Vehicles, with their orders, invoices, declined work and deals below the form."""

    export_resource_class = VehicleResource
    list_display = (
        "vin",
        "model_year",
        "make",
        "model",
        "plate",
        "owner",
        "odometer",
        "odometer_read_on",
    )
    list_select_related = ("owner",)
    list_filter = (OwnershipFilter, ("make", IndexedValuesListFilter))
    # Searched by VehicleQuerySet.search (index-friendly); listed here for autocomplete.
    search_fields = ("vin", "plate", "owner__display_name", "owner__phone")
    autocomplete_fields = ("owner",)
    readonly_fields = ("country", "odometer", "odometer_read_on", "created_at", "updated_at")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "vin",
                    ("model_year", "make", "model"),
                    ("trim", "engine"),
                    ("color", "plate"),
                    "owner",
                )
            },
        ),
        (
            "From the VIN and the readings",
            {"fields": ("country", ("odometer", "odometer_read_on"), ("created_at", "updated_at"))},
        ),
    )
    inlines = (OdometerReadingInline,)

    def save_model(self, request, obj, form, change):
        # The form already showed any VIN problem on the field; this validates, decodes, saves.
        services.save_vehicle(obj)

    def save_formset(self, request, form, formset, change):
        if formset.model is not OdometerReading:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for reading_form in formset.extra_forms:
            if not reading_form.has_changed():
                continue
            data = reading_form.cleaned_data
            formset.new_objects.append(
                services.record_odometer(
                    form.instance,
                    data["reading"],
                    data["read_on"],
                    data.get("note", ""),
                    user=request.user,
                )
            )
        return None


@admin.register(OdometerReading)
class OdometerReadingAdmin(ReadOnlyMixin, CarshopModelAdmin):
    """Every reading, for looking things up; readings are recorded on the vehicle's page."""

    list_display = ("read_on", "vehicle", "reading", "note", "recorded_by")
    list_select_related = ("vehicle", "recorded_by")
    date_hierarchy = "read_on"
    search_fields = ("vehicle__vin",)
    search_help_text = VehicleSearchMixin.search_help_text

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(vehicle__in=Vehicle.objects.search(search_term).values("pk")), False
