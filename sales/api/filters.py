"""Filters of the leads endpoint (django-filter)."""

from core.api.filters import UpdatedSinceFilterSet
from sales.models import Lead


class LeadFilterSet(UpdatedSinceFilterSet):
    class Meta:
        model = Lead
        fields = ["status", "stock_unit", "source_reference"]
