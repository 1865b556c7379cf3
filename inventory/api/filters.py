"""Filters of the listings (django-filter)."""

import django_filters

from core.api.filters import CarshopFilterSet
from inventory.lot import StockUnit
from inventory.models import PartStock

LOCATION_HELP = (
    "A location's id: only the locations linked to the partner answer (another location's id "
    "gives an empty list)."
)


class ListingFilterSet(CarshopFilterSet):
    make = django_filters.CharFilter(
        field_name="vehicle__make", lookup_expr="iexact", help_text="Make, any case (e.g. honda)."
    )
    model = django_filters.CharFilter(
        field_name="vehicle__model", lookup_expr="iexact", help_text="Model, any case."
    )
    year_min = django_filters.NumberFilter(
        field_name="vehicle__model_year", lookup_expr="gte", min_value=1886, max_value=2100
    )
    year_max = django_filters.NumberFilter(
        field_name="vehicle__model_year", lookup_expr="lte", min_value=1886, max_value=2100
    )
    price_max = django_filters.NumberFilter(
        field_name="price", lookup_expr="lte", min_value=0, max_value=10**8
    )
    location = django_filters.NumberFilter(
        field_name="location", min_value=1, max_value=2**31 - 1, help_text=LOCATION_HELP
    )

    class Meta:
        model = StockUnit
        fields: list[str] = []


class PartStockFilterSet(CarshopFilterSet):
    location = django_filters.NumberFilter(
        field_name="location", min_value=1, max_value=2**31 - 1, help_text=LOCATION_HELP
    )
    sku = django_filters.CharFilter(
        field_name="part__sku", lookup_expr="istartswith", help_text="SKU, or its start."
    )
    in_stock = django_filters.BooleanFilter(
        method="filter_in_stock", help_text="true: only parts with stock on hand."
    )

    class Meta:
        model = PartStock
        fields: list[str] = []

    def filter_in_stock(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(on_hand__gt=0) if value else queryset.filter(on_hand=0)
