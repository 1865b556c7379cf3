"""Managers manage partners, keys and subscriptions (their secrets shown once, on the page after
saving), and read the delivery log."""

import re

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.test import Client
from django.urls import reverse

from accounts import services, webhooks
from accounts.models import Partner, PartnerKey, User, WebhookSubscription
from accounts.roles import MANAGER, OPERATIONS, SALESPERSON, SERVICE_ADVISOR
from tests.helpers.api import (
    Receiver,
    key_client,
    partner_with_key,
    staff_client,
    verified_subscription,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client():
    user = User.objects.create_user("robin", password="x-not-used-123", is_staff=True)
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get(name=MANAGER))
    client = Client()
    client.force_login(user)
    return client


def test_a_manager_adds_a_partner_and_its_service_user_is_made(manager_client):
    response = manager_client.post(
        reverse("admin:accounts_partner_add"),
        {
            "name": "Road Ready Insurance",
            "slug": "",
            "kind": "fleet",
            "is_active": "on",
            "contact_name": "",
            "contact_email": "",
            "contact_phone": "",
            "notes": "",
            "keys-TOTAL_FORMS": "0",
            "keys-INITIAL_FORMS": "0",
            "subscriptions-TOTAL_FORMS": "0",
            "subscriptions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    partner = Partner.objects.get()
    assert partner.slug == "road-ready-insurance"
    assert partner.user.username == "partner:road-ready-insurance"
    assert not partner.user.is_active


def test_a_taken_short_name_is_refused_in_the_form(manager_client):
    services.create_partner("Road Ready")
    response = manager_client.post(
        reverse("admin:accounts_partner_add"),
        {
            "name": "Road  Ready",
            "slug": "",
            "kind": "fleet",
            "keys-TOTAL_FORMS": "0",
            "keys-INITIAL_FORMS": "0",
            "subscriptions-TOTAL_FORMS": "0",
            "subscriptions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "is taken" in str(response.context["adminform"].form.errors["slug"])
    assert Partner.objects.count() == 1


def test_a_new_key_is_shown_once_on_the_page_after_saving_and_never_in_a_cookie(manager_client):
    partner = services.create_partner("Lot Listings", kind="marketplace")
    response = manager_client.post(
        reverse("admin:accounts_partnerkey_add"),
        {
            "partner": partner.pk,
            "name": "listings feed",
            "scopes": ["listings:read", "leads:write"],
            "expires_at_0": "",
            "expires_at_1": "",
            "throttle_rate": "",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    plain = re.search(r'<code id="new-partner-key"[^>]*>(\S+)</code>', page).group(1)
    assert "it is not shown again" in page
    assert "no-store" in response["Cache-Control"]
    key = PartnerKey.objects.get()
    assert key.scopes == ["listings:read", "leads:write"]
    assert plain.startswith(key.prefix) and plain not in key.hashed_key
    assert key_client(plain).get("/api/v1/me/").status_code == 200
    # Not in a message (the messages cookie is signed, not encrypted), a cookie or the session.
    assert not any(plain in str(m) for m in get_messages(response.wsgi_request))
    assert all(plain not in morsel.value for morsel in response.cookies.values())
    assert plain not in str(dict(manager_client.session.items()))
    # No page shows it again.
    for url in (
        reverse("admin:accounts_partnerkey_change", args=[key.pk]),
        reverse("admin:accounts_partnerkey_changelist"),
    ):
        assert plain not in manager_client.get(url).content.decode()


def test_an_accounting_partners_key_page_says_it_reads_every_customers_money(manager_client):
    partner = services.create_partner("Ledger", kind="accounting")
    response = manager_client.post(
        reverse("admin:accounts_partnerkey_add"),
        {
            "partner": partner.pk,
            "name": "books",
            "scopes": ["accounting:read"],
            "expires_at_0": "",
            "expires_at_1": "",
            "throttle_rate": "",
        },
    )
    assert response.status_code == 200
    assert "of every customer of the shop" in response.content.decode()


def test_a_key_without_a_scope_is_refused_in_the_form(manager_client):
    partner = services.create_partner("Lot Listings", kind="marketplace")
    response = manager_client.post(
        reverse("admin:accounts_partnerkey_add"),
        {
            "partner": partner.pk,
            "name": "listings feed",
            "scopes": [],
            "throttle_rate": "",
        },
    )
    assert response.status_code == 200
    assert PartnerKey.objects.count() == 0


def test_a_manager_revokes_keys_with_the_action_and_they_stop_working(manager_client):
    _partner, key, plain = partner_with_key()
    response = manager_client.post(
        reverse("admin:accounts_partnerkey_changelist"),
        {"action": "revoke_keys", "_selected_action": [key.pk]},
    )
    assert response.status_code == 302
    assert PartnerKey.objects.get(pk=key.pk).revoked_at is not None
    assert key_client(plain).get("/api/v1/me/").status_code == 401


def _stored_anywhere(secret, response, client):
    """Where a secret must never be: a message, any cookie the response sets (the messages cookie
    decoded: it is signed and compressed, not encrypted), the session."""
    places = [str(m) for m in get_messages(response.wsgi_request)]
    for name, morsel in response.cookies.items():
        places.append(f"{name}={morsel.value}")
        if name == CookieStorage.cookie_name and morsel.value:
            decoded = CookieStorage(response.wsgi_request)._decode(morsel.value) or []
            places.extend(str(m) for m in decoded)
    places.append(str(dict(client.session.items())))
    return [place for place in places if secret in place]


def test_a_subscription_added_in_the_admin_shows_its_secret_on_the_page_only(manager_client):
    partner = services.create_partner("Books Online", kind="accounting")
    with Receiver() as receiver:
        response = manager_client.post(
            reverse("admin:accounts_webhooksubscription_add"),
            {
                "partner": partner.pk,
                "url": receiver.url,
                "events": ["invoice.created"],
                "description": "",
                "is_active": "on",
            },
        )
    subscription = WebhookSubscription.objects.get()
    assert subscription.verified_at is not None and len(receiver.challenges) == 1
    # The answer to the save shows the secret, once, and must not be cached.
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count(subscription.secret) == 1
    assert re.search(r'<code id="new-webhook-secret"[^>]*>(\S+)</code>', page).group(1) == (
        subscription.secret
    )
    assert "it is not shown again" in page and "answered the verification handshake" in page
    assert "no-store" in response["Cache-Control"]
    # Nothing carries it further: no message, no cookie, not the session.
    assert _stored_anywhere(subscription.secret, response, manager_client) == []
    # No later page shows it (a message left for the next page would appear on any of these).
    for url in (
        reverse("admin:accounts_webhooksubscription_change", args=[subscription.pk]),
        reverse("admin:accounts_webhooksubscription_changelist"),
        reverse("admin:index"),
    ):
        later = manager_client.get(url)
        assert later.status_code == 200
        assert subscription.secret not in later.content.decode()
        assert _stored_anywhere(subscription.secret, later, manager_client) == []


def test_the_page_after_adding_says_when_the_url_did_not_answer_the_handshake(manager_client):
    partner = services.create_partner("Books Online", kind="accounting")
    with Receiver(echo=False):
        response = manager_client.post(
            reverse("admin:accounts_webhooksubscription_add"),
            {
                "partner": partner.pk,
                "url": "http://127.0.0.1:9/hook",
                "events": ["invoice.created"],
                "description": "",
                "is_active": "on",
            },
        )
    subscription = WebhookSubscription.objects.get()
    assert subscription.verified_at is None
    assert response.status_code == 200
    page = response.content.decode()
    assert subscription.secret in page
    assert "did not answer the verification handshake" in page
    assert _stored_anywhere(subscription.secret, response, manager_client) == []


@pytest.mark.parametrize("role", [SERVICE_ADVISOR, SALESPERSON, OPERATIONS])
def test_only_managers_manage_partners(role):
    client, _user = staff_client("someone", role)
    for name in ("partner", "partnerkey", "webhooksubscription", "webhookdelivery"):
        assert client.get(reverse(f"admin:accounts_{name}_changelist")).status_code == 403


@pytest.mark.parametrize(
    "model", ["partner", "partnerkey", "webhooksubscription", "webhookdelivery", "webhookevent"]
)
@pytest.mark.parametrize("rows", [1, 30])
def test_partner_admin_lists_cost_the_same_queries_with_1_or_30_rows(
    manager_client, model, rows, django_assert_max_num_queries
):
    for index in range(rows):
        partner, _key, _plain = partner_with_key(name=f"Partner {index}")
        verified_subscription(
            partner, url=f"https://h{index}.example.com/", events=["repair_order.status_changed"]
        )
    from django.db import transaction

    with transaction.atomic():
        webhooks.publish("repair_order.status_changed", {"id": 1})
    with django_assert_max_num_queries(12):
        response = manager_client.get(reverse(f"admin:accounts_{model}_changelist"))
    assert response.status_code == 200


def test_the_delivery_log_is_read_only(manager_client):
    partner, _key, _plain = partner_with_key()
    verified_subscription(
        partner, url="https://h.example.com/", events=["repair_order.status_changed"]
    )
    from django.db import transaction

    with transaction.atomic():
        event = webhooks.publish("repair_order.status_changed", {"id": 1})
    delivery = event.deliveries.get()
    assert manager_client.get(reverse("admin:accounts_webhookdelivery_add")).status_code == 403
    page = manager_client.get(reverse("admin:accounts_webhookdelivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
