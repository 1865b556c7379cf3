"""The accounts app's API routes (carshop/api_urls.py collects every app's `api.routes`)."""

from accounts.api.views import WebhookSubscriptionViewSet


def register(router):
    router.register(
        "webhook-subscriptions", WebhookSubscriptionViewSet, basename="webhook-subscription"
    )
