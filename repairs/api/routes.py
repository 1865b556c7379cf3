"""The service shop's API routes (collected by carshop/api_urls.py)."""

from repairs.api.views import CreditNoteViewSet, InvoiceViewSet, PaymentViewSet, RepairOrderViewSet


def register(router):
    router.register("repair-orders", RepairOrderViewSet, basename="repair-order")
    router.register("invoices", InvoiceViewSet, basename="invoice")
    router.register("credit-notes", CreditNoteViewSet, basename="credit-note")
    router.register("payments", PaymentViewSet, basename="payment")
