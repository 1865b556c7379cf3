"""Filtering for API lists (django-filter): foreign keys are filtered by id (`?vehicle=12`,
`?vehicle__in=12,13`), never offered as a select of every row; `updated_since` for syncs."""

import django_filters
from django import forms
from django.db import models
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend, OrderingFilter, SearchFilter

MAX_ID = 2**63 - 1


class IdField(forms.IntegerField):
    def to_python(self, value):
        if value == "":  # `?vehicle=` is a mistake, not "no filter"
            raise forms.ValidationError("Give an id.", code="required")
        return super().to_python(value)


class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number the database can hold (anything else is a 400, not a 500)."""

    field_class = IdField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class IdInFilter(django_filters.BaseInFilter, IdFilter):
    """`?id__in=1,2,3`"""


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0); anything else is an error rather than "no filter"."""

    widget = forms.TextInput

    def to_python(self, value):
        if value is None:  # not in the query string
            return None
        lowered = str(value).strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class CarshopFilterSet(django_filters.FilterSet):
    """Base FilterSet of the API. In Meta.fields, a foreign key becomes an id filter."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.ForeignKey: {"filter_class": IdFilter},
        models.OneToOneField: {"filter_class": IdFilter},
        models.BooleanField: {"filter_class": StrictBooleanFilter},
    }

    id__in = IdInFilter(field_name="id", lookup_expr="in", help_text="Comma-separated ids.")


class UpdatedSinceFilterSet(CarshopFilterSet):
    """For feeds that a partner syncs: rows changed at or after a time (ISO 8601), or strictly
    after the `updated_at` of the last row the partner received (to resume a sync without
    receiving that row again)."""

    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte",
        help_text="Only rows changed at or after this time (ISO 8601, with time zone).")
    updated_after = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gt",
        help_text="Only rows changed after this time: give the `updated_at` of the last row "
                  "your previous sync received, exactly as it was sent (microseconds included).")


class RejectUnknownParameters(BaseFilterBackend):
    """400 for a query parameter the endpoint does not know: a misspelt filter must not quietly
    return everything (think of `?updated_sinse=` in a nightly accounting sync)."""

    always_allowed = {"format"}

    def filter_queryset(self, request, queryset, view):
        allowed = set(self.always_allowed)
        for backend_class in getattr(view, "filter_backends", ()):
            backend = backend_class()
            if isinstance(backend, DjangoFilterBackend):
                filterset_class = backend.get_filterset_class(view, queryset)
                if filterset_class is not None:
                    allowed.update(filterset_class.base_filters)
            elif isinstance(backend, OrderingFilter):
                allowed.add(backend.ordering_param)
            elif isinstance(backend, SearchFilter):
                allowed.add(backend.search_param)
        paginator = getattr(view, "paginator", None)
        for attribute in ("cursor_query_param", "page_size_query_param", "page_query_param",
                          "limit_query_param", "offset_query_param"):
            name = getattr(paginator, attribute, None)
            if name:
                allowed.add(name)
        unknown = sorted(name for name in request.query_params if name not in allowed)
        if unknown:
            raise ValidationError({name or "(empty name)": ["Unknown query parameter."]
                                   for name in unknown})
        return queryset
