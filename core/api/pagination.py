"""Cursor pagination: pages follow an opaque cursor on a unique, ever-growing ordering (the id by
default), so rows inserted while a partner pages through a list neither shift nor repeat what it
sees, and every page costs the same whatever its position."""

import datetime

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination

# Real time zones are within -12:00 and +14:00 of UTC (PostgreSQL refuses offsets past 15:59).
MAX_UTC_OFFSET = datetime.timedelta(hours=14)


class CarshopCursorPagination(CursorPagination):
    ordering = "id"
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if values:
            # A bad page size is an error, not silently the default: the caller would page
            # through something other than it asked for.
            try:
                size = int(values[-1])
            except ValueError:
                size = 0
            if size < 1:
                raise ValidationError(
                    {
                        self.page_size_query_param: [
                            f"Give a whole number from 1 to {self.max_page_size}."
                        ]
                    }
                )
            return min(size, self.max_page_size)
        return self.page_size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1})
                parameter["description"] = (
                    f"Rows per page, 1 to {self.max_page_size} (larger values are capped)."
                )
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        self._queryset = queryset
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        """A cursor is opaque but travels through the caller's hands: a position that is not a
        value of the ordering field is an invalid cursor (404), never a database error."""
        if request.query_params.get(self.cursor_query_param) == "":
            raise NotFound(self.invalid_cursor_message)  # not "the first page"
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        field = self._ordering_field()
        if field is None:
            return cursor
        try:
            value = field.to_python(cursor.position)
            if isinstance(value, datetime.datetime):
                if value.tzinfo is None or abs(value.utcoffset()) > MAX_UTC_OFFSET:
                    raise ValueError("no such time zone")
                value = value.astimezone(datetime.UTC)
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            raise NotFound(self.invalid_cursor_message) from None
        position = value.isoformat() if isinstance(value, datetime.datetime) else str(value)
        return Cursor(offset=cursor.offset, reverse=cursor.reverse, position=position)

    def _ordering_field(self):
        name = self.ordering[0].lstrip("-")
        queryset = getattr(self, "_queryset", None)
        if queryset is None:
            return None
        annotation = queryset.query.annotations.get(name)
        if annotation is not None:
            return annotation.output_field
        try:
            field = queryset.model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        return field.target_field if isinstance(field, models.ForeignKey) else field
