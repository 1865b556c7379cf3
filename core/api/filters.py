"""Filtering for API lists (django-filter): foreign keys are filtered by id (`?vehicle=12`,
`?vehicle__in=12,13`), never offered as a select of every row; `updated_since` for syncs."""

import datetime

import django_filters
from django import forms
from django.db import models
from django.utils.dateparse import parse_datetime
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


class PresentCSVWidget(django_filters.widgets.BaseCSVWidget, forms.TextInput):
    """Comma-separated values, where a parameter given empty (`?id__in=`) reaches the field
    as one empty value (which it refuses) instead of looking like no parameter at all."""

    def value_from_datadict(self, data, files, name):
        values = super().value_from_datadict(data, files, name)
        if not values and name in data:
            return [""]
        return values


class IdInFilter(django_filters.BaseInFilter, IdFilter):
    """`?id__in=1,2,3`"""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", PresentCSVWidget)
        super().__init__(*args, **kwargs)


class TimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 time with its time zone; empty or without a zone is an error (a sync must
    not silently get everything, or times read in the shop's zone). Any offset RFC 3339 allows
    is taken: the time is compared in UTC, and one the calendar cannot hold in UTC (year 1 at
    +23:00) is earlier, or later, than every row."""

    def to_python(self, value):
        if value == "":
            raise forms.ValidationError(
                "Give a date and time (ISO 8601, with time zone).", code="required"
            )
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                raise forms.ValidationError(
                    "Give the time zone too (e.g. Z or +02:00).", code="invalid"
                )
        value = super().to_python(value)
        if value is not None:
            try:  # compared in UTC (the database need not know odd offsets)
                value = value.astimezone(datetime.UTC)
            except OverflowError:
                edge = datetime.datetime.min if value.year == 1 else datetime.datetime.max
                value = edge.replace(tzinfo=datetime.UTC)
        return value


class TimeFilter(django_filters.IsoDateTimeFilter):
    field_class = TimeField


class StrictNullBooleanField(forms.NullBooleanField):
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
    field_class = StrictNullBooleanField


class StrictChoiceField(django_filters.fields.ChoiceField):
    """`?status=` is a mistake, not "any status"."""

    def clean(self, value):
        if value == "":
            raise forms.ValidationError("Choose a value.", code="required")
        return super().clean(value)


class StrictChoiceFilter(django_filters.ChoiceFilter):
    field_class = StrictChoiceField


class NoEmptyValuesForm(forms.Form):
    """A filter given empty (`?make=`, `?price_max=`) is a mistake, not "any": django-filter
    would quietly leave it out and return everything."""

    def clean(self):
        cleaned = super().clean()
        for name in self.fields:
            if name in self.data and name not in self.errors:
                value = self.data.get(name)
                if isinstance(value, str) and not value.strip():
                    self.add_error(
                        name,
                        forms.ValidationError(
                            'Give a value: an empty one is an error, not "any".', code="required"
                        ),
                    )
        return cleaned


class CarshopFilterSet(django_filters.FilterSet):
    """Base FilterSet of the API. In Meta.fields, a foreign key becomes an id filter, a field
    with choices a filter that refuses an empty value."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.ForeignKey: {"filter_class": IdFilter},
        models.OneToOneField: {"filter_class": IdFilter},
        models.BooleanField: {"filter_class": StrictBooleanFilter},
    }

    id__in = IdInFilter(
        field_name="id",
        lookup_expr="in",
        help_text="Comma-separated ids, in the parameter given once "
        "(`?id__in=1,2,3`; one id is a list of one).",
    )

    def get_form_class(self):
        """The form of the filters, built once per FilterSet class (django-filter builds it
        again on every request). Each request's form still gets its own copies of the fields.
        Not cached when a filter's field depends on the request (a queryset from a
        callable)."""
        cls = type(self)
        form_class = cls.__dict__.get("_carshop_form_class")
        if form_class is None:
            form_class = type(
                f"{cls.__name__}Form", (NoEmptyValuesForm, super().get_form_class()), {}
            )
            if not any(
                isinstance(filter_, django_filters.filters.QuerySetRequestMixin)
                for filter_ in self.filters.values()
            ):
                cls._carshop_form_class = form_class
        return form_class

    @classmethod
    def filter_for_lookup(cls, field, lookup_type):
        filter_class, params = super().filter_for_lookup(field, lookup_type)
        if filter_class is django_filters.ChoiceFilter:
            filter_class = StrictChoiceFilter
        return filter_class, params


class UpdatedSinceFilterSet(CarshopFilterSet):
    """For feeds that a partner syncs: rows changed at or after a time (ISO 8601), or strictly
    after the `updated_at` of the last row the partner received (to resume a sync without
    receiving that row again)."""

    updated_since = TimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Only rows changed at or after this time (ISO 8601, with time zone).",
    )
    updated_after = TimeFilter(
        field_name="updated_at",
        lookup_expr="gt",
        help_text="Only rows changed after this time: give the `updated_at` of the last row "
        "your previous sync received, exactly as it was sent (microseconds included).",
    )


class RejectUnknownParameters(BaseFilterBackend):
    """400 for a query parameter the endpoint does not know: a misspelt filter must not quietly
    return everything (think of `?updated_sinse=` in a nightly accounting sync). And 400 for a
    parameter given more than once (`?price_max=9&price_max=x`): each takes one value (the
    schema says so), and the filters, ordering and pagination would each quietly take the last
    one; several ids go in one value (`?id__in=1,2,3`)."""

    always_allowed = {"format"}
    repeated_messages = {
        "id__in": "Give this parameter once, with the ids separated by commas (e.g. 1,2,3)."
    }
    repeated_message = "Give this parameter once: it takes one value."

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
        for attribute in (
            "cursor_query_param",
            "page_size_query_param",
            "page_query_param",
            "limit_query_param",
            "offset_query_param",
        ):
            name = getattr(paginator, attribute, None)
            if name:
                allowed.add(name)
        errors = {}
        for name in sorted(request.query_params):
            if name not in allowed:
                errors[name or "(empty name)"] = ["Unknown query parameter."]
            elif len(request.query_params.getlist(name)) > 1:
                errors[name] = [self.repeated_messages.get(name, self.repeated_message)]
        if errors:
            raise ValidationError(errors)
        return queryset


class CarshopOrderingFilter(OrderingFilter):
    """`?ordering=<field>` or `-<field>`, one of the fields the endpoint declares in
    `ordering_fields` (listed in the schema). Anything else is a 400: DRF would quietly ignore
    it and return another order than the caller asked for."""

    def _choices(self, view):
        fields = getattr(view, "ordering_fields", None)
        if not isinstance(fields, (list, tuple)):
            return None
        return [name for field in fields for name in (field, f"-{field}")]

    def get_ordering(self, request, queryset, view):
        value = request.query_params.get(self.ordering_param)
        choices = self._choices(view)
        if value is not None and choices is not None:
            if value.strip() not in choices:
                raise ValidationError(
                    {self.ordering_param: [f"Order by one of: {', '.join(choices)}."]}
                )
            return (value.strip(),)
        return super().get_ordering(request, queryset, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        choices = self._choices(view)
        if choices is not None:
            for parameter in parameters:
                if parameter["name"] == self.ordering_param:
                    parameter["schema"] = {"type": "string", "enum": choices}
                    parameter["description"] = "Sort by this field (`-` first: descending)."
        return parameters
