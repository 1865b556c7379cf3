"""Requests per key: API_KEY_THROTTLE_RATE, or the key's own rate. A request over the rate gets
429 with `Retry-After` (seconds). Staff sessions are counted per user at the same default rate.

The counters are in the default cache: with several app servers it must be shared (CACHE_URL).
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.api.permissions import partner_key


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def __init__(self):
        # The rate depends on the request's key: parsed in allow_request, not here.
        pass

    def get_rate(self):
        return settings.API_KEY_THROTTLE_RATE

    def get_cache_key(self, request, view):
        key = partner_key(request)
        if key is not None:
            return f"throttle:api_key:{key.pk}"
        if request.user and request.user.is_authenticated:
            return f"throttle:api_user:{request.user.pk}"
        return f"throttle:api_anon:{self.get_ident(request)}"

    def allow_request(self, request, view):
        key = partner_key(request)
        self.rate = (key.throttle_rate if key is not None and key.throttle_rate
                     else self.get_rate())
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
