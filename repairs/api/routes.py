"""The service shop's API routes (collected by carshop/api_urls.py)."""

from accounts.api.exceptions import register_domain_error
from repairs.api.views import CreditNoteViewSet, InvoiceViewSet, PaymentViewSet, RepairOrderViewSet
from repairs.exceptions import RepairError


def register(router):
    register_domain_error(RepairError)
    router.register("repair-orders", RepairOrderViewSet, basename="repair-order")
    router.register("invoices", InvoiceViewSet, basename="invoice")
    router.register("credit-notes", CreditNoteViewSet, basename="credit-note")
    router.register("payments", PaymentViewSet, basename="payment")
