"""/health/ and /health/live/: each check's result only for those who run the site.

The load balancer and the operators' monitoring call from the private network (nginx lets only
those addresses in, deploy/nginx/); staff may also look from anywhere once logged in. Anyone
else learns whether the site is healthy (200 or 500), never the checks' names or their errors
(disk space, database messages, backup age).
"""

import asyncio
import ipaddress

from django.http import HttpResponse, JsonResponse
from health_check.views import HealthCheckView

from carshop.clientip import client_ip

# Loopback and the private networks (RFC 1918, IPv6 unique local), as nginx's allow lines.
# (Python's is_private also counts documentation and other reserved ranges: not used here.)
LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    )
)


def is_local_address(address):
    """Loopback or a private network: where the load balancer and monitoring call from."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in LOCAL_NETWORKS)


class CarshopHealthCheckView(HealthCheckView):
    async def get(self, request, *args, **kwargs):
        if is_local_address(client_ip(request)):
            return await super().get(request, *args, **kwargs)
        user = await request.auser()
        if user.is_active and user.is_staff:
            return await super().get(request, *args, **kwargs)
        with self.get_executor() as executor:
            results = await asyncio.gather(
                *(check.get_result(executor) for check in self.get_checks())
            )
        healthy = not any(result.error for result in results)
        status = 200 if healthy else 500
        if request.GET.get("format") == "json" or "json" in request.headers.get("accept", ""):
            return JsonResponse({"status": "healthy" if healthy else "unhealthy"}, status=status)
        return HttpResponse(
            "healthy\n" if healthy else "unhealthy\n",
            status=status,
            content_type="text/plain; charset=utf-8",
        )
