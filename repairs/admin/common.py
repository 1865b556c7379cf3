"""What the service shop's admin pages share: who sees what, searching by number, customer
or vehicle, staff pickers."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.utils import flatatt
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from accounts.locations import (
    AllowedLocationsFilter,
    LocationScopedAdmin,
    allowed_location_ids,
    location_count,
    working_at,
)
from accounts.models import Customer, Location, User
from accounts.roles import TECHNICIAN
from core.admin import ids_or_subquery
from core.admin_actions import run_for_each
from inventory.models import Vehicle
from repairs.models import (
    Invoice,
)
from repairs.numbers import parse_repair_order_number

# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def technician_only(request):
    """True for a technician without the advisors' rights: sees only their own work."""
    cached = getattr(request, "_repairs_technician_only", None)
    if cached is None:
        user = request.user
        cached = (
            not user.is_superuser
            and not user.has_perm("repairs.change_repairorder")
            and user.groups.filter(name=TECHNICIAN).exists()
        )
        request._repairs_technician_only = cached
    return cached


def _searchable_admin(model):
    """Whether `model` has an admin with a search box, so autocomplete widgets can use it."""
    model_admin = admin.site._registry.get(model)
    return bool(model_admin and model_admin.search_fields)


def lookup_fields(**models):
    """(autocomplete_fields, raw_id_fields) for these foreign keys: autocomplete where the
    related model's admin can search, a plain id box otherwise."""
    auto = tuple(name for name, model in models.items() if _searchable_admin(model))
    raw = tuple(name for name in models if name not in auto)
    return auto, raw


def get_or_none(queryset, object_id):
    try:
        return queryset.get(pk=object_id)
    except (queryset.model.DoesNotExist, ValidationError, ValueError):
        return None


def adopt(obj, created):
    """Make the admin's unsaved form object be the row a service created."""
    for field in type(created)._meta.concrete_fields:
        setattr(obj, field.attname, getattr(created, field.attname))
    obj._state.adding = False
    obj._state.db = created._state.db


def staff_choices(group_name, location_ids=None, *, keep=None):
    """(id, name) of active staff in a role, evaluated once: a select in every inline row then
    costs no query. In a group, given `location_ids`, only those who work at one of them
    (accounts.locations.working_at), and `keep` (a user id, say an order's present advisor)
    whatever their location."""
    users = User.objects.filter(is_active=True, groups__name=group_name)
    if location_ids is not None and location_count() > 1:
        condition = working_at(location_ids)
        if keep:
            condition |= Q(pk=keep)
        users = users.filter(condition)
    users = users.order_by("first_name", "last_name", "username")
    return [("", "---------"), *((user.pk, str(user)) for user in users)]


class CustomerVehicleSearchMixin:
    """Search for rows that have a customer and a vehicle (repair orders, appointments): by
    repair order number, by the customer (name, phone, email: the customer search) or by the
    vehicle (whole VIN, its last characters, plate: the vehicle search).

    The customers and vehicles are found first, each with its own index, and the list is then
    filtered on their ids, which its foreign key indexes answer: never a scan of the list joined
    to the customer book.
    """

    number_path: str | None = None

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        number = parse_repair_order_number(term) if self.number_path else None
        if number is not None:
            return queryset.filter(**{self.number_path: number}), False
        condition = Q(customer__in=ids_or_subquery(Customer.objects.search(term)))
        condition |= Q(vehicle__in=ids_or_subquery(Vehicle.objects.search(term, owners=False)))
        return queryset.filter(condition), False


class PlainLabel(forms.Widget):
    """Shows a value as text (an existing part line's part: remove the line to change it)."""

    def __init__(self, label, attrs=None):
        super().__init__(attrs)
        self.label = label

    def render(self, name, value, attrs=None, renderer=None):
        return format_html("<span>{}</span>", self.label)


class QuickSelect(forms.Select):
    """A select written in one pass, its options joined in Python: the same HTML as Django's
    select (flat choices), without a template rendered per option. For the selects repeated
    in every row of an inline (a labor line's technician), where those templates were most of
    the page's time. Grouped choices are left to Django's own rendering."""

    def render(self, name, value, attrs=None, renderer=None):
        choices = list(self.choices)
        if any(isinstance(label, (list, tuple)) for _value, label in choices):
            return super().render(name, value, attrs, renderer)
        selected = {str(v) for v in self.format_value(value)}
        found = False
        options = []
        for option_value, label in choices:
            option_value = "" if option_value is None else str(option_value)
            chosen = option_value in selected and (self.allow_multiple_selected or not found)
            found = found or chosen
            options.append(
                format_html('<option value="{}" selected>{}</option>', option_value, label)
                if chosen
                else format_html('<option value="{}">{}</option>', option_value, label)
            )
        final_attrs = self.build_attrs(self.attrs, attrs)
        if self.allow_multiple_selected:
            final_attrs["multiple"] = True
        return format_html(
            '<select name="{}"{}>{}</select>',
            name,
            flatatt(final_attrs),
            format_html_join("", "{}", ((option,) for option in options)),
        )


# Django's widgets whose template is input.html alone (checkbox: input.html, `checked` set in
# the attributes by the widget).
_INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in ("input", "text", "number", "hidden", "checkbox", "email", "url", "password")
)
_ERROR_LIST_TEMPLATES = frozenset(
    ("django/forms/errors/list/ul.html", "django/forms/errors/list/default.html")
)


def _attributes_html(attrs):
    """As django/forms/widgets/attrs.html writes them: False left out, True a bare name."""
    return format_html_join(
        "",
        "{}",
        (
            (format_html(" {}", name) if value is True else format_html(' {}="{}"', name, value),)
            for name, value in attrs.items()
            if value is not False
        ),
    )


class QuickRenderer:
    """The forms' renderer, but inputs and empty error lists written in Python: the same HTML
    as Django's templates, without rendering a template per input. For pages that repeat a
    form many times (the lines of every job on a repair order's page), where these small
    templates were a large part of the page's time. Everything else goes to the renderer it
    wraps."""

    def __init__(self, base):
        self._base = base

    def __getattr__(self, name):
        return getattr(self._base, name)

    def render(self, template_name, context, request=None):
        if template_name in _INPUT_TEMPLATES:
            widget = context["widget"]
            value = widget["value"]
            return format_html(
                '<input type="{}" name="{}"{}{}>',
                widget["type"],
                widget["name"],
                format_html(' value="{}"', value) if value is not None else "",
                _attributes_html(widget["attrs"]),
            )
        if template_name in _ERROR_LIST_TEMPLATES and not context.get("errors"):
            return ""
        return self._base.render(template_name, context, request)


def run_action(modeladmin, request, queryset, function, verb):
    """Run a workflow service on each selected order and report what happened."""

    def summary(done):
        numbers = [
            result.number if isinstance(result, Invoice) else repair_order.number
            for repair_order, result in done
        ]
        return f"{verb}: {', '.join(numbers)}."

    run_for_each(
        modeladmin,
        request,
        queryset.order_by("pk"),
        lambda repair_order: function(repair_order, user=request.user),
        summary=summary,
    )


def _or_default_location(clean: Any) -> Any:
    def or_default(value: Any) -> Any:
        return clean(value) or Location.default()

    return or_default


class ShopFloorLocationAdmin(LocationScopedAdmin):
    """LocationScopedAdmin for the shop floor's admins: in a group of several locations the list
    shows and filters by location; a single-shop install sees no location anywhere (its field,
    where the model has one to fill, is a hidden input holding the only location)."""

    # Other relations that reach a location ({field: path from the related model}): their
    # choices are limited to the user's locations, so a typed id of another location is refused.
    scoped_relations: dict[str, str] = {}

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        path = self.scoped_relations.get(db_field.name)
        if path is not None:
            kwargs["queryset"] = db_field.related_model._default_manager.filter(
                **{f"{path}__in": allowed_location_ids(request.user)}
            )
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == self.location_field and location_count() < 2:
            # Left out of a post, the record keeps its model's default: the only location.
            formfield.widget = forms.HiddenInput()
            formfield.required = False
            formfield.clean = _or_default_location(formfield.clean)
        return formfield

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = super().get_list_display(request)  # type: ignore[misc]
        if location_count() < 2 or "__" in self.location_field:
            return shown
        return (*shown, self.location_field)

    def get_list_select_related(self, request: HttpRequest) -> Any:
        """The location column's location read with the rows (not one query per row)."""
        related = super().get_list_select_related(request)  # type: ignore[misc]
        if location_count() < 2 or "__" in self.location_field or isinstance(related, bool):
            return related
        return (*related, self.location_field)

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = super().get_list_filter(request)  # type: ignore[misc]
        if location_count() < 2 or "__" in self.location_field:
            return filters
        return (*filters, (self.location_field, AllowedLocationsFilter))
