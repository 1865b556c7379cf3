"""List pages built from `.values()` rows in plain Python, instead of field by field.

Django REST framework serializes a row by asking each field for its attribute and its
representation, and a list page first builds a model instance for every row (and every related
row): on a page of 200 rows that is most of the request. A list endpoint can instead read its
page with `.values()` and let its serializer turn each row (a dict) into the output directly:

    class InvoiceSerializer(RowSerializerMixin, CarshopModelSerializer):
        row_values = ["id", "number", "customer__display_name", ...]  # read with .values()

        def represent_row(self, row, f):
            return {"id": row["id"], "customer_name": row["customer__display_name"],
                    "total": f.money(row["total"]), "updated_at": f.datetime(row["updated_at"])}

    class InvoiceViewSet(ValuesListMixin, ...):  # list pages from .values() rows

The serializer's declared fields stay as they are: the OpenAPI schema, the retrieve and create
actions (model instances, field by field) do not change. `represent_row` must give exactly what
the fields give; the formats below are DRF's own (tests compare both for the same rows).
"""

import decimal
from collections.abc import Sequence

from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings


class RowFormats:
    """DRF's output formats for values read from the database, computed without a field per
    value: decimals as strings with their decimal places, times in the current time zone as ISO
    8601 (`Z` for UTC), dates as ISO 8601. A value the fast way cannot format exactly as DRF
    would (a decimal with other places, another output format) is given to DRF's own field."""

    def __init__(self):
        self.zone = timezone.get_current_timezone()
        self._datetime_field = serializers.DateTimeField()
        self._date_field = serializers.DateField()
        self._iso_datetimes = api_settings.DATETIME_FORMAT.lower() == ISO_8601
        self._iso_dates = api_settings.DATE_FORMAT.lower() == ISO_8601
        self._plain_decimals = api_settings.COERCE_DECIMAL_TO_STRING
        self._decimal_fields = {}

    def money(self, value, places=2, max_digits=12):
        """A DecimalField(max_digits, places) as DRF gives it: "12.50" (null stays null)."""
        if value is None:
            return None
        if self._plain_decimals and isinstance(value, decimal.Decimal) and places:
            text = format(value, "f")
            if len(text) > places and text[-places - 1] == ".":  # already has its places
                return text
        field = self._decimal_fields.get((places, max_digits))
        if field is None:
            field = serializers.DecimalField(max_digits=max_digits, decimal_places=places)
            self._decimal_fields[places, max_digits] = field
        return field.to_representation(value)

    def datetime(self, value):
        """A DateTimeField as DRF gives it: ISO 8601 in the current time zone (null stays
        null)."""
        if value is None:
            return None
        if value.tzinfo is None or not self._iso_datetimes:
            return self._datetime_field.to_representation(value)
        text = value.astimezone(self.zone).isoformat()
        if text.endswith("+00:00"):
            text = text[:-6] + "Z"
        return text

    def date(self, value):
        if value is None:
            return None
        if not self._iso_dates:
            return self._date_field.to_representation(value)
        return value.isoformat()


class RowSerializerMixin:
    """A serializer whose list pages are built from `.values()` rows (see the module doc).

    row_values: the names the view reads with `.values()` for `represent_row`.
    represent_row(row, formats): the output of one row, exactly as the declared fields give it.
    add_related_rows(rows): classmethod; fetch what the rows nest (a query per relation, for
    the whole page) and put it in each row.
    Model instances (retrieve, create) are serialized by the declared fields as before.
    """

    row_values: Sequence[str] = ()

    def to_representation(self, instance):
        if isinstance(instance, dict):
            formats = getattr(self, "_row_formats", None)
            if formats is None:
                formats = self._row_formats = RowFormats()
            return self.represent_row(instance, formats)
        return super().to_representation(instance)

    def represent_row(self, row, f):
        raise NotImplementedError(
            f"{type(self).__name__} says how a row is shown in represent_row()"
        )

    @classmethod
    def add_related_rows(cls, rows):
        return rows


class ValuesListMixin:
    """A list action that reads its page with `.values()` and serializes it with the
    serializer's `represent_row` (RowSerializerMixin): the same queryset (scope, filters,
    ordering) and the same cursor pagination, without a model instance per row."""

    def list(self, request, *args, **kwargs):
        serializer_class = self.get_serializer_class()
        queryset = self.filter_queryset(self.get_queryset())
        # The cursor reads its position from the last row: the fields it may order by are read
        # too.
        names = list(dict.fromkeys([*serializer_class.row_values, *(self.ordering_fields or ())]))
        queryset = queryset.prefetch_related(None).values(*names)
        page = self.paginate_queryset(queryset)
        rows = list(queryset) if page is None else page
        serializer_class.add_related_rows(rows)
        data = self.get_serializer(rows, many=True).data
        if page is None:
            return Response(data)
        return self.get_paginated_response(data)
