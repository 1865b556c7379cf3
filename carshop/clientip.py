"""The client's real address, trusting exactly TRUSTED_PROXY_COUNT reverse proxies.

Each trusted proxy appends the address it received the request from to X-Forwarded-For, so with N
proxies the client is the N-th entry from the right; anything further left may be forged by the
client and is ignored. With no trusted proxy, REMOTE_ADDR is the client.
"""

import ipaddress

from django.conf import settings


def client_ip(request):
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote
    chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    chain = [part for part in chain if part]
    if len(chain) < proxies:
        return remote
    candidate = chain[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
