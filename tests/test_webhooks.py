"""Webhooks: the outbox is written with the change, only partners whose scopes allow an event
receive it, requests are signed, failures are retried with backoff."""

import io
import json
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts import services, webhooks
from accounts.models import Customer, WebhookDelivery, WebhookEvent
from tests.helpers.api import Receiver, key_client, partner_with_key, verified_subscription

pytestmark = pytest.mark.django_db

STATUS_CHANGED = "repair_order.status_changed"


def _customer(name="Fleet Co"):
    return Customer.objects.create(kind=Customer.Kind.COMPANY, company_name=name)


def _publish(event_type, payload, **audience):
    with transaction.atomic():
        return webhooks.publish(event_type, payload, **audience)


def _recipients(event):
    return sorted(
        d.subscription.partner.name
        for d in event.deliveries.select_related("subscription__partner")
    )


def test_an_event_goes_only_to_partners_whose_keys_have_its_scope():
    fleet, _k, _ = partner_with_key(name="Fleet", scopes=["repairs:read"])
    books, _k, _ = partner_with_key(name="Books", scopes=["accounting:read"], kind="accounting")
    for partner in (fleet, books):
        # Subscribed through the admin (not limited by scope); delivery still is.
        verified_subscription(
            partner, url="https://h.example.com/", events=[STATUS_CHANGED, "invoice.created"]
        )
    assert _recipients(_publish(STATUS_CHANGED, {"id": 1})) == ["Fleet"]
    assert _recipients(_publish("invoice.created", {"id": 2})) == ["Books"]


def test_a_repair_event_about_a_customer_goes_only_to_partners_linked_to_that_customer():
    mine, other = _customer("Mine"), _customer("Other")
    linked, _k, _ = partner_with_key(name="Linked")
    linked.customers.add(mine)
    unlinked, _k, _ = partner_with_key(name="Unlinked")
    unlinked.customers.add(other)
    for partner in (linked, unlinked):
        verified_subscription(partner, url="https://h.example.com/", events=[STATUS_CHANGED])
    assert _recipients(_publish(STATUS_CHANGED, {"id": 1}, customer=mine)) == ["Linked"]


def test_an_event_about_one_partner_goes_to_that_partner_only():
    posted, _k, _ = partner_with_key(name="Posted the lead", scopes=["leads:write"])
    rival, _k, _ = partner_with_key(name="Rival", scopes=["leads:write"])
    for partner in (posted, rival):
        verified_subscription(partner, url="https://h.example.com/", events=["lead.updated"])
    assert _recipients(_publish("lead.updated", {"id": 5}, partner=posted)) == ["Posted the lead"]


def test_revoked_or_expired_keys_inactive_partners_and_subscriptions_receive_nothing():
    revoked, key, _ = partner_with_key(name="Revoked")
    services.revoke_key(key)
    expired, key, _ = partner_with_key(name="Expired")
    type(key).objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    inactive, _k, _ = partner_with_key(name="Inactive")
    inactive.is_active = False
    inactive.save()
    paused, _k, _ = partner_with_key(name="Paused")
    for partner in (revoked, expired, inactive, paused):
        verified_subscription(
            partner,
            url="https://h.example.com/",
            events=[STATUS_CHANGED],
            is_active=partner is not paused,
        )
    event = _publish(STATUS_CHANGED, {"id": 1})
    assert _recipients(event) == []
    assert WebhookEvent.objects.filter(pk=event.pk).exists()  # the outbox keeps it anyway


def test_no_event_is_left_when_the_change_rolls_back():
    partner, _k, _ = partner_with_key()
    verified_subscription(partner, url="https://h.example.com/", events=[STATUS_CHANGED])
    with pytest.raises(RuntimeError, match="boom"), transaction.atomic():
        webhooks.publish(STATUS_CHANGED, {"id": 1})
        raise RuntimeError("boom")
    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_publish_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        webhooks.publish(STATUS_CHANGED, {"id": 1})


def test_a_delivery_is_signed_and_the_receiver_can_verify_it(django_capture_on_commit_callbacks):
    partner, _k, _ = partner_with_key()
    with Receiver([200]) as receiver:
        subscription = services.subscribe(partner, url=receiver.url, events=[STATUS_CHANGED])
        with django_capture_on_commit_callbacks(execute=True):
            event = _publish(
                STATUS_CHANGED, {"repair_order": 7, "status": "completed", "total": "12.50"}
            )
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 1 and delivery.response_status == 200

    [request] = receiver.received
    headers, body = request["headers"], request["body"]
    assert headers["X-Carshop-Event"] == STATUS_CHANGED
    assert headers["X-Carshop-Event-Id"] == str(event.event_id)
    timestamp = headers["X-Carshop-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    assert webhooks.verify(subscription.secret, timestamp, body, headers["X-Carshop-Signature"])
    # The documented recipe, by hand: HMAC-SHA256 over "<timestamp>.<body>".
    import hashlib
    import hmac

    expected = hmac.new(
        subscription.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Carshop-Signature"] == f"sha256={expected}"
    document = json.loads(body)
    assert document["type"] == STATUS_CHANGED
    assert document["data"] == {"repair_order": 7, "status": "completed", "total": "12.50"}


def test_a_signature_with_another_secret_a_changed_body_or_an_old_timestamp_fails():
    body = b'{"id":1}'
    now = int(time.time())
    good = webhooks.sign("whsec_right", now, body)
    assert webhooks.verify("whsec_right", now, body, good)
    assert not webhooks.verify("whsec_wrong", now, body, good)
    assert not webhooks.verify("whsec_right", now, b'{"id":2}', good)
    old = now - 3600
    assert not webhooks.verify("whsec_right", old, body, webhooks.sign("whsec_right", old, body))


def test_a_failed_delivery_is_retried_with_backoff_until_it_succeeds(
    django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_RETRY_DELAY = 30
    partner, _k, _ = partner_with_key()
    with Receiver([500, 503, 200]) as receiver:
        services.subscribe(partner, url=receiver.url, events=[STATUS_CHANGED])
        before = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            event = _publish(STATUS_CHANGED, {"id": 1})
        delivery = WebhookDelivery.objects.get(event=event)
        assert delivery.status == WebhookDelivery.Status.PENDING
        assert (delivery.attempts, delivery.response_status) == (1, 500)
        assert "HTTP 500" in delivery.error
        first_wait = (delivery.next_attempt_at - before).total_seconds()
        assert 29 <= first_wait <= 40

        # Not due yet: nothing is sent.
        assert webhooks.attempt_delivery(delivery.pk) is None
        assert len(receiver.received) == 1

        later = delivery.next_attempt_at + timedelta(seconds=1)
        assert webhooks.attempt_delivery(delivery.pk, now=later) == "pending"
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.response_status) == (2, 503)
        second_wait = (delivery.next_attempt_at - later).total_seconds()
        assert 59 <= second_wait <= 70  # doubled

        assert (
            webhooks.attempt_delivery(
                delivery.pk, now=delivery.next_attempt_at + timedelta(seconds=1)
            )
            == "delivered"
        )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert len(receiver.received) == 3
    # Every attempt carried the same event id, so the receiver can drop duplicates.
    assert len({r["headers"]["X-Carshop-Event-Id"] for r in receiver.received}) == 1


def test_a_delivery_gives_up_after_the_last_attempt(django_capture_on_commit_callbacks, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    partner, _k, _ = partner_with_key()
    with Receiver([500]) as receiver:
        services.subscribe(partner, url=receiver.url, events=[STATUS_CHANGED])
        with django_capture_on_commit_callbacks(execute=True):
            event = _publish(STATUS_CHANGED, {"id": 1})
        delivery = WebhookDelivery.objects.get(event=event)
        webhooks.attempt_delivery(delivery.pk, now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert delivery.next_attempt_at is None


def test_an_unreachable_receiver_is_a_failed_attempt_with_the_error_kept(
    django_capture_on_commit_callbacks,
):
    partner, _k, _ = partner_with_key()
    with Receiver() as receiver:
        services.subscribe(partner, url=receiver.url, events=[STATUS_CHANGED])
    # nobody listens there now
    with django_capture_on_commit_callbacks(execute=True):
        event = _publish(STATUS_CHANGED, {"id": 1})
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.response_status is None
    assert "refused" in delivery.error.lower()


def test_a_partner_that_lost_the_scope_before_delivery_is_not_sent_the_event(
    django_capture_on_commit_callbacks,
):
    partner, key, _ = partner_with_key()
    with Receiver([200]) as receiver:
        services.subscribe(partner, url=receiver.url, events=[STATUS_CHANGED])
        event = _publish(STATUS_CHANGED, {"id": 1})  # on-commit callbacks not run: queued
        services.revoke_key(key)
        delivery = WebhookDelivery.objects.get(event=event)
        assert webhooks.attempt_delivery(delivery.pk) == "failed"
    assert receiver.received == []
    delivery.refresh_from_db()
    assert "lost the scope" in delivery.error


def _run_ready_tasks():
    """What `manage.py db_worker --batch` does, without its connection handling (which would
    close the test's transaction)."""
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(
        queue_names=["webhooks"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    ran = 0
    for result in DBTaskResult.objects.ready().filter(queue_name="webhooks"):
        result.claim(worker.worker_id)
        worker.run_task(result)
        ran += 1
    return ran


def test_with_the_database_backend_deliveries_and_retries_are_queued_tasks(
    django_capture_on_commit_callbacks, settings
):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "webhooks"]}
    }
    partner, _k, _ = partner_with_key()
    with Receiver([500, 200]) as receiver:
        services.subscribe(partner, url=receiver.url, events=[STATUS_CHANGED])
        with django_capture_on_commit_callbacks(execute=True):
            event = _publish(STATUS_CHANGED, {"id": 1})
        assert receiver.received == []  # queued, not sent in the request
        task = DBTaskResult.objects.get()
        assert task.queue_name == "webhooks"

        assert _run_ready_tasks() == 1
        delivery = WebhookDelivery.objects.get(event=event)
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        retry = DBTaskResult.objects.filter(status="READY").get()
        assert abs((retry.run_after - delivery.next_attempt_at).total_seconds()) < 1

        # When the retry is due, the worker sends it.
        DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert _run_ready_tasks() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert len(receiver.received) == 2


def test_deliver_webhooks_sends_what_was_due_but_never_queued():
    partner, _k, _ = partner_with_key()
    with Receiver([200]) as receiver:
        services.subscribe(partner, url=receiver.url, events=[STATUS_CHANGED])
        event = _publish(STATUS_CHANGED, {"id": 1})  # as if the process died after the commit
        out = io.StringIO()
        call_command("deliver_webhooks", "--format", "json", stdout=out)
    assert json.loads(out.getvalue())["queued"] == 1
    assert WebhookDelivery.objects.get(event=event).status == "delivered"
    assert len(receiver.received) == 1


def test_a_subscription_secret_is_shown_only_when_created():
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    created = client.post(
        "/api/v1/webhook-subscriptions/",
        {"url": "https://h.example.com/", "events": [STATUS_CHANGED]},
        format="json",
    ).json()
    assert created["secret"].startswith("whsec_")
    listed = client.get("/api/v1/webhook-subscriptions/").json()["results"][0]
    detail = client.get(f"/api/v1/webhook-subscriptions/{created['id']}/").json()
    assert "secret" not in listed and "secret" not in detail
