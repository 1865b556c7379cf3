"""The lot's API routes (collected by carshop/api_urls.py)."""

from inventory.api.views import ListingViewSet, PartStockViewSet


def register(router):
    router.register("listings", ListingViewSet, basename="listing")
    router.register("parts-stock", PartStockViewSet, basename="part-stock")
