"""CSV and Excel exports of an admin list, through django-import-export.

The Export button above a list downloads the rows the list shows now: its filters, its search
and its date drill-down, all pages (`ExportMixin.get_export_queryset` builds the list's own
ChangeList without paginating it). What a file holds:

- the columns of the table's resource (`export_resource_class`, the app's resources.py: the same
  columns as `python manage.py export`), without the fields the list hides from the reader
  (`export_hidden_fields`: by default the admin's `hidden_fields`, see core.admin.HiddenFieldsMixin;
  accounts.admin_exports adds the role rule for money);
- a related row as its id, read from the row itself: no related row is loaded, so an export of
  50,000 rows is one query, like one of 1 row;
- texts a spreadsheet would run as formulas written as text (core.spreadsheets), in CSV and xlsx.

Who may export a list is who may view it (`has_export_permission`). Nothing is imported through
the admin. A filter or form the list cannot read is reported as a message, never an error page.
"""

import functools

import tablib
from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import reverse
from import_export import resources, widgets
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import SelectableFieldsExportForm

from core.replicas import read_database
from core.spreadsheets import neutralize_value


@functools.cache
def export_resource(resource_class, hidden):
    """`resource_class` for an admin export: without the fields named in `hidden` (a
    frozenset), and with each foreign key written as the id the row holds (`customer_id`)
    instead of loading the related row to ask it its id."""

    def __init__(self, **kwargs):
        resource_class.__init__(self, **kwargs)
        concrete = {f.name: f for f in self._meta.model._meta.concrete_fields}
        for name in list(self.fields):
            if name in hidden:
                del self.fields[name]
                continue
            field = self.fields[name]
            model_field = concrete.get(field.attribute)
            if (
                model_field is not None
                and model_field.many_to_one
                and isinstance(field.widget, widgets.ForeignKeyWidget)
                and field.widget.field == "pk"
            ):
                field.attribute = model_field.attname
                field.widget = (
                    widgets.IntegerWidget()
                    if isinstance(model_field.target_field, models.IntegerField)
                    else widgets.Widget()
                )

    # Named like the resource it narrows: the export form names its fields after it.
    return type(
        resource_class.__name__,
        (resource_class,),
        {
            "__init__": __init__,
            "__module__": resource_class.__module__,
            "__qualname__": resource_class.__qualname__,
        },
    )


def neutralized(dataset, resource, selected_fields):
    """`dataset` with every text a spreadsheet would evaluate written as text; numbers of
    numeric columns (a negative quantity) left as they are."""
    numeric = [
        isinstance(field.widget, widgets.NumberWidget)
        for field in resource.get_export_fields(selected_fields)
    ]
    safe = tablib.Dataset(headers=dataset.headers, title=dataset.title)
    for row in dataset:
        safe.append(
            [
                neutralize_value(value, numeric=number)
                for value, number in zip(row, numeric, strict=True)
            ]
        )
    return safe


class ExportForm(SelectableFieldsExportForm):
    """django-import-export's form (format, and a box per column): an error in one of its
    hidden fields, which only a changed request can cause, is shown above the form instead of
    nowhere."""

    def _post_clean(self):
        super()._post_clean()
        for name, field in list(self.fields.items()):
            if field.widget.is_hidden and name in self.errors:
                for error in self.errors.pop(name):
                    self.add_error(
                        None,
                        f"The form was changed before it was sent ({name}: "
                        f"{error}). Open the export again from the list.",
                    )


class ListExportMixin(ExportMixin):
    """CSV and Excel export of the filtered list; put it before the admin base class."""

    # The table's django-import-export resource (its columns).
    export_resource_class: type[resources.ModelResource] | None = None
    export_formats = [CSV, XLSX]
    export_form_class = ExportForm

    def has_export_permission(self, request):
        return self.has_view_or_change_permission(request)

    def export_hidden_fields(self, request):
        """Fields left out of `request`'s export: those the list hides from its reader."""
        hidden_fields = getattr(self, "hidden_fields", None)
        hidden = set(hidden_fields(request)) if hidden_fields else set()
        layout_only = getattr(self, "layout_only_fields", None)
        return hidden - set(layout_only(request)) if layout_only else hidden

    def get_export_resource_classes(self, request):
        hidden = frozenset(self.export_hidden_fields(request))
        return [export_resource(self.export_resource_class, hidden)]

    def get_data_for_export(self, request, queryset, **kwargs):
        export_form = kwargs.get("export_form")
        resource_class = self.choose_export_resource_class(export_form, request)
        resource = resource_class(**self.get_export_resource_kwargs(request, **kwargs))
        selected = self.get_export_resource_fields_from_form(export_form)
        # From the read replica, unless the person has just written (core/replicas.py).
        queryset = queryset.using(read_database(request))
        dataset = resource.export(queryset=queryset, export_fields=selected, **kwargs)
        return neutralized(dataset, resource, selected)

    def export_action(self, request):
        try:
            return super().export_action(request)
        except IncorrectLookupParameters:
            # Django's list answers such an address with ?e=1; the export says what happened.
            self.message_user(
                request,
                "The list's filters in this address cannot be read, so nothing was "
                "exported. Filter the list again and export from there.",
                messages.ERROR,
            )
            info = self.opts.app_label, self.opts.model_name
            return HttpResponseRedirect(
                reverse("admin:{}_{}_changelist".format(*info), current_app=self.admin_site.name)
            )
