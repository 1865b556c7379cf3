"""The car lot's sales API routes (collected by carshop/api_urls.py)."""

from accounts.api.exceptions import register_domain_error
from sales.api.views import LeadViewSet
from sales.exceptions import DealError


def register(router):
    register_domain_error(DealError)
    router.register("leads", LeadViewSet, basename="lead")
