"""Webhooks: an outbox written with the change, delivered afterwards by a worker.

Other apps call `publish()` inside the transaction that makes the change, e.g. in
repairs/services.py:

    with transaction.atomic():
        ...  # change the repair order's status
        webhooks.publish(REPAIR_ORDER_STATUS_CHANGED, {...}, customer=vehicle.owner_id)

`publish` writes one WebhookEvent and one WebhookDelivery per subscription allowed to receive it,
in that same transaction: if the change rolls back, no event exists; if it commits, the event is
there to deliver. After the commit, a task per delivery is enqueued (django-tasks; the database
backend's `python manage.py db_worker` runs them). `deliver_due()` (the `deliver_webhooks`
command) re-enqueues deliveries whose task was lost, e.g. when the process died right after the
commit.

A subscription receives nothing until its URL has answered the verification handshake
(`verify_subscription`: a signed challenge POST that the endpoint echoes), so a partner cannot
point Carshop's requests at a server that did not ask for them.

Who receives an event: verified, active subscriptions of active partners that chose the event
type and hold a usable key with the event's scope; with `customer`, only partners linked to that
customer (and those that read the whole shop with the scope: accounting partners, see
Partner.WHOLE_SHOP_KINDS); with `partner`, only that partner.

Each request is signed: `X-Carshop-Signature: sha256=<hex>` is HMAC-SHA256 with the
subscription's secret over `<timestamp>.<body>`, and `X-Carshop-Timestamp` carries the timestamp
(Unix seconds), so receivers can refuse old or replayed requests. A delivery that fails (network
error, timeout, any status but 2xx) is retried with exponential backoff, WEBHOOK_RETRY_DELAY
seconds doubled after each failure, until WEBHOOK_MAX_ATTEMPTS.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task, task_backends

from accounts.exceptions import AccountsError
from accounts.models import Partner, WebhookDelivery, WebhookEvent, WebhookSubscription
from accounts.scopes import EVENTS

logger = logging.getLogger("carshop.webhooks")

SIGNATURE_HEADER = "X-Carshop-Signature"
TIMESTAMP_HEADER = "X-Carshop-Timestamp"
EVENT_HEADER = "X-Carshop-Event"
EVENT_ID_HEADER = "X-Carshop-Event-Id"
DELIVERY_HEADER = "X-Carshop-Delivery"
QUEUE = "webhooks"
# The handshake's event type: a signed challenge the URL must echo before it receives events.
VERIFICATION_EVENT = "webhook.verification"
# A delivery left "sending" this long was interrupted (the worker died): it is sent again.
STALE_SENDING = timedelta(minutes=15)


# ---------------------------------------------------------------------------------------------
# Publishing (inside the caller's transaction)
# ---------------------------------------------------------------------------------------------


def publish(
    event_type: str,
    payload: dict[str, Any],
    *,
    scope: str | None = None,
    customer: Any = None,
    partner: Any = None,
) -> WebhookEvent:
    """Record an event and its deliveries in the current transaction; deliver after commit.

    `scope` defaults to the scope the event type needs (accounts.scopes.EVENTS); `customer` and
    `partner` (instances or ids) narrow who receives it. Returns the WebhookEvent.
    """
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("webhooks.publish() must be called inside the transaction of the change")
    scope = scope or EVENTS[event_type]
    customer_id = getattr(customer, "pk", customer)
    partner_id = getattr(partner, "pk", partner)
    # Serialize now: the payload is what the change looked like, and must be plain JSON.
    payload = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    event = WebhookEvent.objects.create(
        event_id=uuid.uuid4(),
        event_type=event_type,
        payload=payload,
        scope=scope,
        customer_id=customer_id,
        partner_id=partner_id,
    )
    recipients = subscribers(event_type, scope, customer_id=customer_id, partner_id=partner_id)
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(event=event, subscription=subscription, next_attempt_at=event.created_at)
        for subscription in recipients
    )
    ids = [delivery.pk for delivery in deliveries]
    if ids:
        transaction.on_commit(lambda: enqueue(ids))
    return event


def subscribers(
    event_type: str,
    scope: str,
    *,
    customer_id: int | None = None,
    partner_id: int | None = None,
    now: datetime | None = None,
) -> list[WebhookSubscription]:
    """Active subscriptions to `event_type` whose partner may receive an event with `scope`."""
    now = now or timezone.now()
    candidates = (
        WebhookSubscription.objects.filter(
            is_active=True, partner__is_active=True, verified_at__isnull=False
        )
        .select_related("partner")
        .prefetch_related("partner__keys")
    )
    if partner_id is not None:
        candidates = candidates.filter(partner_id=partner_id)
    if customer_id is not None or scope in Partner.WHOLE_SHOP_KINDS:
        # Partners linked to the customer, and those that read the whole shop with the scope
        # (accounting systems receive every invoice.created; a fleet only its customers').
        allowed = Q(partner__kind__in=Partner.kinds_reading_whole_shop(scope))
        if customer_id is not None:
            allowed |= Q(partner__in=Partner.objects.filter(customers=customer_id).values("pk"))
        candidates = candidates.filter(allowed)
    chosen = []
    for subscription in candidates:
        if event_type not in subscription.events:
            continue
        if any(
            not key.is_revoked and not key.has_expired(now) and key.has_scope(scope)
            for key in subscription.partner.keys.all()
        ):
            chosen.append(subscription)
    return chosen


def enqueue(delivery_ids: Iterable[int], run_after: datetime | None = None) -> None:
    """Queue a delivery task for each id (deferred to `run_after` where the backend can)."""
    send = deliver_webhook.using(queue_name=QUEUE)
    if run_after is not None:
        if not task_backends[send.backend].supports_defer:
            return  # deliver_due() picks it up when it is due
        send = send.using(run_after=run_after)
    for delivery_id in delivery_ids:
        send.enqueue(delivery_id)


# ---------------------------------------------------------------------------------------------
# Delivering (in the worker)
# ---------------------------------------------------------------------------------------------


def sign(secret: str, timestamp: float | str, body: bytes) -> str:
    """The signature header's value for a request body sent at `timestamp` (Unix seconds)."""
    message = f"{int(timestamp)}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: int | str,
    body: bytes,
    signature: str,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    now = time.time() if now is None else now
    try:
        fresh = abs(now - int(timestamp)) <= tolerance
    except (TypeError, ValueError):
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def retry_delay(attempts: int) -> int:
    """Seconds to wait after the n-th failed attempt: doubling, capped."""
    delay = settings.WEBHOOK_RETRY_DELAY * (2 ** max(attempts - 1, 0))
    return min(delay, settings.WEBHOOK_MAX_RETRY_DELAY)


def body_of(event: WebhookEvent) -> bytes:
    document = {
        "id": str(event.event_id),
        "type": event.event_type,
        "created_at": event.created_at.isoformat(),
        "data": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


@task(queue_name=QUEUE)
def deliver_webhook(delivery_id: int) -> str | None:
    """Task: send one delivery once; on failure schedule the next attempt. Returns its status."""
    return attempt_delivery(delivery_id)


def attempt_delivery(delivery_id: int, now: datetime | None = None) -> str | None:
    """Send a due delivery once (`now` is the clock, for tests). Returns the new status, or None
    when the delivery was not due (already sent, given up, or sent by another task)."""
    now = now or timezone.now()
    # Claim the delivery (one statement, no lock held while the partner's server answers), so a
    # duplicate task for the same delivery does nothing.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id,
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now,
    ).update(status=WebhookDelivery.Status.SENDING, last_attempt_at=now)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related(
        "event", "subscription", "subscription__partner"
    ).get(pk=delivery_id)
    subscription, event = delivery.subscription, delivery.event
    attempts = delivery.attempts + 1

    still_allowed = subscription.is_active and subscription in subscribers(
        event.event_type,
        event.scope,
        customer_id=event.customer_id,
        partner_id=subscription.partner_id,
    )
    if not still_allowed:
        _finish(
            delivery,
            attempts - 1,
            WebhookDelivery.Status.FAILED,
            error="Not sent: the subscription is inactive or the partner lost the scope.",
        )
        return WebhookDelivery.Status.FAILED

    status_code, error = post(subscription, event, delivery)
    if status_code is not None and 200 <= status_code < 300:
        _finish(
            delivery,
            attempts,
            WebhookDelivery.Status.DELIVERED,
            status_code=status_code,
            delivered_at=now,
        )
        return WebhookDelivery.Status.DELIVERED
    if attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        _finish(
            delivery, attempts, WebhookDelivery.Status.FAILED, status_code=status_code, error=error
        )
        logger.warning(
            "webhook delivery gave up", extra={"delivery": delivery.pk, "url": subscription.url}
        )
        return WebhookDelivery.Status.FAILED
    next_attempt_at = now + timedelta(seconds=retry_delay(attempts))
    _finish(
        delivery,
        attempts,
        WebhookDelivery.Status.PENDING,
        status_code=status_code,
        error=error,
        next_attempt_at=next_attempt_at,
    )
    enqueue([delivery.pk], run_after=next_attempt_at)
    return WebhookDelivery.Status.PENDING


def _finish(
    delivery: WebhookDelivery,
    attempts: int,
    status: str,
    *,
    status_code: int | None = None,
    error: str = "",
    delivered_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        attempts=attempts,
        response_status=status_code,
        error=error[:2000],
        delivered_at=delivered_at,
        next_attempt_at=next_attempt_at,
    )


def post(
    subscription: WebhookSubscription, event: WebhookEvent, delivery: WebhookDelivery
) -> tuple[int | None, str]:
    """POST the signed event. Returns (status code or None, error text)."""
    body = body_of(event)
    status, _text, error = send_signed(
        subscription.url,
        subscription.secret,
        body,
        {
            EVENT_HEADER: event.event_type,
            EVENT_ID_HEADER: str(event.event_id),
            DELIVERY_HEADER: str(delivery.pk),
        },
    )
    return status, error


def send_signed(
    url: str, secret: str, body: bytes, headers: dict[str, str]
) -> tuple[int | None, bytes, str]:
    """POST `body` to `url`, signed with `secret`, connecting to the address that was checked.
    Returns (status code or None, the start of the answer's body, error text)."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Carshop-Webhooks/1",
        **headers,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    try:
        target = resolve_target(url)
    except AccountsError as exc:
        return None, b"", exc.message
    connection = target.connection(timeout=settings.WEBHOOK_TIMEOUT)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read(MAX_ANSWER)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, b"", f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return response.status, text, ""
    # A redirect is an answer like any other non-2xx: not followed.
    detail = text[:500].decode("utf-8", "replace")
    return response.status, text, f"HTTP {response.status}: {detail}".strip()


def verify_subscription(subscription: WebhookSubscription, now: datetime | None = None) -> bool:
    """The handshake: POST a signed challenge to the subscription's URL, which must answer 2xx
    with the challenge (`{"challenge": "..."}`, or the challenge alone). Records verified_at, or
    the reason in verification_error (and no events go there). Returns True when verified."""
    now = now or timezone.now()
    challenge = secrets.token_urlsafe(32)
    body = json.dumps(
        {
            "type": VERIFICATION_EVENT,
            "challenge": challenge,
            "subscription": subscription.pk,
            "created_at": now.isoformat(),
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    status, text, error = send_signed(
        subscription.url, subscription.secret, body, {EVENT_HEADER: VERIFICATION_EVENT}
    )
    if not error and not _echoes(text, challenge):
        error = (
            f"HTTP {status}, but the answer did not echo the challenge: answer "
            '{"challenge": "<the challenge you received>"}.'
        )
    verified_at = None if error else now
    # A machine record like a delivery's outcome: written without save() (no audit entry).
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        verified_at=verified_at, verification_error=error[:500]
    )
    subscription.verified_at, subscription.verification_error = verified_at, error[:500]
    if error:
        logger.info(
            "webhook verification failed",
            extra={"subscription": subscription.pk, "url": subscription.url},
        )
    return not error


def _echoes(text: bytes, challenge: str) -> bool:
    try:
        answer = json.loads(text)
    except ValueError:
        return text.decode("utf-8", "replace").strip() == challenge
    if isinstance(answer, dict):
        answer = answer.get("challenge")
    return isinstance(answer, str) and hmac.compare_digest(answer, challenge)


def deliver_due(now: datetime | None = None, limit: int = 1000) -> int:
    """Re-enqueue deliveries that are due but have no task (lost, or interrupted mid-send).
    Returns how many were queued."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SENDING,
        last_attempt_at__lt=now - STALE_SENDING,
    ).update(status=WebhookDelivery.Status.PENDING, next_attempt_at=now)
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    enqueue(due)
    return len(due)


# ---------------------------------------------------------------------------------------------
# Target URLs: https on public addresses (see WEBHOOK_ALLOW_INSECURE_URLS)
# ---------------------------------------------------------------------------------------------

# IPv6 forms that carry an IPv4 address (which may be 127.0.0.1 or a private one): IPv4-compatible
# (::a.b.c.d), IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96 and the local 64:ff9b:1::/48),
# 6to4 (2002::/16) and Teredo (2001::/32). Python counts some of them as global.
_EMBEDS_IPV4 = tuple(
    ipaddress.ip_network(net)
    for net in (
        "::/96",
        "::ffff:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2002::/16",
        "2001::/32",
    )
)
# Characters a URL may hold as they are (RFC 3986); anything else (<, >, ", spaces, ...) must
# be percent-encoded.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# The answer's body is read up to this many bytes (a handshake's echo, an error's text).
MAX_ANSWER = 4096


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    if ip.version == 6 and any(ip in network for network in _EMBEDS_IPV4):
        return False
    return ip.is_global and not ip.is_multicast


def allowed_ports(scheme: str) -> set[int] | None:
    """Ports a webhook URL may name: 443 for https, 80 for http where insecure URLs are allowed
    (development and tests, whose receivers also listen on other ports: any port there)."""
    if settings.WEBHOOK_ALLOW_INSECURE_URLS:
        return None
    return {443} if scheme == "https" else {80}


def validate_target_url(url: str) -> None:
    """Refuse URLs the worker must not call: not a well-formed http(s) URL, not https on port 443
    in production, or naming a loopback/private address. (Names are resolved when sending.)"""
    url = url or ""
    if len(url) > 500:
        raise AccountsError("Enter a URL of at most 500 characters.", field="url")
    if not _URL_CHARACTERS.fullmatch(url) or _BAD_PERCENT.search(url):
        raise AccountsError(
            "Enter a URL without spaces, quotes or <> (percent-encode such characters).",
            field="url",
        )
    try:
        URLValidator(schemes=["http", "https"])(url)
        parts = urlsplit(url)
        port = parts.port
    except (ValidationError, ValueError):
        raise AccountsError("Enter a full http(s) URL.", field="url") from None
    insecure_ok = settings.WEBHOOK_ALLOW_INSECURE_URLS
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AccountsError("Enter a full http(s) URL.", field="url")
    if parts.scheme != "https" and not insecure_ok:
        raise AccountsError("Webhook URLs must use https.", field="url")
    if parts.username or parts.password:
        raise AccountsError("Put no user name or password in the URL.", field="url")
    ports = allowed_ports(parts.scheme)
    if ports is not None and port is not None and port not in ports:
        raise AccountsError(f"Webhook URLs must use port {min(ports)}.", field="url")
    if insecure_ok:
        return
    host = parts.hostname
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise AccountsError("Webhook URLs must be on a public host.", field="url")
    try:
        public = _is_public(host)
    except ValueError:
        return  # a name: checked when sending
    if not public:
        raise AccountsError("Webhook URLs must be on a public address.", field="url")


@dataclasses.dataclass(frozen=True)
class Target:
    """A checked URL and the one address its host name resolved to: the connection goes to that
    address (never to a second answer of the DNS), while TLS and Host still name the host."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    def connection(self, timeout: float) -> _PinnedHTTPConnection | _PinnedHTTPSConnection:
        if self.scheme == "https":
            return _PinnedHTTPSConnection(
                self.host, self.port, address=self.address, timeout=timeout
            )
        return _PinnedHTTPConnection(self.host, self.port, address=self.address, timeout=timeout)


def resolve_target(url: str) -> Target:
    """Check the URL, resolve its host once and check every address it answered; the Target
    connects to the first of them. Raises AccountsError when the URL or an address is refused."""
    validate_target_url(url)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError) as exc:
        raise AccountsError(f"Cannot resolve {parts.hostname}: {exc}", field="url") from None
    addresses = [cast(str, info[4][0]) for info in infos]  # an IP address, as text
    if not addresses:
        raise AccountsError(f"Cannot resolve {parts.hostname}.", field="url")
    if not settings.WEBHOOK_ALLOW_INSECURE_URLS and not all(map(_is_public, addresses)):
        raise AccountsError(f"{parts.hostname} resolves to a non-public address.", field="url")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # validate_target_url refused a URL without a host name.
    return Target(parts.scheme, cast(str, parts.hostname), port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a fixed address; the Host header still names the URL's host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.pinned_address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned_address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address; the certificate is checked for, and SNI and Host name, the
    URL's host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.pinned_address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned_address, self.port), self.timeout)
        # _context: the SSL context HTTPSConnection keeps (not in its type stubs).
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]
