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

Who receives an event: active subscriptions of active partners that chose the event type and
hold a usable key with the event's scope; with `customer`, only partners linked to that customer
(and those that read the whole shop with the scope: accounting partners, see
Partner.WHOLE_SHOP_KINDS); with `partner`, only that partner.

Each request is signed: `X-Carshop-Signature: sha256=<hex>` is HMAC-SHA256 with the
subscription's secret over `<timestamp>.<body>`, and `X-Carshop-Timestamp` carries the timestamp
(Unix seconds), so receivers can refuse old or replayed requests. A delivery that fails (network
error, timeout, any status but 2xx) is retried with exponential backoff, WEBHOOK_RETRY_DELAY
seconds doubled after each failure, until WEBHOOK_MAX_ATTEMPTS.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
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
# A delivery left "sending" this long was interrupted (the worker died): it is sent again.
STALE_SENDING = timedelta(minutes=15)


# ---------------------------------------------------------------------------------------------
# Publishing (inside the caller's transaction)
# ---------------------------------------------------------------------------------------------

def publish(event_type, payload, *, scope=None, customer=None, partner=None):
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
        event_id=uuid.uuid4(), event_type=event_type, payload=payload, scope=scope,
        customer_id=customer_id, partner_id=partner_id,
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


def subscribers(event_type, scope, *, customer_id=None, partner_id=None, now=None):
    """Active subscriptions to `event_type` whose partner may receive an event with `scope`."""
    now = now or timezone.now()
    candidates = (
        WebhookSubscription.objects.filter(is_active=True, partner__is_active=True)
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


def enqueue(delivery_ids, run_after=None):
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

def sign(secret, timestamp, body):
    """The signature header's value for a request body sent at `timestamp` (Unix seconds)."""
    message = f"{int(timestamp)}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret, timestamp, body, signature, *, tolerance=300, now=None):
    """What a receiver does: the signature matches and the timestamp is recent."""
    now = time.time() if now is None else now
    try:
        fresh = abs(now - int(timestamp)) <= tolerance
    except (TypeError, ValueError):
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def retry_delay(attempts):
    """Seconds to wait after the n-th failed attempt: doubling, capped."""
    delay = settings.WEBHOOK_RETRY_DELAY * (2 ** max(attempts - 1, 0))
    return min(delay, settings.WEBHOOK_MAX_RETRY_DELAY)


def body_of(event):
    document = {
        "id": str(event.event_id),
        "type": event.event_type,
        "created_at": event.created_at.isoformat(),
        "data": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


@task(queue_name=QUEUE)
def deliver_webhook(delivery_id):
    """Task: send one delivery once; on failure schedule the next attempt. Returns its status."""
    return attempt_delivery(delivery_id)


def attempt_delivery(delivery_id, now=None):
    """Send a due delivery once (`now` is the clock, for tests). Returns the new status, or None
    when the delivery was not due (already sent, given up, or sent by another task)."""
    now = now or timezone.now()
    # Claim the delivery (one statement, no lock held while the partner's server answers), so a
    # duplicate task for the same delivery does nothing.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now,
    ).update(status=WebhookDelivery.Status.SENDING, last_attempt_at=now)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related(
        "event", "subscription", "subscription__partner").get(pk=delivery_id)
    subscription, event = delivery.subscription, delivery.event
    attempts = delivery.attempts + 1

    still_allowed = subscription.is_active and subscription in subscribers(
        event.event_type, event.scope, customer_id=event.customer_id,
        partner_id=subscription.partner_id)
    if not still_allowed:
        _finish(delivery, attempts - 1, WebhookDelivery.Status.FAILED,
                error="Not sent: the subscription is inactive or the partner lost the scope.")
        return WebhookDelivery.Status.FAILED

    status_code, error = post(subscription, event, delivery)
    if status_code is not None and 200 <= status_code < 300:
        _finish(delivery, attempts, WebhookDelivery.Status.DELIVERED, status_code=status_code,
                delivered_at=now)
        return WebhookDelivery.Status.DELIVERED
    if attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        _finish(delivery, attempts, WebhookDelivery.Status.FAILED, status_code=status_code,
                error=error)
        logger.warning("webhook delivery gave up", extra={"delivery": delivery.pk,
                                                          "url": subscription.url})
        return WebhookDelivery.Status.FAILED
    next_attempt_at = now + timedelta(seconds=retry_delay(attempts))
    _finish(delivery, attempts, WebhookDelivery.Status.PENDING, status_code=status_code,
            error=error, next_attempt_at=next_attempt_at)
    enqueue([delivery.pk], run_after=next_attempt_at)
    return WebhookDelivery.Status.PENDING


def _finish(delivery, attempts, status, *, status_code=None, error="", delivered_at=None,
            next_attempt_at=None):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status, attempts=attempts, response_status=status_code, error=error[:2000],
        delivered_at=delivered_at, next_attempt_at=next_attempt_at,
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer like any other non-2xx: not followed


_opener = urllib.request.build_opener(_NoRedirect)


def post(subscription, event, delivery):
    """POST the signed event. Returns (status code or None, error text)."""
    try:
        check_target_address(subscription.url)
    except AccountsError as exc:
        return None, exc.message
    body = body_of(event)
    timestamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked: http(s) only
        subscription.url, data=body, method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Carshop-Webhooks/1",
            EVENT_HEADER: event.event_type,
            EVENT_ID_HEADER: str(event.event_id),
            DELIVERY_HEADER: str(delivery.pk),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(subscription.secret, timestamp, body),
        },
    )
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode("utf-8", "replace")
        return exc.code, f"HTTP {exc.code}: {detail}".strip()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(exc).__name__}: {reason}"


def deliver_due(now=None, limit=1000):
    """Re-enqueue deliveries that are due but have no task (lost, or interrupted mid-send).
    Returns how many were queued."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SENDING, last_attempt_at__lt=now - STALE_SENDING,
    ).update(status=WebhookDelivery.Status.PENDING, next_attempt_at=now)
    due = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING,
                                       next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit]
    )
    enqueue(due)
    return len(due)


# ---------------------------------------------------------------------------------------------
# Target URLs: https on public addresses (see WEBHOOK_ALLOW_INSECURE_URLS)
# ---------------------------------------------------------------------------------------------

def _is_public(address):
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


def validate_target_url(url):
    """Refuse URLs the worker must not call: not http(s), not https in production, or naming a
    loopback/private address. (Names are resolved again when sending.)"""
    parts = urlsplit(url or "")
    insecure_ok = settings.WEBHOOK_ALLOW_INSECURE_URLS
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AccountsError("Enter a full http(s) URL.", field="url")
    if parts.scheme != "https" and not insecure_ok:
        raise AccountsError("Webhook URLs must use https.", field="url")
    if parts.username or parts.password:
        raise AccountsError("Put no user name or password in the URL.", field="url")
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


def check_target_address(url):
    validate_target_url(url)
    if settings.WEBHOOK_ALLOW_INSECURE_URLS:
        return
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise AccountsError(f"Cannot resolve {parts.hostname}: {exc}", field="url") from None
    if not all(_is_public(info[4][0]) for info in infos):
        raise AccountsError(f"{parts.hostname} resolves to a non-public address.", field="url")
