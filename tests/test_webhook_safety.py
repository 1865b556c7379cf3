"""Webhook subscriptions cannot turn Carshop into a flood cannon: one per partner and URL, a few
per partner, and none receives events before its URL echoed a signed challenge (a real local
HTTP server answers it here). URLs are validated strictly; a partner can pause, resume and rotate
the secret; the audit log never shows any part of a secret."""

import json
import uuid

import pytest
from auditlog.models import LogEntry
from django.db import IntegrityError, transaction

from accounts import services, webhooks
from accounts.models import WebhookDelivery, WebhookSubscription
from tests.helpers.api import Receiver, key_client, partner_with_key
from tests.helpers.barrier import raised, run_together


@pytest.fixture
def latest_migrations_after():
    """A test that takes accounts back to an old migration leaves every app migrated to its
    latest again, so the tests after it meet the schema they expect."""
    yield
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


pytestmark = pytest.mark.django_db

SUBSCRIPTIONS = "/api/v1/webhook-subscriptions/"
STATUS_CHANGED = "repair_order.status_changed"


def _subscribe(client, url, **extra):
    return client.post(
        SUBSCRIPTIONS, {"url": url, "events": [STATUS_CHANGED], **extra}, format="json"
    )


@pytest.fixture
def publish(django_capture_on_commit_callbacks):
    """Publish an event and deliver it (deliveries are queued after the commit)."""

    def publish_one():
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            return webhooks.publish(STATUS_CHANGED, {"id": 1})

    return publish_one


def test_thirty_identical_subscriptions_make_one(settings, publish):
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    with Receiver() as receiver:
        answers = [_subscribe(client, receiver.url) for _ in range(30)]

        assert [a.status_code for a in answers] == [201] + [400] * 29
        assert answers[1].json()["fields"]["url"] == [
            "You already have a subscription for this URL: change its events there, or delete "
            "it first."
        ]
        assert WebhookSubscription.objects.count() == 1
        assert len(receiver.challenges) == 1  # refused requests send nothing
        publish()
    assert len(receiver.received) == 1


def test_the_database_refuses_a_second_subscription_of_the_same_url():
    partner, _key, _plain = partner_with_key()
    services.subscribe(partner, url="https://h.example.com/", events=[STATUS_CHANGED], verify=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookSubscription.objects.create(
            partner=partner, url="https://h.example.com/", events=[STATUS_CHANGED], secret="whsec_x"
        )


def test_a_partner_has_at_most_ten_subscriptions():
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    for number in range(10):
        assert _subscribe(client, f"https://h{number}.example.com/").status_code == 201

    refused = _subscribe(client, "https://h10.example.com/")

    assert refused.status_code == 400
    assert refused.json()["fields"]["url"] == [
        "A partner has at most 10 webhook subscriptions: delete one first."
    ]
    assert WebhookSubscription.objects.count() == 10


def test_the_url_answers_a_signed_challenge_before_it_receives_events(publish):
    _partner, _key, plain = partner_with_key()
    with Receiver() as receiver:
        created = _subscribe(key_client(plain), receiver.url).json()
        [challenge] = receiver.challenges
        publish()

    assert created["verified_at"] is not None and created["verification_error"] == ""
    headers, body = challenge["headers"], challenge["body"]
    assert headers["X-Carshop-Event"] == "webhook.verification"
    assert webhooks.verify(
        created["secret"], headers["X-Carshop-Timestamp"], body, headers["X-Carshop-Signature"]
    )
    assert json.loads(body)["subscription"] == created["id"]
    assert len(receiver.received) == 1  # the event, after the handshake


def test_a_url_that_does_not_echo_the_challenge_receives_nothing_until_it_does(publish):
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    with Receiver(echo=False) as receiver:
        created = _subscribe(client, receiver.url).json()
        event = publish()
        assert created["verified_at"] is None
        assert "did not echo the challenge" in created["verification_error"]
        assert not WebhookDelivery.objects.filter(event=event).exists()

        receiver.echo = True
        again = client.post(f"{SUBSCRIPTIONS}{created['id']}/verify/")
        publish()

    assert again.status_code == 200 and again.json()["verified_at"] is not None
    assert len(receiver.challenges) == 2
    assert len(receiver.received) == 1  # only the event published after the handshake


def test_an_unreachable_url_is_not_verified_and_says_why():
    _partner, _key, plain = partner_with_key()
    with Receiver() as receiver:
        url = receiver.url
    created = _subscribe(key_client(plain), url).json()
    assert created["verified_at"] is None
    assert "refused" in created["verification_error"].lower()


def test_handshakes_are_limited_per_partner_and_hour(settings):
    settings.WEBHOOK_HANDSHAKES_PER_HOUR = 2
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    with Receiver() as receiver:
        created = _subscribe(client, receiver.url).json()
        client.post(f"{SUBSCRIPTIONS}{created['id']}/verify/")
        third = client.post(f"{SUBSCRIPTIONS}{created['id']}/verify/").json()
    assert len(receiver.challenges) == 2
    assert third["verification_error"] == (
        "Too many verification handshakes this hour: try again later."
    )


@pytest.mark.parametrize(
    "url, message",
    [
        ("https://h.example.com/?q=<script>alert(1)</script>", "without spaces, quotes or <>"),
        ('https://h.example.com/a"b', "without spaces, quotes or <>"),
        ("https://h.example.com/a b", "Enter a valid URL."),
        ("https://h.example.com/%zz", "without spaces, quotes or <>"),
        ("https://2130706433/", "Enter a valid URL."),
        ("javascript:alert(1)", "Enter a valid URL."),
    ],
)
def test_malformed_urls_are_refused_with_a_message(url, message):
    _partner, _key, plain = partner_with_key()
    response = _subscribe(key_client(plain), url)
    assert response.status_code == 400
    assert any(message in text for text in response.json()["fields"]["url"]), response.json()
    assert not WebhookSubscription.objects.exists()


def test_a_subscription_can_be_paused_resumed_and_given_a_new_secret(publish):
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    with Receiver() as receiver:
        created = _subscribe(client, receiver.url).json()
        detail = f"{SUBSCRIPTIONS}{created['id']}/"

        paused = client.patch(detail, {"is_active": False}, format="json")
        publish()
        resumed = client.patch(detail, {"is_active": True}, format="json")
        rotated = client.patch(detail, {"rotate_secret": True}, format="json")
        publish()

    assert paused.status_code == resumed.status_code == rotated.status_code == 200
    assert paused.json()["is_active"] is False and "secret" not in paused.json()
    assert resumed.json()["is_active"] is True
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != created["secret"]
    [request] = receiver.received  # nothing while paused
    headers = request["headers"]
    assert webhooks.verify(
        new_secret, headers["X-Carshop-Timestamp"], request["body"], headers["X-Carshop-Signature"]
    )
    assert not webhooks.verify(
        created["secret"],
        headers["X-Carshop-Timestamp"],
        request["body"],
        headers["X-Carshop-Signature"],
    )


def test_the_url_cannot_be_patched_and_put_is_not_offered():
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    created = _subscribe(client, "https://h.example.com/").json()
    detail = f"{SUBSCRIPTIONS}{created['id']}/"

    moved = client.patch(detail, {"url": "https://elsewhere.example.com/"}, format="json")
    replaced = client.put(
        detail, {"url": "https://elsewhere.example.com/", "events": [STATUS_CHANGED]}, format="json"
    )

    assert moved.status_code == 400
    assert "subscribe it and delete this subscription" in moved.json()["fields"]["url"][0]
    assert replaced.status_code == 405
    assert WebhookSubscription.objects.get().url == "https://h.example.com/"


def test_another_partners_subscription_cannot_be_patched():
    other, _key, _plain = partner_with_key(name="Other")
    theirs = services.subscribe(
        other, url="https://h.example.com/", events=[STATUS_CHANGED], verify=False
    )
    _partner, _key, plain = partner_with_key(name="Me")
    response = key_client(plain).patch(
        f"{SUBSCRIPTIONS}{theirs.pk}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.is_active is True


def test_the_audit_log_shows_no_part_of_a_secret():
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    created = _subscribe(client, "https://h.example.com/").json()
    rotated = client.patch(
        f"{SUBSCRIPTIONS}{created['id']}/", {"rotate_secret": True}, format="json"
    ).json()

    entries = (
        LogEntry.objects.get_for_model(WebhookSubscription)
        .filter(object_pk=str(created["id"]))
        .order_by("id")
    )
    logged = json.dumps([entry.changes_dict for entry in entries])
    for secret in (created["secret"], rotated["secret"]):
        for part in (secret[:12], secret[-12:], secret[20:32]):
            assert part not in logged
    assert entries.last().changes_dict["secret"] == ["********", "********"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_merges_duplicate_subscriptions_and_keeps_existing_urls_verified(
    latest_migrations_after, monkeypatch
):
    # Going back that far also goes back over the locations (their rows are dropped, guarded).
    monkeypatch.setenv("CARSHOP_ALLOW_DATA_LOSS", "1")
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    partner, _key, _plain = partner_with_key()
    before, latest = (
        [("accounts", "0004_customer_phone_digits")],
        [("accounts", "0007_mask_secrets_in_audit_log")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("accounts", "WebhookSubscription")
    old_apps = executor.loader.project_state(before).apps
    event = old_apps.get_model("accounts", "WebhookEvent").objects.create(
        event_id=uuid.uuid4(), event_type=STATUS_CHANGED, payload={}, scope="repairs:read"
    )
    for events, active in (
        [[STATUS_CHANGED], False],
        [["invoice.created"], True],
        [[STATUS_CHANGED], False],
    ):
        duplicate = old.objects.create(
            partner_id=partner.pk,
            url="https://h.example.com/",
            events=events,
            secret="whsec_x",
            is_active=active,
        )
        old_apps.get_model("accounts", "WebhookDelivery").objects.create(
            event_id=event.pk, subscription_id=duplicate.pk
        )
    other = old.objects.create(
        partner_id=partner.pk,
        url="https://other.example.com/",
        events=[STATUS_CHANGED],
        secret="whsec_y",
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)

    merged = WebhookSubscription.objects.get(url="https://h.example.com/")
    assert merged.events == [STATUS_CHANGED, "invoice.created"] and merged.is_active
    assert merged.verified_at == merged.created_at
    assert WebhookSubscription.objects.get(pk=other.pk).verified_at is not None
    assert WebhookSubscription.objects.count() == 2
    assert WebhookDelivery.objects.filter(subscription=merged).count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_url", [True, False])
def test_two_subscriptions_at_the_same_moment_cannot_pass_the_limits(same_url):
    from accounts.exceptions import AccountsError

    partner, _key, _plain = partner_with_key()
    for number in range(9):
        services.subscribe(
            partner, url=f"https://h{number}.example.com/", events=[STATUS_CHANGED], verify=False
        )

    def subscribe(url):
        services.subscribe(partner, url=url, events=[STATUS_CHANGED], verify=False)

    urls = (
        ["https://last.example.com/"] * 2
        if same_url
        else ["https://last.example.com/", "https://one-too-many.example.com/"]
    )
    outcomes = run_together(
        *(lambda url=url: subscribe(url) for url in urls),
        catch=AccountsError,
        wait=None,
        timeout=None,
    )
    refused = [exc.message for exc in raised(outcomes)]

    assert WebhookSubscription.objects.filter(partner=partner).count() == 10
    assert len(refused) == 1


@pytest.mark.django_db(transaction=True)
def test_old_audit_entries_that_showed_half_a_secret_are_masked_entirely(
    latest_migrations_after, monkeypatch
):
    # Going back that far also goes back over the locations (their rows are dropped, guarded).
    monkeypatch.setenv("CARSHOP_ALLOW_DATA_LOSS", "1")
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    partner, _key, _plain = partner_with_key()
    subscription = services.subscribe(
        partner, url="https://h.example.com/", events=[STATUS_CHANGED], verify=False
    )
    before = [("accounts", "0006_webhook_subscription_one_per_url")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_entry = LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(WebhookSubscription),
        object_pk=str(subscription.pk),
        object_repr="old",
        action=LogEntry.Action.UPDATE,
        changes={
            "secret": ["******************abcdefghijkl", "*****************mnopqrstuvwx"],
            "description": ["", "kept"],
        },
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([("accounts", "0007_mask_secrets_in_audit_log")])

    old_entry.refresh_from_db()
    assert old_entry.changes_dict == {
        "secret": ["********", "********"],
        "description": ["", "kept"],
    }


def test_a_manager_subscribes_in_the_admin_and_the_handshake_runs(manager, login):
    partner, _key, _plain = partner_with_key()
    client = login(manager)
    with Receiver(echo=False) as receiver:
        form = {
            "partner": partner.pk,
            "url": receiver.url,
            "events": [STATUS_CHANGED],
            "description": "",
            "is_active": "on",
        }
        added = client.post("/admin/accounts/webhooksubscription/add/", form, follow=True)
        subscription = WebhookSubscription.objects.get()
        again = client.post("/admin/accounts/webhooksubscription/add/", form)

        receiver.echo = True
        client.post(
            "/admin/accounts/webhooksubscription/",
            {"action": "send_handshake", "_selected_action": [subscription.pk]},
        )

    assert "did not answer the verification handshake" in added.content.decode()
    assert "You already have a subscription for this URL" in again.content.decode()
    assert WebhookSubscription.objects.count() == 1
    subscription.refresh_from_db()
    assert subscription.verified_at is not None and len(receiver.challenges) == 2
