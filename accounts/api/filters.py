"""Filtering for API lists (django-filter): foreign keys are filtered by id (`?vehicle=12`,
`?vehicle__in=12,13`), never offered as a select of every row; `updated_since` for syncs."""

import django_filters
from django.db import models


class NumberInFilter(django_filters.BaseInFilter, django_filters.NumberFilter):
    """`?id__in=1,2,3`"""


class CarshopFilterSet(django_filters.FilterSet):
    """Base FilterSet of the API. In Meta.fields, a foreign key becomes an id filter."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.ForeignKey: {"filter_class": django_filters.NumberFilter},
        models.OneToOneField: {"filter_class": django_filters.NumberFilter},
    }

    id__in = NumberInFilter(field_name="id", lookup_expr="in", help_text="Comma-separated ids.")


class UpdatedSinceFilterSet(CarshopFilterSet):
    """For feeds that a partner syncs: rows changed at or after a time (ISO 8601)."""

    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte",
        help_text="Only rows changed at or after this time (ISO 8601, with time zone).")
