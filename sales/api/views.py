"""Partner endpoints of the car lot's sales: marketplaces post leads and follow them."""

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins

from accounts.api.idempotency import IdempotentCreateMixin
from accounts.api.permissions import partner_key
from accounts.api.views import PartnerScopedViewSet
from accounts.scopes import LEADS_WRITE
from core.api.rows import ValuesListMixin
from sales import services
from sales.api.filters import LeadFilterSet
from sales.api.serializers import LeadSerializer
from sales.models import Lead


@extend_schema_view(
    create=extend_schema(
        summary="Post a lead for a car for sale",
        description="Creates the lead (status `new`) for a salesperson to follow up. Send an "
        "`Idempotency-Key` so that a retry after a lost answer creates nothing "
        "new. You receive `lead.updated` when its status changes.",
    ),
    list=extend_schema(summary="List the leads you posted"),
    retrieve=extend_schema(summary="One lead you posted"),
)
@extend_schema(tags=["leads"])
class LeadViewSet(
    IdempotentCreateMixin,
    mixins.CreateModelMixin,
    ValuesListMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    PartnerScopedViewSet,
):
    """Leads posted by the calling marketplace."""

    # List pages: from .values() rows (ValuesListMixin, core/api/rows.py).

    required_scope = LEADS_WRITE
    queryset = Lead.objects.select_related("customer")
    serializer_class = LeadSerializer
    filterset_class = LeadFilterSet
    ordering = ["id"]
    ordering_fields = ["id", "created_at", "updated_at"]

    def limit_to_partner(self, queryset, partner):
        return queryset.filter(partner=partner)

    def perform_create(self, serializer):
        key = partner_key(self.request)
        if key is None:  # staff record leads in the admin
            raise exceptions.PermissionDenied("Leads are posted with a partner's key.")
        data = serializer.validated_data
        contact = data.get("customer", {})
        with transaction.atomic():
            serializer.instance = services.create_partner_lead(
                key.partner,
                stock_unit=data["stock_unit"],
                message=data.get("message", ""),
                source_reference=data.get("source_reference", ""),
                **contact,
            )
