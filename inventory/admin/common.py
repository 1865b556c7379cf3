"""Pieces the inventory admins share (and that repairs' admin may reuse)."""

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.forms.models import BaseInlineFormSet
from django.utils.functional import cached_property

from inventory.exceptions import InventoryError

COST_PERMISSION = "inventory.view_part_cost"


def can_see_costs(request):
    return request.user.has_perm(COST_PERMISSION)


def _without(names, hidden):
    kept = []
    for name in names:
        if isinstance(name, list | tuple):
            group = _without(name, hidden)
            if group:
                kept.append(tuple(group))
        elif name not in hidden:
            kept.append(name)
    return kept


class CostHidingMixin:
    """Leaves the `cost_fields` (fields, columns, filters, searches) out of every page shown to
    a user without inventory.view_part_cost, and keeps them out of the history too (it would
    show cost changes)."""

    cost_fields = ()

    def hidden_cost_fields(self, request):
        return set() if can_see_costs(request) else set(self.cost_fields)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        hidden = self.hidden_cost_fields(request)
        if not hidden:
            return fieldsets
        stripped = []
        for title, options in fieldsets:
            fields = _without(options["fields"], hidden)
            if fields:
                stripped.append((title, {**options, "fields": fields}))
        return stripped

    def get_readonly_fields(self, request, obj=None):
        return _without(super().get_readonly_fields(request, obj), self.hidden_cost_fields(request))

    def get_list_display(self, request):
        return _without(super().get_list_display(request), self.hidden_cost_fields(request))

    def get_list_filter(self, request):
        hidden = self.hidden_cost_fields(request)
        return [item for item in super().get_list_filter(request)
                if (item[0] if isinstance(item, list | tuple) else item) not in hidden]

    def get_search_fields(self, request):
        hidden = self.hidden_cost_fields(request)
        return [name for name in super().get_search_fields(request)
                if name.lstrip("^=@").split("__")[0] not in hidden]

    def auditlog_history_view(self, request, object_id, extra_context=None):
        if self.hidden_cost_fields(request):
            raise PermissionDenied
        return super().auditlog_history_view(request, object_id, extra_context)


class PreloadedAutocompleteSelect(AutocompleteSelect):
    """An autocomplete select that takes the label of its selected option from `labels`, which
    its formset loads for all rows in one query, instead of querying once per row."""

    labels = None

    def optgroups(self, name, value, attr=None):
        selected = {str(v) for v in value if str(v) not in self.choices.field.empty_values}
        if self.labels is None or not selected <= self.labels.keys():
            return super().optgroups(name, value, attr)
        options = []
        if not self.is_required and not self.allow_multiple_selected:
            options.append(self.create_option(name, "", "", False, 0))
        for key in sorted(selected):
            options.append(self.create_option(name, key, self.labels[key], True, len(options)))
        return [(None, options, 0)]


class PreloadedAutocompleteFormSet(BaseInlineFormSet):
    """Inline formset that loads the labels of its autocomplete fields (`preload_fields`) for
    every row at once."""

    preload_fields = ()

    @cached_property
    def forms(self):
        forms = super().forms
        for name in self.preload_fields:
            field = self.form.base_fields[name]
            values = {str(form[name].value()) for form in forms}
            values = {value for value in values if value.isdigit()}
            labels = {
                str(obj.pk): field.label_from_instance(obj)
                for obj in field.queryset.filter(pk__in=values)
            } if values else {}
            for form in forms:
                widget = form.fields[name].widget
                widget = getattr(widget, "widget", widget)  # inside RelatedFieldWidgetWrapper
                if isinstance(widget, PreloadedAutocompleteSelect):
                    widget.labels = labels
        return forms


class ServiceForm(forms.Form):
    """A small form whose submission calls a service; the service's refusal is shown on the
    field it names (or above the form)."""

    def add_service_error(self, error: InventoryError):
        field = error.field if error.field in self.fields else None
        self.add_error(field, error.message)
