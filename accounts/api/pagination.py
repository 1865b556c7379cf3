"""Cursor pagination: pages follow an opaque cursor on a unique, ever-growing ordering (the id by
default), so rows inserted while a partner pages through a list neither shift nor repeat what it
sees, and every page costs the same whatever its position."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination


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
                raise ValidationError({self.page_size_query_param: [
                    f"Give a whole number from 1 to {self.max_page_size}."]})
            return min(size, self.max_page_size)
        return self.page_size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1})
                parameter["description"] = (
                    f"Rows per page, 1 to {self.max_page_size} (larger values are capped).")
        return parameters
