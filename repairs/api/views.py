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
from repairs.api.filters import (
    CreditNoteFilterSet,
    InvoiceFilterSet,
    PaymentFilterSet,
    RepairOrderFilterSet,
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


@extend_schema_view(
    list=extend_schema(
        summary="List repair orders of your linked customers' vehicles",
        description="Orders of vehicles owned by the customer accounts linked to your partner "
                    "account, billed to one of them; never internal orders. Oldest change "
                    "first. With `updated_since` or `updated_after`, orders changed in the last "
                    f"{SYNC_SAFETY_WINDOW.seconds} seconds are left for the next sync."),
    retrieve=extend_schema(summary="One repair order"),
)
@extend_schema(tags=["repair orders"])
class RepairOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         PartnerScopedViewSet):
    """Repair orders with their status history, jobs and invoice totals."""

    required_scope = REPAIRS_READ
    queryset = (
        RepairOrder.objects.filter(internal=False)
        .select_related("vehicle", "customer")
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
        return queryset.filter(vehicle__owner__partners=partner, customer__partners=partner)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.action == "list" and SYNC_PARAMETERS & set(self.request.query_params):
            queryset = queryset.filter(updated_at__lte=timezone.now() - SYNC_SAFETY_WINDOW)
        return queryset


class AccountingFeedViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            PartnerScopedViewSet):
    """Base of the accounting feed: every row of the shop, oldest first by `updated_at`, a time
    unique in the feed and in commit order (repairs.models.FeedClock). Resume a sync with
    `updated_after=<updated_at of the last row received>`: nothing is missed or repeated."""

    required_scope = ACCOUNTING_READ
    ordering = ["updated_at"]


@extend_schema_view(list=extend_schema(summary="List invoices (accounting feed)"),
                    retrieve=extend_schema(summary="One invoice"))
@extend_schema(tags=["accounting"])
class InvoiceViewSet(AccountingFeedViewSet):
    """Invoices: never changed once written (corrections are credit notes)."""

    queryset = Invoice.objects.defer("snapshot").select_related("repair_order", "customer")
    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilterSet
    ordering_fields = ["updated_at", "id", "issued_at"]


@extend_schema_view(list=extend_schema(summary="List credit notes (accounting feed)"),
                    retrieve=extend_schema(summary="One credit note"))
@extend_schema(tags=["accounting"])
class CreditNoteViewSet(AccountingFeedViewSet):
    queryset = CreditNote.objects.select_related("invoice")
    serializer_class = CreditNoteSerializer
    filterset_class = CreditNoteFilterSet
    ordering_fields = ["updated_at", "id", "issued_at"]


@extend_schema_view(list=extend_schema(summary="List payments (accounting feed)"),
                    retrieve=extend_schema(summary="One payment"))
@extend_schema(tags=["accounting"])
class PaymentViewSet(AccountingFeedViewSet):
    queryset = Payment.objects.select_related("invoice")
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilterSet
    ordering_fields = ["updated_at", "id", "received_at"]
