"""Every write through the API is in the audit log, credited to the partner and its key."""

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from accounts.models import Customer, WebhookSubscription
from accounts.roles import MANAGER
from tests.helpers.api import key_client, partner_with_key, staff_client

pytestmark = pytest.mark.django_db


def _entries_for(model, pk):
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(model), object_pk=str(pk)
    ).order_by("id")


def test_a_subscription_created_through_the_api_is_credited_to_the_partners_key():
    partner, key, plain = partner_with_key()
    response = key_client(plain).post(
        "/api/v1/webhook-subscriptions/",
        {"url": "https://hooks.example.com/h", "events": ["repair_order.status_changed"]},
        format="json",
    )
    assert response.status_code == 201
    entry = _entries_for(WebhookSubscription, response.json()["id"]).get()
    assert entry.action == LogEntry.Action.CREATE
    assert entry.actor == partner.user
    assert entry.additional_data == {"api_key": key.prefix}
    # The secret is shown to the partner once and never kept readable in the log.
    assert response.json()["secret"] not in str(entry.changes)


def test_a_deletion_through_the_api_is_credited_too():
    partner, _key, plain = partner_with_key()
    created = (
        key_client(plain)
        .post(
            "/api/v1/webhook-subscriptions/",
            {"url": "https://hooks.example.com/h", "events": ["repair_order.status_changed"]},
            format="json",
        )
        .json()
    )
    key_client(plain).delete(f"/api/v1/webhook-subscriptions/{created['id']}/")
    deletion = _entries_for(WebhookSubscription, created["id"]).last()
    assert deletion.action == LogEntry.Action.DELETE
    assert deletion.actor == partner.user


def test_the_partner_credit_ends_with_the_request():
    _partner, _key, plain = partner_with_key()
    key_client(plain).get("/api/v1/me/")
    client, manager = staff_client("robin", MANAGER)
    response = client.post(
        "/admin/accounts/customer/add/",
        {"kind": "person", "first_name": "Ada", "last_name": "Lovelace"},
    )
    assert response.status_code == 302
    customer = Customer.objects.get(last_name="Lovelace")
    entry = _entries_for(Customer, customer.pk).get()
    assert entry.actor == manager
    assert not (entry.additional_data or {}).get("api_key")
