"""Filters of the service shop's endpoints (django-filter; foreign keys by id)."""

from typing import Any

import django_filters
from django.db.models import Q

from accounts.api.permissions import partner_key
from accounts.locations import allowed_location_ids, partner_location_ids
from accounts.models import Location
from core.api.filters import UpdatedSinceFilterSet
from repairs.models import CreditNote, Invoice, Payment, RepairOrder

LOCATION_HELP = (
    "Only rows of this location: its code (e.g. `main`) or its id. A location your key is not "
    "linked to, or no location by that name, lists nothing."
)


def visible_location_ids(request) -> frozenset[int]:
    """The locations the caller reads: a partner's linked locations, or a staff member's."""
    key = partner_key(request)
    if key is not None:
        return partner_location_ids(key.partner)
    return allowed_location_ids(request.user)


def visible_locations(request) -> Any:
    """The same, for a query's filter: a partner's links as a subquery of the list's own query
    (no query of its own), a staff member's allowed ids."""
    key = partner_key(request)
    if key is not None:
        return key.partner.locations.values("pk")
    return allowed_location_ids(request.user)


class LocationFilter(django_filters.CharFilter):
    """`?location=<code or id>`: one of the caller's locations; another, or none by that name,
    lists nothing (as every filter of the API does with a value no row has: the parameter is
    valid, the rows are not the caller's)."""

    def __init__(self, path: str = "location", **kwargs):
        kwargs.setdefault("help_text", LOCATION_HELP)
        kwargs.setdefault("label", "location")
        super().__init__(method=self.by_location, **kwargs)
        self.path = path

    def by_location(self, queryset, name, value):
        value = (value or "").strip()
        match = Q(code__iexact=value)
        if value.isdigit() and len(value) < 19:
            match |= Q(pk=int(value))
        location_id = Location.objects.filter(match).values_list("pk", flat=True).first()
        if location_id is None or location_id not in visible_location_ids(self.parent.request):
            return queryset.none()
        return queryset.filter(**{f"{self.path}_id": location_id})


class RepairOrderFilterSet(UpdatedSinceFilterSet):
    location = LocationFilter()

    class Meta:
        model = RepairOrder
        fields = ["status", "vehicle", "customer"]


class InvoiceFilterSet(UpdatedSinceFilterSet):
    location = LocationFilter()

    class Meta:
        model = Invoice
        fields = ["customer", "repair_order"]


class CreditNoteFilterSet(UpdatedSinceFilterSet):
    location = LocationFilter()

    class Meta:
        model = CreditNote
        fields = ["invoice"]


class PaymentFilterSet(UpdatedSinceFilterSet):
    location = LocationFilter("invoice__location")

    class Meta:
        model = Payment
        fields = ["invoice", "method"]
