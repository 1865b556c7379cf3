"""Purchase orders, their lines and the receipts of deliveries."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import (
    Count,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.locations import home_location, selected_location
from core.admin import CarshopModelAdmin, EditableWhileParentAllows, ReadOnlyMixin
from core.admin_actions import add_refusal_to_form, run_for_each
from core.money import money
from inventory import services
from inventory.admin.common import (
    CostHidingMixin,
    LocationFieldsMixin,
    LocationScoped,
    PreloadedAutocompleteFormSet,
    PreloadedAutocompleteSelect,
    ServiceForm,
)
from inventory.exceptions import InventoryError
from inventory.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseReceipt,
    PurchaseReceiptLine,
)
from inventory.workflow import PURCHASE_ORDER_PIPELINE, RECEIVED_STATUSES

Status = PurchaseOrder.Status
MONEY = DecimalField(max_digits=14, decimal_places=2)


class OrderLineForm(forms.ModelForm):
    class Meta:
        model = PurchaseOrderLine
        fields = ("part", "quantity_ordered", "unit_cost")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "unit_cost" in self.fields:
            self.fields["unit_cost"].required = False
            self.fields["unit_cost"].help_text = "Empty: the part's average cost."


class OrderLinesFormSet(PreloadedAutocompleteFormSet):
    preload_fields = ("part",)


class OrderLineInline(EditableWhileParentAllows, CostHidingMixin, admin.TabularInline):
    """The order's lines: editable while it is a draft, then read-only."""

    model = PurchaseOrderLine
    form = OrderLineForm
    formset = OrderLinesFormSet
    fields = ("part", "quantity_ordered", "unit_cost", "quantity_received")
    readonly_fields = ("quantity_received",)
    autocomplete_fields = ("part",)
    cost_fields = ("unit_cost",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("part")

    def get_extra(self, request, obj=None, **kwargs):
        return 1 if obj is None or obj.status == Status.DRAFT else 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "part":
            kwargs["widget"] = PreloadedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def parent_editable(self, obj):
        return obj is None or obj.status == Status.DRAFT


class ReceiptInline(ReadOnlyMixin, admin.TabularInline):
    """Deliveries received on the order (open one for its lines)."""

    model = PurchaseReceipt
    fields = ("received_at", "received_by", "packing_slip", "notes")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("received_by")


class PlaceForm(ServiceForm):
    supplier_reference = forms.CharField(
        max_length=60,
        required=False,
        help_text="The supplier's order or confirmation number, if they gave one.",
    )


class CancelForm(ServiceForm):
    reason = forms.CharField(
        max_length=200, required=False, help_text="Why, for whoever looks at this order later."
    )


class ReceiveForm(ServiceForm):
    """One quantity per line still expected, filled with what is outstanding."""

    packing_slip = forms.CharField(
        max_length=60, required=False, help_text="The supplier's packing slip or invoice number."
    )
    notes = forms.CharField(max_length=200, required=False)

    def __init__(self, lines, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                label=f"{line.part.sku} {line.part.description}",
                min_value=0,
                required=False,
                max_value=line.outstanding,
                initial=line.outstanding,
                help_text=f"Ordered {line.quantity_ordered}, received so far "
                f"{line.quantity_received}.",
            )
        self.order_fields([f"line_{line.pk}" for line in lines] + ["packing_slip", "notes"])

    def quantities(self):
        return {line.pk: self.cleaned_data[f"line_{line.pk}"] or 0 for line in self.lines}


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(LocationScoped, LocationFieldsMixin, CostHidingMixin, CarshopModelAdmin):
    list_display = (
        "number",
        "supplier",
        "location",
        "status",
        "line_count",
        "total_cost",
        "created_at",
        "ordered_at",
        "expected_on",
    )
    list_display_links = ("number",)
    list_select_related = ("supplier", "location")
    list_filter = ("status", "supplier")
    date_hierarchy = "created_at"
    search_fields = ("supplier__name", "supplier_reference")
    search_help_text = "Order number (PO-00012 or 12), supplier name, supplier's reference."
    autocomplete_fields = ("supplier",)
    readonly_fields = (
        "status",
        "total_cost",
        "created_by",
        "created_at",
        "ordered_at",
        "ordered_by",
        "received_at",
        "cancelled_at",
        "cancel_reason",
    )
    cost_fields = ("total_cost",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "supplier",
                    "location",
                    "status",
                    ("supplier_reference", "expected_on"),
                    "notes",
                    "total_cost",
                )
            },
        ),
        (
            "History",
            {
                "fields": (
                    ("created_at", "created_by"),
                    ("ordered_at", "ordered_by"),
                    "received_at",
                    ("cancelled_at", "cancel_reason"),
                )
            },
        ),
    )
    inlines = (OrderLineInline, ReceiptInline)
    actions = ("place_selected", "receive_selected", "cancel_selected")

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if request.method == "GET" and obj.pk is None and isinstance(inline, OrderLineInline):
            # A special order from a short part line (?part=<id>&quantity=<missing>): its one
            # line written already, the cost left to the part's average.
            part, quantity = request.GET.get("part", ""), request.GET.get("quantity", "")
            if part.isdigit() and quantity.isdigit():
                kwargs["initial"] = [{"part": int(part), "quantity_ordered": int(quantity)}]
        return kwargs

    def get_queryset(self, request):
        lines = PurchaseOrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
        return (
            super()
            .get_queryset(request)
            .annotate(
                line_count=Coalesce(
                    Subquery(lines.annotate(n=Count("pk")).values("n")),
                    0,
                    output_field=IntegerField(),
                ),
                # An order saved before its lines (a special order) costs 0.00 so far.
                total_cost=Coalesce(
                    Subquery(
                        lines.annotate(
                            total=Sum(F("quantity_ordered") * F("unit_cost"), output_field=MONEY)
                        ).values("total"),
                        output_field=MONEY,
                    ),
                    Value(Decimal("0.00")),
                    output_field=MONEY,
                ),
            )
        )

    @admin.display(description="number", ordering="pk")
    def number(self, obj):
        return obj.number

    @admin.display(description="lines", ordering="line_count")
    def line_count(self, obj):
        return obj.line_count

    @admin.display(description="total cost", ordering="total_cost")
    def total_cost(self, obj):
        return money(obj.total_cost)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        number = PurchaseOrder.parse_number(term)
        condition = Q(supplier__name__icontains=term) | Q(supplier_reference__iexact=term)
        if number is not None:
            condition |= Q(pk=number)
        return queryset.filter(condition), False

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.status != Status.DRAFT:
            fields = [*fields, "supplier", "location"]
        return fields

    delete_refused_help = "A draft is deleted from its own page; a placed order is cancelled."
    # A draft's lines go with it (they are edited on its page, never on their own).
    deleted_with = (PurchaseOrderLine,)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Orders are history once placed; a draft is deleted from its own page.
        actions.pop("delete_selected", None)
        return actions

    def delete_refusal(self, obj):
        return services.purchase_order_deletion_refusal(obj)

    def has_receive_permission(self, request):
        return request.user.has_perm("inventory.add_purchasereceipt")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        if obj.location_id is None:
            # A single-location install shows no location field: the order goes to the
            # chosen location, else the user's home.
            obj.location = selected_location(request) or home_location(request.user)
        obj.save()

    def save_formset(self, request, form, formset, change):
        if formset.model is not PurchaseOrderLine:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for line_form in formset.deleted_forms:
            if line_form.instance.pk:
                formset.deleted_objects.append(line_form.instance)
                line_form.instance.delete()
        for line_form in formset.initial_forms:
            if line_form in formset.deleted_forms or not line_form.has_changed():
                continue
            line = line_form.save(commit=False)
            if line.unit_cost is None:
                line.unit_cost = line.part.unit_cost
            line.save()
            formset.changed_objects.append((line, line_form.changed_data))
        for line_form in formset.extra_forms:
            if not line_form.has_changed() or line_form in formset.deleted_forms:
                continue
            data = line_form.cleaned_data
            formset.new_objects.append(
                services.add_purchase_order_line(
                    form.instance, data["part"], data["quantity_ordered"], data.get("unit_cost")
                )
            )
        return None

    # -- transitions: pages reached from the buttons of the order's page ----------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/place/",
                view(self.place_view),
                name="inventory_purchaseorder_place",
            ),
            path(
                "<path:object_id>/receive/",
                view(self.receive_view),
                name="inventory_purchaseorder_receive",
            ),
            path(
                "<path:object_id>/cancel/",
                view(self.cancel_view),
                name="inventory_purchaseorder_cancel",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, unquote(object_id))
        can_change = self.has_change_permission(request, order)
        status = order.status if order else None
        extra_context = {
            **(extra_context or {}),
            # The buttons of the moves the order's status allows.
            "can_place": can_change and PURCHASE_ORDER_PIPELINE.allows(status, Status.ORDERED),
            "can_cancel": can_change and PURCHASE_ORDER_PIPELINE.allows(status, Status.CANCELED),
            "can_receive": self.has_receive_permission(request)
            and PURCHASE_ORDER_PIPELINE.allows(status, *RECEIVED_STATUSES),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _order_or_404(self, request, object_id):
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404("No such purchase order.")
        return order

    def _service_page(self, request, order, form, title, submit_label, intro=""):
        return TemplateResponse(
            request,
            "admin/inventory/service_form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "intro": intro,
                "opts": self.model._meta,
                "original": order,
                "form": form,
                "submit_label": submit_label,
            },
        )

    def _back_to(self, order):
        return redirect(reverse("admin:inventory_purchaseorder_change", args=[order.pk]))

    def place_view(self, request, object_id):
        order = self._order_or_404(request, object_id)
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        form = PlaceForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                services.place_purchase_order(order, user=request.user, **form.cleaned_data)
            except InventoryError as exc:
                add_refusal_to_form(form, exc)
            else:
                self.message_user(
                    request, f"{order.number} placed with {order.supplier}.", messages.SUCCESS
                )
                return self._back_to(order)
        return self._service_page(
            request,
            order,
            form,
            f"Place {order.number}",
            "Place order",
            f"Send {order.number} to {order.supplier}: its lines can no "
            f"longer be changed afterwards.",
        )

    def cancel_view(self, request, object_id):
        order = self._order_or_404(request, object_id)
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        form = CancelForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                services.cancel_purchase_order(order, user=request.user, **form.cleaned_data)
            except InventoryError as exc:
                add_refusal_to_form(form, exc)
            else:
                self.message_user(request, f"{order.number} cancelled.", messages.SUCCESS)
                return self._back_to(order)
        return self._service_page(request, order, form, f"Cancel {order.number}", "Cancel order")

    def receive_view(self, request, object_id):
        order = self._order_or_404(request, object_id)
        if not self.has_receive_permission(request):
            raise PermissionDenied
        lines = [
            line for line in order.lines.select_related("part").order_by("id") if line.outstanding
        ]
        form = ReceiveForm(lines, request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                receipt = services.receive_purchase_order(
                    order,
                    form.quantities(),
                    user=request.user,
                    packing_slip=form.cleaned_data["packing_slip"],
                    notes=form.cleaned_data["notes"],
                )
            except InventoryError as exc:
                add_refusal_to_form(form, exc)
            else:
                units = sum(line.quantity for line in receipt.lines.all())
                self.message_user(
                    request,
                    f"Received {units} unit(s) on {order.number}; it is "
                    f"{order.get_status_display().lower()} now.",
                    messages.SUCCESS,
                )
                return self._back_to(order)
        return self._service_page(
            request,
            order,
            form,
            f"Receive on {order.number}",
            "Receive",
            f"What arrived from {order.supplier}: enter the "
            f"quantity of each line in this delivery.",
        )

    # -- actions -------------------------------------------------------------------------------
    def _each(self, request, queryset, verb, perform):
        def summary(done):
            return f"{verb} {len(done)} order(s): {', '.join(order.number for order, _ in done)}."

        run_for_each(
            self,
            request,
            queryset.select_related("supplier").order_by("pk"),
            perform,
            summary=summary,
        )

    @admin.action(
        description="Place the selected drafts with their suppliers", permissions=["change"]
    )
    def place_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            "Placed",
            lambda order: services.place_purchase_order(order, user=request.user),
        )

    @admin.action(
        description="Receive everything still expected on the selected orders",
        permissions=["receive"],
    )
    def receive_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            "Received",
            lambda order: services.receive_purchase_order(order, user=request.user),
        )

    @admin.action(description="Cancel the selected orders", permissions=["change"])
    def cancel_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            "Cancelled",
            lambda order: services.cancel_purchase_order(order, user=request.user),
        )


class ReceiptLineInline(ReadOnlyMixin, CostHidingMixin, admin.TabularInline):
    model = PurchaseReceiptLine
    fields = ("order_line", "quantity", "unit_cost")
    readonly_fields = fields
    cost_fields = ("unit_cost",)
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line__part")


@admin.register(PurchaseReceipt)
class PurchaseReceiptAdmin(LocationScoped, ReadOnlyMixin, CarshopModelAdmin):
    """Deliveries received, read-only: receive from the purchase order's page."""

    list_display = ("__str__", "order", "received_at", "received_by", "packing_slip", "line_count")
    list_select_related = ("order__supplier", "received_by")
    date_hierarchy = "received_at"
    search_fields = ("packing_slip",)
    search_help_text = "Packing slip number, or the order number (PO-00012)."
    inlines = (ReceiptLineInline,)
    location_field = "order__location"

    def get_queryset(self, request):
        lines = (
            PurchaseReceiptLine.objects.filter(receipt=OuterRef("pk")).order_by().values("receipt")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                line_count=Coalesce(
                    Subquery(lines.annotate(n=Count("pk")).values("n")),
                    0,
                    output_field=IntegerField(),
                )
            )
        )

    @admin.display(description="lines", ordering="line_count")
    def line_count(self, obj):
        return obj.line_count

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        number = PurchaseOrder.parse_number(term)
        condition = Q(packing_slip__iexact=term)
        if number is not None:
            condition |= Q(order_id=number)
        return queryset.filter(condition), False


@admin.register(PurchaseOrderLine)
class PurchaseOrderLineAdmin(LocationScoped, ReadOnlyMixin, CostHidingMixin, CarshopModelAdmin):
    """What is on order, part by part (lines are edited on their order's page)."""

    location_field = "order__location"

    list_display = ("order", "part", "quantity_ordered", "quantity_received", "unit_cost", "status")
    list_select_related = ("order__supplier", "part")
    list_filter = ("order__status",)
    search_fields = ("part__sku",)
    search_help_text = "Part SKU (or its start)."
    cost_fields = ("unit_cost",)

    @admin.display(description="order status", ordering="order__status")
    def status(self, obj):
        return obj.order.get_status_display()

    def get_search_results(self, request, queryset, search_term):
        for word in search_term.split():
            queryset = queryset.filter(part__sku__startswith=word.upper())
        return queryset, False


@admin.register(PurchaseReceiptLine)
class PurchaseReceiptLineAdmin(LocationScoped, ReadOnlyMixin, CostHidingMixin, CarshopModelAdmin):
    """Every line received, for tracing a stock movement back to its delivery."""

    location_field = "receipt__order__location"

    list_display = ("receipt", "order_line", "quantity", "unit_cost", "movement")
    list_select_related = ("receipt", "order_line__part", "movement__part")
    search_fields = ("order_line__part__sku",)
    cost_fields = ("unit_cost",)

    def get_search_results(self, request, queryset, search_term):
        for word in search_term.split():
            queryset = queryset.filter(order_line__part__sku__startswith=word.upper())
        return queryset, False
