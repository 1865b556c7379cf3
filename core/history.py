"""History panels on a record's admin page: what the rest of the business knows about it.

A customer's page lists their vehicles, repair orders, invoices and deals; a vehicle's page its
repair orders and the work declined on earlier visits. Customers and vehicles live low in the
layers (accounts, inventory) and may not import the apps that know their history (repairs,
sales). So each app registers its panels here, from its AppConfig.ready(), for the models it
knows about; the record's admin page (HistoryPanelsMixin) asks for the panels of its model.

A panel is a function of (request, obj) that returns the context of its template, or None when
the person may not see it, with the rule of who may see it (`allowed`, a function of the request
alone). Each panel reads a bounded number of rows with a fixed number of queries, whatever the
length of the history.

The record's page does not read the panels: it shows where they go when the person may see one,
and the browser fetches them from a small page of their own (`<object id>/panels/`, the same
login and permission checks, 403 for whoever may see none) once the record's page is shown
(core/static/core/history.js). The page costs what it cost before it had a history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model, QuerySet, Window
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse

if TYPE_CHECKING:
    from django.template.response import _TemplateForResponseT

PanelContext = Callable[[HttpRequest, Any], "dict[str, Any] | None"]
PanelRule = Callable[[HttpRequest], bool]


def everyone(request: HttpRequest) -> bool:
    return True


@dataclass(frozen=True)
class HistoryPanel:
    """One block of a record's history: a title, a template and what fills it."""

    key: str
    title: str
    template: str
    context: PanelContext
    # Panels are shown in this order (lower first), then by title.
    order: int = 100
    # Who may see it (the context also returns None for anyone else).
    allowed: PanelRule = everyone


_panels: dict[str, dict[str, HistoryPanel]] = {}


def first_rows(queryset: QuerySet, limit: int) -> tuple[list[Any], int]:
    """The first `limit` rows of an ordered queryset and how many there are in all, in one
    query (the count is a window over the whole set, taken before the limit)."""
    rows = list(queryset.annotate(history_total=Window(Count("pk")))[:limit])
    return rows, (rows[0].history_total if rows else 0)


def register(model: type[Model] | str, panel: HistoryPanel) -> None:
    """Show `panel` on the admin page of every `model` ("app_label.model" or the class).
    Registering a key again replaces the panel (ready() may run more than once in tests)."""
    label = model if isinstance(model, str) else model._meta.label_lower
    _panels.setdefault(label.lower(), {})[panel.key] = panel


def registered(model: type[Model]) -> list[HistoryPanel]:
    panels = _panels.get(model._meta.label_lower, {}).values()
    return sorted(panels, key=lambda panel: (panel.order, panel.title))


def panels_for(request: HttpRequest, obj: Model) -> list[dict[str, Any]]:
    """The panels `request.user` may see on `obj`'s page, each with its rendered context."""
    shown = []
    for panel in registered(type(obj)):
        if not panel.allowed(request):
            continue
        context = panel.context(request, obj)
        if context is not None:
            shown.append(
                {"key": panel.key, "title": panel.title, "template": panel.template, **context}
            )
    return shown


def may_see_any(request: HttpRequest, model: type[Model]) -> bool:
    """Whether `request.user` may see at least one of `model`'s panels (no query)."""
    return any(panel.allowed(request) for panel in registered(model))


class HistoryPanelsMixin:
    """For a ModelAdmin: the registered history panels under the change form of a saved row,
    fetched by the browser from their own page (`<object id>/panels/`) after the form."""

    change_form_template: ClassVar[_TemplateForResponseT | None] = (
        "admin/change_form_with_history.html"
    )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None and not add and may_see_any(request, self.model):
            context.setdefault("history_url", self.history_url(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def history_url(self, obj: Model) -> str:
        opts = obj._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_history_panels", args=[obj.pk])

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/panels/",
                self.admin_site.admin_view(self.history_panels_view),
                name=f"{opts.app_label}_{opts.model_name}_history_panels",
            ),
            *super().get_urls(),
        ]

    def history_panels_view(self, request, object_id):
        """The record's history panels alone (an HTML fragment the record's page inserts), for
        whoever may open the record and see at least one panel; 403 for anyone else."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        panels = panels_for(request, obj)
        if not panels:
            raise PermissionDenied
        return TemplateResponse(request, "admin/history_panels.html", {"history_panels": panels})
