"""Transfers of parts between locations, with the buttons of their workflow (send, receive,
cancel), and the parts stock of each location."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.locations import (
    AllowedLocationsFilter,
    allowed_location_ids,
    allowed_locations,
    may_work_at,
    selected_location_ids,
)
from core.admin import CarshopModelAdmin, EditableWhileParentAllows
from core.admin_actions import add_refusal_to_form, run_service
from inventory import transfer_services
from inventory.admin.common import (
    CostHidingMixin,
    LocationFieldsMixin,
    LocationScoped,
    PreloadedAutocompleteFormSet,
    PreloadedAutocompleteSelect,
    ServiceForm,
)
from inventory.exceptions import InventoryError
from inventory.models import PartStock, StockTransfer, StockTransferLine
from inventory.workflow import TRANSFER_PIPELINE

Status = StockTransfer.Status


class TransferLinesFormSet(PreloadedAutocompleteFormSet):
    preload_fields = ("part",)


class TransferLineInline(EditableWhileParentAllows, CostHidingMixin, admin.TabularInline):
    """The transfer's lines: editable while it is a draft, then read-only with their cost."""

    model = StockTransferLine
    formset = TransferLinesFormSet
    fields = ("part", "quantity", "unit_cost")
    readonly_fields = ("unit_cost",)
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


class CancelTransferForm(ServiceForm):
    reason = forms.CharField(max_length=200, required=False)


class TransferForm(forms.ModelForm):
    class Meta:
        model = StockTransfer
        fields = ("from_location", "to_location", "notes")

    def clean(self):
        data = super().clean()
        if data.get("from_location") and data.get("from_location") == data.get("to_location"):
            self.add_error("to_location", "A transfer goes to another location.")
        return data


@admin.register(StockTransfer)
class StockTransferAdmin(CarshopModelAdmin):
    """A transfer is seen by the people of either of its locations; the source's people prepare
    and send it, the destination's receive it."""

    form = TransferForm
    list_display = ("number", "from_location", "to_location", "status", "created_at", "sent_at")
    list_display_links = ("number",)
    list_select_related = ("from_location", "to_location")
    list_filter = ("status",)
    readonly_fields = (
        "status",
        "created_by",
        "created_at",
        "sent_at",
        "sent_by",
        "received_at",
        "received_by",
        "cancelled_at",
        "cancel_reason",
    )
    fieldsets = (
        (None, {"fields": (("from_location", "to_location"), "status", "notes")}),
        (
            "History",
            {
                "fields": (
                    ("created_at", "created_by"),
                    ("sent_at", "sent_by"),
                    ("received_at", "received_by"),
                    ("cancelled_at", "cancel_reason"),
                )
            },
        ),
    )
    inlines = (TransferLineInline,)

    def get_queryset(self, request):
        allowed = allowed_location_ids(request.user)
        return (
            super()
            .get_queryset(request)
            .filter(Q(from_location__in=allowed) | Q(to_location__in=allowed))
        )

    def get_changelist(self, request, **kwargs):
        changelist = super().get_changelist(request, **kwargs)

        class ChosenLocationsChangeList(changelist):
            def get_queryset(self, request, exclude_parameters=None):
                chosen = selected_location_ids(request)
                return (
                    super()
                    .get_queryset(request, exclude_parameters)
                    .filter(Q(from_location__in=chosen) | Q(to_location__in=chosen))
                )

        return ChosenLocationsChangeList

    @admin.display(description="number", ordering="pk")
    def number(self, obj):
        return obj.number

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "from_location":
            kwargs["queryset"] = allowed_locations(request.user).filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None:
            fields = [*fields, "from_location", "to_location"]
        return fields

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        if obj is None or not allowed:
            return allowed
        return may_work_at(request.user, obj.from_location_id) or may_work_at(
            request.user, obj.to_location_id
        )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        obj.save()

    def save_formset(self, request, form, formset, change):
        if formset.model is not StockTransferLine:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for line_form in formset.deleted_forms:
            if line_form.instance.pk:
                formset.deleted_objects.append(line_form.instance)
                line_form.instance.delete()
        for line_form in formset.initial_forms:
            if line_form in formset.deleted_forms or not line_form.has_changed():
                continue
            line = line_form.save()
            formset.changed_objects.append((line, line_form.changed_data))
        for line_form in formset.extra_forms:
            if not line_form.has_changed() or line_form in formset.deleted_forms:
                continue
            data = line_form.cleaned_data
            formset.new_objects.append(
                transfer_services.add_transfer_line(form.instance, data["part"], data["quantity"])
            )
        return None

    delete_refused_help = "A draft is deleted from its own page; a sent transfer is cancelled."
    deleted_with = (StockTransferLine,)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_refusal(self, obj):
        return transfer_services.transfer_deletion_refusal(obj)

    # -- the workflow's buttons -----------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/send/", view(self.send_view), name="inventory_stocktransfer_send"
            ),
            path(
                "<path:object_id>/receive/",
                view(self.receive_view),
                name="inventory_stocktransfer_receive",
            ),
            path(
                "<path:object_id>/cancel/",
                view(self.cancel_view),
                name="inventory_stocktransfer_cancel",
            ),
            *super().get_urls(),
        ]

    def _may_send(self, request, transfer):
        return super().has_change_permission(request, transfer) and may_work_at(
            request.user, transfer.from_location_id
        )

    def _may_receive(self, request, transfer):
        return super().has_change_permission(request, transfer) and may_work_at(
            request.user, transfer.to_location_id
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        transfer = self.get_object(request, unquote(object_id))
        status = transfer.status if transfer else None
        extra_context = {
            **(extra_context or {}),
            "can_send": transfer is not None
            and self._may_send(request, transfer)
            and TRANSFER_PIPELINE.allows(status, Status.IN_TRANSIT),
            "can_receive": transfer is not None
            and self._may_receive(request, transfer)
            and TRANSFER_PIPELINE.allows(status, Status.RECEIVED),
            "can_cancel": transfer is not None
            and self._may_send(request, transfer)
            and TRANSFER_PIPELINE.allows(status, Status.CANCELED),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _transfer_or_404(self, request, object_id):
        transfer = self.get_object(request, unquote(object_id))
        if transfer is None:
            raise Http404("No such transfer.")
        return transfer

    def _back_to(self, transfer):
        return redirect(reverse("admin:inventory_stocktransfer_change", args=[transfer.pk]))

    def _step(self, request, object_id, allowed, call, done):
        """A button's step: POST only (the button's form), refusals shown on the page."""
        transfer = self._transfer_or_404(request, object_id)
        if not allowed(request, transfer):
            raise PermissionDenied
        if request.method != "POST":
            return self._back_to(transfer)
        ran, _ = run_service(self, request, call, transfer, user=request.user)
        if ran:
            self.message_user(request, done(transfer), messages.SUCCESS)
        return self._back_to(transfer)

    def send_view(self, request, object_id):
        return self._step(
            request,
            object_id,
            self._may_send,
            transfer_services.send_transfer,
            lambda t: f"{t.number} sent to {t.to_location}: its parts are in transit.",
        )

    def receive_view(self, request, object_id):
        return self._step(
            request,
            object_id,
            self._may_receive,
            transfer_services.receive_transfer,
            lambda t: f"{t.number} received at {t.to_location}.",
        )

    def cancel_view(self, request, object_id):
        transfer = self._transfer_or_404(request, object_id)
        if not self._may_send(request, transfer):
            raise PermissionDenied
        form = CancelTransferForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                transfer_services.cancel_transfer(
                    transfer, user=request.user, reason=form.cleaned_data["reason"]
                )
            except InventoryError as exc:
                add_refusal_to_form(form, exc)
            else:
                self.message_user(request, f"{transfer.number} cancelled.", messages.SUCCESS)
                return self._back_to(transfer)
        return TemplateResponse(
            request,
            "admin/inventory/service_form.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Cancel {transfer.number}",
                "intro": "Parts in transit go back into stock where they were sent from.",
                "opts": self.model._meta,
                "original": transfer,
                "form": form,
                "submit_label": "Cancel transfer",
            },
        )


@admin.register(PartStock)
class PartStockAdmin(LocationScoped, LocationFieldsMixin, CostHidingMixin, CarshopModelAdmin):
    """Each location's stock of each part, with its own reorder point, quantity and bin. On
    hand and average cost are kept by the ledger; only the reorder levels and bin are edited."""

    list_display = (
        "part",
        "location",
        "on_hand",
        "average_cost",
        "reorder_point",
        "reorder_quantity",
        "bin",
    )
    list_select_related = ("part", "location")
    list_filter = (("location", AllowedLocationsFilter),)
    search_fields = ("part__sku",)
    search_help_text = "Part SKU (or its start)."
    readonly_fields = ("part", "location", "on_hand", "average_cost")
    fields = (
        "part",
        "location",
        "on_hand",
        "average_cost",
        "reorder_point",
        "reorder_quantity",
        "bin",
    )
    cost_fields = ("average_cost",)
    location_fields = ("location",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        for word in search_term.split():
            queryset = queryset.filter(part__sku__startswith=word.upper())
        return queryset, False
