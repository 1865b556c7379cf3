"""Filters of the service shop's endpoints (django-filter; foreign keys by id)."""

from core.api.filters import UpdatedSinceFilterSet
from repairs.models import CreditNote, Invoice, Payment, RepairOrder


class RepairOrderFilterSet(UpdatedSinceFilterSet):
    class Meta:
        model = RepairOrder
        fields = ["status", "vehicle", "customer"]


class InvoiceFilterSet(UpdatedSinceFilterSet):
    class Meta:
        model = Invoice
        fields = ["customer", "repair_order"]


class CreditNoteFilterSet(UpdatedSinceFilterSet):
    class Meta:
        model = CreditNote
        fields = ["invoice"]


class PaymentFilterSet(UpdatedSinceFilterSet):
    class Meta:
        model = Payment
        fields = ["invoice", "method"]
