"""Requests per key: API_KEY_THROTTLE_RATE, or the key's own rate. A request over the rate gets
429 with `Retry-After` (seconds). Staff sessions are counted per user at the same default rate,
other callers per client address. Requests with a bad or missing key are counted per client
address too (API_UNAUTHENTICATED_THROTTLE_RATE): past the rate, every request from that address
gets 429 without its key being looked at, so keys cannot be guessed at speed.

The counters live in the default cache, which must be shared by every worker and host (Redis in
production: the system check accounts.E002 fails `check --deploy` otherwise), and they are
counted atomically there. DRF's SimpleRateThrottle reads a list of times, appends and writes it
back: two workers reading at once both pass, so a key limited to 5 could make 15 requests
against 3 workers. Here each request is one `incr` of a counter per key and time window (the
cache's own atomic increment, INCR in Redis), as django-ratelimit counts: the window is fixed
(of the rate's length, its start offset per key), so at most the rate's number of requests pass
in each window, whichever worker serves them.
"""

import zlib

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from accounts.api.permissions import partner_key
from carshop.clientip import client_ip


class AtomicWindowRateThrottle(SimpleRateThrottle):
    """A SimpleRateThrottle counted with the cache's atomic add/incr in fixed windows."""

    def window(self, key):
        """(number, start, end) of the current window of `key`: windows of `duration` seconds,
        offset per key so that every key's window does not turn over at the same moment."""
        offset = zlib.crc32(key.encode()) % self.duration
        number = int((self.now - offset) // self.duration)
        start = number * self.duration + offset
        return number, start, start + self.duration

    def count(self, key, increment=True):
        """The requests of the current window, this one included when `increment`."""
        number, _start, _end = self.window(key)
        counter = f"{key}:{number}"
        if not increment:
            return cache.get(counter, 0)
        # The counter outlives its window a little: it never expires while it is counted.
        cache.add(counter, 0, timeout=self.duration + 60)
        try:
            return cache.incr(counter)
        except ValueError:  # evicted between add and incr
            cache.add(counter, 1, timeout=self.duration + 60)
            return 1

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        if self.count(self.key) > self.num_requests:
            return self.throttle_failure()
        return self.throttle_success()

    def throttle_success(self):
        return True

    def wait(self):
        _number, _start, end = self.window(self.key)
        return max(end - self.now, 1)


class ApiKeyRateThrottle(AtomicWindowRateThrottle):
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
        return f"throttle:api_anon:{client_ip(request)}"

    def allow_request(self, request, view):
        key = partner_key(request)
        self.rate = key.throttle_rate if key is not None and key.throttle_rate else self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class UnauthenticatedRateThrottle(AtomicWindowRateThrottle):
    """Requests with a bad or missing key, per client address (carshop.clientip)."""

    scope = "api_unauthenticated"

    def __init__(self):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self):
        return settings.API_UNAUTHENTICATED_THROTTLE_RATE

    def get_cache_key(self, request, view=None):
        return f"throttle:api_unauthenticated:{client_ip(request)}"

    def exhausted(self, request):
        """Whether the address has used up its failures (counting nothing): its requests are
        then refused before any key is looked at."""
        self.key = self.get_cache_key(request)
        self.now = self.timer()
        return self.count(self.key, increment=False) >= self.num_requests
