"""What partners read of the service shop: repair orders (fleet and insurance partners) and the
accounting feed (invoices, credit notes, payments). Costs (part costs, internal labor cost) are
never among the fields: partners see what the customer is charged, not what the shop pays."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.fields import CarshopModelSerializer
from accounts.models import Customer
from inventory.models import Vehicle
from repairs.choices import RepairOrderStatus
from repairs.models import CreditNote, Invoice, Job, Payment, RepairOrder, RepairOrderEvent

MONEY = {"max_digits": 12, "decimal_places": 2, "read_only": True}


class VehicleSummarySerializer(CarshopModelSerializer):
    """The vehicle: VIN, make, model, model year and plate."""

    year = serializers.IntegerField(source="model_year", allow_null=True, read_only=True)

    class Meta:
        model = Vehicle
        fields = ["id", "vin", "make", "model", "year", "plate"]
        read_only_fields = fields


class CustomerSummarySerializer(CarshopModelSerializer):
    """The customer who pays for the order."""

    name = serializers.CharField(source="display_name", read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "name"]


class StatusStepSerializer(CarshopModelSerializer):
    """One step of the order's history."""

    from_status = serializers.ChoiceField(
        choices=RepairOrderStatus.choices, allow_null=True, read_only=True,
        help_text="Null for the step that opened the order.")

    class Meta:
        model = RepairOrderEvent
        fields = ["from_status", "to_status", "at"]
        read_only_fields = fields

    def to_representation(self, event):
        data = super().to_representation(event)
        data["from_status"] = data["from_status"] or None
        return data


class JobSerializer(CarshopModelSerializer):
    """A job: the three Cs and the customer's decision on it."""

    class Meta:
        model = Job
        fields = ["position", "title", "complaint", "cause", "correction", "authorization",
                  "authorization_method", "authorized_by", "authorized_at"]
        read_only_fields = fields


class InvoiceTotalsSerializer(CarshopModelSerializer):
    """The order's invoice: totals as invoiced, and what was paid and credited since."""

    paid = serializers.DecimalField(source="paid_amount", **MONEY)
    credited = serializers.DecimalField(source="credited_amount", **MONEY)
    balance = serializers.DecimalField(source="balance_amount", **MONEY,
                                       help_text="What the customer still owes.")

    class Meta:
        model = Invoice
        fields = ["id", "number", "issued_at", "labor_total", "parts_total", "discount_total",
                  "fees_total", "tax_total", "total", "paid", "credited", "balance"]
        read_only_fields = fields


class RepairOrderSerializer(CarshopModelSerializer):
    """A repair order of a vehicle owned by one of your linked customers."""

    vehicle = VehicleSummarySerializer(read_only=True)
    customer = CustomerSummarySerializer(read_only=True)
    completed_at = serializers.SerializerMethodField(
        help_text="When the work was last completed; null while it is not.")
    history = StatusStepSerializer(source="events", many=True, read_only=True,
                                   help_text="Every status step, oldest first.")
    jobs = JobSerializer(many=True, read_only=True)
    invoice = InvoiceTotalsSerializer(read_only=True, allow_null=True,
                                      help_text="Null until the order is invoiced.")

    class Meta:
        model = RepairOrder
        fields = ["id", "number", "status", "vehicle", "customer", "odometer_in", "opened_at",
                  "promised_at", "completed_at", "status_changed_at", "updated_at", "history",
                  "jobs", "invoice"]
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_completed_at(self, repair_order):
        # From the prefetched history: no query per order.
        times = [event.at for event in repair_order.events.all()
                 if event.to_status == RepairOrderStatus.COMPLETED]
        return serializers.DateTimeField().to_representation(max(times)) if times else None


class InvoiceSerializer(CarshopModelSerializer):
    """An invoice of the service shop, with its totals as invoiced (never changed)."""

    repair_order_number = serializers.CharField(source="repair_order.number", read_only=True)
    customer_name = serializers.CharField(source="customer.display_name", read_only=True)

    class Meta:
        model = Invoice
        fields = ["id", "number", "issued_at", "repair_order", "repair_order_number", "customer",
                  "customer_name", "labor_total", "parts_total", "discount_total", "fees_total",
                  "tax_total", "total", "updated_at"]
        read_only_fields = fields


class CreditNoteSerializer(CarshopModelSerializer):
    """A credit note: an amount taken off an invoice, with its own number."""

    invoice_number = serializers.CharField(source="invoice.number", read_only=True)

    class Meta:
        model = CreditNote
        fields = ["id", "number", "issued_at", "invoice", "invoice_number", "amount", "reason",
                  "updated_at"]
        read_only_fields = fields


class PaymentSerializer(CarshopModelSerializer):
    """Money received against an invoice."""

    invoice_number = serializers.CharField(source="invoice.number", read_only=True)

    class Meta:
        model = Payment
        fields = ["id", "received_at", "invoice", "invoice_number", "amount", "method",
                  "reference", "updated_at"]
        read_only_fields = fields
