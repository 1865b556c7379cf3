"""django-import-export resources of the repairs tables (see accounts/resources.py). Their rows
are written by the workflows (repairs.services): exported for spreadsheets, restored from a JSON
export."""

from accounts.resources import CarshopResource
from repairs.models import Invoice, Payment, RepairOrder


class RepairOrderResource(CarshopResource):
    price_fields = ("discount_percent",)

    class Meta:
        model = RepairOrder


class InvoiceResource(CarshopResource):
    """The snapshot holds the invoice's lines with their prices."""

    price_fields = (
        "labor_total",
        "parts_total",
        "discount_total",
        "fees_total",
        "tax_total",
        "total",
        "snapshot",
    )

    class Meta:
        model = Invoice


class PaymentResource(CarshopResource):
    price_fields = ("amount",)

    class Meta:
        model = Payment
