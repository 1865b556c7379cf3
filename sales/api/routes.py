"""The car lot's sales API routes (collected by carshop/api_urls.py)."""

from sales.api.views import LeadViewSet


def register(router):
    router.register("leads", LeadViewSet, basename="lead")
