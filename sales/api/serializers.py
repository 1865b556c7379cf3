"""Leads as a marketplace posts and follows them: the car, the buyer's contact and message, and
the lead's status. Nothing about the salesperson, the deal or the lot's notes."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from core.api.fields import CarshopModelSerializer, StrictCharField, StrictPrimaryKeyRelatedField
from core.api.rows import RowSerializerMixin
from inventory.models import StockUnit
from sales.models import Lead


class StrictEmailField(serializers.EmailField, StrictCharField):
    pass


# A phone number as people write it: 7 to 15 digits (E.164 has at most 15), with an optional
# leading + and spaces, dots, dashes or brackets between them. Empty: no phone.
PHONE_PATTERN = r"^\+?[ ().-]*(?:[0-9][ ().-]*){7,15}$"


class LeadSerializer(RowSerializerMixin, CarshopModelSerializer):
    """A lead a marketplace posted for a car it lists."""

    stock_unit = StrictPrimaryKeyRelatedField(
        queryset=StockUnit.objects.filter(status=StockUnit.Status.AVAILABLE),
        help_text="The listing's id (`/api/v1/listings/`); the car must still be for sale.",
    )
    first_name = StrictCharField(
        source="customer.first_name", max_length=80, required=False, allow_blank=True, default=""
    )
    last_name = StrictCharField(
        source="customer.last_name",
        max_length=80,
        required=False,
        allow_blank=True,
        default="",
        help_text="A first or a last name is needed.",
    )
    email = StrictEmailField(
        source="customer.email",
        max_length=254,
        required=False,
        allow_blank=True,
        default="",
        help_text="An email address or a phone number is needed.",
    )
    phone = StrictCharField(
        source="customer.phone",
        max_length=32,
        required=False,
        allow_blank=True,
        default="",
        validators=[
            RegexValidator(
                PHONE_PATTERN, "Enter a phone number: 7 to 15 digits, e.g. +1 217 555 0100."
            )
        ],
        help_text="7 to 15 digits, with an optional leading + and spaces, dots, dashes or "
        "brackets between them.",
    )
    message = StrictCharField(
        max_length=4000,
        required=False,
        allow_blank=True,
        default="",
        help_text="What the buyer wrote.",
    )
    source_reference = StrictCharField(
        max_length=80,
        required=False,
        allow_blank=True,
        default="",
        help_text="Your own id for this lead.",
    )

    class Meta:
        model = Lead
        fields = [
            "id",
            "stock_unit",
            "first_name",
            "last_name",
            "email",
            "phone",
            "message",
            "source_reference",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "created_at", "updated_at"]

    # List pages: built from .values() rows (core/api/rows.py).
    row_values = [
        "id",
        "stock_unit",
        "customer__first_name",
        "customer__last_name",
        "customer__email",
        "customer__phone",
        "message",
        "source_reference",
        "status",
        "created_at",
        "updated_at",
    ]

    def represent_row(self, row, f):
        return {
            "id": row["id"],
            "stock_unit": row["stock_unit"],
            "first_name": row["customer__first_name"],
            "last_name": row["customer__last_name"],
            "email": row["customer__email"],
            "phone": row["customer__phone"],
            "message": row["message"],
            "source_reference": row["source_reference"],
            "status": row["status"],
            "created_at": f.datetime(row["created_at"]),
            "updated_at": f.datetime(row["updated_at"]),
        }
