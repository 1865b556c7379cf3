"""Filters of the listings (django-filter)."""

import django_filters

from core.api.filters import CarshopFilterSet
from inventory.lot import StockUnit


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

    class Meta:
        model = StockUnit
        fields: list[str] = []
