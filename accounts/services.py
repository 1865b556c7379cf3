"""Accounts business rules: partners of the API, their keys and webhook subscriptions.

A partner always has its own inactive service user (`partner:<slug>`, no password, no staff), so
the audit log can credit what the partner's keys change. Keys are random strings shown once: only
their prefix and a SHA-512 hash are kept (djangorestframework-api-key's generator and hasher).
"""

import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from rest_framework_api_key.crypto import KeyGenerator

from accounts import webhooks
from accounts.exceptions import AccountsError
from accounts.models import IdempotentRequest, Partner, PartnerKey, User, WebhookSubscription
from accounts.roles import PARTNER
from accounts.scopes import EVENTS, SCOPES, events_allowed

KEY_GENERATOR = KeyGenerator(prefix_length=8, secret_key_length=40)
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")


def service_username(slug):
    return f"partner:{slug}"


def create_partner(name, *, kind=Partner.Kind.OTHER, slug="", customers=(), **details):
    """Create a partner with its inactive service user (in the Partner group)."""
    name = (name or "").strip()
    if not name:
        raise AccountsError("A partner needs a name.", field="name")
    slug = slugify(slug or name)[:60]
    if not slug:
        raise AccountsError("Choose a short name made of letters and digits.", field="slug")
    with transaction.atomic():
        if Partner.objects.filter(slug=slug).exists() or User.objects.filter(
                username=service_username(slug)).exists():
            raise AccountsError(f"The short name {slug!r} is taken.", field="slug")
        user = User(username=service_username(slug), first_name=name[:150],
                    last_name="(API partner)", is_active=False, is_staff=False)
        user.set_unusable_password()
        user.save()
        group = Group.objects.filter(name=PARTNER).first()
        if group is not None:
            user.groups.add(group)
        partner = Partner.objects.create(name=name, slug=slug, kind=kind, user=user, **details)
        if customers:
            partner.customers.set(customers)
    return partner


def validate_scopes(scopes):
    scopes = list(dict.fromkeys(scopes or ()))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise AccountsError(f"Unknown scope: {', '.join(unknown)}. Scopes are "
                            f"{', '.join(SCOPES)}.", field="scopes")
    if not scopes:
        raise AccountsError("Give the key at least one scope.", field="scopes")
    return scopes


def validate_throttle_rate(rate):
    rate = (rate or "").strip()
    if rate and not _RATE.match(rate):
        raise AccountsError("Write the rate as a number of requests per sec, min, hour or day, "
                            "e.g. 600/min.", field="throttle_rate")
    return rate.replace(" ", "")


def issue_key(partner, *, name, scopes, expires_at=None, throttle_rate="", created_by=None):
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
            partner=partner, name=name.strip(), prefix=prefix, hashed_key=hashed, scopes=scopes,
            expires_at=expires_at, throttle_rate=throttle_rate, created_by=created_by,
        )
    return key, plain


def revoke_key(key):
    """Stop a key from working, for good (its history stays)."""
    with transaction.atomic():
        key = PartnerKey.objects.select_for_update().get(pk=key.pk)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
    return key


def find_usable_key(plain):
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


def record_key_use(key, now=None, every_seconds=60):
    """Note when a key was last used, writing at most once a minute per key."""
    now = now or timezone.now()
    if key.last_used_at is not None and (now - key.last_used_at).total_seconds() < every_seconds:
        return
    PartnerKey.objects.filter(pk=key.pk).update(last_used_at=now)
    key.last_used_at = now


def subscribe(partner, *, url, events, scopes=None, description="", is_active=True):
    """Subscribe a partner's URL to events. With `scopes` (the calling key's), only the events
    those scopes allow may be chosen. Returns the subscription; its secret is shown once."""
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
                + ", ".join(f"{event} (needs {EVENTS[event]})" for event in refused) + ".",
                field="events")
    webhooks.validate_target_url(url)
    return WebhookSubscription.objects.create(
        partner=partner, url=url, events=events, secret=new_webhook_secret(),
        description=description, is_active=is_active)


def new_webhook_secret():
    return "whsec_" + secrets.token_urlsafe(32)


def forget_idempotency_keys(now=None):
    """Delete Idempotency-Keys older than IDEMPOTENCY_KEY_HOURS. Returns how many."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
