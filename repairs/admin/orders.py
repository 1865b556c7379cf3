"""Repair orders, their jobs, labor and part lines, technicians' time and the orders' history."""

import datetime
import functools
from decimal import Decimal
from typing import ClassVar
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections
from django.db.models import Model, OuterRef, Prefetch, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Concat, JSONObject, NullIf, Trim
from django.forms.renderers import get_default_renderer
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from nested_admin.formsets import NestedInlineFormSetMixin
from nested_admin.nested import (
    NestedModelAdminMixin,
    NestedStackedInlineMixin,
    NestedTabularInlineMixin,
)

from accounts.admin_exports import RoleExportMixin
from accounts.locations import allowed_location_ids, location_count, selected_location_ids
from accounts.models import Customer, ShopSettings
from accounts.price_hiding import PriceHidingMixin
from accounts.roles import SERVICE_ADVISOR, TECHNICIAN, sees_prices
from core.admin import (
    CarshopModelAdmin,
    EditableWhileParentAllows,
    PrefetchedInlineFormSet,
    ReadOnlyMixin,
)
from core.admin_actions import RefusalsAsMessages, run_for_each, run_service
from core.hours import hours_text
from core.money import ZERO
from inventory.admin.common import CostHidingMixin
from inventory.admin.parts import chosen_stock_location
from inventory.models import Part, Vehicle, stock_at
from inventory.pricing import matrix_snapshot
from repairs import links, order_page, services, views
from repairs.admin import board
from repairs.admin.common import (
    CustomerVehicleSearchMixin,
    PlainLabel,
    QuickRenderer,
    QuickSelect,
    ShopFloorLocationAdmin,
    adopt,
    get_or_none,
    lookup_fields,
    run_action,
    staff_choices,
    technician_only,
)
from repairs.choices import (
    EDITABLE_STATUSES,
    OPEN_STATUSES,
    Authorization,
    AuthorizationMethod,
    RepairOrderStatus,
)
from repairs.documents import decision_text, order_totals
from repairs.exceptions import RepairError
from repairs.models import (
    CannedJob,
    Invoice,
    Job,
    LaborLine,
    PartLine,
    RepairOrder,
    RepairOrderEvent,
    TimeEntry,
)
from repairs.resources import RepairOrderResource
from repairs.services import default_part_price
from repairs.totals import Rates
from repairs.workflow import REPAIR_ORDER_PIPELINE

# --------------------------------------------------------------------------------------------
# Repair orders
# --------------------------------------------------------------------------------------------


class AdvisorFilter(admin.SimpleListFilter):
    title = "advisor"
    parameter_name = "advisor"

    def lookups(self, request, model_admin):
        # The advisors of the locations the list shows.
        advisors = staff_choices(SERVICE_ADVISOR, selected_location_ids(request))
        return [(pk, label) for pk, label in advisors if pk]

    def queryset(self, request, queryset):
        # A pk typed in the address is a string; the counts under "Show counts" pass each
        # lookup's own value, an int.
        value = str(self.value() or "")
        if value.isdigit():
            return queryset.filter(advisor_id=value)
        return queryset


RECOMMENDATIONS_SHOWN = 10


def payment_url(invoice):
    """The payment form for an invoice, the invoice chosen and its balance filled in."""
    balance = services.invoice_balance(invoice)
    query = urlencode({"invoice": invoice.pk, "amount": balance})
    return f"{reverse('admin:repairs_payment_add')}?{query}"


def _moment(value):
    return datetime.datetime.fromisoformat(value) if isinstance(value, str) else value


def _status_label(value):
    return RepairOrderStatus(value).label if value else ""


# Who may record a customer's decision on jobs (approved, declined, in person or by phone): the
# people who write the jobs' lines.
DECIDE_PERMISSION = "repairs.change_laborline"


def _ids(values):
    return [int(value) for value in values if value.isdigit() and len(value) < 12]


def _decimal_or_none(value):
    try:
        number = Decimal(value)
    except (TypeError, ArithmeticError):
        return None
    return number if number.is_finite() else None


def _shop_settings(obj):
    """The shop's settings as the page read them with the order (get_object), or now."""
    found = getattr(obj, "shop_settings", None)
    return found if found is not None else ShopSettings.of(obj.location_id)


def _with_history_and_recommendations(queryset):
    """PostgreSQL: the order's status history and the work declined earlier on its vehicle come
    with the order itself, as arrays of JSON rows (one statement instead of three)."""
    from django.contrib.postgres.expressions import ArraySubquery

    user_name = Coalesce(
        NullIf(Trim(Concat("user__first_name", Value(" "), "user__last_name")), Value("")),
        "user__username",
        Value(""),
    )
    events = (
        RepairOrderEvent.objects.filter(repair_order=OuterRef("pk"))
        .order_by("at", "id")
        .values(
            row=JSONObject(
                at="at",
                from_status="from_status",
                to_status="to_status",
                user=user_name,
                note="note",
            )
        )
    )
    declined = (
        Job.objects.recommendations()
        .filter(repair_order__vehicle=OuterRef("vehicle_id"))
        .exclude(repair_order=OuterRef("pk"))
        .order_by("-authorized_at", "-id")
        .values(row=JSONObject(title="title", number="repair_order__number", at="authorized_at"))[
            :RECOMMENDATIONS_SHOWN
        ]
    )
    return queryset.annotate(
        history_rows=ArraySubquery(events), recommendation_rows=ArraySubquery(declined)
    )


class HoursInput(forms.NumberInput):
    """Hours in a labor line's box as people write them: 0.7, not 0.70."""

    def format_value(self, value):
        if value in (None, ""):
            return None
        try:
            return hours_text(value)
        except ArithmeticError:
            return super().format_value(value)


class LaborLineInline(EditableWhileParentAllows, PriceHidingMixin, admin.TabularInline):
    model: type[Model] = LaborLine
    extra = 1
    fields: ClassVar[tuple[str, ...]] = ("operation", "hours_sold", "rate", "technician", "amount")
    readonly_fields: ClassVar[tuple[str, ...]] = ("amount",)
    price_fields = ("rate", "amount")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("technician")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "hours_sold":
            kwargs["widget"] = HoursInput(attrs={"step": "0.01"})
        elif db_field.name == "technician":
            # In every row of every job on the order's page: written in one pass.
            kwargs["widget"] = QuickSelect
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        editable = self.has_change_permission(request, obj) or self.has_add_permission(request, obj)
        if editable and "technician" in formset.form.base_fields:
            # Read once per request: the order's page has a labor table per job. Not read
            # where the lines are only shown (a closed order): the select is not on the page.
            # The technicians of the order's location (the page's order, get_object; a new
            # order: the user's locations).
            order = obj.repair_order if obj is not None and obj.pk else None
            location = order.location_id if order else getattr(request, "_repairs_location", None)
            locations = frozenset({location}) if location else allowed_location_ids(request.user)
            technicians = request.__dict__.setdefault("_repairs_technicians", {})
            if locations not in technicians:
                technicians[locations] = staff_choices(TECHNICIAN, locations)
            formset.form.base_fields["technician"].choices = technicians[locations]
            rate = formset.form.base_fields.get("rate")
            if rate is not None:
                rate.initial = self._default_rate(request, obj)
        return formset

    def _default_rate(self, request, job):
        """The rate a new line starts with (internal orders: at cost), read once per page."""
        order_id = job.repair_order_id if job is not None else None
        rates = request.__dict__.setdefault("_repairs_default_rates", {})
        if order_id not in rates:
            rates[order_id] = (
                services.default_labor_rate(job.repair_order, _shop_settings(job.repair_order))
                if order_id
                else ShopSettings.current().labor_rate
            )
        return rates[order_id]

    @admin.display(description="amount")
    def amount(self, line):
        return f"{line.amount:.2f}" if line.pk else "-"

    def parent_editable(self, obj):
        # The job (its own page, or a job on the order's page), or the order itself.
        if isinstance(obj, Job):
            if obj.repair_order_id is None:
                return True
            obj = obj.repair_order
        return obj is None or obj.status in EDITABLE_STATUSES


class PartLineForm(forms.ModelForm):
    class Meta:
        model = PartLine
        fields = ("part", "quantity", "price")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "part" in self.fields:
            field = self.fields["part"]
            field.disabled = True
            field.widget = PlainLabel(str(self.instance.part))
            field.help_text = ""
        if "price" in self.fields:
            self.fields["price"].required = False
            self.fields["price"].help_text = "Empty: the part's selling price."


def part_lines_with_stock():
    """Part lines with their part, and its stock and bin at the order's location (stock_at):
    what the order's page shows and the start of work will issue from."""
    return PartLine.objects.select_related("part").annotate(
        **stock_at(OuterRef("job__repair_order__location"), part="part")
    )


def part_picker_label(part, *, prices):
    """A part as the picker offers it: SKU and description, stock on hand (at the person's
    location in a group, when annotated by stock_at), price, bin; a special order when none is
    in stock."""
    on_hand = getattr(part, "on_hand_here", part.on_hand)
    place = getattr(part, "bin_here", part.bin_location)
    bits = [str(part)]
    bits.append(f"{on_hand} on hand" if on_hand > 0 else "none in stock: special order")
    if prices:
        bits.append(str(default_part_price(part)))
    if place:
        bits.append(f"bin {place}")
    return " · ".join(bits)


class PartPickerView(AutocompleteJsonView):
    """The admin's autocomplete for parts (same search and permission checks), labelled with
    stock, price and bin (part_picker_label); prices only for whoever sees them."""

    def get(self, request, *args, **kwargs):
        with matrix_snapshot():
            return super().get(request, *args, **kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        # In a group, the stock of the shop the person works at (the header's choice), the one
        # their orders issue from.
        location = chosen_stock_location(self.request)
        return queryset if location is None else queryset.annotate(**stock_at(location.pk))

    def serialize_result(self, obj, to_field_name):
        return {
            "id": str(getattr(obj, to_field_name)),
            "text": part_picker_label(obj, prices=sees_prices(self.request.user)),
        }


class PartPicker(AutocompleteSelect):
    """The part box of a part line: asks PartPickerView instead of the plain autocomplete."""

    def get_url(self):
        return reverse("admin:repairs_partline_picker")

    def optgroups(self, name, value, attr=None):
        # A new line's box (the one each job offers, and the row template): no part chosen,
        # nothing to read; Django's autocomplete builds a query for the chosen parts anyway.
        if any(str(v) not in self.choices.field.empty_values for v in value):
            return super().optgroups(name, value, attr)
        options = []
        if not self.is_required and not self.allow_multiple_selected:
            options.append(self.create_option(name, "", "", False, 0))
        return [(None, options, 0)]


class PartLineInline(CostHidingMixin, LaborLineInline):
    model = PartLine
    form = PartLineForm
    fields = ("part", "quantity", "price", "unit_cost", "amount", "issued_quantity", "stock")
    readonly_fields = ("unit_cost", "amount", "issued_quantity", "stock")
    price_fields = ("price", "amount")
    cost_fields = ("unit_cost",)
    autocomplete_fields, raw_id_fields = lookup_fields(part=Part)
    # Whether this request's person may order parts (set by get_formset; an inline is made
    # for each request).
    may_order = False

    def get_queryset(self, request):
        queryset = admin.TabularInline.get_queryset(self, request)
        return queryset.select_related("part").annotate(
            **stock_at(OuterRef("job__repair_order__location"), part="part")
        )

    def get_formset(self, request, obj=None, **kwargs):
        self.may_order = request.user.has_perm("inventory.add_purchaseorder")
        return admin.TabularInline.get_formset(self, request, obj, **kwargs)

    @admin.display(description="stock")
    def stock(self, line):
        """On hand and bin; what is missing for the line, with a special order to place."""
        if not line.pk:
            return "-"
        part = line.part
        # At the order's location (part_lines_with_stock), where its parts are issued from.
        on_hand = getattr(line, "on_hand_here", part.on_hand)
        bin_here = getattr(line, "bin_here", part.bin_location)
        place = f" · bin {bin_here}" if bin_here else ""
        missing = line.quantity - line.issued_quantity - on_hand
        if missing <= 0:
            return f"{on_hand} on hand{place}"
        if not self.may_order:
            return f"{on_hand} on hand, {missing} short{place}"
        query = {
            "notes": f"Special order: {missing} x {part.sku} for {line.job}",
            "part": part.pk,
            "quantity": missing,
        }
        if part.supplier_id:
            query["supplier"] = part.supplier_id
        return format_html(
            '{} on hand, {} short{} · <a href="{}?{}">special order</a>',
            on_hand,
            missing,
            place,
            reverse("admin:inventory_purchaseorder_add"),
            urlencode(query),
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "part" and "part" in self.autocomplete_fields:
            kwargs["widget"] = PartPicker(db_field, self.admin_site)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def formset_changes(formset):
    """What a valid formset asks: (removed rows, [(changed row, changed fields)], new rows),
    each row its form's instance with the values typed. Read from the forms rather than from
    formset.save(), whose nested variant (django-nested-admin) lists changed rows as stored."""
    removed, changed, new = [], [], []
    initial = set(formset.initial_forms)
    for form in formset.forms:
        deleting = formset.can_delete and formset._should_delete_form(form)
        if form in initial:
            if deleting:
                removed.append(form.instance)
            elif form.has_changed():
                changed.append((form.instance, form.changed_data))
        elif form.has_changed() and not deleting:
            new.append(form.instance)
    # As formset.save() leaves them, for the admin's change message.
    formset.deleted_objects, formset.changed_objects, formset.new_objects = removed, changed, new
    return removed, changed, new


def parts_wanted(formsets):
    """(job, part, extra quantity) of every part line a page's formsets add or raise, read
    from the forms before anything is saved."""
    wanted = []
    for formset in formsets:
        if formset.model is not PartLine or formset.instance.pk is None:
            continue
        initial = set(formset.initial_forms)
        for form in formset.forms:
            if formset.can_delete and formset._should_delete_form(form):
                continue
            part = form.cleaned_data.get("part")
            if part is None or not form.has_changed():
                continue
            # The instance already holds what was typed; the form's initial, what was stored.
            before = int(form.initial.get("quantity") or 0) if form in initial else 0
            quantity = int(form.cleaned_data.get("quantity") or 0)
            wanted.append((formset.instance, part, quantity - before))
    return wanted


def save_line_formset(request, job, formset):
    """Save a job's labor or part lines (on the job's page or under the job on the order's
    page) through the services: removed, changed, then added lines."""
    removed, changed, new = formset_changes(formset)
    parts = formset.model is PartLine
    for line in removed:
        if parts:
            services.remove_part_line(line, user=request.user)
        else:
            services.remove_labor_line(line, user=request.user)
    for line, _changed in changed:
        if parts:
            services.change_part_line(
                line, quantity=line.quantity, price=line.price, user=request.user
            )
        else:
            services.save_labor_line(line, user=request.user)
    for line in new:
        if parts:
            services.add_part_line(
                job, line.part, line.quantity, price=line.price, user=request.user
            )
        else:
            services.add_labor_line(
                job,
                operation=line.operation,
                hours_sold=line.hours_sold,
                rate=line.rate,
                technician=line.technician,
                user=request.user,
            )


class NestedPrefetchedFormSet(NestedInlineFormSetMixin, PrefetchedInlineFormSet):
    """Rows on the order's page, nested under their job (django-nested-admin), read from what
    the page's get_object prefetched: no query per job. Their inputs are written by
    QuickRenderer (the same HTML, without a template per input)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.renderer = QuickRenderer(self.renderer)  # its management form
        self.form_renderer = QuickRenderer(self.form_renderer or get_default_renderer())

    @functools.cached_property
    def empty_form(self):
        # The template a new row is copied from. Django builds it anew at each reading, and the
        # admin and django-nested-admin read it dozens of times per formset while the page is
        # made (media, each pass over the rows, the nested rows of a new job): built once here.
        return super().empty_form


class OrderLaborInline(NestedTabularInlineMixin, LaborLineInline):
    """A job's labor, edited under the job on the order's page."""

    formset = NestedPrefetchedFormSet
    is_sortable = False


class OrderPartInline(NestedTabularInlineMixin, PartLineInline):
    """A job's parts, edited under the job on the order's page; the part picker shows stock,
    price and bin (inventory's part search)."""

    formset = NestedPrefetchedFormSet
    is_sortable = False


class JobInline(
    NestedStackedInlineMixin, EditableWhileParentAllows, PriceHidingMixin, admin.StackedInline
):
    """The order's jobs, each with its labor and parts under it (django-nested-admin): the
    whole order is written on one page."""

    model = Job
    # The order's jobs as get_object loaded them with their lines, for the totals.
    formset = NestedPrefetchedFormSet
    inlines: ClassVar[list] = [OrderLaborInline, OrderPartInline]
    is_sortable = False
    extra = 0
    fields = (("position", "title"), "complaint", ("decision", "amount", "job_link"))
    readonly_fields = ("decision", "amount", "job_link")
    price_fields = ("amount",)
    show_change_link = False

    def get_inline_instances(self, request, obj=None):
        # Lines go on jobs of an order that exists (its rates known): not on the add page.
        return super().get_inline_instances(request, obj) if obj is not None and obj.pk else []

    def hidden_fields(self, request):
        hidden = super().hidden_fields(request)
        # The link to the job's page, only for whoever may open it.
        return hidden if request.user.has_perm("repairs.view_job") else hidden | {"job_link"}

    def get_queryset(self, request):
        queryset = (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("labor_lines", LaborLine.objects.select_related("technician")),
                Prefetch("part_lines", part_lines_with_stock()),
            )
        )
        if technician_only(request):
            queryset = queryset.for_technician(request.user)
        return queryset

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # A technician sees only their jobs: the page's prefetch has them all.
        formset.reuse_prefetched = not technician_only(request)
        return formset

    @admin.display(description="customer decision")
    def decision(self, job):
        if not job.pk:
            return "-"
        return decision_text(job)

    @admin.display(description="amount")
    def amount(self, job):
        if not job.pk:
            return "-"
        labor = sum(line.amount for line in job.labor_lines.all())
        parts = sum(line.amount for line in job.part_lines.all())
        return f"{labor + parts:.2f}"

    @admin.display(description="")
    def job_link(self, job):
        if not job.pk:
            return ""
        return format_html(
            '<a href="{}">Job page: decision, time</a>',
            reverse("admin:repairs_job_change", args=[job.pk]),
        )

    def parent_editable(self, obj):
        return obj is None or obj.status in EDITABLE_STATUSES


class RepairOrderForm(forms.ModelForm):
    add_canned_job = forms.ModelChoiceField(
        queryset=CannedJob.objects.filter(active=True),
        required=False,
        help_text="Adds the job with its labor and parts when you save.",
    )

    class Meta:
        model = RepairOrder
        fields = (
            "location",
            "customer",
            "vehicle",
            "odometer_in",
            "advisor",
            "promised_at",
            "comeback_of",
            "discount_percent",
            "hazardous_waste",
            "notes",
        )

    def __init__(self, *args, advisor_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        if "advisor" in self.fields and advisor_choices is not None:
            # Only offered: a posted advisor is checked against the order's location (clean).
            self.fields["advisor"].choices = advisor_choices(keep=self.instance.advisor_id)
        if (
            "add_canned_job" in self.fields
            and self.instance.pk
            and self.instance.status in EDITABLE_STATUSES
        ):
            field = self.fields["add_canned_job"]
            field.choices = [("", "---------"), *((job.pk, job.name) for job in field.queryset)]

    def clean(self):
        data = super().clean()
        if "advisor" in self.changed_data and data.get("advisor") is not None:
            location = data.get("location") if self.instance.pk is None else self.instance.location
            try:
                services.check_advisor(data["advisor"], location)
            except RepairError as exc:
                self.add_error("advisor", str(exc))
        if self.instance.pk is None and data.get("vehicle") is not None:
            try:
                services.check_new_repair_order(
                    data["vehicle"],
                    customer=data.get("customer"),
                    comeback_of=data.get("comeback_of"),
                )
            except RepairError as exc:
                raise ValidationError(str(exc)) from None
        return data


@admin.register(RepairOrder)
class RepairOrderAdmin(
    ShopFloorLocationAdmin,
    NestedModelAdminMixin,
    RoleExportMixin,
    CustomerVehicleSearchMixin,
    RefusalsAsMessages,
    PriceHidingMixin,
    CarshopModelAdmin,
):
    export_resource_class = RepairOrderResource
    form = RepairOrderForm
    list_display = (
        "number",
        "status",
        "customer",
        "vehicle_label",
        "advisor",
        "opened_at",
        "promised_at",
        "internal",
    )
    list_select_related = ("customer", "vehicle", "advisor")
    list_filter = ("status", AdvisorFilter, "internal", "opened_at")
    date_hierarchy = "opened_at"
    # Searched by CustomerVehicleSearchMixin; listed here for autocomplete.
    search_fields = ("=number", "customer__display_name", "customer__phone")
    search_help_text = (
        "Order number, customer name, phone or email, VIN or its last 6 or 8 characters, plate."
    )
    number_path = "number"
    autocomplete_fields, raw_id_fields = lookup_fields(customer=Customer, vehicle=Vehicle)
    autocomplete_fields = (*autocomplete_fields, "comeback_of")
    scoped_relations = {"comeback_of": "location"}
    inlines = [JobInline]
    # The workflow's steps (repairs.services.TRANSITIONS), one action each.
    actions = [key for key, _label, _function in services.TRANSITIONS]
    ordering = ("-opened_at", "-id")
    price_fields = ("totals", "discount_percent", "documents")
    delete_refused_help = (
        "Repair orders are canceled (action Cancel), never deleted: their numbers and history stay."
    )

    class Media:
        js = ("repairs/copy-link.js",)
        css: ClassVar[dict[str, tuple[str, ...]]] = {"all": ("repairs/admin/order-page.css",)}

    def get_fieldsets(self, request, obj=None):
        header = ["customer", "vehicle", "odometer_in", "advisor", "promised_at", "comeback_of"]
        if obj is None:
            return [
                (
                    None,
                    {
                        # Hidden in a single-shop install (ShopFloorLocationAdmin).
                        "fields": ["location", *header],
                        "description": "Leave the customer empty for the business's own "
                        "vehicle: the order is then internal (at cost).",
                    },
                ),
                ("Billing", {"fields": ["discount_percent", "hazardous_waste"]}),
                ("Notes", {"fields": ["notes"]}),
            ]
        # The location of an open order is fixed (its number is of its location's series).
        fixed = ["location"] if location_count() > 1 else []
        fieldsets = [
            (
                None,
                {
                    "fields": ["number", *fixed, "status", "internal", *header],
                    "description": self.payer_warning(obj),
                },
            ),
            ("Billing", {"fields": ["discount_percent", "hazardous_waste", "totals"]}),
        ]
        if obj.status in EDITABLE_STATUSES and self.has_change_permission(request, obj):
            fieldsets.append(("Add work", {"fields": ["add_canned_job"]}))
        if not technician_only(request):
            # Printing, the customer's approval link and the invoice: for whoever may print.
            customer = ["recommendations"]
            if request.user.has_perm(views.PRINT_PERMISSION):
                customer.insert(0, "documents")
            fieldsets.append(("Customer", {"fields": customer}))
        if request.user.has_perm("repairs.view_inspection"):
            fieldsets.append(("Inspections", {"fields": ["inspections"]}))
            # Read by the field below, which is given only the order.
            obj.may_add_inspection = request.user.has_perm("repairs.add_inspection")
        fieldsets += [
            ("Notes", {"fields": ["notes"]}),
            ("History", {"fields": ["history"], "classes": ["collapse"]}),
        ]
        return self.without_hidden(request, fieldsets)

    def payer_warning(self, obj):
        """The warning given when the order was made, while it is still to be paid: its
        customer is not the vehicle's owner (the customer or the owner changed since)."""
        if obj.status not in (*OPEN_STATUSES, RepairOrderStatus.INVOICED):
            return ""
        warning = services.payer_warning(obj.vehicle, obj.customer)
        return format_html('<p class="payer-warning">{}</p>', warning) if warning else ""

    def get_readonly_fields(self, request, obj=None):
        computed = [
            "number",
            "location",
            "status",
            "internal",
            "totals",
            "documents",
            "recommendations",
            "inspections",
            "history",
        ]
        if obj is not None and obj.status not in EDITABLE_STATUSES:
            return [
                *computed,
                "customer",
                "vehicle",
                "odometer_in",
                "advisor",
                "promised_at",
                "comeback_of",
                "discount_percent",
                "hazardous_waste",
                "notes",
            ]
        if obj is not None:
            # The vehicle and who pays are fixed once the order is open (internal or not).
            return [*computed, "customer", "vehicle"]
        return [field for field in computed if field != "location"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        # Read once the form has an advisor field (not on orders that can no longer change):
        # the advisors of the order's location, or of the user's locations for a new order.
        locations = [obj.location_id] if obj is not None else allowed_location_ids(request.user)
        advisor_choices = functools.partial(staff_choices, SERVICE_ADVISOR, locations)

        class Form(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, advisor_choices=advisor_choices, **inner)

        return Form

    def get_changeform_initial_data(self, request):
        # The advisor who opens an order is its advisor, as when it is opened from an
        # appointment (only offered when they are one of the location's advisors).
        return {"advisor": request.user.pk, **super().get_changeform_initial_data(request)}

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if technician_only(request):
            queryset = queryset.for_technician(request.user)
        return queryset

    def get_paginator(self, request, *args, **kwargs):
        paginator = super().get_paginator(request, *args, **kwargs)
        if technician_only(request):
            # Their orders are those with a labor line of theirs, checked order by order: counted
            # newest first, along the opened_at index, to the limit (EstimatedCountPaginator).
            paginator.count_order = self.ordering
        return paginator

    def get_object(self, request, object_id, from_field=None):
        queryset = (
            self.get_queryset(request)
            .select_related(
                "customer", "vehicle__owner", "advisor", "comeback_of", "invoice", "location"
            )
            .prefetch_related(
                Prefetch(
                    "jobs",
                    queryset=Job.objects.prefetch_related(
                        Prefetch("labor_lines", LaborLine.objects.select_related("technician")),
                        Prefetch("part_lines", part_lines_with_stock()),
                    ),
                )
            )
        )
        if connections[queryset.db].vendor == "postgresql":
            queryset = _with_history_and_recommendations(queryset)
        obj = get_or_none(queryset, object_id)
        if obj is not None:
            # The customer's approval link is shown whole (scheme and host as this request came
            # in), for the advisor to paste into a text message or an email.
            obj.absolute_uri = request.build_absolute_uri
            # The totals and the approval link's validity both read the shop's settings: once.
            obj.shop_settings = ShopSettings.of(obj.location_id)
            request._repairs_location = obj.location_id  # its staff in the lines' selects
        return obj

    @admin.display(description="vehicle", ordering="vehicle__vin")
    def vehicle_label(self, obj):
        vehicle = obj.vehicle
        label = " ".join(str(p) for p in (vehicle.model_year, vehicle.make, vehicle.model) if p)
        return f"{label} · {vehicle.plate or vehicle.vin[-8:]}"

    @admin.display(description="totals")
    def totals(self, obj):
        totals = order_totals(obj, Rates.from_settings(_shop_settings(obj)))
        rows = [
            ("Labor", totals.labor),
            ("Parts", totals.parts),
            ("Discount", -totals.discount),
            ("Shop supplies", totals.shop_supplies),
            ("Hazardous waste", totals.hazardous_waste),
            ("Tax", totals.tax),
            ("Total", totals.total),
        ]
        return render_to_string(
            "admin/repairs/repairorder/totals.html",
            {
                "rows": [(label, str(amount)) for label, amount in rows],
                "note": "Declined jobs are not counted."
                if not obj.internal
                else "Internal: at cost.",
            },
        )

    @admin.display(description="documents")
    def documents(self, obj):
        context = {
            "print_url": reverse("admin:repairs_repairorder_print", args=[obj.pk]),
            "invoice": getattr(obj, "invoice", None),
        }
        if obj.status in EDITABLE_STATUSES and not obj.internal:
            url = reverse("repairs:customer_estimate", args=[links.estimate_token(obj)])
            absolute_uri = getattr(obj, "absolute_uri", None)
            context["approval_url"] = absolute_uri(url) if absolute_uri else url
            context["link_days"] = _shop_settings(obj).estimate_link_days
        return render_to_string("admin/repairs/repairorder/documents.html", context)

    @admin.display(description="declined earlier on this vehicle")
    def recommendations(self, obj):
        rows = getattr(obj, "recommendation_rows", None)
        if rows is None:
            rows = [
                {"title": job.title, "number": job.repair_order.number, "at": job.authorized_at}
                for job in services.recommendations_for(obj.vehicle).exclude(repair_order=obj)[
                    :RECOMMENDATIONS_SHOWN
                ]
            ]
        if not rows:
            return "-"
        return render_to_string(
            "admin/repairs/repairorder/recommendations.html",
            {
                "rows": [
                    {**row, "at": f"{timezone.localtime(_moment(row['at'])):%Y-%m-%d}"}
                    for row in rows
                ]
            },
        )

    @admin.display(description="inspections")
    def inspections(self, obj):
        rows = [
            format_html(
                '<li><a href="{}">{}</a> · {:%Y-%m-%d %H:%M}{}</li>',
                reverse("admin:repairs_inspection_change", args=[inspection.pk]),
                inspection.name,
                timezone.localtime(inspection.started_at),
                f" · {inspection.technician}" if inspection.technician else "",
            )
            for inspection in obj.inspections.select_related("technician")
        ]
        if getattr(obj, "may_add_inspection", False) and obj.status in OPEN_STATUSES:
            rows.append(
                format_html(
                    '<li><a href="{}?repair_order={}">Start an inspection</a></li>',
                    reverse("admin:repairs_inspection_add"),
                    obj.pk,
                )
            )
        if not rows:
            return "-"
        return format_html(
            '<ul class="inspections">{}</ul>', format_html_join("", "{}", ((row,) for row in rows))
        )

    @admin.display(description="history")
    def history(self, obj):
        rows = getattr(obj, "history_rows", None)
        if rows is None:
            rows = [
                {
                    "at": e.at,
                    "from_status": e.from_status,
                    "to_status": e.to_status,
                    "user": str(e.user or ""),
                    "note": e.note,
                }
                for e in obj.events.select_related("user")
            ]
        return render_to_string(
            "admin/repairs/repairorder/history.html",
            {
                "rows": [
                    {
                        **row,
                        "at": f"{timezone.localtime(_moment(row['at'])):%Y-%m-%d %H:%M}",
                        "from_status": _status_label(row["from_status"]) or "new",
                        "to_status": _status_label(row["to_status"]),
                    }
                    for row in rows
                ]
            },
        )

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.create_repair_order(
                obj.vehicle, customer=obj.customer, user=request.user, instance=obj
            )
            for warning in created.warnings:
                self.message_user(request, warning, messages.WARNING)
            return
        super().save_model(request, obj, form, change)
        warning = services.open_orders_warning(obj.vehicle, exclude=obj, location=obj.location_id)
        if warning and obj.status in OPEN_STATUSES:
            self.message_user(request, warning, messages.WARNING)

    def save_formset(self, request, form, formset, change):
        if formset.model in (LaborLine, PartLine):
            # A job's lines, under the job on this page (saved after the jobs).
            job = formset.instance
            if job.pk is None or job.pk in getattr(request, "_repairs_removed_jobs", ()):
                return None
            return save_line_formset(request, job, formset)
        if formset.model is not Job:
            return super().save_formset(request, form, formset, change)
        removed, changed_jobs, new = formset_changes(formset)
        request._repairs_removed_jobs = {job.pk for job in removed}
        for job in removed:
            services.remove_job(job, user=request.user)
        for job, changed in changed_jobs:
            fields = {
                name: getattr(job, name)
                for name in changed
                if name in ("position", "title", "complaint")
            }
            if fields:
                services.save_job_text(job, user=request.user, **fields)
        for job in new:
            # The form's job becomes the one the service made: its lines go on it.
            adopt(
                job,
                services.add_job(
                    form.instance, title=job.title, complaint=job.complaint, user=request.user
                ),
            )

    def save_related(self, request, form, formsets, change):
        # Every part the page would issue now is checked first, so all shortages are named
        # in one message rather than the first line's alone.
        services.check_parts_available(form.instance, parts_wanted(formsets))
        super().save_related(request, form, formsets, change)
        canned = form.cleaned_data.get("add_canned_job")
        if canned is not None:
            job = services.add_canned_job(form.instance, canned, user=request.user)
            self.message_user(request, f"Added {job}.", messages.SUCCESS)

    def has_delete_permission(self, request, obj=None):
        # Orders are canceled, never deleted: their numbers and history stay.
        return False

    # Workflow actions -------------------------------------------------------------------

    def has_invoice_permission(self, request):
        return request.user.has_perm("repairs.add_invoice")

    @admin.action(
        description="Approve (customer approved at least one job)", permissions=["change"]
    )
    def approve(self, request, queryset):
        run_action(self, request, queryset, services.approve_repair_order, "Approved")

    @admin.action(description="Start work (issues parts from stock)", permissions=["change"])
    def start(self, request, queryset):
        run_action(self, request, queryset, services.start_work, "Work started")

    @admin.action(description="Complete work", permissions=["change"])
    def complete(self, request, queryset):
        run_action(self, request, queryset, services.complete_work, "Completed")

    @admin.action(description="Invoice", permissions=["invoice"])
    def invoice(self, request, queryset):
        run_action(self, request, queryset, services.invoice_repair_order, "Invoices written")

    @admin.action(description="Close internal order at cost", permissions=["change"])
    def close_internal(self, request, queryset):
        run_action(self, request, queryset, services.close_internal_order, "Closed at cost")

    @admin.action(description="Cancel (returns issued parts to stock)", permissions=["change"])
    def cancel(self, request, queryset):
        run_action(self, request, queryset, services.cancel_repair_order, "Canceled")

    # Workflow buttons on the order's page ----------------------------------------------

    # key: (service, permission checked, what the success message says was done)
    STEPS: ClassVar[dict[str, tuple]] = {
        "approve_in_person": (services.approve_in_person, "decide", "approved in person"),
        "approve": (services.approve_repair_order, "change", "approved"),
        "start": (services.start_work, "change", "work started, parts issued"),
        "complete": (services.complete_work, "change", "work completed"),
        "invoice": (services.invoice_repair_order, "invoice", "invoiced"),
        "close_internal": (services.close_internal_order, "change", "closed at cost"),
        "cancel": (services.cancel_repair_order, "change", "canceled"),
    }

    def may_take_step(self, request, obj, key):
        _service, permission, _done = self.STEPS[key]
        if permission == "invoice":
            return self.has_invoice_permission(request)
        if permission == "decide" and not request.user.has_perm(DECIDE_PERMISSION):
            return False
        return self.has_change_permission(request, obj)

    def workflow_buttons(self, request, obj):
        """The next steps the workflow allows from the order's status (REPAIR_ORDER_PIPELINE)
        and its jobs' decisions, for this person's role: (key, label, kind, url) in workflow
        order; kind is "post" (a button running the step), "link" or "copy" (the approval
        link). Read from the order as the page loaded it (no query per job)."""
        status = obj.status
        jobs = list(obj.jobs.all())
        pending = any(job.authorization == Authorization.PENDING for job in jobs)
        approved = any(job.authorization == Authorization.APPROVED for job in jobs)
        allows = functools.partial(REPAIR_ORDER_PIPELINE.allows, status)
        buttons = []

        def step_url(key):
            return reverse("admin:repairs_repairorder_step", args=[obj.pk, key])

        def offer(key, label, condition=True):
            if condition and self.may_take_step(request, obj, key):
                buttons.append((key, label, "post", step_url(key)))

        if allows(RepairOrderStatus.APPROVED):
            if obj.internal:
                offer("approve", "Release for work (internal)", bool(jobs))
            else:
                if (
                    pending
                    and request.user.has_perm(views.PRINT_PERMISSION)
                    and self.has_change_permission(request, obj)
                ):
                    buttons.append(("send", "Send for approval: copy link", "copy", ""))
                offer("approve_in_person", "Customer approved in person", pending)
                offer("approve", "Approve (decided jobs)", approved)
        if allows(RepairOrderStatus.IN_PROGRESS):
            offer("start", "Start work")
        if allows(RepairOrderStatus.COMPLETED):
            offer("complete", "Complete work", not pending)
        if allows(RepairOrderStatus.INVOICED):
            offer("invoice", "Invoice", not obj.internal)
        if allows(RepairOrderStatus.CLOSED):
            offer("close_internal", "Close at cost", obj.internal)
        invoice = getattr(obj, "invoice", None)
        if (
            status == RepairOrderStatus.INVOICED
            and invoice is not None
            and request.user.has_perm("repairs.add_payment")
        ):
            buttons.append(("pay", "Take payment", "link", payment_url(invoice)))
        if allows(RepairOrderStatus.CANCELED) and self.may_take_step(request, obj, "cancel"):
            buttons.append(("cancel", "Cancel order", "link", step_url("cancel")))
        return buttons

    def step_view(self, request, object_id, key):
        """Run one workflow step from the order's page (POST); canceling and approving in
        person ask first (a page that changes nothing), then run on its confirming post."""
        if key not in self.STEPS:
            raise Http404
        obj = get_or_none(self.get_queryset(request).select_related("customer"), object_id)
        if obj is None:
            raise Http404
        if not self.may_take_step(request, obj, key):
            raise PermissionDenied
        change_url = reverse("admin:repairs_repairorder_change", args=[obj.pk])
        if key == "approve_in_person":
            return self._approve_in_person(request, obj, change_url)
        if request.method != "POST":
            if key != "cancel":
                return HttpResponseNotAllowed(["POST"])
            context = {
                **self.admin_site.each_context(request),
                "title": f"Cancel {obj.number}?",
                "opts": self.model._meta,
                "original": obj,
                "change_url": change_url,
            }
            return TemplateResponse(
                request, "admin/repairs/repairorder/cancel_confirmation.html", context
            )
        service, _permission, done = self.STEPS[key]
        extra = {"reason": request.POST.get("reason", "").strip()[:300]} if key == "cancel" else {}
        ran, result = run_service(self, request, service, obj, user=request.user, **extra)
        if ran:
            if isinstance(result, Invoice):
                message = format_html(
                    '{}: invoiced. Invoice <a href="{}">{}</a> written, {} to pay.',
                    obj.number,
                    reverse("admin:repairs_invoice_change", args=[result.pk]),
                    result.number,
                    result.total,
                )
            else:
                message = f"{obj.number}: {done}."
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(change_url)

    def _approve_in_person(self, request, obj, change_url):
        """The order's button (a post without "confirm") and a GET show what the customer
        agrees to: the jobs waiting, each one's amount, the total. Only "Yes, the customer
        approved" (confirm=yes, with the jobs and total that were shown) approves."""
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            shown = services.InPersonApproval(
                jobs=[{"id": value} for value in _ids(request.POST.getlist("job"))],
                total=_decimal_or_none(request.POST.get("total")),
                approved_earlier=None,
            )
            ran, _result = run_service(
                self, request, services.approve_in_person, obj, user=request.user, confirmed=shown
            )
            if ran:
                done = self.STEPS["approve_in_person"][2]
                self.message_user(request, f"{obj.number}: {done}.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        summary = services.in_person_approval(obj)
        if not summary.jobs:
            self.message_user(
                request,
                f"{obj.number}: no job is waiting for the customer's decision.",
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Did the customer approve {obj.number}?",
            "opts": self.model._meta,
            "original": obj,
            "change_url": change_url,
            "customer": obj.customer.addressed_name if obj.customer else "",
            "summary": summary,
        }
        return TemplateResponse(
            request, "admin/repairs/repairorder/approve_in_person_confirmation.html", context
        )

    # Extra pages ------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("board/", wrap(self.board_view), name="repairs_repairorder_board"),
            path(
                "board/assign/",
                wrap(self.board_assign_view),
                name="repairs_repairorder_board_assign",
            ),
            path(
                "part-picker/",
                wrap(PartPickerView.as_view(admin_site=self.admin_site)),
                name="repairs_partline_picker",
            ),
            path(
                "<path:object_id>/step/<slug:key>/",
                wrap(self.step_view),
                name="repairs_repairorder_step",
            ),
            path(
                "<path:object_id>/print/", wrap(self.print_view), name="repairs_repairorder_print"
            ),
            path(
                "<path:object_id>/print/pdf/", wrap(self.pdf_view), name="repairs_repairorder_pdf"
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The Print and PDF buttons only for whoever may print (the documents show prices).
        extra_context = {
            "can_print": request.user.has_perm(views.PRINT_PERMISSION),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None and obj.pk:
            context["workflow_buttons"] = [
                *self.workflow_buttons(request, obj),
                *order_page.extra_buttons(request, obj),
            ]
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def print_view(self, request, object_id):
        return views.print_estimate(request, object_id, self.get_queryset(request))

    def pdf_view(self, request, object_id):
        return views.estimate_pdf(request, object_id, self.get_queryset(request))

    def board_view(self, request):
        return board.board_view(self, request)

    def board_assign_view(self, request):
        return board.assign_view(self, request)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "board_url": reverse("admin:repairs_repairorder_board"),
        }
        return super().changelist_view(request, extra_context)


# --------------------------------------------------------------------------------------------
# Jobs and their lines
# --------------------------------------------------------------------------------------------


class TimeEntryInline(admin.TabularInline):
    model = TimeEntry
    extra = 0
    fields = ("technician", "started", "ended", "hours")
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("technician")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="hours")
    def hours(self, entry):
        return hours_text(entry.hours)


class JobForm(forms.ModelForm):
    record_decision = forms.ChoiceField(
        label="record customer decision",
        required=False,
        choices=[
            ("", "—"),
            (Authorization.APPROVED, "Approved"),
            (Authorization.DECLINED, "Declined"),
        ],
    )
    decision_method = forms.ChoiceField(
        label="how",
        required=False,
        choices=[
            ("", "—"),
            (AuthorizationMethod.IN_PERSON, "In person"),
            (AuthorizationMethod.PHONE, "Phone"),
        ],
    )
    decided_by = forms.CharField(
        label="by whom",
        required=False,
        max_length=160,
        help_text="The customer's name (defaults to the order's customer).",
    )

    class Meta:
        model = Job
        fields = ("position", "title", "complaint", "cause", "correction")

    def clean(self):
        data = super().clean()
        if data.get("record_decision") and not data.get("decision_method"):
            self.add_error("decision_method", "Say how the customer decided.")
        return data


@admin.register(Job)
class JobAdmin(ShopFloorLocationAdmin, RefusalsAsMessages, CarshopModelAdmin):
    location_field = "repair_order__location"
    form = JobForm
    list_display = (
        "__str__",
        "repair_order",
        "order_status",
        "vehicle",
        "authorization",
        "hours_sold",
        "actual_hours",
    )
    list_select_related = ("repair_order__vehicle",)
    list_filter = ("authorization", "repair_order__status")
    search_fields = ("=repair_order__number", "title")
    inlines = [LaborLineInline, PartLineInline, TimeEntryInline]
    actions = [
        "clock_in",
        "clock_out",
        "approve_in_person",
        "approve_by_phone",
        "decline_in_person",
        "decline_by_phone",
    ]
    # Removing a job (services.remove_job) takes its lines, returning issued parts to stock.
    deleted_with = (LaborLine, PartLine)

    def response_post_save_change(self, request, obj):
        # A technician opens the job from their screen and goes back to it with their notes
        # saved, rather than to the list of every job they ever worked on.
        if technician_only(request):
            return HttpResponseRedirect(reverse("technician:jobs"))
        return super().response_post_save_change(request, obj)

    def get_queryset(self, request):
        sold = (
            LaborLine.objects.filter(job=OuterRef("pk"))
            .values("job")
            .annotate(total=Sum("hours_sold"))
            .values("total")
        )
        queryset = (
            super()
            .get_queryset(request)
            .select_related("repair_order__vehicle", "repair_order__customer")
            .annotate(sold_hours=Coalesce(Subquery(sold), Decimal("0")))
            .prefetch_related(Prefetch("time_entries", to_attr="clocked_entries"))
        )
        if technician_only(request):
            queryset = queryset.for_technician(request.user)
        return queryset

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (
                None,
                {
                    "fields": [
                        "repair_order_link",
                        "position",
                        "title",
                        "complaint",
                        "cause",
                        "correction",
                    ]
                },
            ),
            ("Customer decision", {"fields": ["decision"]}),
            ("Time", {"fields": ["hours_sold", "actual_hours"]}),
        ]
        if (
            obj is not None
            and obj.repair_order.status in EDITABLE_STATUSES
            and request.user.has_perm("repairs.change_laborline")
        ):
            fieldsets[1][1]["fields"] += ["record_decision", "decision_method", "decided_by"]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = ["repair_order_link", "decision", "hours_sold", "actual_hours"]
        if obj is not None and obj.repair_order.status not in (
            *EDITABLE_STATUSES,
            RepairOrderStatus.COMPLETED,
        ):
            return [*readonly, "position", "title", "complaint", "cause", "correction"]
        if technician_only(request):
            # Technicians write what they found and what they did; the rest is the advisor's.
            return [*readonly, "position", "title", "complaint"]
        return readonly

    def get_object(self, request, object_id, from_field=None):
        return get_or_none(self.get_queryset(request), object_id)

    @admin.display(description="repair order")
    def repair_order_link(self, job):
        order = job.repair_order
        return format_html(
            '<a href="{}">{}</a> ({}) · {}',
            reverse("admin:repairs_repairorder_change", args=[order.pk]),
            order.number,
            order.get_status_display(),
            order.vehicle,
        )

    @admin.display(description="status", ordering="repair_order__status")
    def order_status(self, job):
        return job.repair_order.get_status_display()

    @admin.display(description="vehicle")
    def vehicle(self, job):
        return job.repair_order.vehicle

    @admin.display(description="decision")
    def decision(self, job):
        return decision_text(job, when=True)

    @admin.display(description="hours sold")
    def hours_sold(self, job):
        return hours_text(job.sold_hours)

    @admin.display(description="hours clocked")
    def actual_hours(self, job):
        return hours_text(sum((entry.hours for entry in job.clocked_entries), ZERO))

    def has_add_permission(self, request):
        # Jobs are added on their repair order (or as canned jobs).
        return False

    def save_model(self, request, obj, form, change):
        fields = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in ("position", "title", "complaint", "cause", "correction")
        }
        if fields:
            services.save_job_text(obj, user=request.user, **fields)
        decision = form.cleaned_data.get("record_decision")
        if decision:
            services.authorize_job(
                obj,
                decision,
                method=form.cleaned_data["decision_method"],
                authorized_by=form.cleaned_data.get("decided_by")
                or services.customer_decision_name(obj.repair_order, request.user),
                user=request.user,
            )

    def save_formset(self, request, form, formset, change):
        if formset.model in (LaborLine, PartLine):
            return save_line_formset(request, form.instance, formset)
        return super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        services.check_parts_available(form.instance.repair_order, parts_wanted(formsets))
        super().save_related(request, form, formsets, change)

    def delete_refusal(self, obj):
        return services.job_deletion_refusal(obj)

    def delete_model(self, request, obj):
        services.remove_job(obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for job in queryset:
            services.remove_job(job, user=request.user)

    # Actions -----------------------------------------------------------------------------

    def has_clock_permission(self, request):
        return request.user.has_perm("repairs.add_timeentry")

    def has_decide_permission(self, request):
        return request.user.has_perm(DECIDE_PERMISSION)

    @admin.action(description="Clock in on this job", permissions=["clock"])
    def clock_in(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one job to clock in on.", messages.WARNING)
            return
        ran, entry = run_service(self, request, services.clock_in, request.user, queryset.get())
        if ran:
            self.message_user(
                request, f"Clocked in on {entry.job} at {timezone.localtime(entry.started):%H:%M}."
            )

    @admin.action(description="Clock out", permissions=["clock"])
    def clock_out(self, request, queryset):
        ran, entry = run_service(self, request, services.clock_out, request.user)
        if ran:
            self.message_user(request, f"Clocked out of {entry.job}: {entry.hours} h.")

    def _decide(self, request, queryset, decision, method):
        label = "approved" if decision == Authorization.APPROVED else "declined"
        run_for_each(
            self,
            request,
            queryset.select_related("repair_order__customer"),
            lambda job: services.authorize_job(
                job,
                decision,
                method=method,
                authorized_by=services.customer_decision_name(job.repair_order, request.user),
                user=request.user,
            ),
            summary=lambda done: f"{len(done)} job(s) {label}.",
        )

    @admin.action(description="Customer approved in person", permissions=["decide"])
    def approve_in_person(self, request, queryset):
        self._decide(request, queryset, Authorization.APPROVED, AuthorizationMethod.IN_PERSON)

    @admin.action(description="Customer approved by phone", permissions=["decide"])
    def approve_by_phone(self, request, queryset):
        self._decide(request, queryset, Authorization.APPROVED, AuthorizationMethod.PHONE)

    @admin.action(description="Customer declined in person", permissions=["decide"])
    def decline_in_person(self, request, queryset):
        self._decide(request, queryset, Authorization.DECLINED, AuthorizationMethod.IN_PERSON)

    @admin.action(description="Customer declined by phone", permissions=["decide"])
    def decline_by_phone(self, request, queryset):
        self._decide(request, queryset, Authorization.DECLINED, AuthorizationMethod.PHONE)


class LineAdminBase(ShopFloorLocationAdmin, ReadOnlyMixin, PriceHidingMixin, CarshopModelAdmin):
    """Lines are listed here for searching; they are edited on their job's page."""

    location_field = "job__repair_order__location"

    list_select_related: ClassVar[tuple[str, ...]] = ("job__repair_order",)
    search_fields: ClassVar[tuple[str, ...]] = ("=job__repair_order__number",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if technician_only(request):
            queryset = queryset.filter(job__in=Job.objects.for_technician(request.user))
        return queryset

    @admin.display(description="repair order", ordering="job__repair_order__number")
    def repair_order(self, line):
        return line.job.repair_order.number


@admin.register(LaborLine)
class LaborLineAdmin(LineAdminBase):
    list_display = ("operation", "repair_order", "hours", "rate", "technician")
    price_fields = ("rate",)
    list_select_related = ("job__repair_order", "technician")
    list_filter = ("technician",)
    search_fields = ("=job__repair_order__number", "operation")

    @admin.display(description="hours sold", ordering="hours_sold")
    def hours(self, line):
        return hours_text(line.hours_sold)


@admin.register(PartLine)
class PartLineAdmin(CostHidingMixin, LineAdminBase):
    list_select_related = ("job__repair_order", "part")
    search_fields = ("=job__repair_order__number", "=part__sku")
    list_display = ("part", "repair_order", "quantity", "price", "unit_cost", "issued_quantity")
    fields = ("job", "part", "quantity", "price", "unit_cost", "taxable", "issued_quantity")
    readonly_fields = fields
    price_fields = ("price",)
    cost_fields = ("unit_cost",)


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------


class TimeEntryForm(forms.ModelForm):
    """Start and end of a time entry, checked against repairs.services' rules for who may
    change what (the person saving is given by the admin as `user`)."""

    user = None

    class Meta:
        model = TimeEntry
        fields = ("started", "ended")

    def clean(self):
        data = super().clean()
        if self.instance.pk and not self.errors:
            stored = TimeEntry.objects.select_related("technician", "job__repair_order").get(
                pk=self.instance.pk
            )
            try:
                services.check_time_entry_change(
                    stored, started=data.get("started"), ended=data.get("ended"), user=self.user
                )
            except RepairError as exc:
                raise ValidationError(str(exc)) from None
        return data


@admin.register(TimeEntry)
class TimeEntryAdmin(ShopFloorLocationAdmin, RefusalsAsMessages, CarshopModelAdmin):
    form = TimeEntryForm
    list_display = ("technician", "job", "repair_order", "started", "ended", "hours")
    list_select_related = ("technician", "job__repair_order")
    list_filter = ("technician", "started")
    date_hierarchy = "started"
    search_fields = ("=job__repair_order__number",)
    fields = ("technician", "job", "started", "ended")
    readonly_fields = ("technician", "job")

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("technician", "job__repair_order")
        if technician_only(request):
            queryset = queryset.filter(technician=request.user)
        return queryset

    @admin.display(description="repair order")
    def repair_order(self, entry):
        return entry.job.repair_order.number

    @admin.display(description="hours")
    def hours(self, entry):
        return hours_text(entry.hours)

    def has_add_permission(self, request):
        # Technicians clock in and out from their jobs (actions on the jobs list).
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def save_model(self, request, obj, form, change):
        adopt(
            obj,
            services.change_time_entry(
                obj, started=obj.started, ended=obj.ended, user=request.user
            ),
        )

    def delete_refusal(self, obj):
        return services.time_entry_deletion_refusal(obj)


# --------------------------------------------------------------------------------------------
# Bookkeeping rows, visible for audits
# --------------------------------------------------------------------------------------------


@admin.register(RepairOrderEvent)
class RepairOrderEventAdmin(ShopFloorLocationAdmin, ReadOnlyMixin, CarshopModelAdmin):
    location_field = "repair_order__location"
    list_display: tuple[str, ...] = (
        "at",
        "repair_order",
        "from_status",
        "to_status",
        "user",
        "note",
    )
    list_select_related: ClassVar[tuple[str, ...]] = ("repair_order", "user")
    list_filter: ClassVar[tuple[str, ...]] = ("to_status", "at")
    date_hierarchy: ClassVar[str | None] = "at"
    search_fields: ClassVar[tuple[str, ...]] = ("=repair_order__number",)
