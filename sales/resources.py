"""django-import-export resources of the sales tables (see accounts/resources.py)."""

from accounts.resources import CarshopResource
from sales.models import Deal, Lead


class LeadResource(CarshopResource):
    """The message a partner posted with a lead is kept as it came: exported, never imported."""

    read_only = ("message",)

    class Meta:
        model = Lead


class DealResource(CarshopResource):
    """A deal's figures are worked out by its services (sales.services): exported for
    spreadsheets, restored from a JSON export."""

    price_fields = (
        "sale_price",
        "documentation_fee",
        "registration_fee",
        "sales_tax_rate",
        "down_payment",
        "apr",
        "finance_reserve",
        "sales_tax",
        "total_price",
        "amount_financed",
        "monthly_payment",
        "unit_cost",
        "front_gross",
        "back_gross",
    )

    class Meta:
        model = Deal
