"""The service shop in the admin: advisors' daily tool, and technicians' restricted view.

Every change goes through repairs.services; these classes only gather input and report results.
Technicians (the Technician role without the right to change orders) see only the orders and jobs
they have labor lines on, never prices, amounts, totals or costs (accounts.roles.sees_prices, the
`price_fields` of each page), and cannot change prices or rates. Orders, invoices, payments and
credit notes are canceled or credited, never deleted; a job only while its order is open.

No page issues a number of queries that grows with its rows: lists select their related rows,
inlines prefetch, and selects in inline rows get their choices once per page.
"""

import datetime
import functools
import re
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Concat, JSONObject, NullIf, Trim
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html, format_html_join

from accounts.models import Customer, ShopSettings, User
from accounts.price_hiding import PriceHidingMixin
from accounts.roles import SERVICE_ADVISOR, TECHNICIAN
from core.admin import (
    CarshopModelAdmin,
    EditableWhileParentAllows,
    PrefetchedInlineFormSet,
    ReadOnlyMixin,
    ids_or_subquery,
)
from core.money import money
from inventory.admin.common import CostHidingMixin
from inventory.exceptions import InventoryError
from inventory.models import Part, Vehicle
from repairs import links, services, views
from repairs.choices import (
    EDITABLE_STATUSES,
    OPEN_STATUSES,
    AppointmentStatus,
    Authorization,
    AuthorizationMethod,
    RepairOrderStatus,
)
from repairs.documents import order_totals
from repairs.exceptions import RepairError
from repairs.models import (
    Appointment,
    CannedJob,
    CannedJobLabor,
    CannedJobPart,
    CreditNote,
    DocumentSequence,
    Invoice,
    Job,
    LaborLine,
    PartLine,
    Payment,
    RepairOrder,
    RepairOrderEvent,
    TimeEntry,
)
from repairs.totals import Rates

SERVICE_ERRORS = (RepairError, InventoryError, ValidationError)


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------

def technician_only(request):
    """True for a technician without the advisors' rights: sees only their own work."""
    cached = getattr(request, "_repairs_technician_only", None)
    if cached is None:
        user = request.user
        cached = (not user.is_superuser and not user.has_perm("repairs.change_repairorder")
                  and user.groups.filter(name=TECHNICIAN).exists())
        request._repairs_technician_only = cached
    return cached


def _error_text(exc):
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def _searchable_admin(model):
    """Whether `model` has an admin with a search box, so autocomplete widgets can use it."""
    model_admin = admin.site._registry.get(model)
    return bool(model_admin and model_admin.search_fields)


def _lookup_fields(**models):
    """(autocomplete_fields, raw_id_fields) for these foreign keys: autocomplete where the
    related model's admin can search, a plain id box otherwise."""
    auto = tuple(name for name, model in models.items() if _searchable_admin(model))
    raw = tuple(name for name in models if name not in auto)
    return auto, raw


def _get_or_none(queryset, object_id):
    try:
        return queryset.get(pk=object_id)
    except (queryset.model.DoesNotExist, ValidationError, ValueError):
        return None


def _adopt(obj, created):
    """Make the admin's unsaved form object be the row a service created."""
    for field in type(created)._meta.concrete_fields:
        setattr(obj, field.attname, getattr(created, field.attname))
    obj._state.adding = False
    obj._state.db = created._state.db


def _staff_choices(group_name):
    """(id, name) of active staff in a role, evaluated once: a select in every inline row then
    costs no query."""
    users = User.objects.filter(is_active=True, groups__name=group_name).order_by(
        "first_name", "last_name", "username")
    return [("", "---------"), *((user.pk, str(user)) for user in users)]


# A repair order number as people type it: RO-2024-00123, ro 2024 123, 2024-00123.
_ORDER_NUMBER = re.compile(r"^(?:RO)?[-\s]*(\d{4})[-\s]+(\d{1,6})$", re.IGNORECASE)


_INVOICE_NUMBER = re.compile(r"^(\d{4})-(\d{1,6})$")


def invoice_number(text):
    """The invoice number `text` names, as stored (2024-000123), or None."""
    match = _INVOICE_NUMBER.match(text.strip())
    return f"{match.group(1)}-{int(match.group(2)):06d}" if match else None


def order_number(text):
    """The repair order number `text` names, as stored (RO-2024-00123), or None."""
    match = _ORDER_NUMBER.match(text.strip())
    if match is None:
        return None
    return f"RO-{match.group(1)}-{int(match.group(2)):05d}"


class CustomerVehicleSearchMixin:
    """Search for rows that have a customer and a vehicle (repair orders, appointments): by
    repair order number, by the customer (name, phone, email: the customer search) or by the
    vehicle (whole VIN, its last characters, plate: the vehicle search).

    The customers and vehicles are found first, each with its own index, and the list is then
    filtered on their ids, which its foreign key indexes answer: never a scan of the list joined
    to the customer book.
    """

    number_path = None

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        number = order_number(term) if self.number_path else None
        if number is not None:
            return queryset.filter(**{self.number_path: number}), False
        condition = Q(customer__in=ids_or_subquery(Customer.objects.search(term)))
        condition |= Q(vehicle__in=ids_or_subquery(Vehicle.objects.search(term, owners=False)))
        return queryset.filter(condition), False


class ServiceErrorsMixin:
    """A refusal from a service (stock, workflow, final documents) while saving or deleting
    is shown as a message; the transaction of the admin view was rolled back whole."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SERVICE_ERRORS as exc:
            self.message_user(request, _error_text(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except SERVICE_ERRORS as exc:
            self.message_user(request, _error_text(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class PlainLabel(forms.Widget):
    """Shows a value as text (an existing part line's part: remove the line to change it)."""

    def __init__(self, label, attrs=None):
        super().__init__(attrs)
        self.label = label

    def render(self, name, value, attrs=None, renderer=None):
        return format_html("<span>{}</span>", self.label)


def _run_action(modeladmin, request, queryset, function, verb):
    """Run a workflow service on each selected order and report what happened."""
    done, refused = [], []
    for repair_order in queryset.order_by("pk"):
        try:
            result = function(repair_order, user=request.user)
        except SERVICE_ERRORS as exc:
            refused.append(_error_text(exc))
        else:
            done.append(getattr(result, "number", repair_order.number)
                        if isinstance(result, Invoice) else repair_order.number)
    if done:
        modeladmin.message_user(request, f"{verb}: {', '.join(done)}.", messages.SUCCESS)
    for message in refused:
        modeladmin.message_user(request, message, messages.WARNING)


# --------------------------------------------------------------------------------------------
# Repair orders
# --------------------------------------------------------------------------------------------

class AdvisorFilter(admin.SimpleListFilter):
    title = "advisor"
    parameter_name = "advisor"

    def lookups(self, request, model_admin):
        return [(pk, label) for pk, label in _staff_choices(SERVICE_ADVISOR) if pk]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(advisor_id=self.value())
        return queryset


RECOMMENDATIONS_SHOWN = 10


def _moment(value):
    return datetime.datetime.fromisoformat(value) if isinstance(value, str) else value


def _status_label(value):
    return RepairOrderStatus(value).label if value else ""


def _with_history_and_recommendations(queryset):
    """PostgreSQL: the order's status history and the work declined earlier on its vehicle come
    with the order itself, as arrays of JSON rows (one statement instead of three)."""
    from django.contrib.postgres.expressions import ArraySubquery

    user_name = Coalesce(NullIf(Trim(Concat("user__first_name", Value(" "), "user__last_name")),
                                Value("")), "user__username", Value(""))
    events = (RepairOrderEvent.objects.filter(repair_order=OuterRef("pk")).order_by("at", "id")
              .values(row=JSONObject(at="at", from_status="from_status", to_status="to_status",
                                     user=user_name, note="note")))
    declined = (Job.objects.recommendations()
                .filter(repair_order__vehicle=OuterRef("vehicle_id"))
                .exclude(repair_order=OuterRef("pk")).order_by("-authorized_at", "-id")
                .values(row=JSONObject(title="title", number="repair_order__number",
                                       at="authorized_at"))[:RECOMMENDATIONS_SHOWN])
    return queryset.annotate(history_rows=ArraySubquery(events),
                             recommendation_rows=ArraySubquery(declined))


class JobInline(EditableWhileParentAllows, PriceHidingMixin, admin.TabularInline):
    model = Job
    # The order's jobs as get_object loaded them with their lines, for the totals.
    formset = PrefetchedInlineFormSet
    extra = 0
    fields = ("position", "title", "complaint", "decision", "amount", "job_link")
    readonly_fields = ("decision", "amount", "job_link")
    price_fields = ("amount",)
    show_change_link = False

    def hidden_fields(self, request):
        hidden = super().hidden_fields(request)
        # The link to the job's page, only for whoever may open it.
        return hidden if request.user.has_perm("repairs.view_job") else hidden | {"job_link"}

    def get_queryset(self, request):
        queryset = super().get_queryset(request).prefetch_related("labor_lines", "part_lines")
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
        if job.authorization == Authorization.PENDING:
            return job.get_authorization_display()
        return (f"{job.get_authorization_display()} by {job.authorized_by} "
                f"({job.get_authorization_method_display().lower()})")

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
        return format_html('<a href="{}">Labor, parts and decision</a>',
                           reverse("admin:repairs_job_change", args=[job.pk]))

    def parent_editable(self, obj):
        return obj is None or obj.status in EDITABLE_STATUSES


class RepairOrderForm(forms.ModelForm):
    add_canned_job = forms.ModelChoiceField(
        queryset=CannedJob.objects.filter(active=True), required=False,
        help_text="Adds the job with its labor and parts when you save.")

    class Meta:
        model = RepairOrder
        fields = ("customer", "vehicle", "odometer_in", "advisor", "promised_at", "comeback_of",
                  "discount_percent", "hazardous_waste", "notes")

    def __init__(self, *args, advisor_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        if "advisor" in self.fields and advisor_choices is not None:
            self.fields["advisor"].choices = advisor_choices()
        if ("add_canned_job" in self.fields and self.instance.pk
                and self.instance.status in EDITABLE_STATUSES):
            field = self.fields["add_canned_job"]
            field.choices = [("", "---------"), *((job.pk, job.name)
                                                  for job in field.queryset)]


    def clean(self):
        data = super().clean()
        if self.instance.pk is None and data.get("vehicle") is not None:
            try:
                services.check_new_repair_order(data["vehicle"], customer=data.get("customer"),
                                                comeback_of=data.get("comeback_of"))
            except RepairError as exc:
                raise ValidationError(str(exc)) from None
        return data


@admin.register(RepairOrder)
class RepairOrderAdmin(CustomerVehicleSearchMixin, ServiceErrorsMixin, PriceHidingMixin,
                       CarshopModelAdmin):
    form = RepairOrderForm
    list_display = ("number", "status", "customer", "vehicle_label", "advisor", "opened_at",
                    "promised_at", "internal")
    list_select_related = ("customer", "vehicle", "advisor")
    list_filter = ("status", AdvisorFilter, "internal", "opened_at")
    date_hierarchy = "opened_at"
    # Searched by CustomerVehicleSearchMixin; listed here for autocomplete.
    search_fields = ("=number", "customer__display_name", "customer__phone")
    search_help_text = ("Order number, customer name, phone or email, VIN or its last 6 or 8 "
                        "characters, plate.")
    number_path = "number"
    autocomplete_fields, raw_id_fields = _lookup_fields(customer=Customer, vehicle=Vehicle)
    autocomplete_fields = (*autocomplete_fields, "comeback_of")
    inlines = [JobInline]
    actions = ["approve", "start", "complete", "invoice", "close_internal", "cancel"]
    ordering = ("-opened_at", "-id")
    price_fields = ("totals", "discount_percent", "documents")
    delete_refused_help = ("Repair orders are canceled (action Cancel), never deleted: their "
                           "numbers and history stay.")

    class Media:
        js = ("repairs/copy-link.js",)

    def get_fieldsets(self, request, obj=None):
        header = ["customer", "vehicle", "odometer_in", "advisor", "promised_at", "comeback_of"]
        if obj is None:
            return [
                (None, {"fields": header,
                        "description": "Leave the customer empty for the business's own "
                                       "vehicle: the order is then internal (at cost)."}),
                ("Billing", {"fields": ["discount_percent", "hazardous_waste"]}),
                ("Notes", {"fields": ["notes"]}),
            ]
        fieldsets = [
            (None, {"fields": ["number", "status", "internal", *header]}),
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
        fieldsets += [("Notes", {"fields": ["notes"]}),
                      ("History", {"fields": ["history"], "classes": ["collapse"]})]
        return self.without_hidden(request, fieldsets)

    def get_readonly_fields(self, request, obj=None):
        computed = ["number", "status", "internal", "totals", "documents", "recommendations",
                    "history"]
        if obj is not None and obj.status not in EDITABLE_STATUSES:
            return [*computed, "customer", "vehicle", "odometer_in", "advisor", "promised_at",
                    "comeback_of", "discount_percent", "hazardous_waste", "notes"]
        if obj is not None:
            # The vehicle and who pays are fixed once the order is open (internal or not).
            return [*computed, "customer", "vehicle"]
        return computed

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        # Read once the form has an advisor field (not on orders that can no longer change).
        advisor_choices = functools.partial(_staff_choices, SERVICE_ADVISOR)

        class Form(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, advisor_choices=advisor_choices, **inner)

        return Form

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if technician_only(request):
            queryset = queryset.for_technician(request.user)
        return queryset

    def get_object(self, request, object_id, from_field=None):
        queryset = (self.get_queryset(request)
                    .select_related("customer", "vehicle", "advisor", "comeback_of", "invoice")
                    .prefetch_related(Prefetch("jobs", queryset=Job.objects.prefetch_related(
                        "labor_lines", "part_lines"))))
        if connections[queryset.db].vendor == "postgresql":
            queryset = _with_history_and_recommendations(queryset)
        obj = _get_or_none(queryset, object_id)
        if obj is not None:
            # The customer's approval link is shown whole (scheme and host as this request came
            # in), for the advisor to paste into a text message or an email.
            obj.absolute_uri = request.build_absolute_uri
        return obj

    @admin.display(description="vehicle", ordering="vehicle__vin")
    def vehicle_label(self, obj):
        vehicle = obj.vehicle
        label = " ".join(str(p) for p in (vehicle.model_year, vehicle.make, vehicle.model) if p)
        return f"{label} · {vehicle.plate or vehicle.vin[-8:]}"

    @admin.display(description="totals")
    def totals(self, obj):
        totals = order_totals(obj, Rates.from_settings(ShopSettings.current()))
        rows = [("Labor", totals.labor), ("Parts", totals.parts),
                ("Discount", -totals.discount), ("Shop supplies", totals.shop_supplies),
                ("Hazardous waste", totals.hazardous_waste), ("Tax", totals.tax),
                ("Total", totals.total)]
        note = "Declined jobs are not counted." if not obj.internal else "Internal: at cost."
        return format_html(
            "<table>{}</table><p>{}</p>",
            format_html_join("", "<tr><td>{}</td><td style='text-align:right'>{}</td></tr>",
                             rows), note)

    @admin.display(description="documents")
    def documents(self, obj):
        items = []
        base = reverse("admin:repairs_repairorder_print", args=[obj.pk])
        items.append(format_html('<a href="{}">Print estimate</a> · <a href="{}pdf/">PDF</a>',
                                 base, base))
        if obj.status in EDITABLE_STATUSES and not obj.internal:
            url = reverse("repairs:customer_estimate", args=[links.estimate_token(obj)])
            absolute_uri = getattr(obj, "absolute_uri", None)
            days = ShopSettings.current().estimate_link_days
            items.append(format_html(
                '<label for="approval-link">Customer approval link (valid {} days):</label> '
                '<input id="approval-link" readonly size="70" value="{}"> '
                # repairs/static/repairs/copy-link.js
                '<button type="button" class="button" data-copy="approval-link">Copy link'
                '</button>',
                days, absolute_uri(url) if absolute_uri else url))
        invoice = getattr(obj, "invoice", None)
        if invoice is not None:
            items.append(format_html('Invoice <a href="{}">{}</a>',
                                     reverse("admin:repairs_invoice_change", args=[invoice.pk]),
                                     invoice.number))
        return format_html_join("", "<div>{}</div>", ((item,) for item in items))

    @admin.display(description="declined earlier on this vehicle")
    def recommendations(self, obj):
        rows = getattr(obj, "recommendation_rows", None)
        if rows is None:
            rows = [{"title": job.title, "number": job.repair_order.number,
                     "at": job.authorized_at}
                    for job in services.recommendations_for(obj.vehicle).exclude(
                        repair_order=obj)[:RECOMMENDATIONS_SHOWN]]
        if not rows:
            return "-"
        return format_html_join("", "<div>{} ({}, {})</div>",
                                ((row["title"], row["number"],
                                  f"{timezone.localtime(_moment(row['at'])):%Y-%m-%d}")
                                 for row in rows))

    @admin.display(description="history")
    def history(self, obj):
        rows = getattr(obj, "history_rows", None)
        if rows is None:
            rows = [{"at": e.at, "from_status": e.from_status, "to_status": e.to_status,
                     "user": str(e.user or ""), "note": e.note}
                    for e in obj.events.select_related("user")]
        return format_html_join(
            "", "<div>{} {} → {} {} {}</div>",
            ((f"{timezone.localtime(_moment(row['at'])):%Y-%m-%d %H:%M}",
              _status_label(row["from_status"]) or "new", _status_label(row["to_status"]),
              row["user"], row["note"]) for row in rows))

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.create_repair_order(obj.vehicle, customer=obj.customer,
                                                   user=request.user, instance=obj)
            for warning in created.warnings:
                self.message_user(request, warning, messages.WARNING)
            return
        super().save_model(request, obj, form, change)
        warning = services.open_orders_warning(obj.vehicle, exclude=obj)
        if warning and obj.status in OPEN_STATUSES:
            self.message_user(request, warning, messages.WARNING)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Job:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)
        for job in formset.deleted_objects:
            services.remove_job(job, user=request.user)
        for job, changed in formset.changed_objects:
            fields = {name: getattr(job, name) for name in changed
                      if name in ("position", "title", "complaint")}
            if fields:
                services.save_job_text(job, user=request.user, **fields)
        for job in formset.new_objects:
            services.add_job(form.instance, title=job.title, complaint=job.complaint,
                             user=request.user)

    def save_related(self, request, form, formsets, change):
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

    @admin.action(description="Approve (customer approved at least one job)",
                  permissions=["change"])
    def approve(self, request, queryset):
        _run_action(self, request, queryset, services.approve_repair_order, "Approved")

    @admin.action(description="Start work (issues parts from stock)", permissions=["change"])
    def start(self, request, queryset):
        _run_action(self, request, queryset, services.start_work, "Work started")

    @admin.action(description="Complete work", permissions=["change"])
    def complete(self, request, queryset):
        _run_action(self, request, queryset, services.complete_work, "Completed")

    @admin.action(description="Invoice", permissions=["invoice"])
    def invoice(self, request, queryset):
        _run_action(self, request, queryset, services.invoice_repair_order, "Invoices written")

    @admin.action(description="Close internal order at cost", permissions=["change"])
    def close_internal(self, request, queryset):
        _run_action(self, request, queryset, services.close_internal_order, "Closed at cost")

    @admin.action(description="Cancel (returns issued parts to stock)", permissions=["change"])
    def cancel(self, request, queryset):
        _run_action(self, request, queryset, services.cancel_repair_order, "Canceled")

    # Extra pages ------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("board/", wrap(self.board_view), name="repairs_repairorder_board"),
            path("<path:object_id>/print/", wrap(self.print_view),
                 name="repairs_repairorder_print"),
            path("<path:object_id>/print/pdf/", wrap(self.pdf_view),
                 name="repairs_repairorder_pdf"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The Print and PDF buttons only for whoever may print (the documents show prices).
        extra_context = {"can_print": request.user.has_perm(views.PRINT_PERMISSION),
                         **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context)

    def print_view(self, request, object_id):
        return views.print_estimate(request, object_id, self.get_queryset(request))

    def pdf_view(self, request, object_id):
        return views.estimate_pdf(request, object_id, self.get_queryset(request))

    BOARD_COLUMN_LIMIT = 50

    def board_view(self, request):
        """Open orders by status, oldest first: what waits for whom."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        queryset = self.get_queryset(request).select_related("customer", "vehicle", "advisor")
        counts = dict(queryset.filter(status__in=OPEN_STATUSES).values_list("status")
                      .annotate(n=Count("id")).order_by())
        columns = [
            {"status": RepairOrderStatus(status).label, "count": counts.get(status, 0),
             "orders": list(queryset.filter(status=status)
                            .order_by("opened_at", "id")[:self.BOARD_COLUMN_LIMIT])}
            for status in OPEN_STATUSES
        ]
        context = {**self.admin_site.each_context(request), "title": "Repair order board",
                   "opts": self.model._meta, "columns": columns, "now": timezone.now(),
                   "limit": self.BOARD_COLUMN_LIMIT}
        return TemplateResponse(request, "admin/repairs/status_board.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}),
                         "board_url": reverse("admin:repairs_repairorder_board")}
        return super().changelist_view(request, extra_context)


# --------------------------------------------------------------------------------------------
# Jobs and their lines
# --------------------------------------------------------------------------------------------

class LaborLineInline(EditableWhileParentAllows, PriceHidingMixin, admin.TabularInline):
    model = LaborLine
    extra = 1
    fields = ("operation", "hours_sold", "rate", "technician", "amount")
    readonly_fields = ("amount",)
    price_fields = ("rate", "amount")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("technician")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if "technician" in formset.form.base_fields:
            formset.form.base_fields["technician"].choices = _staff_choices(TECHNICIAN)
            rate = formset.form.base_fields.get("rate")
            if rate is not None:
                rate.initial = ShopSettings.current().labor_rate
        return formset

    @admin.display(description="amount")
    def amount(self, line):
        return f"{line.amount:.2f}" if line.pk else "-"

    def parent_editable(self, obj):
        return obj is None or obj.repair_order.status in EDITABLE_STATUSES


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


class PartLineInline(CostHidingMixin, LaborLineInline):
    model = PartLine
    form = PartLineForm
    fields = ("part", "quantity", "price", "unit_cost", "amount", "issued_quantity")
    readonly_fields = ("unit_cost", "amount", "issued_quantity")
    price_fields = ("price", "amount")
    cost_fields = ("unit_cost",)
    autocomplete_fields, raw_id_fields = _lookup_fields(part=Part)

    def get_queryset(self, request):
        return admin.TabularInline.get_queryset(self, request).select_related("part")

    def get_formset(self, request, obj=None, **kwargs):
        return admin.TabularInline.get_formset(self, request, obj, **kwargs)


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
        return entry.hours


class JobForm(forms.ModelForm):
    record_decision = forms.ChoiceField(
        label="record customer decision", required=False,
        choices=[("", "—"), (Authorization.APPROVED, "Approved"),
                 (Authorization.DECLINED, "Declined")])
    decision_method = forms.ChoiceField(
        label="how", required=False,
        choices=[("", "—"), (AuthorizationMethod.IN_PERSON, "In person"),
                 (AuthorizationMethod.PHONE, "Phone")])
    decided_by = forms.CharField(label="by whom", required=False, max_length=160,
                                 help_text="The customer's name (defaults to the order's "
                                           "customer).")

    class Meta:
        model = Job
        fields = ("position", "title", "complaint", "cause", "correction")

    def clean(self):
        data = super().clean()
        if data.get("record_decision") and not data.get("decision_method"):
            self.add_error("decision_method", "Say how the customer decided.")
        return data


@admin.register(Job)
class JobAdmin(ServiceErrorsMixin, CarshopModelAdmin):
    form = JobForm
    list_display = ("__str__", "repair_order", "order_status", "vehicle", "authorization",
                    "hours_sold", "actual_hours")
    list_select_related = ("repair_order__vehicle",)
    list_filter = ("authorization", "repair_order__status")
    search_fields = ("=repair_order__number", "title")
    inlines = [LaborLineInline, PartLineInline, TimeEntryInline]
    actions = ["clock_in", "clock_out", "approve_in_person", "approve_by_phone",
               "decline_in_person", "decline_by_phone"]
    # Removing a job (services.remove_job) takes its lines, returning issued parts to stock.
    deleted_with = (LaborLine, PartLine)

    def get_queryset(self, request):
        sold = (LaborLine.objects.filter(job=OuterRef("pk")).values("job")
                .annotate(total=Sum("hours_sold")).values("total"))
        queryset = (super().get_queryset(request)
                    .select_related("repair_order__vehicle", "repair_order__customer")
                    .annotate(sold_hours=Coalesce(Subquery(sold), Decimal("0")))
                    .prefetch_related(Prefetch("time_entries", to_attr="clocked_entries")))
        if technician_only(request):
            queryset = queryset.for_technician(request.user)
        return queryset

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["repair_order_link", "position", "title", "complaint", "cause",
                               "correction"]}),
            ("Customer decision", {"fields": ["decision"]}),
            ("Time", {"fields": ["hours_sold", "actual_hours"]}),
        ]
        if (obj is not None and obj.repair_order.status in EDITABLE_STATUSES
                and request.user.has_perm("repairs.change_laborline")):
            fieldsets[1][1]["fields"] += ["record_decision", "decision_method", "decided_by"]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = ["repair_order_link", "decision", "hours_sold", "actual_hours"]
        if obj is not None and obj.repair_order.status not in (*EDITABLE_STATUSES,
                                                               RepairOrderStatus.COMPLETED):
            return [*readonly, "position", "title", "complaint", "cause", "correction"]
        if technician_only(request):
            # Technicians write what they found and what they did; the rest is the advisor's.
            return [*readonly, "position", "title", "complaint"]
        return readonly

    def get_object(self, request, object_id, from_field=None):
        return _get_or_none(self.get_queryset(request), object_id)

    @admin.display(description="repair order")
    def repair_order_link(self, job):
        order = job.repair_order
        return format_html('<a href="{}">{}</a> ({}) · {}',
                           reverse("admin:repairs_repairorder_change", args=[order.pk]),
                           order.number, order.get_status_display(), order.vehicle)

    @admin.display(description="status", ordering="repair_order__status")
    def order_status(self, job):
        return job.repair_order.get_status_display()

    @admin.display(description="vehicle")
    def vehicle(self, job):
        return job.repair_order.vehicle

    @admin.display(description="decision")
    def decision(self, job):
        if job.authorization == Authorization.PENDING:
            return job.get_authorization_display()
        return (f"{job.get_authorization_display()} by {job.authorized_by}, "
                f"{job.get_authorization_method_display().lower()}, "
                f"{timezone.localtime(job.authorized_at):%Y-%m-%d %H:%M}")

    @admin.display(description="hours sold")
    def hours_sold(self, job):
        return job.sold_hours

    @admin.display(description="hours clocked")
    def actual_hours(self, job):
        return sum((entry.hours for entry in job.clocked_entries), Decimal("0.00"))

    def has_add_permission(self, request):
        # Jobs are added on their repair order (or as canned jobs).
        return False

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.changed_data
                  if name in ("position", "title", "complaint", "cause", "correction")}
        if fields:
            services.save_job_text(obj, user=request.user, **fields)
        decision = form.cleaned_data.get("record_decision")
        if decision:
            services.authorize_job(
                obj, decision, method=form.cleaned_data["decision_method"],
                authorized_by=form.cleaned_data.get("decided_by") or str(
                    obj.repair_order.customer or request.user),
                user=request.user)

    def save_formset(self, request, form, formset, change):
        job = form.instance
        formset.save(commit=False)
        parts = formset.model is PartLine
        for line in formset.deleted_objects:
            if parts:
                services.remove_part_line(line, user=request.user)
            else:
                services.remove_labor_line(line, user=request.user)
        for line, _changed in formset.changed_objects:
            if parts:
                services.change_part_line(line, quantity=line.quantity, price=line.price,
                                          user=request.user)
            else:
                services.save_labor_line(line, user=request.user)
        for line in formset.new_objects:
            if parts:
                services.add_part_line(job, line.part, line.quantity, price=line.price,
                                       user=request.user)
            else:
                services.add_labor_line(job, operation=line.operation,
                                        hours_sold=line.hours_sold, rate=line.rate,
                                        technician=line.technician, user=request.user)

    def delete_refusal(self, obj):
        order = obj.repair_order
        if order.status not in EDITABLE_STATUSES:
            return (f"Job {obj} is on {order.number}, which is "
                    f"{order.get_status_display().lower()}: a job is removed only while its "
                    f"order is open (estimate, approved or in progress).")
        if obj.time_entries.exists():
            return (f"Technicians clocked time on job {obj}: decline it instead of removing "
                    f"it.")
        return None

    def delete_model(self, request, obj):
        services.remove_job(obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for job in queryset:
            services.remove_job(job, user=request.user)

    # Actions -----------------------------------------------------------------------------

    def has_clock_permission(self, request):
        return request.user.has_perm("repairs.add_timeentry")

    def has_decide_permission(self, request):
        return request.user.has_perm("repairs.change_laborline")

    @admin.action(description="Clock in on this job", permissions=["clock"])
    def clock_in(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one job to clock in on.",
                              messages.WARNING)
            return
        try:
            entry = services.clock_in(request.user, queryset.get())
        except SERVICE_ERRORS as exc:
            self.message_user(request, _error_text(exc), messages.WARNING)
        else:
            self.message_user(request, f"Clocked in on {entry.job} at "
                                       f"{timezone.localtime(entry.started):%H:%M}.")

    @admin.action(description="Clock out", permissions=["clock"])
    def clock_out(self, request, queryset):
        try:
            entry = services.clock_out(request.user)
        except SERVICE_ERRORS as exc:
            self.message_user(request, _error_text(exc), messages.WARNING)
        else:
            self.message_user(request, f"Clocked out of {entry.job}: {entry.hours} h.")

    def _decide(self, request, queryset, decision, method):
        done, refused = 0, []
        for job in queryset.select_related("repair_order__customer"):
            try:
                services.authorize_job(job, decision, method=method,
                                       authorized_by=str(job.repair_order.customer or
                                                         request.user),
                                       user=request.user)
            except SERVICE_ERRORS as exc:
                refused.append(_error_text(exc))
            else:
                done += 1
        label = "approved" if decision == Authorization.APPROVED else "declined"
        if done:
            self.message_user(request, f"{done} job(s) {label}.", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.WARNING)

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


class LineAdminBase(ReadOnlyMixin, PriceHidingMixin, CarshopModelAdmin):
    """Lines are listed here for searching; they are edited on their job's page."""

    list_select_related = ("job__repair_order",)
    search_fields = ("=job__repair_order__number",)

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
    list_display = ("operation", "repair_order", "hours_sold", "rate", "technician")
    price_fields = ("rate",)
    list_select_related = ("job__repair_order", "technician")
    list_filter = ("technician",)
    search_fields = ("=job__repair_order__number", "operation")


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
                pk=self.instance.pk)
            try:
                services.check_time_entry_change(stored, started=data.get("started"),
                                                 ended=data.get("ended"), user=self.user)
            except RepairError as exc:
                raise ValidationError(str(exc)) from None
        return data


@admin.register(TimeEntry)
class TimeEntryAdmin(ServiceErrorsMixin, CarshopModelAdmin):
    form = TimeEntryForm
    list_display = ("technician", "job", "repair_order", "started", "ended", "hours")
    list_select_related = ("technician", "job__repair_order")
    list_filter = ("technician", "started")
    date_hierarchy = "started"
    search_fields = ("=job__repair_order__number",)
    fields = ("technician", "job", "started", "ended")
    readonly_fields = ("technician", "job")

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("technician",
                                                                "job__repair_order")
        if technician_only(request):
            queryset = queryset.filter(technician=request.user)
        return queryset

    @admin.display(description="repair order")
    def repair_order(self, entry):
        return entry.job.repair_order.number

    @admin.display(description="hours")
    def hours(self, entry):
        return entry.hours

    def has_add_permission(self, request):
        # Technicians clock in and out from their jobs (actions on the jobs list).
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def save_model(self, request, obj, form, change):
        _adopt(obj, services.change_time_entry(obj, started=obj.started, ended=obj.ended,
                                               user=request.user))

    def delete_refusal(self, obj):
        order = obj.job.repair_order
        if order.status not in EDITABLE_STATUSES:
            return (f"The time clocked on {order.number} stays: the order is "
                    f"{order.get_status_display().lower()}, and its hours are the "
                    f"technician's record.")
        return None


# --------------------------------------------------------------------------------------------
# Appointments
# --------------------------------------------------------------------------------------------

class AppointmentForm(forms.ModelForm):
    """A booking, checked by repairs.services.check_appointment: the customer's own vehicle, not
    in the past, a free slot."""

    class Meta:
        model = Appointment
        fields = ("date", "time", "customer", "vehicle", "concern", "advisor", "status")

    def _post_clean(self):
        super()._post_clean()
        if not self.errors:
            try:
                services.check_appointment(self.instance)
            except RepairError as exc:
                self.add_error(None, str(exc))


@admin.register(Appointment)
class AppointmentAdmin(CustomerVehicleSearchMixin, ServiceErrorsMixin, CarshopModelAdmin):
    form = AppointmentForm
    list_display = ("date", "time", "customer", "vehicle", "status", "advisor",
                    "repair_order_link")
    list_select_related = ("customer", "vehicle", "advisor", "repair_order")
    list_filter = ("status", "date")
    date_hierarchy = "date"
    search_fields = ("customer__display_name", "customer__phone")
    search_help_text = "Customer name or phone, VIN or its last characters, plate."
    autocomplete_fields, raw_id_fields = _lookup_fields(customer=Customer, vehicle=Vehicle)
    fields = ("date", "time", "customer", "vehicle", "concern", "advisor", "status")
    actions = ["open_repair_order"]
    ordering = ("-date", "time", "id")

    class Media:
        # The vehicle picker lists the chosen customer's vehicles (after Django's jQuery).
        js = ["admin/js/jquery.init.js", "repairs/admin/appointment_vehicle.js"]

    def delete_refusal(self, obj):
        if obj.status != AppointmentStatus.SCHEDULED:
            return (f"The appointment of {obj.customer} on {obj.date} is "
                    f"{obj.get_status_display().lower()}: it stays for the shop's history; "
                    f"only a scheduled appointment is deleted (or canceled).")
        return None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "advisor":
            field.choices = _staff_choices(SERVICE_ADVISOR)
        return field

    @admin.display(description="repair order")
    def repair_order_link(self, appointment):
        order = getattr(appointment, "repair_order", None)
        if order is None:
            return "-"
        return format_html('<a href="{}">{}</a>',
                           reverse("admin:repairs_repairorder_change", args=[order.pk]),
                           order.number)

    def save_model(self, request, obj, form, change):
        services.save_appointment(obj, user=request.user)

    def has_open_order_permission(self, request):
        return request.user.has_perm("repairs.add_repairorder")

    @admin.action(description="Open a repair order for the appointment",
                  permissions=["open_order"])
    def open_repair_order(self, request, queryset):
        for appointment in queryset.select_related("customer", "vehicle"):
            try:
                created = services.create_repair_order_from_appointment(appointment,
                                                                        user=request.user)
            except SERVICE_ERRORS as exc:
                self.message_user(request, _error_text(exc), messages.WARNING)
                continue
            self.message_user(request, f"Opened {created.repair_order.number} for "
                                       f"{appointment.customer}.", messages.SUCCESS)
            for warning in created.warnings:
                self.message_user(request, warning, messages.WARNING)

    def get_urls(self):
        return [
            path("day/", self.admin_site.admin_view(self.day_view),
                 name="repairs_appointment_day"),
            *super().get_urls(),
        ]

    def day_view(self, request):
        """One day's appointments in time order, with the previous and next day."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        day = parse_date(request.GET.get("date", "") or "") or timezone.localdate()
        appointments = (self.get_queryset(request).filter(date=day)
                        .select_related("customer", "vehicle", "advisor", "repair_order")
                        .order_by("time", "id"))
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
        extra_context = {**(extra_context or {}),
                         "day_url": reverse("admin:repairs_appointment_day")}
        return super().changelist_view(request, extra_context)


# --------------------------------------------------------------------------------------------
# Canned jobs
# --------------------------------------------------------------------------------------------

class CannedJobLaborInline(admin.TabularInline):
    model = CannedJobLabor
    extra = 1


class CannedJobPartInline(admin.TabularInline):
    model = CannedJobPart
    extra = 1
    autocomplete_fields, raw_id_fields = _lookup_fields(part=Part)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("part")


@admin.register(CannedJob)
class CannedJobAdmin(CarshopModelAdmin):
    list_display = ("name", "active", "labor_hours")
    list_filter = ("active",)
    search_fields = ("name",)
    inlines = [CannedJobLaborInline, CannedJobPartInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("labor")

    @admin.display(description="labor hours")
    def labor_hours(self, canned_job):
        return sum((line.hours for line in canned_job.labor.all()), 0)


@admin.register(CannedJobLabor)
class CannedJobLaborAdmin(CarshopModelAdmin):
    list_display = ("operation", "canned_job", "hours")
    list_select_related = ("canned_job",)
    search_fields = ("operation", "canned_job__name")


@admin.register(CannedJobPart)
class CannedJobPartAdmin(CarshopModelAdmin):
    list_display = ("part", "canned_job", "quantity")
    list_select_related = ("canned_job", "part")
    search_fields = ("=part__sku", "canned_job__name")
    autocomplete_fields, raw_id_fields = _lookup_fields(part=Part)


# --------------------------------------------------------------------------------------------
# Invoices, credit notes, payments: written by services, never edited
# --------------------------------------------------------------------------------------------

class FinalDocumentAdmin(ServiceErrorsMixin, CarshopModelAdmin):
    delete_refused_help = ("Invoices, payments and credit notes are final: a credit note "
                           "corrects an invoice; nothing is deleted.")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    fields = ("received_at", "method", "amount", "reference", "received_by")
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("received_by")

    def has_add_permission(self, request, obj=None):
        return False


class CreditNoteInline(PaymentInline):
    model = CreditNote
    fields = ("number", "issued_at", "amount", "reason", "issued_by")
    readonly_fields = fields

    def get_queryset(self, request):
        return admin.TabularInline.get_queryset(self, request).select_related("issued_by")


@admin.register(Invoice)
class InvoiceAdmin(FinalDocumentAdmin):
    list_display = ("number", "issued_at", "customer", "repair_order", "total", "paid",
                    "balance")
    list_select_related = ("customer", "repair_order")
    list_filter = ("issued_at", "repair_order__status")
    date_hierarchy = "issued_at"
    # Searched by get_search_results (index-friendly); listed here for autocomplete.
    search_fields = ("=number", "=repair_order__number", "customer__display_name",
                     "customer__phone")
    search_help_text = "Invoice number (2024-000123), repair order number, customer name or phone."
    fields = ("number", "repair_order", "customer", "issued_at", "issued_by", "labor_total",
              "parts_total", "discount_total", "fees_total", "tax_total", "total", "balance",
              "documents")
    readonly_fields = fields
    inlines = [PaymentInline, CreditNoteInline]

    def get_queryset(self, request):
        return super().get_queryset(request).with_balance()

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        number = invoice_number(term)
        if number is not None:
            return queryset.filter(number=number), False
        order = order_number(term)
        if order is not None:
            return queryset.filter(repair_order__number=order), False
        return queryset.filter(customer__in=ids_or_subquery(Customer.objects.search(term))), False

    @admin.display(description="paid", ordering="paid_amount")
    def paid(self, invoice):
        return money(invoice.paid_amount)

    @admin.display(description="balance", ordering="balance_amount")
    def balance(self, invoice):
        return money(invoice.balance_amount)

    @admin.display(description="documents")
    def documents(self, invoice):
        base = reverse("admin:repairs_invoice_print", args=[invoice.pk])
        return format_html('<a href="{}">Print</a> · <a href="{}pdf/">PDF</a>', base, base)

    def has_add_permission(self, request):
        # Invoices are written by the "Invoice" action on completed repair orders.
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/print/", wrap(self.print_view),
                 name="repairs_invoice_print"),
            path("<path:object_id>/print/pdf/", wrap(self.pdf_view), name="repairs_invoice_pdf"),
            *super().get_urls(),
        ]

    def print_view(self, request, object_id):
        return views.print_invoice(request, object_id, self.get_queryset(request))

    def pdf_view(self, request, object_id):
        return views.invoice_pdf(request, object_id, self.get_queryset(request))


class PaymentForm(forms.ModelForm):
    class Meta:
        model = Payment
        fields = ("invoice", "amount", "method", "reference")

    def clean(self):
        data = super().clean()
        invoice, amount = data.get("invoice"), data.get("amount")
        if invoice is not None and amount is not None:
            balance = services.invoice_balance(invoice)
            if amount > balance:
                self.add_error("amount", f"A payment of {amount} is more than the balance of "
                                         f"{balance} on invoice {invoice.number}.")
        return data


@admin.register(Payment)
class PaymentAdmin(FinalDocumentAdmin):
    form = PaymentForm
    list_display = ("received_at", "invoice", "method", "amount", "reference", "received_by")
    list_select_related = ("invoice", "received_by")
    list_filter = ("method", "received_at")
    date_hierarchy = "received_at"
    search_fields = ("=invoice__number", "reference")
    search_help_text = "Invoice number (2024-000123), or part of the payment's reference."
    autocomplete_fields = ("invoice",)

    def get_search_results(self, request, queryset, search_term):
        # Indexed lookups only: the invoice's number, or the reference (a trigram index on
        # PostgreSQL, repairs migration 0003).
        term = search_term.strip()
        if not term:
            return queryset, False
        number = invoice_number(term)
        if number is not None:
            return queryset.filter(invoice__number=number), False
        return queryset.filter(reference__icontains=term), False

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("invoice", "amount", "method", "reference")
        return ("invoice", "amount", "method", "reference", "received_at", "received_by")

    def save_model(self, request, obj, form, change):
        payment = services.record_payment(obj.invoice, obj.amount, obj.method,
                                          reference=obj.reference, user=request.user)
        _adopt(obj, payment)


class CreditNoteForm(forms.ModelForm):
    class Meta:
        model = CreditNote
        fields = ("invoice", "amount", "reason")


@admin.register(CreditNote)
class CreditNoteAdmin(FinalDocumentAdmin):
    form = CreditNoteForm
    list_display = ("number", "issued_at", "invoice", "amount", "reason", "issued_by")
    list_select_related = ("invoice", "issued_by")
    list_filter = ("issued_at",)
    date_hierarchy = "issued_at"
    search_fields = ("=number", "=invoice__number")
    autocomplete_fields = ("invoice",)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("invoice", "amount", "reason")
        return ("number", "invoice", "amount", "reason", "issued_at", "issued_by")

    def save_model(self, request, obj, form, change):
        note = services.issue_credit_note(obj.invoice, obj.amount, obj.reason,
                                          user=request.user)
        _adopt(obj, note)


# --------------------------------------------------------------------------------------------
# Bookkeeping rows, visible for audits
# --------------------------------------------------------------------------------------------

@admin.register(RepairOrderEvent)
class RepairOrderEventAdmin(ReadOnlyMixin, CarshopModelAdmin):
    list_display = ("at", "repair_order", "from_status", "to_status", "user", "note")
    list_select_related = ("repair_order", "user")
    list_filter = ("to_status", "at")
    date_hierarchy = "at"
    search_fields = ("=repair_order__number",)


@admin.register(DocumentSequence)
class DocumentSequenceAdmin(RepairOrderEventAdmin):
    list_display = ("series", "year", "last_number")
    list_select_related = ()
    list_filter = ("series",)
    date_hierarchy = None
    search_fields = ()
