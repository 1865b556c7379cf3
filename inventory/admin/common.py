"""Pieces the inventory admins share (and that repairs' admin may reuse)."""

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect
from django.forms.models import BaseInlineFormSet
from django.utils.functional import cached_property

from accounts.locations import LocationScopedAdmin, location_count
from core.admin import HiddenFieldsMixin

COST_PERMISSION = "inventory.view_part_cost"


def can_see_costs(request):
    return request.user.has_perm(COST_PERMISSION)


class CostHidingMixin(HiddenFieldsMixin):
    """Leaves the `cost_fields` (fields, columns, filters, searches) out of every page shown to
    a user without inventory.view_part_cost, and offers no history (it would show cost
    changes)."""

    cost_fields: tuple[str, ...] = ()

    def hidden_fields(self, request):
        hidden = super().hidden_fields(request)
        return hidden if can_see_costs(request) else hidden | set(self.cost_fields)


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

    preload_fields: tuple[str, ...] = ()

    @cached_property
    def forms(self):
        forms = super().forms
        for name in self.preload_fields:
            field = self.form.base_fields[name]
            values = {str(form[name].value()) for form in forms}
            values = {value for value in values if value.isdigit()}
            labels = (
                {
                    str(obj.pk): field.label_from_instance(obj)
                    for obj in field.queryset.filter(pk__in=values)
                }
                if values
                else {}
            )
            for form in forms:
                widget = form.fields[name].widget
                widget = getattr(widget, "widget", widget)  # inside RelatedFieldWidgetWrapper
                if isinstance(widget, PreloadedAutocompleteSelect):
                    widget.labels = labels
        return forms


class ServiceForm(forms.Form):
    """A small form whose submission calls a service; the service's refusal is shown on the
    field it names, or above the form (core.admin_actions.add_refusal_to_form)."""


class LocationFieldsMixin(HiddenFieldsMixin):
    """Leaves the location fields (`location_fields`) out of every page of a single-location
    install: it sees no step more than before the group had locations."""

    location_fields: tuple[str, ...] = ("location",)

    def hidden_fields(self, request):
        return super().hidden_fields(request) | self.layout_only_fields(request)

    def layout_only_fields(self, request):
        # The history and the exports keep the location: only the pages leave it out.
        return set(self.location_fields) if location_count() < 2 else set()


class LocationScoped(LocationScopedAdmin):
    """LocationScopedAdmin for the inventory's admins (in a single shop it filters nothing and
    asks nothing about locations: the pages keep their query counts)."""
