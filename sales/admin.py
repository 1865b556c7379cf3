"""The car lot in the admin: stock units, leads, deals, commissions.

The stock unit admin lives here, not in inventory, because it shows what the service shop spent
reconditioning each unit (sales may read repairs; inventory may not). Every workflow step is an
action or a button that calls sales.services / inventory.lot_services; the admin adds no rules.
"""

from datetime import timedelta
from decimal import Decimal

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import Exists, IntegerField, OuterRef, Prefetch, Q, Subquery, Value
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from accounts import roles
from accounts.models import Customer, ShopSettings, User
from core.admin import (
    AddOnlyMixin,
    CarshopModelAdmin,
    EditableWhileParentAllows,
    IndexedRelatedOnlyListFilter,
    PrefetchedInlineFormSet,
    ids_or_subquery,
)
from inventory import lot_services
from inventory.exceptions import InventoryError
from inventory.models import StockUnit, StockUnitCost, StockUnitPhoto, Vehicle
from sales import services
from sales.forms import (
    ConfirmForm,
    DealForm,
    MainPhotoFormSet,
    ReasonForm,
    StockUnitForm,
    WholesaleForm,
)
from sales.models import (
    Commission,
    CommissionPlan,
    Deal,
    DealAddon,
    DealPayment,
    DealRefund,
    Lead,
    TradeIn,
)

ACTION_FORM_TEMPLATE = "admin/sales/action_form.html"


def _money(value):
    return "—" if value is None else f"{value:,.2f}"


def run_action(modeladmin, request, queryset, *, title, explanation, submit_label, apply,
               form_class=ConfirmForm, done="{count} done."):
    """An action that first asks (a reason, a price, or just a confirmation), then calls `apply`
    for each selected object and reports each refusal with its message."""
    form = form_class(request.POST if request.POST.get("apply") else None)
    if form.is_bound and form.is_valid():
        done_count = 0
        for obj in queryset:
            try:
                apply(obj, **form.cleaned_data)
            except (services.DealError, InventoryError) as exc:
                modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
            else:
                done_count += 1
        if done_count:
            modeladmin.message_user(request, done.format(count=done_count), messages.SUCCESS)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title, "explanation": explanation, "submit_label": submit_label,
        "objects": list(queryset), "form": form, "opts": modeladmin.model._meta,
        "action_name": request.POST.get("action"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "back_url": request.get_full_path(), "media": modeladmin.media + form.media,
    }
    return TemplateResponse(request, ACTION_FORM_TEMPLATE, context)


def aging_threshold(request):
    """The shop's aging threshold, read once per request."""
    if not hasattr(request, "_lot_aging_threshold"):
        request._lot_aging_threshold = ShopSettings.current().aging_threshold_days
    return request._lot_aging_threshold


def salespeople():
    return (User.objects.filter(is_active=True, is_staff=True)
            .filter(Q(groups__name__in=[roles.SALESPERSON, roles.MANAGER]) | Q(is_superuser=True))
            .distinct().order_by("first_name", "last_name", "username"))


# ---------------------------------------------------------------------------------------------
# Stock units
# ---------------------------------------------------------------------------------------------


class AgingFilter(admin.SimpleListFilter):
    """Units on the lot by days in stock; 'aged' is over the threshold in shop settings."""

    title = "days in stock"
    parameter_name = "aging"

    def lookups(self, request, model_admin):
        threshold = aging_threshold(request)
        return [("fresh", "30 days or less"), ("aging", f"31 to {threshold} days"),
                ("aged", f"over {threshold} days")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        threshold = aging_threshold(request)
        in_stock = queryset.filter(status__in=StockUnit.IN_STOCK)
        if self.value() == "fresh":
            return in_stock.filter(acquired_on__gte=today - timedelta(days=30))
        if self.value() == "aging":
            return in_stock.filter(acquired_on__lt=today - timedelta(days=30),
                                   acquired_on__gte=today - timedelta(days=threshold))
        if self.value() == "aged":
            return in_stock.filter(StockUnit.aged_on(today, threshold))
        return queryset


class StockUnitCostInline(admin.TabularInline):
    model = StockUnitCost
    formset = PrefetchedInlineFormSet  # the costs the page's cost breakdown loaded
    extra = 0
    fields = ("kind", "description", "vendor", "receipt_number", "receipt", "amount",
              "incurred_on")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        # One line per receipt, even on a laptop screen.
        widths = {"description": "9em", "vendor": "9em", "receipt_number": "7em",
                  "amount": "6em"}
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


# A unit may be deleted (entered by mistake) only while it is on the lot and on no deal.
UNIT_DELETABLE = (StockUnit.Status.ACQUIRED, StockUnit.Status.RECONDITIONING,
                  StockUnit.Status.AVAILABLE)


@admin.register(StockUnit)
class StockUnitAdmin(CarshopModelAdmin):
    form = StockUnitForm
    list_display = ("stock_number", "photo", "vehicle_column", "status", "days_column",
                    "price_column", "total_cost_column", "title_status")
    list_display_links = ("stock_number", "vehicle_column")
    list_filter = ("status", AgingFilter, "source", "title_status")
    list_select_related = ("vehicle",)
    search_fields = ("stock_number", "vehicle__make", "vehicle__model")
    search_help_text = "Stock number, VIN (or its last 6 or 8 characters), plate, make or model."
    ordering = ("acquired_on", "id")
    autocomplete_fields = ("vehicle",)
    inlines = (StockUnitCostInline, StockUnitPhotoInline)
    actions = ("start_reconditioning", "make_available", "wholesale")
    readonly_fields = ("status", "days_in_stock", "available_on", "disposed_on",
                       "wholesale_price", "cost_breakdown", "deals_list")
    fieldsets = (
        (None, {"fields": ("stock_number", "vehicle", "status", "title_status")}),
        ("Acquisition", {"fields": ("source", "acquired_from", "acquired_on",
                                    "acquisition_cost")}),
        ("Pricing", {"fields": ("asking_price", "internet_price")}),
        ("Cost", {"fields": ("cost_breakdown",)}),
        ("Time on the lot", {"fields": ("days_in_stock", "available_on", "disposed_on",
                                        "wholesale_price")}),
        ("Deals", {"fields": ("deals_list",)}),
        ("Notes", {"fields": ("notes",)}),
    )

    def delete_refusal(self, obj):
        if obj.status not in UNIT_DELETABLE or obj.deals.exists():
            return (f"{obj.stock_number} is {obj.get_status_display().lower()}"
                    f"{' and has deals' if obj.status in UNIT_DELETABLE else ''}: a unit is "
                    f"moved through its deals, wholesaled or returned, never deleted; only a "
                    f"unit entered by mistake, with no deal, is.")
        return None

    def get_queryset(self, request):
        main_photo = StockUnitPhoto.objects.filter(unit=OuterRef("pk"), is_main=True).values(
            "image")[:1]
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
            fields += ["stock_number", "vehicle"]
        if obj is not None and not obj.in_stock:
            # It left the lot: what it cost and was priced at is history (its deal's gross
            # was computed from it).
            fields += ["source", "acquired_from", "acquired_on", "acquisition_cost",
                       "asking_price", "internet_price"]
        return fields

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # adding: nothing to show about costs, time or deals yet
            return [fs for fs in self.fieldsets if fs[0] not in ("Cost", "Time on the lot",
                                                                 "Deals")]
        return self.fieldsets

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
                    Q(pk__in=vehicles.values("pk")) | Q(make__icontains=word)
                    | Q(model__icontains=word))
            queryset = queryset.filter(Q(stock_number__icontains=word)
                                       | Q(vehicle__in=ids_or_subquery(vehicles)))
        return queryset, False

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        try:
            lot_services.acquire_unit(obj)
        except InventoryError as exc:
            # The form already checked the fields; this is a race with another acquisition.
            raise PermissionDenied(str(exc)) from exc

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
            main = next((f.instance for f in formset.forms if f.cleaned_data.get("is_main")
                         and not f.cleaned_data.get("DELETE")), None)
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
        return format_html('<img src="{}" alt="" style="height:36px">',
                           default_storage.url(obj.main_photo))

    @admin.display(description="Vehicle", ordering="vehicle__make")
    def vehicle_column(self, obj):
        return format_html("{}<br><small>{}</small>", obj.vehicle_label, obj.vehicle.vin)

    @admin.display(description="Days in stock", ordering="-acquired_on")
    def days_column(self, obj):
        days = obj.days_in_stock()
        if obj.is_aged(obj.aging_threshold):
            return format_html('<strong class="aged" style="color:#ba2121" title="Over {} days">'
                               '{} ⚠</strong>', obj.aging_threshold, days)
        return days

    @admin.display(description="Asking price", ordering="asking_price")
    def price_column(self, obj):
        return _money(obj.asking_price)

    @admin.display(description="Total cost", ordering="total_cost")
    def total_cost_column(self, obj):
        return format_html('<span title="acquisition {} + other {} + reconditioning {}">{}</span>',
                           _money(obj.acquisition_cost), _money(obj.other_costs),
                           _money(obj.reconditioning), _money(obj.total_cost))

    @admin.display(description="Days in stock")
    def days_in_stock(self, obj):
        return obj.days_in_stock() if obj.pk else "—"

    @admin.display(description="Cost breakdown")
    def cost_breakdown(self, obj):
        if obj.pk is None:
            return "—"
        costs = services.UnitCosts(
            acquisition=obj.acquisition_cost,
            other=sum((cost.amount for cost in obj.costs.all()), Decimal("0.00")),
            repair_orders=services.reconditioning_orders(obj))
        rows = [("Acquisition", "", costs.acquisition)]
        rows += [(cost.get_kind_display(), cost.description or cost.vendor, cost.amount)
                 for cost in obj.costs.all()]
        for line in costs.repair_orders:
            order = line.repair_order
            url = reverse("admin:repairs_repairorder_change", args=[order.pk])
            rows.append((format_html('Reconditioning <a href="{}">{}</a>', url, order),
                         f"{order.get_status_display()}: parts {_money(line.parts)}, "
                         f"labor {_money(line.labor)}", line.total))
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td style='text-align:right'>"
                                    "{}</td></tr>",
                                ((label, detail, _money(amount)) for label, detail, amount in rows))
        return format_html(
            "<table class='cost-breakdown'>{}<tr><td>Reconditioning total</td><td></td>"
            "<td style='text-align:right'>{}</td></tr><tr><th>Total cost</th><th></th>"
            "<th style='text-align:right'>{}</th></tr></table>",
            body, _money(costs.reconditioning), _money(costs.total))

    @admin.display(description="Deals")
    def deals_list(self, obj):
        if obj.pk is None:
            return "—"
        deals = obj.deals.select_related("buyer").order_by("-created_at")
        if not deals:
            return "None yet."
        return format_html_join(
            "", '<div><a href="{}">{}</a> {} — {}</div>',
            ((reverse("admin:sales_deal_change", args=[d.pk]), d.number,
              d.get_status_display(), d.buyer) for d in deals))

    @admin.action(description="Start reconditioning", permissions=["change"])
    def start_reconditioning(self, request, queryset):
        self._move(request, queryset, StockUnit.Status.RECONDITIONING)

    @admin.action(description="Make available for sale", permissions=["change"])
    def make_available(self, request, queryset):
        self._move(request, queryset, StockUnit.Status.AVAILABLE)

    def _move(self, request, queryset, status):
        moved = 0
        for unit in queryset:
            try:
                lot_services.move_unit(unit, status)
                moved += 1
            except InventoryError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        if moved:
            self.message_user(request, f"{moved} stock unit(s) now "
                                       f"{StockUnit.Status(status).label.lower()}.",
                              messages.SUCCESS)

    @admin.action(description="Wholesale…", permissions=["change"])
    def wholesale(self, request, queryset):
        return run_action(
            self, request, queryset, form_class=WholesaleForm, title="Wholesale stock units",
            explanation="These units leave the lot to another dealer or an auction.",
            submit_label="Wholesale", done="{count} unit(s) wholesaled.",
            apply=lambda unit, price: lot_services.wholesale_unit(unit, price),
        )


# ---------------------------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------------------------


class FollowUpFilter(admin.SimpleListFilter):
    title = "follow-up"
    parameter_name = "follow_up"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("today", "Today"), ("week", "Next 7 days"),
                ("none", "Not scheduled")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        open_leads = queryset.filter(status__in=Lead.OPEN)
        match self.value():
            case "overdue":
                return open_leads.filter(next_follow_up__lt=today)
            case "today":
                return open_leads.filter(next_follow_up=today)
            case "week":
                return open_leads.filter(next_follow_up__gt=today,
                                         next_follow_up__lte=today + timedelta(days=7))
            case "none":
                return open_leads.filter(next_follow_up__isnull=True)
        return queryset


@admin.register(Lead)
class LeadAdmin(CarshopModelAdmin):
    list_display = ("customer_column", "status", "unit_column", "salesperson",
                    "follow_up_column")
    list_filter = ("status", FollowUpFilter, "source",
                   ("salesperson", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("customer", "stock_unit__vehicle", "salesperson")
    search_fields = ("customer__display_name", "customer__phone", "customer__email",
                     "stock_unit__stock_number", "source_reference")
    search_help_text = "Customer name, phone or email, stock number, marketplace lead id."
    autocomplete_fields = ("customer", "stock_unit")
    readonly_fields = ("lost_reason", "created_at", "partner", "message")
    actions = ("assign_to_me", "mark_lost")

    def delete_refusal(self, obj):
        if obj.status not in Lead.OPEN:
            return (f"The lead of {obj.customer} is {obj.get_status_display().lower()}: it stays "
                    f"for the sales history; only an open lead is deleted (or marked lost).")
        return None
    fieldsets = (
        (None, {"fields": ("customer", "source", "source_reference", "stock_unit", "partner",
                           "message")}),
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
            kwargs["choices"] = [(v, label) for v, label in Lead.Status.choices
                                 if v in Lead.OPEN]
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
        return format_html("{}<br><small>{} · {}</small>", obj.customer, obj.get_source_display(),
                           timezone.localtime(obj.created_at).date().isoformat())

    @admin.display(description="Stock unit of interest", ordering="stock_unit__stock_number")
    def unit_column(self, obj):
        if obj.stock_unit is None:
            return "—"
        return format_html("{}<br><small>{}</small>", obj.stock_unit.stock_number,
                           obj.stock_unit.vehicle_label)

    @admin.display(description="Next follow-up", ordering="next_follow_up")
    def follow_up_column(self, obj):
        if obj.next_follow_up is None:
            return "—"
        if obj.status in Lead.OPEN and obj.next_follow_up < timezone.localdate():
            return format_html('<strong style="color:#ba2121" title="Overdue">{} ⚠</strong>',
                               date_format(obj.next_follow_up))
        return obj.next_follow_up

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        assigned = 0
        for lead in queryset:
            try:
                services.assign_lead(lead, request.user)
                assigned += 1
            except services.DealError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        if assigned:
            self.message_user(request, f"{assigned} lead(s) assigned to you.", messages.SUCCESS)

    @admin.action(description="Mark lost…", permissions=["change"])
    def mark_lost(self, request, queryset):
        return run_action(self, request, queryset, form_class=ReasonForm,
                          title="Mark leads lost", explanation="These leads are closed as lost.",
                          submit_label="Mark lost", done="{count} lead(s) marked lost.",
                          apply=lambda lead, reason: services.mark_lead_lost(lead, reason=reason))


# ---------------------------------------------------------------------------------------------
# Deals
# ---------------------------------------------------------------------------------------------


class DraftOnlyInline(EditableWhileParentAllows, admin.TabularInline):
    """Rows that are part of what the buyer signs: editable while the deal is a draft."""

    extra = 0

    def parent_editable(self, obj):
        return obj is None or obj.is_draft


class TradeInInline(DraftOnlyInline):
    model = TradeIn
    formset = PrefetchedInlineFormSet  # the trade-ins the deal's figures were computed from
    fields = ("vehicle", "odometer", "allowance", "payoff", "payoff_lender",
              "actual_cash_value", "stock_unit_link")
    readonly_fields = ("stock_unit_link",)
    autocomplete_fields = ("vehicle",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("vehicle", "stock_unit")

    @admin.display(description="Stock unit")
    def stock_unit_link(self, obj):
        if obj.stock_unit_id is None:
            return "On delivery"
        return format_html('<a href="{}">{}</a>',
                           reverse("admin:inventory_stockunit_change", args=[obj.stock_unit_id]),
                           obj.stock_unit.stock_number)


class DealAddonInline(DraftOnlyInline):
    model = DealAddon
    formset = PrefetchedInlineFormSet  # the add-ons the deal's figures were computed from
    fields = ("kind", "description", "price", "cost", "taxable")


class DealPaymentInline(AddOnlyMixin, admin.TabularInline):
    """Payments are money received: added (through the service), never edited or deleted."""

    model = DealPayment
    formset = PrefetchedInlineFormSet  # the payments the figures panel adds up
    extra = 0
    fields = ("received_at", "amount", "method", "reference", "received_by")
    readonly_fields = ("received_by",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("received_by")

    def has_add_permission(self, request, obj=None):
        open_deal = obj is None or obj.status in (Deal.Status.DRAFT, Deal.Status.SIGNED)
        return open_deal and super().has_add_permission(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.base_fields["received_at"].initial = timezone.now
        return formset


class DealRefundInline(AddOnlyMixin, admin.TabularInline):
    """Money given back once a deal is canceled or unwound: added (through the service, which
    caps refunds at the payments received), never edited or deleted."""

    model = DealRefund
    formset = PrefetchedInlineFormSet  # the refunds the figures panel adds up
    extra = 0
    fields = ("refunded_at", "amount", "method", "reference", "refunded_by")
    readonly_fields = ("refunded_by",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("refunded_by")

    def has_add_permission(self, request, obj=None):
        fell_through = obj is not None and obj.status in services.REFUNDABLE
        return fell_through and super().has_add_permission(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.base_fields["refunded_at"].initial = timezone.now
        return formset


class CommissionInline(admin.TabularInline):
    model = Commission
    extra = 0
    fields = ("recorded_at", "salesperson", "kind", "plan_name", "gross", "rate", "amount")
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("salesperson")
        if not request.user.has_perm("sales.view_all_commissions"):
            queryset = queryset.filter(salesperson=request.user)
        return queryset

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


DEAL_STEPS = {
    # name: (label, service call, needs a reason, permission, statuses it starts from)
    "sign": ("Sign", lambda deal, **_: services.sign_deal(deal), False, "change",
             (Deal.Status.DRAFT,)),
    "deliver": ("Deliver", lambda deal, **_: services.deliver_deal(deal), False, "change",
                (Deal.Status.SIGNED,)),
    "cancel": ("Cancel", lambda deal, reason: services.cancel_deal(deal, reason=reason), True,
               "change", (Deal.Status.DRAFT, Deal.Status.SIGNED)),
    "unwind": ("Unwind", lambda deal, reason: services.unwind_deal(deal, reason=reason), True,
               "unwind", (Deal.Status.DELIVERED,)),
}
STEP_EXPLANATIONS = {
    "sign": "The buyer signed: the figures are frozen and the stock unit is reserved.",
    "deliver": "The buyer takes the car: the unit is sold, trade-ins enter stock at their actual "
               "cash value, the gross is frozen and the commission recorded.",
    "cancel": "The deal falls through; a reserved unit goes back on sale.",
    "unwind": "The sale is taken back: the unit returns to stock, trade-ins go back to their "
              "owner and the commission is charged back.",
}


@admin.register(Deal)
class DealAdmin(CarshopModelAdmin):
    form = DealForm
    list_display = ("number_column", "unit_column", "buyer", "salesperson", "price_column",
                    "gross_column", "date_column")
    list_display_links = ("number_column", "unit_column")
    list_filter = ("status", ("salesperson", IndexedRelatedOnlyListFilter), "delivered_at",
                   "lead__source")
    list_select_related = ("stock_unit__vehicle", "buyer", "salesperson")
    search_fields = ("buyer__display_name", "co_buyer__display_name", "buyer__phone",
                     "stock_unit__stock_number")
    search_help_text = "Deal number (D-123), buyer, stock number or VIN."
    autocomplete_fields = ("stock_unit", "buyer", "co_buyer", "lead")
    inlines = (TradeInInline, DealAddonInline, DealPaymentInline, DealRefundInline,
               CommissionInline)
    actions = ("sign", "deliver", "cancel", "unwind")
    fieldsets = (
        (None, {"fields": ("status", "stock_unit", "buyer", "co_buyer", "salesperson", "lead")}),
        ("Price", {"fields": ("sale_price", "documentation_fee", "registration_fee",
                              "down_payment")}),
        ("Financing", {"fields": ("lender", "apr", "term_months", "finance_reserve")}),
        ("Figures", {"fields": ("figures_panel",)}),
        ("History", {"fields": ("signed_at", "delivered_at", "closed_at", "close_reason")}),
        ("Notes", {"fields": ("notes",)}),
    )
    readonly_fields = ("status", "figures_panel", "signed_at", "delivered_at", "closed_at",
                       "close_reason")
    terms_fields = ("stock_unit", "buyer", "co_buyer", "salesperson", "lead", "sale_price",
                    "documentation_fee", "registration_fee", "down_payment", "lender", "apr",
                    "term_months", "finance_reserve")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not obj.is_draft:
            fields += self.terms_fields
        return fields

    def delete_refusal(self, obj):
        if not obj.is_draft:
            return (f"{obj.number} is {obj.get_status_display().lower()}: a deal past draft is "
                    f"canceled (Cancel…) or unwound, never deleted, so its stock unit and "
                    f"money stay accounted for. Only a draft is deleted.")
        return None

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [fs for fs in self.fieldsets if fs[0] not in ("Figures", "History")]
        return self.fieldsets

    def get_changeform_initial_data(self, request):
        shop = ShopSettings.current()
        return {"salesperson": request.user.pk, "documentation_fee": shop.documentation_fee,
                "registration_fee": shop.registration_fee,
                **super().get_changeform_initial_data(request)}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "salesperson":
            kwargs["queryset"] = salespeople()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        number = search_term.strip().upper()
        if number.startswith("D") and number.removeprefix("D-").removeprefix("D").isdigit():
            return queryset.filter(pk=int(number.removeprefix("D-").removeprefix("D"))), False
        term = search_term.strip()
        if not term:
            return queryset, False
        # The buyers (name, phone, email) and the units (stock number, VIN, plate) are found
        # first, each with its own indexes; the deals then by their foreign keys. A name is
        # looked for among buyers only, a VIN or stock number among units only.
        # A bare number may be a deal number, the end of a VIN or part of a phone number.
        condition = Q(pk=int(term)) if term.isdigit() and len(term) < 10 else Q(pk__in=[])
        digits = sum(char.isdigit() for char in term)
        phone = digits >= 3 and all(char.isdigit() or char in "()+-./ " for char in term)
        if not digits or phone:
            # Only customers who are on a deal: a common surname matches hundreds of customers,
            # most of whom never bought a car, and the deals of the few who did are then found
            # through the buyer and co-buyer indexes rather than by reading every deal.
            on_a_deal = (Exists(Deal.objects.filter(buyer=OuterRef("pk")))
                         | Exists(Deal.objects.filter(co_buyer=OuterRef("pk"))))
            buyers = ids_or_subquery(Customer.objects.search(term).filter(on_a_deal))
            condition |= Q(buyer__in=buyers) | Q(co_buyer__in=buyers)
        if digits:
            vehicles = ids_or_subquery(Vehicle.objects.search(term, owners=False))
            units = StockUnit.objects.filter(Q(stock_number__icontains=term)
                                             | Q(vehicle__in=vehicles))
            condition |= Q(stock_unit__in=ids_or_subquery(units))
        return queryset.filter(condition), False

    def save_model(self, request, obj, form, change):
        try:
            if not change:
                services.open_deal(obj)
            elif obj.is_draft:
                services.update_draft(obj)
            else:
                obj.save(update_fields=["notes", "updated_at"])
        except services.DealError as exc:
            raise PermissionDenied(str(exc)) from exc

    def save_formset(self, request, form, formset, change):
        if formset.model not in (DealPayment, DealRefund):
            return super().save_formset(request, form, formset, change)
        for row in formset.save(commit=False):
            try:
                if isinstance(row, DealPayment):
                    services.record_payment(form.instance, amount=row.amount, method=row.method,
                                            reference=row.reference,
                                            received_at=row.received_at, user=request.user)
                else:
                    services.record_refund(form.instance, amount=row.amount, method=row.method,
                                           reference=row.reference,
                                           refunded_at=row.refunded_at, user=request.user)
            except services.DealError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        return None

    def get_object(self, request, object_id, from_field=None):
        """The deal with what its page shows in one go (unit, vehicle, people; trade-ins, add-ons
        and payments, also read by the figures panel), once per request."""
        cached = getattr(request, "_carshop_deal", None)
        if cached is not None and cached[0] == object_id:
            return cached[1]
        queryset = (self.get_queryset(request)
                    .select_related("stock_unit__vehicle", "buyer", "co_buyer", "salesperson",
                                    "lead__customer")
                    .prefetch_related(
                        Prefetch("trade_ins", queryset=TradeIn.objects.select_related(
                            "vehicle", "stock_unit")),
                        "addons",
                        Prefetch("payments", queryset=DealPayment.objects.select_related(
                            "received_by")),
                        Prefetch("refunds", queryset=DealRefund.objects.select_related(
                            "refunded_by"))))
        try:
            deal = queryset.get(pk=object_id)
        except (Deal.DoesNotExist, ValueError, TypeError):
            deal = None
        request._carshop_deal = (object_id, deal)
        return deal

    def change_view(self, request, object_id, form_url="", extra_context=None):
        deal = self.get_object(request, object_id)
        steps = []
        if deal is not None:
            steps = [{"name": name, "label": label}
                     for name, (label, _, _, perm, starts) in DEAL_STEPS.items()
                     if deal.status in starts and self._may(request, perm)]
        return super().change_view(request, object_id, form_url,
                                   {"deal_steps": steps, **(extra_context or {})})

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/buyers-order/",
                 self.admin_site.admin_view(self.buyers_order_view),
                 name="{}_{}_buyers_order".format(*info)),
            path("<path:object_id>/step/<slug:step>/",
                 self.admin_site.admin_view(self.step_view), name="{}_{}_step".format(*info)),
            *super().get_urls(),
        ]

    def buyers_order_view(self, request, object_id):
        deal = self.get_object(request, object_id)
        if deal is None:
            raise Http404("No such deal.")
        if not self.has_view_permission(request, deal):
            raise PermissionDenied
        deal = Deal.objects.select_related("buyer", "co_buyer", "salesperson",
                                           "stock_unit__vehicle").get(pk=deal.pk)
        context = {
            "deal": deal, "shop": ShopSettings.current(),
            "f": services.figures(deal, unit_cost=0),
            "trade_ins": list(deal.trade_ins.select_related("vehicle")),
            "addons": list(deal.addons.all()), "paid": services.payments_received(deal),
            "order_date": (deal.signed_at or timezone.now()),
        }
        return TemplateResponse(request, "sales/buyers_order.html", context)

    def step_view(self, request, object_id, step):
        deal = self.get_object(request, object_id)
        if deal is None or step not in DEAL_STEPS:
            raise Http404("No such deal or step.")
        label, call, needs_reason, perm, _ = DEAL_STEPS[step]
        if not self._may(request, perm):
            raise PermissionDenied
        change_url = reverse("admin:sales_deal_change", args=[deal.pk])
        form_class = ReasonForm if needs_reason else ConfirmForm
        form = form_class(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                call(deal, **form.cleaned_data)
            except services.DealError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{deal.number} is now "
                                           f"{deal.get_status_display().lower()}.",
                                  messages.SUCCESS)
                self._remind_of_money_held(request, deal)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{label} {deal.number}", "explanation": STEP_EXPLANATIONS[step],
            "submit_label": label, "objects": [deal], "form": form, "opts": self.opts,
            "back_url": change_url, "media": self.media + form.media,
        }
        return TemplateResponse(request, ACTION_FORM_TEMPLATE, context)

    def _remind_of_money_held(self, request, deal):
        if deal.status in services.REFUNDABLE and (held := services.money_held(deal)) > 0:
            self.message_user(request, f"{deal.number} holds {held:,.2f} of the buyer's money: "
                                       "record the refund under Refunds.", messages.WARNING)

    def _may(self, request, perm):
        return request.user.has_perm(f"sales.{perm}_deal")

    def has_unwind_permission(self, request):
        return self._may(request, "unwind")

    def _step_action(self, request, queryset, step):
        label, call, needs_reason, _, _ = DEAL_STEPS[step]

        def apply(deal, **data):
            call(deal, **data)
            self._remind_of_money_held(request, deal)

        return run_action(self, request, queryset,
                          form_class=ReasonForm if needs_reason else ConfirmForm,
                          title=f"{label} deals", explanation=STEP_EXPLANATIONS[step],
                          submit_label=label, apply=apply,
                          done="{count} deal(s): " + label.lower() + " done.")

    @admin.action(description="Sign…", permissions=["change"])
    def sign(self, request, queryset):
        return self._step_action(request, queryset, "sign")

    @admin.action(description="Deliver…", permissions=["change"])
    def deliver(self, request, queryset):
        return self._step_action(request, queryset, "deliver")

    @admin.action(description="Cancel…", permissions=["change"])
    def cancel(self, request, queryset):
        return self._step_action(request, queryset, "cancel")

    @admin.action(description="Unwind…", permissions=["unwind"])
    def unwind(self, request, queryset):
        return self._step_action(request, queryset, "unwind")

    @admin.display(description="Deal", ordering="id")
    def number_column(self, obj):
        return format_html("{}<br><small>{}</small>", obj.number, obj.get_status_display())

    @admin.display(description="Stock unit", ordering="stock_unit__stock_number")
    def unit_column(self, obj):
        return format_html("{}<br><small>{}</small>", obj.stock_unit.stock_number,
                           obj.stock_unit.vehicle_label)

    @admin.display(description="Sale price", ordering="sale_price")
    def price_column(self, obj):
        return _money(obj.sale_price)

    @admin.display(description="Total gross")
    def gross_column(self, obj):
        return _money(obj.total_gross)

    @admin.display(description="Date", ordering="signed_at")
    def date_column(self, obj):
        moment, what = ((obj.delivered_at, "delivered") if obj.delivered_at
                        else (obj.signed_at, "signed") if obj.signed_at
                        else (obj.created_at, "written up"))
        return format_html("{}<br><small>{}</small>",
                           timezone.localtime(moment).date().isoformat(), what)

    @admin.display(description="Figures")
    def figures_panel(self, obj):
        if obj.pk is None:
            return "—"
        # A delivered deal's unit cost is frozen: no need to read the unit's costs again.
        f = services.figures(obj, unit_cost=obj.unit_cost)
        received = sum((payment.amount for payment in obj.payments.all()), Decimal("0.00"))
        refunded = sum((refund.amount for refund in obj.refunds.all()), Decimal("0.00"))
        rows = [
            ("Sale price", f.sale_price), ("Add-ons", f.addons), ("Fees", f.fees),
            (f"Sales tax ({obj.sales_tax_rate:.3f}% on {f.taxable_amount:,.2f})", f.sales_tax),
            ("Total price", f.total_price), ("Trade-in allowance", f.trade_allowance),
            ("Trade-in payoff", f.trade_payoff), ("Down payment", f.down_payment),
            ("Amount financed", f.amount_financed), ("Monthly payment", f.monthly_payment),
            ("Cash due from buyer", f.cash_due),
            ("Payments received", received),
            *((("Refunded", refunded), ("Held for the buyer", received - refunded))
              if refunded or obj.status in services.REFUNDABLE else ()),
            ("Unit total cost" + (" (at delivery)" if obj.unit_cost is not None else ""),
             obj.unit_cost if obj.unit_cost is not None else f.unit_cost),
            ("Trade over-allowance", f.trade_over_allowance),
            ("Front gross", obj.front_gross if obj.front_gross is not None else f.front_gross),
            ("Back gross", obj.back_gross if obj.back_gross is not None else f.back_gross),
            ("Total gross", obj.total_gross if obj.total_gross is not None else f.total_gross),
        ]
        body = format_html_join("", "<tr><td>{}</td><td style='text-align:right'>{}</td></tr>",
                                ((label, _money(value)) for label, value in rows))
        return format_html("<table class='deal-figures'>{}</table>", body)


# ---------------------------------------------------------------------------------------------
# Commissions
# ---------------------------------------------------------------------------------------------


@admin.register(Commission)
class CommissionAdmin(CarshopModelAdmin):
    """Read-only: commissions are recorded by delivering and unwinding deals. A salesperson sees
    their own; a manager (sales.view_all_commissions) sees everyone's."""

    list_display = ("date_column", "salesperson", "deal_column", "kind", "gross_column",
                    "amount_column")
    list_select_related = ("salesperson", "deal")
    search_fields = ("deal__buyer__display_name", "deal__stock_unit__stock_number")
    fields = ("recorded_at", "salesperson", "deal", "kind", "plan_name", "gross", "rate",
              "minimum", "amount")
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
        return format_html('<a href="{}">{}</a>',
                           reverse("admin:sales_deal_change", args=[obj.deal_id]), obj.deal)

    @admin.display(description="Gross", ordering="gross")
    def gross_column(self, obj):
        return _money(obj.gross)

    @admin.display(description="Commission", ordering="amount")
    def amount_column(self, obj):
        return _money(obj.amount)

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

