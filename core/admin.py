"""What every Carshop admin page shares (in core, the bottom layer, so all apps use it).

- The "History" button of each change page shows the object's audit log (django-auditlog), with
  who changed what and when, instead of Django's admin-only log.
- Lists never count a whole large table: no second, unfiltered count
  (`show_full_result_count = False`), and the paginator (`EstimatedCountPaginator`) takes
  PostgreSQL's own row estimate for an unfiltered list and counts a filtered one only up to
  10,000 rows. The page then says "about" (templates admin/pagination.html and
  admin/search_form.html).
- Records in a workflow are canceled through their service, never deleted: an admin says which
  rows may not be deleted and why (`delete_refusal`); the admin then offers no Delete button,
  page or bulk action for them and refuses a request for one with that message.
- Figures a role may not see are left out of every page shown to it (`HiddenFieldsMixin`):
  prices, rates, amounts and totals for whoever lacks accounts.view_prices, with `price_fields`
  (accounts.price_hiding.PriceHidingMixin, which asks accounts.roles); the inventory admin hides
  costs the same way.
- A page offers nothing its reader cannot use: the History button only where the reader may see
  every figure of the row (`has_history_permission`), and a read-only related row as a link only
  where the reader may open its page (`render_for`, `linked_only_where_allowed`).
- The date drill-down above a large list offers the years, months or days between its first
  and last date, found with two index lookups, instead of reading every row for the distinct
  dates (template tag carshop_date_hierarchy, in admin/change_list.html).
"""

import contextvars
import json

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.expressions import RawSQL
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import cached_property

# Lists with more rows than this are counted by estimate.
EXACT_COUNT_LIMIT = 10_000


def table_count_or_estimate(connection, model, limit):
    """(rows, estimated) of a whole table, in one query: PostgreSQL's estimate (kept by ANALYZE
    and autovacuum) when it is above `limit`, else an exact COUNT, which the database runs only
    then."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint, CASE WHEN reltuples > %s THEN NULL "  # noqa: S608
            f"ELSE (SELECT COUNT(*) FROM {table}) END FROM pg_class WHERE oid = %s::regclass",
            [limit, model._meta.db_table],
        )
        estimate, exact = cursor.fetchone()
    return (exact, False) if exact is not None else (estimate, True)


def planner_row_estimate(queryset):
    """The planner's estimate of the rows `queryset` returns (PostgreSQL's EXPLAIN)."""
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Counts a list without reading a large table whole (on PostgreSQL; elsewhere it counts).

    - unfiltered: the table's row estimate, when it is above EXACT_COUNT_LIMIT;
    - filtered or searched: an exact count of at most EXACT_COUNT_LIMIT + 1 rows, and the
      planner's estimate beyond that;
    - kept to the user's locations and nothing else (`scope_only`, set by the list: the whole
      table as far as the user is concerned): the planner's estimate when above
      EXACT_COUNT_LIMIT, read first, so a location's long list costs one query, as an unfiltered
      table does, and not an exact count of 10,000 rows before it.
    `estimated` tells whether `count` is an estimate.

    `count_order` (set by the list, empty by default): the order in which the exact count takes
    its first rows, for a list whose rows the database can only pick one by one (a technician's
    own orders: those with a labor line of theirs). Walking an index in that order, it stops at
    the limit; unordered, PostgreSQL finds every matching row first (a technician's 100,000
    orders, read through every job of the shop) and then counts 10,001 of them.
    """

    exact_limit = EXACT_COUNT_LIMIT

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.estimated = False
        self.scope_only = False
        self.count_order = ()

    @cached_property
    def count(self):
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return super().count
        query = queryset.query
        if not query.where and not query.distinct and not query.combinator:
            count, self.estimated = table_count_or_estimate(
                connection, queryset.model, self.exact_limit
            )
            return count
        if self.scope_only:
            # The rows' ids only: the planner need not plan the list's joins to estimate them.
            estimate = planner_row_estimate(queryset.values("pk"))
            if estimate > self.exact_limit:
                self.estimated = True
                return estimate
        bounded = queryset.order_by(*self.count_order)[: self.exact_limit + 1].count()
        if bounded <= self.exact_limit:
            return bounded
        self.estimated = True
        return max(bounded, planner_row_estimate(queryset))


# How many matching rows a search hands to the list's query as ids (an index lookup each);
# beyond this, a subquery (slower, never wrong).
SEARCH_MATCH_LIMIT = 1000


def ids_or_subquery(queryset, limit=SEARCH_MATCH_LIMIT):
    """The primary keys of `queryset` as a list when there are at most `limit`, else the
    queryset as a subquery.

    Searches find the matching rows of a related table first (customers by name, vehicles by VIN
    tail...), each with its own index, and filter the list on those ids, which the list's foreign
    key index answers. Written as one query with joins and ORs instead, PostgreSQL can only read
    the whole list."""
    ids = list(queryset.order_by().values_list("pk", flat=True)[: limit + 1])
    return ids if len(ids) <= limit else queryset.order_by().values("pk")


def skip_scan_sql(connection, model, column):
    """SQL for the distinct values of an indexed column, read by hopping through its index: one
    index probe per value (a recursive query), not a read of every row. PostgreSQL only."""
    quote = connection.ops.quote_name
    table, column = quote(model._meta.db_table), quote(column)
    return (
        f"WITH RECURSIVE found(value) AS ("  # noqa: S608 - names from the model
        f" (SELECT {column} FROM {table} WHERE {column} IS NOT NULL"
        f"  ORDER BY {column} LIMIT 1)"
        f" UNION ALL"
        f" SELECT (SELECT {column} FROM {table} WHERE {column} > found.value"
        f"  ORDER BY {column} LIMIT 1) FROM found WHERE found.value IS NOT NULL)"
        f" SELECT value FROM found WHERE value IS NOT NULL"
    )


class _SkipScan:
    """The distinct values of a column (skip_scan_sql), read when the filter lists them."""

    def __init__(self, model, column, db):
        self.model, self.column, self.db = model, column, db

    def __iter__(self):
        connection = connections[self.db]
        with connection.cursor() as cursor:
            cursor.execute(skip_scan_sql(connection, self.model, self.column))
            return iter([row[0] for row in cursor.fetchall()])


class IndexedValuesListFilter(admin.AllValuesFieldListFilter):
    """Django's filter by every value of a column, for an indexed column of a large table: on
    PostgreSQL the values come from a skip scan of the index (`_SkipScan`) instead of a
    SELECT DISTINCT over the whole table. Use as ("make", IndexedValuesListFilter)."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        queryset = model_admin.get_queryset(request)
        if (
            connections[queryset.db].vendor == "postgresql"
            and "__" not in field_path
            and not queryset.query.where
        ):
            self.lookup_choices = _SkipScan(model, field.column, queryset.db)


class IndexedRelatedOnlyListFilter(admin.RelatedOnlyFieldListFilter):
    """Django's filter by the related rows a list uses (say, the salespeople who have deals),
    for an indexed foreign key of a large table: on PostgreSQL the ids come from a skip scan of
    the index inside the same query, instead of a SELECT DISTINCT over the whole table."""

    def field_choices(self, field, request, model_admin):
        queryset = model_admin.get_queryset(request)
        connection = connections[queryset.db]
        # A list kept to the user's locations (`location_field`) offers the related rows the
        # whole table uses: staff work across the group, and choosing one who has no row at the
        # user's locations lists nothing.
        filtered = queryset.query.where and not getattr(model_admin, "location_field", None)
        if connection.vendor != "postgresql" or filtered or "__" in self.field_path:
            return super().field_choices(field, request, model_admin)
        # Table and column names from the model, no user input.
        used = RawSQL(skip_scan_sql(connection, queryset.model, field.column), [])  # noqa: S611
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False, ordering=ordering, limit_choices_to={"pk__in": used}
        )


class PrefetchedInlineFormSet(BaseInlineFormSet):
    """An inline whose rows the change page already loaded (get_object prefetched the relation,
    e.g. for a total shown on the page) reuses them instead of reading them a second time.
    `reuse_prefetched` is set false where the inline shows fewer rows than the relation holds
    (say, only a technician's own jobs)."""

    reuse_prefetched = True

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            accessor = self.fk.remote_field.get_accessor_name()
            cache = getattr(self.instance, "_prefetched_objects_cache", {})
            if not (self.reuse_prefetched and accessor in cache):
                return super().get_queryset()
            self._queryset = cache[accessor]
        return self._queryset


class RowLinksChangeList(ChangeList):
    """A list whose rows' links carry its search and filters (`_changelist_filters`), as
    Django's do, without Django resolving each link's URL to see whether it is the list's own:
    a row's link never is. (Resolving walks every model's admin URLs: a searched page of 50
    rows spent more time on that than on its queries.)"""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read by the rows' template tag only (admin_list.items_for_result).
        self.row_link_filters, self.preserved_filters = self.preserved_filters, ""

    def url_for_result(self, result):
        url = super().url_for_result(result)
        return f"{url}?{self.row_link_filters}" if self.row_link_filters else url


class CarshopModelAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    show_full_result_count = False
    list_per_page = 50
    paginator = EstimatedCountPaginator
    auditlog_history_per_page = 25

    def get_changelist(self, request, **kwargs):
        return RowLinksChangeList

    # Shown when a bulk delete is asked of a list that offers none: what to do instead.
    delete_refused_help = ""
    # Rows that go with a deleted row (its lines), although their own admin never deletes one
    # by itself: deleting the row needs no permission on them.
    deleted_with: tuple[type[Model], ...] = ()

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            # Not there, or not the reader's to see: as the change page answers.
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_history_permission(request, obj):
            raise PermissionDenied
        return self.auditlog_history_view(request, object_id, extra_context)

    def has_history_permission(self, request, obj=None):
        """Whether the History button (the audit log of the row) is offered."""
        return self.has_view_or_change_permission(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context.setdefault("show_history", self.has_history_permission(request, obj))
        response = super().render_change_form(request, context, add, change, form_url, obj)
        # Rendered now, while the page knows whose it is: read-only links to related rows
        # are kept only where the viewer may open them (linked_only_where_allowed).
        return render_for(request, response)

    # Records in a workflow ----------------------------------------------------------------

    def delete_refusal(self, obj):
        """Why `obj` may not be deleted (a record in a workflow, canceled through its service),
        or None when it may be."""
        return None

    def _refuses_some_deletes(self):
        return type(self).delete_refusal is not CarshopModelAdmin.delete_refusal

    def has_delete_permission(self, request, obj=None):
        if obj is not None and self.delete_refusal(obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        reason = self.delete_refusal(obj) if obj is not None else None
        if reason:
            if not (
                self.has_delete_permission(request)
                and self.has_view_or_change_permission(request, obj)
            ):
                raise PermissionDenied(reason)
            self.message_user(request, reason, messages.ERROR)
            info = self.opts.app_label, self.opts.model_name
            return HttpResponseRedirect(
                reverse(
                    "admin:{}_{}_change".format(*info),
                    args=[obj.pk],
                    current_app=self.admin_site.name,
                )
            )
        return super().delete_view(request, object_id, extra_context)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.difference_update(model._meta.verbose_name for model in self.deleted_with)
        return deleted, counts, perms_needed, protected

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions and self._refuses_some_deletes():
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (delete_selected_outside_workflow, name, description)
        return actions

    def response_action(self, request, queryset):
        if request.POST.get(
            "action"
        ) == "delete_selected" and "delete_selected" not in self.get_actions(request):
            message = f"{self.opts.verbose_name_plural.capitalize()} are not deleted here."
            self.message_user(
                request, " ".join(filter(None, [message, self.delete_refused_help])), messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)


# The request whose page is being rendered (render_for).
_page_request = contextvars.ContextVar("carshop_admin_page_request", default=None)
_django_admin_url = helpers.AdminReadonlyField.get_admin_url


def render_for(request, response):
    """Render `response` now, as `request`'s page: what it links to is checked against what
    that person may open (page_viewer_may_open)."""
    if not hasattr(response, "render") or response.is_rendered:
        return response
    token = _page_request.set(request)
    try:
        response.render()
    finally:
        _page_request.reset(token)
    return response


def page_viewer_may_open(admin_site, model):
    """Whether the person whose page is being rendered may open `model`'s pages (asked once
    per page and model, not per row); true outside such a rendering."""
    request = _page_request.get()
    if request is None:
        return True
    answers = request.__dict__.setdefault("_carshop_may_open", {})
    if model not in answers:
        model_admin = admin_site._registry.get(model)
        answers[model] = model_admin is not None and model_admin.has_view_or_change_permission(
            request
        )
    return answers[model]


def linked_only_where_allowed(field, remote_field, remote_obj):
    """Django shows a read-only foreign key as a link to the related row's page, whoever looks:
    a technician would be offered the customer's page and answered 403. On Carshop's pages the
    link is kept only for a viewer who may open that page; others read the row's name."""
    if not page_viewer_may_open(field.model_admin.admin_site, remote_field.model):
        return str(remote_obj)
    return _django_admin_url(field, remote_field, remote_obj)


# Django offers no hook for the link, so its method is replaced.
helpers.AdminReadonlyField.get_admin_url = linked_only_where_allowed  # type: ignore[method-assign]

DELETE_REFUSALS_SHOWN = 5


def delete_selected_outside_workflow(modeladmin, request, queryset):
    """Django's "Delete selected" for a list some of whose rows are in a workflow: when any
    selected row may not be deleted, nothing is, and each refusal is shown."""
    refusals = [reason for obj in queryset if (reason := modeladmin.delete_refusal(obj))]
    if not refusals:
        return delete_selected(modeladmin, request, queryset)
    for reason in refusals[:DELETE_REFUSALS_SHOWN]:
        modeladmin.message_user(request, reason, messages.ERROR)
    more = len(refusals) - DELETE_REFUSALS_SHOWN
    modeladmin.message_user(
        request,
        (f"…and {more} more. " if more > 0 else "") + "Nothing was deleted.",
        messages.ERROR,
    )
    return None


class ReadOnlyMixin:
    """Rows the services write (ledgers, events, receipts): listed and shown, never added,
    changed or deleted by hand. For model admins and inlines alike."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AddOnlyMixin:
    """Rows that are added (money received or refunded, odometer readings) and then kept as
    they are: never changed or deleted by hand."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EditableWhileParentAllows:
    """Inline rows that may be added, changed or deleted only while the parent allows it (a draft
    purchase order or deal, an open repair order). Subclasses say when in parent_editable()."""

    def parent_editable(self, obj):
        return True

    def has_add_permission(self, request, obj=None):
        return self.parent_editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self.parent_editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.parent_editable(obj) and super().has_delete_permission(request, obj)


def without_fields(names, hidden):
    """`names` (fields, possibly grouped on one line as tuples) without the `hidden` ones."""
    kept = []
    for name in names:
        if isinstance(name, list | tuple):
            group = without_fields(name, hidden)
            if group:
                kept.append(tuple(group))
        elif name not in hidden:
            kept.append(name)
    return kept


class HiddenFieldsMixin:
    """Leaves the fields `hidden_fields` names for a request out of every page it shows: form
    fields, read-only figures, list columns, filters and searches. The history (audit log),
    which would show their changes, is not offered either. For model admins and inlines."""

    def hidden_fields(self, request):
        return set()

    def layout_only_fields(self, request):
        """Those of the hidden fields left out only to keep the pages simple, not because the
        reader may not see them: the history and the exports still show them."""
        return set()

    def get_fields(self, request, obj=None):
        return without_fields(super().get_fields(request, obj), self.hidden_fields(request))

    def without_hidden(self, request, fieldsets):
        """`fieldsets` without the hidden fields (and without the sets left empty)."""
        hidden = self.hidden_fields(request)
        if not hidden:
            return fieldsets
        stripped = []
        for title, options in fieldsets:
            fields = without_fields(options["fields"], hidden)
            if fields:
                stripped.append((title, {**options, "fields": fields}))
        return stripped

    def get_fieldsets(self, request, obj=None):
        return self.without_hidden(request, super().get_fieldsets(request, obj))

    def get_readonly_fields(self, request, obj=None):
        return without_fields(
            super().get_readonly_fields(request, obj), self.hidden_fields(request)
        )

    def get_list_display(self, request):
        return without_fields(super().get_list_display(request), self.hidden_fields(request))

    def get_list_filter(self, request):
        hidden = self.hidden_fields(request)
        return [
            item
            for item in super().get_list_filter(request)
            if (item[0] if isinstance(item, list | tuple) else item) not in hidden
        ]

    def get_search_fields(self, request):
        hidden = self.hidden_fields(request)
        return [
            name
            for name in super().get_search_fields(request)
            if name.lstrip("^=@").split("__")[0] not in hidden
        ]

    def has_history_permission(self, request, obj=None):
        secret = self.hidden_fields(request) - self.layout_only_fields(request)
        return not secret and super().has_history_permission(request, obj)
