"""Idempotency-Key: a write sent again returns the first answer and creates nothing new."""

import pytest

from accounts.models import WebhookSubscription
from tests.helpers.api import key_client, partner_with_key
from tests.helpers.barrier import returned, run_together

pytestmark = pytest.mark.django_db

SUBSCRIPTIONS = "/api/v1/webhook-subscriptions/"
BODY = {"url": "https://h.example.com/hook", "events": ["repair_order.status_changed"]}


def _post(client, body=BODY, key="7f1c2a"):
    return client.post(SUBSCRIPTIONS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_same_key_returns_the_first_answer_and_creates_nothing_new():
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    first = _post(client)
    again = _post(client)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert WebhookSubscription.objects.count() == 1


def test_a_replay_after_the_record_was_deleted_answers_410_and_creates_nothing():
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    first = _post(client)
    assert client.delete(f"{SUBSCRIPTIONS}{first.json()['id']}/").status_code == 204

    again = _post(client)

    assert again.status_code == 410
    assert again["Content-Type"] == "application/json"
    assert again.json()["code"] == "idempotent_resource_gone"
    assert "new key" in again.json()["message"]
    assert "secret" not in again.content.decode()  # the first answer is not handed out again
    assert not WebhookSubscription.objects.exists()
    # A new key creates it again.
    assert _post(client, key="another-key").status_code == 201


def test_the_same_key_with_another_request_is_refused_with_409():
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    _post(client)
    other = _post(client, {**BODY, "url": "https://elsewhere.example.com/"})
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_conflict"
    assert WebhookSubscription.objects.count() == 1


def test_a_refused_request_leaves_the_key_free_for_the_corrected_one():
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    assert _post(client, {**BODY, "url": "nope"}).status_code == 400
    assert _post(client).status_code == 201
    assert WebhookSubscription.objects.count() == 1


def test_keys_are_per_partner_and_requests_without_a_key_are_not_deduplicated():
    _p, _k, one = partner_with_key(name="One")
    _p, _k, two = partner_with_key(name="Two")
    assert _post(key_client(one)).status_code == 201
    assert _post(key_client(two)).status_code == 201
    client = key_client(one)
    # Without a key, two requests are two subscriptions (of two URLs: one per partner and URL).
    client.post(SUBSCRIPTIONS, {**BODY, "url": "https://h.example.com/a"}, format="json")
    client.post(SUBSCRIPTIONS, {**BODY, "url": "https://h.example.com/b"}, format="json")
    assert WebhookSubscription.objects.count() == 4


def test_an_overlong_idempotency_key_is_refused():
    _partner, _key, plain = partner_with_key()
    response = _post(key_client(plain), key="k" * 256)
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["Idempotency-Key"]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_identical_posts_at_the_same_moment_create_one_subscription():
    _partner, _key, plain = partner_with_key()

    def post(client):
        response = _post(client, key="same-moment")
        return response.status_code, response.json().get("id")

    clients = [key_client(plain) for _ in range(2)]
    results = returned(run_together(*(lambda c=c: post(c) for c in clients), catch=()))
    assert WebhookSubscription.objects.count() == 1
    assert [status for status, _id in results] == [201, 201]
    assert len({subscription_id for _status, subscription_id in results}) == 1


def test_idempotency_keys_are_forgotten_after_a_day():
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import IdempotentRequest
    from accounts.services import forget_idempotency_keys

    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    _post(client, key="old")
    _post(client, {**BODY, "url": "https://h.example.com/new"}, key="new")
    IdempotentRequest.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    assert forget_idempotency_keys() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
    again = {**BODY, "url": "https://h.example.com/again"}
    assert _post(client, again, key="old").status_code == 201  # a new request now
