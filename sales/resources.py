"""django-import-export resources of the sales tables (see accounts/resources.py)."""

from accounts.resources import CarshopResource
from sales.models import Lead


class LeadResource(CarshopResource):
    """The message a partner posted with a lead is kept as it came: exported, never imported."""

    read_only = ("message",)

    class Meta:
        model = Lead
