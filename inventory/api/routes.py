"""The lot's API routes (collected by carshop/api_urls.py)."""

from accounts.api.exceptions import register_domain_error
from inventory.api.views import ListingViewSet
from inventory.exceptions import InventoryError


def register(router):
    register_domain_error(InventoryError)
    router.register("listings", ListingViewSet, basename="listing")
