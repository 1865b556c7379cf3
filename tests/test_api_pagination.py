"""Cursor pagination: constant queries per page, no row skipped or repeated while rows are
inserted between pages."""

import threading

import pytest

from accounts.models import WebhookSubscription
from tests.helpers.api import key_client, partner_with_key
from tests.helpers.barrier import join, start_together

pytestmark = pytest.mark.django_db

SUBSCRIPTIONS = "/api/v1/webhook-subscriptions/"


def _add_subscriptions(partner, count):
    WebhookSubscription.objects.bulk_create(
        WebhookSubscription(
            partner=partner,
            url=f"https://h.example.com/{i}",
            events=["repair_order.status_changed"],
            secret="whsec_x",
        )
        for i in range(count)
    )


def _walk(client, page_size):
    seen, url, params = [], SUBSCRIPTIONS, {"page_size": page_size}
    while url:
        response = client.get(url, params)
        assert response.status_code == 200
        seen += [row["id"] for row in response.json()["results"]]
        url, params = response.json()["next"], None
    return seen


@pytest.mark.parametrize("rows", [1, 50])
def test_a_page_costs_the_same_number_of_queries_with_1_or_50_rows(
    rows, django_assert_max_num_queries
):
    partner, _key, plain = partner_with_key()
    _add_subscriptions(partner, rows)
    client = key_client(plain)
    client.get("/api/v1/me/")  # the key's last use is recorded once a minute, not per page
    with django_assert_max_num_queries(2):  # the key, the page
        response = client.get(SUBSCRIPTIONS, {"page_size": 50})
    assert len(response.json()["results"]) == rows


def test_pages_follow_the_cursor_to_the_end_without_repeats():
    partner, _key, plain = partner_with_key()
    _add_subscriptions(partner, 23)
    seen = _walk(key_client(plain), page_size=5)
    assert seen == sorted(WebhookSubscription.objects.values_list("id", flat=True))


def test_ordering_by_creation_time_still_pages_through_everything():
    partner, _key, plain = partner_with_key()
    _add_subscriptions(partner, 12)
    client = key_client(plain)
    seen, url, params = [], SUBSCRIPTIONS, {"page_size": 5, "ordering": "-created_at"}
    while url:
        body = client.get(url, params).json()
        seen += [row["id"] for row in body["results"]]
        url, params = body["next"], None
    assert sorted(seen) == sorted(WebhookSubscription.objects.values_list("id", flat=True))
    assert len(seen) == len(set(seen))


def test_the_page_size_is_capped():
    partner, _key, plain = partner_with_key()
    _add_subscriptions(partner, 205)
    response = key_client(plain).get(SUBSCRIPTIONS, {"page_size": 100000})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 200


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_rows_inserted_while_a_partner_pages_are_never_repeated_and_nothing_is_skipped():
    partner, _key, plain = partner_with_key()
    _add_subscriptions(partner, 40)
    before = set(WebhookSubscription.objects.values_list("id", flat=True))
    stop = threading.Event()
    inserted = []

    def insert_while_paging():
        while not stop.is_set() and len(inserted) < 200:
            inserted.append(
                WebhookSubscription.objects.create(
                    partner=partner,
                    url=f"https://h.example.com/new/{len(inserted)}",
                    events=["repair_order.status_changed"],
                    secret="whsec_x",
                ).pk
            )

    writers, started = start_together(insert_while_paging, caller_waits=True)
    try:
        started.wait(timeout=10)
        seen = _walk(key_client(plain), page_size=3)
    finally:
        stop.set()
        join(writers, timeout=30)
    # The writer kept inserting while the pages were read (one subscription per URL, so each
    # insert has its own; a repeated URL would stop it at the first).
    assert len(inserted) > 1, "the writer did not keep inserting while the pages were read"
    assert len(seen) == len(set(seen)), "a row was returned twice"
    assert before <= set(seen), "a row that existed before paging was skipped"
    assert set(seen) <= before | set(inserted)


def test_updated_since_keeps_rows_changed_at_or_after_the_time():
    from datetime import timedelta

    from django.utils import timezone

    from core.api.filters import UpdatedSinceFilterSet

    class SubscriptionFeed(UpdatedSinceFilterSet):
        class Meta:
            model = WebhookSubscription
            fields = ["partner"]

    partner, _key, _plain = partner_with_key()
    _add_subscriptions(partner, 3)
    old, recent, new = WebhookSubscription.objects.order_by("id")
    now = timezone.now()
    WebhookSubscription.objects.filter(pk=old.pk).update(updated_at=now - timedelta(days=2))
    WebhookSubscription.objects.filter(pk=recent.pk).update(updated_at=now - timedelta(hours=1))
    since = (now - timedelta(days=1)).isoformat()
    feed = SubscriptionFeed(
        {"updated_since": since, "partner": str(partner.pk)},
        queryset=WebhookSubscription.objects.all(),
    )
    assert sorted(feed.qs.values_list("id", flat=True)) == [recent.pk, new.pk]
    bad = SubscriptionFeed(
        {"updated_since": "yesterday"}, queryset=WebhookSubscription.objects.all()
    )
    assert not bad.is_valid() and "updated_since" in bad.errors
