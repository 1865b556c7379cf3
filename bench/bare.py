"""Bare views: an API list's rows straight from .values(), as JSON, with nothing around them (no
authentication, serializer, filters or pagination). The API pages are compared with these."""

from collections.abc import Callable
from typing import Any

from django.http import Http404, JsonResponse

# name -> function(request, page_size) returning the rows (see bench/api.py)
BARE_LISTS: dict[str, Callable[..., Any]] = {}


def view(request, name):
    rows_of = BARE_LISTS.get(name)
    if rows_of is None:
        raise Http404(name)
    from core.api.pagination import CarshopCursorPagination

    # The same rows as the API page: capped at the API's largest page.
    page_size = min(int(request.GET.get("page_size", "50")), CarshopCursorPagination.max_page_size)
    return JsonResponse({"results": list(rows_of(request, page_size))})
