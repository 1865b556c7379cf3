"""Partner endpoints of the lot: the cars for sale, for marketplaces."""

from django.db.models import F, Prefetch
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins

from accounts.api.views import PartnerScopedViewSet
from accounts.scopes import LISTINGS_READ, PARTS_READ
from core.api.rows import ValuesListMixin
from inventory.api.filters import ListingFilterSet, PartStockFilterSet
from inventory.api.serializers import ListingSerializer, PartStockSerializer
from inventory.lot import StockUnit, StockUnitPhoto
from inventory.models import PartStock


@extend_schema_view(
    list=extend_schema(
        summary="List the cars for sale",
        description="Stock units that are available and have a price. A car leaves this list "
        "when a deal reserves it, when it is sold (`stock_unit.sold`) or when it "
        "goes back to reconditioning; it appears when it goes on sale "
        "(`stock_unit.available`).",
    ),
    retrieve=extend_schema(summary="One car for sale"),
)
@extend_schema(tags=["listings"])
class ListingViewSet(
    ValuesListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet
):
    """A car for sale: price, specs, photos, days on the lot."""

    # List pages: from .values() rows (ValuesListMixin, core/api/rows.py).

    required_scope = LISTINGS_READ
    queryset = (
        StockUnit.objects.filter(status=StockUnit.Status.AVAILABLE)
        .annotate(price=Coalesce("internet_price", "asking_price"))
        .filter(price__isnull=False)
        .select_related("vehicle")
        .prefetch_related(
            Prefetch("photos", queryset=StockUnitPhoto.objects.order_by("position", "id"))
        )
    )
    serializer_class = ListingSerializer
    filterset_class = ListingFilterSet
    ordering = ["id"]
    ordering_fields = ["id", "price", "acquired_on", "updated_at"]

    def limit_to_partner(self, queryset, partner):
        # Only the cars on the lots linked to the partner, as a subquery of the page's query
        # (the same rows as accounts.locations.partner_location_ids, without a query of its own).
        return queryset.filter(location__in=partner.locations.values("pk"))


@extend_schema_view(
    list=extend_schema(
        summary="List parts on hand per location",
        description="One row per part and location, for the locations linked to the partner "
        "only; `?location=` narrows to one of them. Costs are never among the fields.",
    ),
    retrieve=extend_schema(summary="One part's stock at one location"),
)
@extend_schema(tags=["parts"])
class PartStockViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    required_scope = PARTS_READ
    # The cursor of the next page is read from the last row: the SKU as an attribute of its own.
    queryset = (
        PartStock.objects.filter(part__active=True)
        .select_related("part", "location")
        .annotate(part_sku=F("part__sku"))
    )
    serializer_class = PartStockSerializer
    filterset_class = PartStockFilterSet
    ordering = ["part_sku", "location_id"]
    ordering_fields = ["id", "on_hand"]

    def limit_to_partner(self, queryset, partner):
        return queryset.filter(location__in=partner.locations.values("pk"))
