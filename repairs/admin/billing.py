"""Invoices, payments and credit notes: written by services, never edited; document numbering."""

from typing import ClassVar

from django import forms
from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin_exports import RoleExportMixin
from accounts.models import Customer
from core.admin import CarshopModelAdmin, ids_or_subquery
from core.admin_actions import RefusalsAsMessages
from core.money import money
from repairs import services, views
from repairs.admin.common import (
    ShopFloorLocationAdmin,
    adopt,
)
from repairs.admin.orders import RepairOrderEventAdmin, payment_url
from repairs.choices import RepairOrderStatus
from repairs.models import (
    CreditNote,
    DocumentSequence,
    Invoice,
    Payment,
)
from repairs.numbers import parse_invoice_number, parse_repair_order_number
from repairs.resources import InvoiceResource, PaymentResource

# --------------------------------------------------------------------------------------------
# Invoices, credit notes, payments: written by services, never edited
# --------------------------------------------------------------------------------------------


class FinalDocumentAdmin(RefusalsAsMessages, CarshopModelAdmin):
    delete_refused_help = (
        "Invoices, payments and credit notes are final: a credit note "
        "corrects an invoice; nothing is deleted."
    )

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PaymentInline(admin.TabularInline):
    model: type[Model] = Payment
    extra = 0
    fields: ClassVar[tuple[str, ...]] = (
        "received_at",
        "method",
        "amount",
        "reference",
        "received_by",
    )
    readonly_fields: ClassVar[tuple[str, ...]] = fields
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


class BalanceFilter(admin.SimpleListFilter):
    """What is still owed: an invoice's order is invoiced while a balance is due, paid once it
    is settled (by payments or a credit note), and has no other status."""

    title = "payment"
    parameter_name = "balance"
    STATUSES: ClassVar[dict[str, str]] = {
        "due": RepairOrderStatus.INVOICED,
        "paid": RepairOrderStatus.PAID,
    }

    def lookups(self, request, model_admin):
        return (("due", "Balance due"), ("paid", "Paid"))

    def queryset(self, request, queryset):
        status = self.STATUSES.get(str(self.value()))
        return queryset if status is None else queryset.filter(repair_order__status=status)


@admin.register(Invoice)
class InvoiceAdmin(ShopFloorLocationAdmin, RoleExportMixin, FinalDocumentAdmin):
    export_resource_class = InvoiceResource
    list_display = ("number", "issued_at", "customer", "repair_order", "total", "paid", "balance")
    list_select_related = ("customer", "repair_order")
    list_filter = ("issued_at", BalanceFilter)
    date_hierarchy = "issued_at"
    # Searched by get_search_results (index-friendly); listed here for autocomplete.
    search_fields = (
        "=number",
        "=repair_order__number",
        "customer__display_name",
        "customer__phone",
    )
    search_help_text = "Invoice number (2024-000123), repair order number, customer name or phone."
    fields = (
        "number",
        "repair_order",
        "customer",
        "issued_at",
        "issued_by",
        "labor_total",
        "parts_total",
        "discount_total",
        "fees_total",
        "tax_total",
        "total",
        "balance",
        "documents",
    )
    readonly_fields = fields
    inlines = [PaymentInline, CreditNoteInline]

    def get_queryset(self, request):
        return super().get_queryset(request).with_balance()

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        number = parse_invoice_number(term)
        if number is not None:
            return queryset.filter(number=number), False
        order = parse_repair_order_number(term)
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
            path("<path:object_id>/print/", wrap(self.print_view), name="repairs_invoice_print"),
            path("<path:object_id>/print/pdf/", wrap(self.pdf_view), name="repairs_invoice_pdf"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Take payment from the invoice itself: the form opens with this invoice and its balance.
        if (
            obj is not None
            and money(obj.balance_amount) > 0
            and obj.repair_order.status == RepairOrderStatus.INVOICED
            and request.user.has_perm("repairs.add_payment")
        ):
            context["pay_url"] = payment_url(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

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
                self.add_error(
                    "amount",
                    f"A payment of {amount} is more than the balance of "
                    f"{balance} on invoice {invoice.number}.",
                )
        return data


@admin.register(Payment)
class PaymentAdmin(ShopFloorLocationAdmin, RoleExportMixin, FinalDocumentAdmin):
    location_field = "invoice__location"
    scoped_relations = {"invoice": "location"}
    export_resource_class = PaymentResource
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
        number = parse_invoice_number(term)
        if number is not None:
            return queryset.filter(invoice__number=number), False
        return queryset.filter(reference__icontains=term), False

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("invoice", "amount", "method", "reference")
        return ("invoice", "amount", "method", "reference", "received_at", "received_by")

    def response_add(self, request, obj, post_url_continue=None):
        # Back to the invoice, which shows the payment and what is left to pay.
        invoice = obj.invoice
        self.message_user(
            request,
            format_html(
                'Payment <a href="{}">{} ({})</a> recorded on invoice <a href="{}">{}</a>; '
                "balance {}.",
                reverse("admin:repairs_payment_change", args=[obj.pk]),
                obj.amount,
                obj.get_method_display(),
                reverse("admin:repairs_invoice_change", args=[invoice.pk]),
                invoice.number,
                services.invoice_balance(invoice),
            ),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:repairs_invoice_change", args=[invoice.pk]))

    def save_model(self, request, obj, form, change):
        payment = services.record_payment(
            obj.invoice, obj.amount, obj.method, reference=obj.reference, user=request.user
        )
        adopt(obj, payment)


class CreditNoteForm(forms.ModelForm):
    class Meta:
        model = CreditNote
        fields = ("invoice", "amount", "reason")


@admin.register(CreditNote)
class CreditNoteAdmin(ShopFloorLocationAdmin, FinalDocumentAdmin):
    scoped_relations = {"invoice": "location"}
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
        note = services.issue_credit_note(obj.invoice, obj.amount, obj.reason, user=request.user)
        adopt(obj, note)


@admin.register(DocumentSequence)
class DocumentSequenceAdmin(RepairOrderEventAdmin):
    location_field = "location"
    list_display = ("series", "year", "last_number")
    list_select_related = ()
    list_filter = ("series",)
    date_hierarchy = None
    search_fields = ()
