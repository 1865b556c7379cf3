"""Cursor pagination: pages follow an opaque cursor on a unique, ever-growing ordering (the id by
default), so rows inserted while a partner pages through a list neither shift nor repeat what it
sees, and every page costs the same whatever its position."""

from rest_framework.pagination import CursorPagination


class CarshopCursorPagination(CursorPagination):
    ordering = "id"
    page_size_query_param = "page_size"
    max_page_size = 200
