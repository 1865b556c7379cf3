"""Stock units on the lot: costs, photos, time in stock, and their moves through the lot."""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.core.files.storage import default_storage
from django.db.models import IntegerField, OuterRef, Q, Subquery, Value
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin_exports import RoleExportMixin
from accounts.locations import allowed_locations
from accounts.models import Location
from core.admin import CarshopModelAdmin, PrefetchedInlineFormSet, ids_or_subquery
from core.admin_actions import RefusalsAsMessages, run_for_each
from core.money import ZERO
from inventory import lot_services
from inventory.admin.common import LocationFieldsMixin, LocationScoped
from inventory.models import StockNumberSeries, StockUnit, StockUnitCost, StockUnitPhoto, Vehicle
from inventory.resources import StockUnitResource
from sales import services
from sales.admin.common import (
    aging_threshold,
    amount_text,
    run_action,
)
from sales.forms import (
    MainPhotoFormSet,
    StockUnitForm,
    WholesaleForm,
)

# ---------------------------------------------------------------------------------------------
# Stock units
# ---------------------------------------------------------------------------------------------


class AgingFilter(admin.SimpleListFilter):
    """Units on the lot by days in stock; 'aged' is over the threshold in shop settings."""

    title = "days in stock"
    parameter_name = "aging"

    def lookups(self, request, model_admin):
        threshold = aging_threshold(request)
        return [
            ("fresh", "30 days or less"),
            ("aging", f"31 to {threshold} days"),
            ("aged", f"over {threshold} days"),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        threshold = aging_threshold(request)
        in_stock = queryset.filter(status__in=StockUnit.IN_STOCK)
        if self.value() == "fresh":
            return in_stock.filter(acquired_on__gte=today - timedelta(days=30))
        if self.value() == "aging":
            return in_stock.filter(
                acquired_on__lt=today - timedelta(days=30),
                acquired_on__gte=today - timedelta(days=threshold),
            )
        if self.value() == "aged":
            return in_stock.filter(StockUnit.aged_on(today, threshold))
        return queryset


class StockUnitCostInline(admin.TabularInline):
    model = StockUnitCost
    formset = PrefetchedInlineFormSet  # the costs the page's cost breakdown loaded
    extra = 0
    fields = ("kind", "description", "vendor", "receipt_number", "receipt", "amount", "incurred_on")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        # One line per receipt, even on a laptop screen.
        widths = {"description": "9em", "vendor": "9em", "receipt_number": "7em", "amount": "6em"}
        if db_field.name in widths:
            field.widget.attrs["style"] = f"width: {widths[db_field.name]}"
        return field


class StockUnitPhotoInline(admin.TabularInline):
    model = StockUnitPhoto
    formset = MainPhotoFormSet
    extra = 0
    fields = ("preview", "image", "caption", "position", "is_main")
    readonly_fields = ("preview",)

    @admin.display(description="")
    def preview(self, obj):
        if not obj.pk or not obj.image:
            return ""
        return format_html('<img src="{}" alt="" style="height:60px">', obj.image.url)


@admin.register(StockNumberSeries)
class StockNumberSeriesAdmin(CarshopModelAdmin):
    """The shop's one series of stock numbers: a manager sets the prefix and the next number."""

    list_display = ("__str__", "prefix", "next_number", "digits")
    fields = ("prefix", "next_number", "digits")

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not StockNumberSeries.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


def move_form_for(user):
    """The form of "Move to another lot": the lots `user` works at."""

    class MoveToLotForm(forms.Form):
        to_location = forms.ModelChoiceField(
            label="To lot",
            queryset=allowed_locations(user).filter(
                is_active=True, kind__in=[Location.Kind.LOT, Location.Kind.BOTH]
            ),
        )
        note = forms.CharField(max_length=200, required=False)

    return MoveToLotForm


@admin.register(StockUnit)
class StockUnitAdmin(
    LocationScoped, LocationFieldsMixin, RoleExportMixin, RefusalsAsMessages, CarshopModelAdmin
):
    export_resource_class = StockUnitResource
    form = StockUnitForm
    list_display = (
        "stock_number",
        "photo",
        "vehicle_column",
        "location",
        "status",
        "days_column",
        "price_column",
        "total_cost_column",
        "title_status",
    )
    list_display_links = ("stock_number", "vehicle_column")
    list_filter = ("status", AgingFilter, "source", "title_status")
    list_select_related = ("vehicle", "location")
    search_fields = ("stock_number", "vehicle__make", "vehicle__model")
    search_help_text = "Stock number, VIN (or its last 6 or 8 characters), plate, make or model."
    ordering = ("acquired_on", "id")
    autocomplete_fields = ("vehicle",)
    inlines = (StockUnitCostInline, StockUnitPhotoInline)
    actions = ("start_reconditioning", "make_available", "wholesale", "move_to_lot")
    readonly_fields = (
        "status",
        "days_in_stock",
        "available_on",
        "disposed_on",
        "wholesale_price",
        "cost_breakdown",
        "deals_list",
    )
    fieldsets = (
        (None, {"fields": ("stock_number", "vehicle", "location", "status", "title_status")}),
        ("Acquisition", {"fields": ("source", "acquired_from", "acquired_on", "acquisition_cost")}),
        ("Pricing", {"fields": ("asking_price", "internet_price")}),
        ("Cost", {"fields": ("cost_breakdown",)}),
        (
            "Time on the lot",
            {"fields": ("days_in_stock", "available_on", "disposed_on", "wholesale_price")},
        ),
        ("Deals", {"fields": ("deals_list",)}),
        ("Notes", {"fields": ("notes",)}),
    )

    def delete_refusal(self, obj):
        return lot_services.unit_deletion_refusal(obj)

    def get_queryset(self, request):
        main_photo = StockUnitPhoto.objects.filter(unit=OuterRef("pk"), is_main=True).values(
            "image"
        )[:1]
        queryset = services.with_cost_totals(super().get_queryset(request))
        return queryset.annotate(
            main_photo=Subquery(main_photo),
            aging_threshold=Value(aging_threshold(request), output_field=IntegerField()),
        )

    def get_object(self, request, object_id, from_field=None):
        # The vehicle is shown, the costs listed twice (breakdown and inline): read once.
        queryset = self.get_queryset(request).select_related("vehicle").prefetch_related("costs")
        try:
            return queryset.get(pk=object_id)
        except (StockUnit.DoesNotExist, ValueError, TypeError):
            return None

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Moved between lots by the "Move to another lot" action, which keeps the history.
            fields += ["stock_number", "vehicle", "location"]
        if obj is not None and not obj.in_stock:
            # It left the lot: what it cost and was priced at is history (its deal's gross
            # was computed from it).
            fields += [
                "source",
                "acquired_from",
                "acquired_on",
                "acquisition_cost",
                "asking_price",
                "internet_price",
            ]
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = self.without_hidden(request, self.fieldsets)  # no lot in a single location
        if obj is None:  # adding: nothing to show about costs, time or deals yet
            return [fs for fs in fieldsets if fs[0] not in ("Cost", "Time on the lot", "Deals")]
        return fieldsets

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "location" and formfield is not None:
            formfield.queryset = formfield.queryset.filter(
                kind__in=[Location.Kind.LOT, Location.Kind.BOTH]
            )
        return formfield

    def get_search_results(self, request, queryset, search_term):
        if request.path.endswith("/autocomplete/"):
            # Picking a unit for a deal or a lead: only what is on the lot.
            queryset = queryset.filter(status__in=StockUnit.IN_STOCK)
        for word in search_term.split():
            # Each word: part of a stock number, or the unit's vehicle found by the vehicle
            # search (whole VIN, its last characters, plate) or by make or model. The vehicles
            # are found first, with their indexes, and the units by their vehicle's id (trigram
            # indexes on PostgreSQL: inventory migration 0004).
            vehicles = Vehicle.objects.search(word, owners=False)
            if word.isalpha():
                vehicles = Vehicle.objects.filter(
                    Q(pk__in=vehicles.values("pk"))
                    | Q(make__icontains=word)
                    | Q(model__icontains=word)
                )
            queryset = queryset.filter(
                Q(stock_number__icontains=word) | Q(vehicle__in=ids_or_subquery(vehicles))
            )
        return queryset, False

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        # The form already checked the fields; a refusal here is a race with another
        # acquisition, shown as a message (RefusalsAsMessages).
        lot_services.acquire_unit(obj)

    def save_formset(self, request, form, formset, change):
        if formset.model is StockUnitCost:
            for cost in formset.save(commit=False):
                if cost.recorded_by_id is None:
                    cost.recorded_by = request.user
                cost.save()
            for cost in formset.deleted_objects:
                cost.delete()
        elif formset.model is StockUnitPhoto:
            photos = formset.save(commit=False)
            for photo in formset.deleted_objects:
                photo.delete()
            main = next(
                (
                    f.instance
                    for f in formset.forms
                    if f.cleaned_data.get("is_main") and not f.cleaned_data.get("DELETE")
                ),
                None,
            )
            # Saved as normal photos first, so two main photos never exist even for a moment.
            for photo in photos:
                photo.is_main = False
                photo.save()
            if main is not None:
                lot_services.set_main_photo(main)
            lot_services.ensure_main_photo(form.instance)
        else:
            super().save_formset(request, form, formset, change)

    @admin.display(description="Photo")
    def photo(self, obj):
        if not obj.main_photo:
            return ""
        return format_html(
            '<img src="{}" alt="" style="height:36px">', default_storage.url(obj.main_photo)
        )

    @admin.display(description="Vehicle", ordering="vehicle__make")
    def vehicle_column(self, obj):
        return format_html("{}<br><small>{}</small>", obj.vehicle_label, obj.vehicle.vin)

    @admin.display(description="Days in stock", ordering="-acquired_on")
    def days_column(self, obj):
        days = obj.days_in_stock()
        if obj.is_aged(obj.aging_threshold):
            return format_html(
                '<strong class="aged" style="color:#ba2121" title="Over {} days">{} ⚠</strong>',
                obj.aging_threshold,
                days,
            )
        return days

    @admin.display(description="Asking price", ordering="asking_price")
    def price_column(self, obj):
        return amount_text(obj.asking_price)

    @admin.display(description="Total cost", ordering="total_cost")
    def total_cost_column(self, obj):
        return format_html(
            '<span title="acquisition {} + other {} + reconditioning {}">{}</span>',
            amount_text(obj.acquisition_cost),
            amount_text(obj.other_costs),
            amount_text(obj.reconditioning),
            amount_text(obj.total_cost),
        )

    @admin.display(description="Days in stock")
    def days_in_stock(self, obj):
        return obj.days_in_stock() if obj.pk else "—"

    @admin.display(description="Cost breakdown")
    def cost_breakdown(self, obj):
        if obj.pk is None:
            return "—"
        costs = services.UnitCosts(
            acquisition=obj.acquisition_cost,
            other=sum((cost.amount for cost in obj.costs.all()), ZERO),
            repair_orders=services.reconditioning_orders(obj),
        )
        rows = [{"label": "Acquisition", "amount": amount_text(costs.acquisition)}]
        rows += [
            {
                "label": cost.get_kind_display(),
                "detail": cost.description or cost.vendor,
                "amount": amount_text(cost.amount),
            }
            for cost in obj.costs.all()
        ]
        rows += [
            {
                "order": line.repair_order,
                "detail": f"{line.repair_order.get_status_display()}: parts "
                f"{amount_text(line.parts)}, labor {amount_text(line.labor)}",
                "amount": amount_text(line.total),
            }
            for line in costs.repair_orders
        ]
        return render_to_string(
            "admin/sales/stockunit/cost_breakdown.html",
            {
                "rows": rows,
                "reconditioning": amount_text(costs.reconditioning),
                "total": amount_text(costs.total),
            },
        )

    @admin.display(description="Deals")
    def deals_list(self, obj):
        if obj.pk is None:
            return "—"
        deals = obj.deals.select_related("buyer").order_by("-created_at")
        if not deals:
            return "None yet."
        return render_to_string("admin/sales/stockunit/deals.html", {"deals": deals})

    @admin.action(description="Start reconditioning", permissions=["change"])
    def start_reconditioning(self, request, queryset):
        self._move(request, queryset, StockUnit.Status.RECONDITIONING)

    @admin.action(description="Make available for sale", permissions=["change"])
    def make_available(self, request, queryset):
        self._move(request, queryset, StockUnit.Status.AVAILABLE)

    def _move(self, request, queryset, status):
        run_for_each(
            self,
            request,
            queryset,
            lambda unit: lot_services.move_unit(unit, status),
            summary=lambda done: (
                f"{len(done)} stock unit(s) now {StockUnit.Status(status).label.lower()}."
            ),
        )

    @admin.action(description="Move to another lot…", permissions=["change"])
    def move_to_lot(self, request, queryset):
        return run_action(
            self,
            request,
            queryset,
            form_class=move_form_for(request.user),
            title="Move stock units to another lot",
            explanation="The units, their costs and their history go to the lot chosen.",
            submit_label="Move",
            done="{count} unit(s) moved.",
            apply=lambda unit, to_location, note: lot_services.move_to_lot(
                unit, to_location, request.user, note=note
            ),
        )

    @admin.action(description="Wholesale…", permissions=["change"])
    def wholesale(self, request, queryset):
        return run_action(
            self,
            request,
            queryset,
            form_class=WholesaleForm,
            title="Wholesale stock units",
            explanation="These units leave the lot to another dealer or an auction.",
            submit_label="Wholesale",
            done="{count} unit(s) wholesaled.",
            apply=lambda unit, price: lot_services.wholesale_unit(unit, price),
        )
