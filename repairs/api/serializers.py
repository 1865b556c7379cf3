"""What partners read of the service shop: repair orders (fleet and insurance partners) and the
accounting feed (invoices, credit notes, payments). Costs (part costs, internal labor cost) are
never among the fields: partners see what the customer is charged, not what the shop pays."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Customer
from core.api.fields import CarshopModelSerializer
from core.api.rows import RowSerializerMixin
from inventory.models import Vehicle
from repairs.choices import AuthorizationMethod, RepairOrderStatus
from repairs.models import CreditNote, Invoice, Job, Payment, RepairOrder, RepairOrderEvent

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2, "read_only": True}


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
        choices=RepairOrderStatus.choices,
        allow_null=True,
        read_only=True,
        help_text="Null for the step that opened the order.",
    )

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

    authorization_method = serializers.ChoiceField(
        choices=AuthorizationMethod.choices,
        allow_null=True,
        read_only=True,
        help_text="How the customer's decision was given; null while it is pending.",
    )

    class Meta:
        model = Job
        fields = [
            "position",
            "title",
            "complaint",
            "cause",
            "correction",
            "authorization",
            "authorization_method",
            "authorized_by",
            "authorized_at",
        ]
        read_only_fields = fields

    def to_representation(self, job):
        data = super().to_representation(job)
        data["authorization_method"] = data["authorization_method"] or None
        return data


class InvoiceTotalsSerializer(CarshopModelSerializer):
    """The order's invoice: totals as invoiced, and what was paid and credited since."""

    paid = serializers.DecimalField(source="paid_amount", **MONEY)
    credited = serializers.DecimalField(source="credited_amount", **MONEY)
    balance = serializers.DecimalField(
        source="balance_amount", **MONEY, help_text="What the customer still owes."
    )

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "issued_at",
            "labor_total",
            "parts_total",
            "discount_total",
            "fees_total",
            "tax_total",
            "total",
            "paid",
            "credited",
            "balance",
        ]
        read_only_fields = fields


class RepairOrderSerializer(RowSerializerMixin, CarshopModelSerializer):
    """A repair order of a vehicle owned by one of your linked customers."""

    location = serializers.CharField(
        source="location.code",
        read_only=True,
        help_text="The code of the location the document belongs to (its shop).",
    )
    vehicle = VehicleSummarySerializer(read_only=True)
    customer = CustomerSummarySerializer(read_only=True)
    completed_at = serializers.SerializerMethodField(
        help_text="When the work was last completed; null while it is not."
    )
    history = StatusStepSerializer(
        source="events", many=True, read_only=True, help_text="Every status step, oldest first."
    )
    jobs = JobSerializer(many=True, read_only=True)
    invoice = InvoiceTotalsSerializer(
        read_only=True, allow_null=True, help_text="Null until the order is invoiced."
    )

    class Meta:
        model = RepairOrder
        fields = [
            "id",
            "number",
            "location",
            "status",
            "vehicle",
            "customer",
            "odometer_in",
            "opened_at",
            "promised_at",
            "completed_at",
            "status_changed_at",
            "updated_at",
            "history",
            "jobs",
            "invoice",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_completed_at(self, repair_order):
        # From the prefetched history: no query per order.
        times = [
            event.at
            for event in repair_order.events.all()
            if event.to_status == RepairOrderStatus.COMPLETED
        ]
        return serializers.DateTimeField().to_representation(max(times)) if times else None

    # List pages: built from .values() rows (core/api/rows.py), the history, jobs and
    # invoice read for the whole page with one query each, as the prefetches do.
    row_values = [
        "id",
        "number",
        "location__code",
        "status",
        "vehicle",
        "vehicle__vin",
        "vehicle__make",
        "vehicle__model",
        "vehicle__model_year",
        "vehicle__plate",
        "customer",
        "customer__display_name",
        "odometer_in",
        "opened_at",
        "promised_at",
        "status_changed_at",
        "updated_at",
    ]
    job_values = [
        "position",
        "title",
        "complaint",
        "cause",
        "correction",
        "authorization",
        "authorization_method",
        "authorized_by",
        "authorized_at",
    ]
    invoice_values = [
        "id",
        "number",
        "issued_at",
        "labor_total",
        "parts_total",
        "discount_total",
        "fees_total",
        "tax_total",
        "total",
        "paid_amount",
        "credited_amount",
        "balance_amount",
    ]

    @classmethod
    def add_related_rows(cls, rows):
        by_id = {}
        for row in rows:
            row["events"], row["jobs"], row["invoice"] = [], [], None
            by_id[row["id"]] = row
        if not by_id:
            return rows
        events = (
            RepairOrderEvent.objects.filter(repair_order_id__in=by_id)
            .order_by("at", "id")
            .values_list("repair_order_id", "from_status", "to_status", "at")
        )
        for order_id, from_status, to_status, at in events:
            by_id[order_id]["events"].append((from_status, to_status, at))
        jobs = (
            Job.objects.filter(repair_order_id__in=by_id)
            .order_by("position", "id")
            .values("repair_order_id", *cls.job_values)
        )
        for job in jobs:
            by_id[job.pop("repair_order_id")]["jobs"].append(job)
        invoices = (
            Invoice.objects.filter(repair_order_id__in=by_id)
            .with_balance()
            .order_by()
            .values("repair_order_id", *cls.invoice_values)
        )
        for invoice in invoices:
            by_id[invoice.pop("repair_order_id")]["invoice"] = invoice
        return rows

    def represent_row(self, row, f):
        completed = [at for _from, to, at in row["events"] if to == RepairOrderStatus.COMPLETED]
        invoice = row["invoice"]
        return {
            "id": row["id"],
            "number": row["number"],
            "location": row["location__code"],
            "status": row["status"],
            "vehicle": {
                "id": row["vehicle"],
                "vin": row["vehicle__vin"],
                "make": row["vehicle__make"],
                "model": row["vehicle__model"],
                "year": row["vehicle__model_year"],
                "plate": row["vehicle__plate"],
            },
            "customer": {"id": row["customer"], "name": row["customer__display_name"]},
            "odometer_in": row["odometer_in"],
            "opened_at": f.datetime(row["opened_at"]),
            "promised_at": f.datetime(row["promised_at"]),
            "completed_at": f.datetime(max(completed)) if completed else None,
            "status_changed_at": f.datetime(row["status_changed_at"]),
            "updated_at": f.datetime(row["updated_at"]),
            "history": [
                {"from_status": from_status or None, "to_status": to_status, "at": f.datetime(at)}
                for from_status, to_status, at in row["events"]
            ],
            "jobs": [
                {
                    **job,
                    "authorization_method": job["authorization_method"] or None,
                    "authorized_at": f.datetime(job["authorized_at"]),
                }
                for job in row["jobs"]
            ],
            "invoice": None
            if invoice is None
            else {
                "id": invoice["id"],
                "number": invoice["number"],
                "issued_at": f.datetime(invoice["issued_at"]),
                "labor_total": f.money(invoice["labor_total"]),
                "parts_total": f.money(invoice["parts_total"]),
                "discount_total": f.money(invoice["discount_total"]),
                "fees_total": f.money(invoice["fees_total"]),
                "tax_total": f.money(invoice["tax_total"]),
                "total": f.money(invoice["total"]),
                "paid": f.money(invoice["paid_amount"]),
                "credited": f.money(invoice["credited_amount"]),
                "balance": f.money(invoice["balance_amount"]),
            },
        }


class InvoiceSerializer(RowSerializerMixin, CarshopModelSerializer):
    """An invoice of the service shop, with its totals as invoiced (never changed)."""

    location = serializers.CharField(
        source="location.code",
        read_only=True,
        help_text="The code of the location the document belongs to (its shop).",
    )
    repair_order_number = serializers.CharField(source="repair_order.number", read_only=True)
    customer_name = serializers.CharField(source="customer.display_name", read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "location",
            "issued_at",
            "repair_order",
            "repair_order_number",
            "customer",
            "customer_name",
            "labor_total",
            "parts_total",
            "discount_total",
            "fees_total",
            "tax_total",
            "total",
            "updated_at",
        ]
        read_only_fields = fields

    # List pages: built from .values() rows (core/api/rows.py).
    row_values = [
        "id",
        "number",
        "location__code",
        "issued_at",
        "repair_order",
        "repair_order__number",
        "customer",
        "customer__display_name",
        "labor_total",
        "parts_total",
        "discount_total",
        "fees_total",
        "tax_total",
        "total",
        "updated_at",
    ]

    def represent_row(self, row, f):
        return {
            "id": row["id"],
            "number": row["number"],
            "location": row["location__code"],
            "issued_at": f.datetime(row["issued_at"]),
            "repair_order": row["repair_order"],
            "repair_order_number": row["repair_order__number"],
            "customer": row["customer"],
            "customer_name": row["customer__display_name"],
            "labor_total": f.money(row["labor_total"]),
            "parts_total": f.money(row["parts_total"]),
            "discount_total": f.money(row["discount_total"]),
            "fees_total": f.money(row["fees_total"]),
            "tax_total": f.money(row["tax_total"]),
            "total": f.money(row["total"]),
            "updated_at": f.datetime(row["updated_at"]),
        }


class CreditNoteSerializer(CarshopModelSerializer):
    """A credit note: an amount taken off an invoice, with its own number."""

    location = serializers.CharField(
        source="location.code",
        read_only=True,
        help_text="The code of the location the document belongs to (its shop).",
    )
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)

    class Meta:
        model = CreditNote
        fields = [
            "id",
            "number",
            "location",
            "issued_at",
            "invoice",
            "invoice_number",
            "amount",
            "reason",
            "updated_at",
        ]
        read_only_fields = fields


class PaymentSerializer(CarshopModelSerializer):
    """Money received against an invoice."""

    location = serializers.CharField(
        source="invoice.location.code",
        read_only=True,
        help_text="The code of the invoice's location.",
    )
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "received_at",
            "location",
            "invoice",
            "invoice_number",
            "amount",
            "method",
            "reference",
            "updated_at",
        ]
        read_only_fields = fields
