"""Partner endpoints of the service shop: repair orders for fleet and insurance partners, and the
accounting feed (invoices, credit notes, payments) for accounting systems."""

from datetime import timedelta

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.permissions import BasePermission

from accounts.api.permissions import partner_key
from accounts.api.views import PartnerScopedViewSet
from accounts.scopes import ACCOUNTING_READ, REPAIRS_READ
from core.api.rows import ValuesListMixin
from repairs.api.filters import (
    CreditNoteFilterSet,
    InvoiceFilterSet,
    PaymentFilterSet,
    RepairOrderFilterSet,
    visible_locations,
)
from repairs.api.serializers import (
    CreditNoteSerializer,
    InvoiceSerializer,
    PaymentSerializer,
    RepairOrderSerializer,
)
from repairs.models import CreditNote, Invoice, Job, Payment, RepairOrder, RepairOrderEvent

# Repair orders take their `updated_at` when a change starts, not when it commits: a change still
# being saved may carry an earlier time than rows a sync already received. Lists filtered for a
# sync leave out the last moments, so every change a sync passes has committed (the accounting
# feed needs no window: its times come from a clock in commit order, see FeedClock).
SYNC_SAFETY_WINDOW = timedelta(seconds=30)
SYNC_PARAMETERS = {"updated_since", "updated_after"}


class StaffSeesInvoices(BasePermission):
    """Staff sessions also need to see invoices: an order carries its invoice totals, and
    technicians, who see orders, do not see customers' money."""

    def has_permission(self, request, view):
        return partner_key(request) is not None or request.user.has_perm("repairs.view_invoice")


class LocationScopedViewSet(PartnerScopedViewSet):
    """Rows of the caller's locations only: a partner's linked locations (a row of another is a
    404, as for a row that does not exist), a staff member's allowed ones."""

    location_path = "location"  # from a row to its location

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return queryset
        return queryset.filter(**{f"{self.location_path}__in": visible_locations(self.request)})


@extend_schema_view(
    list=extend_schema(
        summary="List repair orders of your linked customers' vehicles",
        description="Orders of vehicles owned by the customer accounts linked to your partner "
        "account and billed to one of them; never the shop's internal orders. "
        "Oldest change first. With `updated_since` or `updated_after`, orders "
        f"changed in the last {SYNC_SAFETY_WINDOW.seconds} seconds are left for "
        "the next sync (a change still being saved is never passed): resume with "
        "`updated_after=<updated_at of the last order received>`.",
    ),
    retrieve=extend_schema(summary="One repair order"),
)
@extend_schema(tags=["repair orders"])
class RepairOrderViewSet(
    ValuesListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, LocationScopedViewSet
):
    """Repair orders with their status history, jobs and invoice totals."""

    # List pages: from .values() rows (ValuesListMixin, core/api/rows.py).

    required_scope = REPAIRS_READ
    queryset = (
        RepairOrder.objects.filter(internal=False)
        .select_related("vehicle", "customer", "location")
        .prefetch_related(
            Prefetch("events", queryset=RepairOrderEvent.objects.order_by("at", "id")),
            Prefetch("jobs", queryset=Job.objects.order_by("position", "id")),
            Prefetch("invoice", queryset=Invoice.objects.defer("snapshot").with_balance()),
        )
    )
    serializer_class = RepairOrderSerializer
    filterset_class = RepairOrderFilterSet
    ordering = ["updated_at"]
    ordering_fields = ["updated_at", "id", "opened_at", "status_changed_at"]

    def get_permissions(self):
        return [*super().get_permissions(), StaffSeesInvoices()]

    def limit_to_partner(self, queryset, partner):
        # The vehicle is owned by a linked customer, and a linked customer pays: an order of a
        # previous owner, or billed to a private person driving a fleet car, stays private.
        # The linked customers are read first and given as a list: PostgreSQL then knows how
        # many orders they have (a fleet has many) and reads orders in the feed's order until
        # the page is full, instead of joining all of a fleet's orders and sorting them.
        customers = list(partner.customers.values_list("pk", flat=True))
        return queryset.filter(customer_id__in=customers, vehicle__owner_id__in=customers)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.action == "list" and SYNC_PARAMETERS & set(self.request.query_params):
            queryset = queryset.filter(updated_at__lte=timezone.now() - SYNC_SAFETY_WINDOW)
        return queryset


FEED_SYNC = (
    " Oldest first by `updated_at`, which is unique in the feed and in the order rows "
    "became visible: resume a sync with `updated_after=<updated_at of the last row "
    "received>` and nothing is missed or received twice."
)


class AccountingFeedViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, LocationScopedViewSet
):
    # Base of the accounting feed, oldest first by `updated_at` from repairs.models.FeedClock.
    # An accounting partner (kind "accounting", set by a manager) keeps the books of the whole
    # business and reads every row; any other partner reads only the money of the customer
    # accounts linked to it (a fleet's own invoices), and a row of another customer is a 404.

    required_scope = ACCOUNTING_READ
    ordering = ["updated_at"]
    customer_field = "customer"  # the path from a row to the customer it bills

    def limit_to_partner(self, queryset, partner):
        if partner.reads_whole_shop(ACCOUNTING_READ):
            return queryset
        customers = list(partner.customers.values_list("pk", flat=True))
        return queryset.filter(**{f"{self.customer_field}_id__in": customers})


@extend_schema_view(
    list=extend_schema(
        summary="List invoices (accounting feed)",
        description="Every invoice of the service shop for an accounting "
        "partner's key; your linked customers' invoices for any "
        "other partner's." + FEED_SYNC,
    ),
    retrieve=extend_schema(summary="One invoice"),
)
@extend_schema(tags=["accounting"])
class InvoiceViewSet(ValuesListMixin, AccountingFeedViewSet):
    """Invoices of the service shop: never changed once written (corrections are credit
    notes)."""

    # List pages: from .values() rows (ValuesListMixin, core/api/rows.py).

    queryset = Invoice.objects.defer("snapshot").select_related(
        "repair_order", "customer", "location"
    )
    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilterSet
    ordering_fields = ["updated_at", "id", "issued_at"]


@extend_schema_view(
    list=extend_schema(
        summary="List credit notes (accounting feed)",
        description="Credit notes of the service shop, or of your linked "
        "customers' invoices (as for invoices)." + FEED_SYNC,
    ),
    retrieve=extend_schema(summary="One credit note"),
)
@extend_schema(tags=["accounting"])
class CreditNoteViewSet(AccountingFeedViewSet):
    """Credit notes: amounts taken off invoices, with their own numbers; never changed."""

    queryset = CreditNote.objects.select_related("invoice", "location")
    customer_field = "invoice__customer"
    serializer_class = CreditNoteSerializer
    filterset_class = CreditNoteFilterSet
    ordering_fields = ["updated_at", "id", "issued_at"]


@extend_schema_view(
    list=extend_schema(
        summary="List payments (accounting feed)",
        description="Payments received against invoices of the service shop, "
        "or of your linked customers (as for invoices)." + FEED_SYNC,
    ),
    retrieve=extend_schema(summary="One payment"),
)
@extend_schema(tags=["accounting"])
class PaymentViewSet(AccountingFeedViewSet):
    """Payments received against invoices; never changed once recorded."""

    queryset = Payment.objects.select_related("invoice__location")
    customer_field = "invoice__customer"
    location_path = "invoice__location"  # a payment belongs to its invoice's location
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilterSet
    ordering_fields = ["updated_at", "id", "received_at"]
