"""Request id and access log."""

import logging
import re
import time
import uuid

from carshop.clientip import client_ip
from carshop.logconfig import request_id_var
from core.replicas import remember_write

access_logger = logging.getLogger("carshop.access")

# A request id from the proxy is kept only if it is short and plain, so it cannot forge log lines.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give every request an id (the proxy's X-Request-ID when sane), echoed in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class AccessLogMiddleware:
    """One access.log line per request: method, path, status, duration in ms, user, request id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        access_logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user": user.get_username() if user is not None and user.is_authenticated else "-",
                "remote_addr": client_ip(request),
            },
        )
        return response


class ReadYourWritesMiddleware:
    """After a request that may have written (POST, PUT, PATCH, DELETE) by a signed-in person or
    a partner key, that user's reads stay on the primary database for REPLICA_PIN_SECONDS, on
    every host: pages that read from the replica show them their own change at once
    (core/replicas.py). Nothing to do without DATABASE_REPLICA_URL."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # After the view: the partner key's user is known only once the API view ran.
        remember_write(request)
        return response
