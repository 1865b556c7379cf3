"""Accounts business rules: partners of the API, their keys and webhook subscriptions.

A partner always has its own inactive service user (`partner:<slug>`, no password, no staff), so
the audit log can credit what the partner's keys change. Keys are random strings shown once: only
their prefix and a SHA-512 hash are kept (djangorestframework-api-key's generator and hasher).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import slugify
from rest_framework_api_key.crypto import KeyGenerator

from accounts import webhooks
from accounts.exceptions import AccountsError
from accounts.models import (
    Customer,
    IdempotentRequest,
    Location,
    Partner,
    PartnerKey,
    User,
    WebhookSubscription,
)
from accounts.roles import PARTNER
from accounts.scopes import EVENTS, SCOPES, events_allowed

KEY_GENERATOR = KeyGenerator(prefix_length=8, secret_key_length=40)
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")


def customers_sharing_contact(customer: Customer, limit: int = 3) -> list[Customer]:
    """Other customers with one of `customer`'s phone numbers or their email: most likely the
    same person entered twice, though a family may share a phone, so it is for a person to
    decide. Matched as the customer search matches them (phone digits, email in any case)."""
    condition = Q()
    for number in customer.phone_digits.split():
        if len(number) >= 7:
            condition |= Q(phone_digits__contains=number)
    email = customer.email.strip().lower()
    if email:
        condition |= Q(email_lower=email)
    if not condition:
        return []
    others = Customer.objects.exclude(pk=customer.pk).alias(email_lower=Lower("email"))
    return list(others.filter(condition).order_by("display_name", "pk")[:limit])


def service_username(slug: str) -> str:
    return f"partner:{slug}"


def create_partner(
    name: str,
    *,
    kind: str = Partner.Kind.OTHER,
    slug: str = "",
    customers: Iterable[Customer | int] = (),
    locations: Iterable[Location | int] | None = None,
    **details: Any,
) -> Partner:
    """Create a partner with its inactive service user (in the Partner group), linked to
    `locations` (by default, the only location of a single-shop install; none in a group)."""
    name = (name or "").strip()
    if not name:
        raise AccountsError("A partner needs a name.", field="name")
    slug = slugify(slug or name)[:60]
    if not slug:
        raise AccountsError("Choose a short name made of letters and digits.", field="slug")
    with transaction.atomic():
        if (
            Partner.objects.filter(slug=slug).exists()
            or User.objects.filter(username=service_username(slug)).exists()
        ):
            raise AccountsError(f"The short name {slug!r} is taken.", field="slug")
        user = User(
            username=service_username(slug),
            first_name=name[:150],
            last_name="(API partner)",
            is_active=False,
            is_staff=False,
        )
        user.set_unusable_password()
        user.save()
        group = Group.objects.filter(name=PARTNER).first()
        if group is not None:
            user.groups.add(group)
        partner = Partner.objects.create(name=name, slug=slug, kind=kind, user=user, **details)
        if customers:
            partner.customers.set(customers)
        if locations is None:
            single = Location.objects.count() <= 1
            locations = [Location.default()] if single else []
        partner.locations.set(locations)
    return partner


def validate_scopes(scopes: Iterable[str] | None) -> list[str]:
    scopes = list(dict.fromkeys(scopes or ()))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise AccountsError(
            f"Unknown scope: {', '.join(unknown)}. Scopes are {', '.join(SCOPES)}.", field="scopes"
        )
    if not scopes:
        raise AccountsError("Give the key at least one scope.", field="scopes")
    return scopes


def validate_throttle_rate(rate: str | None) -> str:
    rate = (rate or "").strip()
    if rate and not _RATE.match(rate):
        raise AccountsError(
            "Write the rate as a number of requests per sec, min, hour or day, e.g. 600/min.",
            field="throttle_rate",
        )
    return rate.replace(" ", "")


def issue_key(
    partner: Partner,
    *,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
    throttle_rate: str = "",
    created_by: User | None = None,
) -> tuple[PartnerKey, str]:
    """Create a key for the partner. Returns (key, plain key): the plain key is shown once."""
    scopes = validate_scopes(scopes)
    throttle_rate = validate_throttle_rate(throttle_rate)
    if expires_at is not None and expires_at <= timezone.now():
        raise AccountsError("The expiry date is in the past.", field="expires_at")
    if not (name or "").strip():
        raise AccountsError("Name the key after what it is for.", field="name")
    with transaction.atomic():
        for _ in range(5):
            plain, prefix, hashed = KEY_GENERATOR.generate()
            if not PartnerKey.objects.filter(prefix=prefix).exists():
                break
        key = PartnerKey.objects.create(
            partner=partner,
            name=name.strip(),
            prefix=prefix,
            hashed_key=hashed,
            scopes=scopes,
            expires_at=expires_at,
            throttle_rate=throttle_rate,
            created_by=created_by,
        )
    return key, plain


def revoke_key(key: PartnerKey) -> PartnerKey:
    """Stop a key from working, for good (its history stays)."""
    with transaction.atomic():
        key = PartnerKey.objects.select_for_update().get(pk=key.pk)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
    return key


def find_usable_key(plain: str) -> PartnerKey | None:
    """The usable key whose plain text is `plain`, with its partner and service user, or None."""
    prefix, dot, secret = (plain or "").partition(".")
    if not dot or not prefix or not secret or len(prefix) > 16:
        return None
    # Found by its unique prefix alone (an index lookup, no join to filter or rows to sort: this
    # runs on every API request), then checked as PartnerKey.objects.usable() would.
    try:
        key = PartnerKey.objects.select_related("partner", "partner__user").get(prefix=prefix)
    except PartnerKey.DoesNotExist:
        return None
    if not KEY_GENERATOR.verify(plain, key.hashed_key) or not key.is_usable():
        return None
    return key


def record_key_use(key: PartnerKey, now: datetime | None = None, every_seconds: int = 60) -> None:
    """Note when a key was last used, writing at most once a minute per key."""
    now = now or timezone.now()
    if key.last_used_at is not None and (now - key.last_used_at).total_seconds() < every_seconds:
        return
    PartnerKey.objects.filter(pk=key.pk).update(last_used_at=now)
    key.last_used_at = now


def subscribe(
    partner: Partner,
    *,
    url: str,
    events: Iterable[str],
    scopes: Iterable[str] | None = None,
    description: str = "",
    is_active: bool = True,
    verify: bool = True,
) -> WebhookSubscription:
    """Subscribe a partner's URL to events. With `scopes` (the calling key's), only the events
    those scopes allow may be chosen. One subscription per partner and URL, at most
    WEBHOOK_MAX_SUBSCRIPTIONS_PER_PARTNER per partner. Then the URL is sent the verification
    handshake (`verify`); it receives events only once it answered. Returns the subscription;
    its secret is shown once."""
    events = _checked_events(events, scopes)
    webhooks.validate_target_url(url)
    with transaction.atomic():
        # The partner's row is the lock: two requests cannot both take the last free place.
        Partner.objects.select_for_update().filter(pk=partner.pk).first()
        check_room_for_subscription(partner, url)
        try:
            with transaction.atomic():
                subscription = WebhookSubscription.objects.create(
                    partner=partner,
                    url=url,
                    events=events,
                    secret=new_webhook_secret(),
                    description=description,
                    is_active=is_active,
                )
        except IntegrityError:  # the unique constraint, should a writer skip the lock above
            raise AccountsError(
                "You already have a subscription for this URL.", field="url"
            ) from None
    if verify:
        verify_subscription(subscription)
    return subscription


def check_room_for_subscription(partner: Partner, url: str) -> None:
    """Refuse a second subscription of the same URL, or one over the partner's limit."""
    limit = settings.WEBHOOK_MAX_SUBSCRIPTIONS_PER_PARTNER
    existing = WebhookSubscription.objects.filter(partner=partner)
    if existing.filter(url=url).exists():
        raise AccountsError(
            "You already have a subscription for this URL: change its events "
            "there, or delete it first.",
            field="url",
        )
    if existing.count() >= limit:
        raise AccountsError(
            f"A partner has at most {limit} webhook subscriptions: delete one first.", field="url"
        )


def _checked_events(events: Iterable[str] | None, scopes: Iterable[str] | None) -> list[str]:
    events = list(dict.fromkeys(events or ()))
    unknown = [event for event in events if event not in EVENTS]
    if unknown:
        raise AccountsError(f"Unknown event: {', '.join(unknown)}.", field="events")
    if not events:
        raise AccountsError("Choose at least one event.", field="events")
    if scopes is not None:
        allowed = set(events_allowed(scopes))
        refused = [event for event in events if event not in allowed]
        if refused:
            raise AccountsError(
                "Your key's scopes do not allow "
                + ", ".join(f"{event} (needs {EVENTS[event]})" for event in refused)
                + ".",
                field="events",
            )
    return events


def verify_subscription(subscription: WebhookSubscription, now: datetime | None = None) -> bool:
    """Send the subscription's URL the verification handshake (accounts.webhooks); at most
    WEBHOOK_HANDSHAKES_PER_HOUR per partner, so the handshake itself cannot be used to flood a
    server. Returns True when the URL answered and now receives events."""
    now = now or timezone.now()
    counter = f"webhook-handshakes:{subscription.partner_id}:{now:%Y%m%d%H}"
    cache.add(counter, 0, timeout=3600)
    if cache.incr(counter) > settings.WEBHOOK_HANDSHAKES_PER_HOUR:
        message = "Too many verification handshakes this hour: try again later."
        WebhookSubscription.objects.filter(pk=subscription.pk).update(verification_error=message)
        subscription.verification_error = message
        return False
    return webhooks.verify_subscription(subscription, now=now)


def update_subscription(
    subscription: WebhookSubscription,
    *,
    is_active: bool | None = None,
    description: str | None = None,
    events: Iterable[str] | None = None,
    scopes: Iterable[str] | None = None,
    rotate_secret: bool = False,
) -> str | None:
    """Pause or resume a subscription, change its description or events, or give it a new
    signing secret (the old one stops working at once). Returns the new secret, or None."""
    with transaction.atomic():
        locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        if events is not None:
            locked.events = _checked_events(events, scopes)
        if is_active is not None:
            locked.is_active = is_active
        if description is not None:
            locked.description = description
        secret = new_webhook_secret() if rotate_secret else None
        if secret:
            locked.secret = secret
        locked.save()
    for field in ("events", "is_active", "description", "secret", "updated_at"):
        setattr(subscription, field, getattr(locked, field))
    return secret


def subscription_deletion_refusal(subscription: WebhookSubscription) -> str | None:
    """Why a webhook subscription may not be deleted (its deliveries stay in the log), or None
    when it may be."""
    if subscription.deliveries.exists():
        return (
            f"The subscription of {subscription.url} has deliveries in the log, which stay: "
            f'untick "active" to stop sending to it.'
        )
    return None


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def forget_idempotency_keys(now: datetime | None = None) -> int:
    """Delete Idempotency-Keys older than IDEMPOTENCY_KEY_HOURS. Returns how many."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
