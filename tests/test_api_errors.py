"""One error format for every failure, with the bad field named; throttling per key."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import WebhookSubscription
from tests.helpers.api import key_client, partner_with_key

pytestmark = pytest.mark.django_db

SUBSCRIPTIONS = "/api/v1/webhook-subscriptions/"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()
    yield
    cache.clear()


def _assert_error_format(body):
    assert set(body) == {"code", "message", "fields"}
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]


def test_bad_input_gets_400_naming_each_bad_field_and_creates_nothing():
    _partner, _key, plain = partner_with_key()
    response = key_client(plain).post(
        SUBSCRIPTIONS, {"url": "not a url", "events": []}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    _assert_error_format(body)
    assert body["code"] == "invalid"
    assert body["fields"]["url"] == ["Enter a valid URL."]
    assert "events" in body["fields"]
    assert WebhookSubscription.objects.count() == 0


def test_an_unknown_event_type_is_named_in_the_field_errors():
    _partner, _key, plain = partner_with_key()
    response = key_client(plain).post(
        SUBSCRIPTIONS, {"url": "https://h.example.com/", "events": ["car.exploded"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"events.0": ['"car.exploded" is not a valid choice.']}


def test_a_body_that_is_not_json_gets_400_in_the_same_format():
    _partner, _key, plain = partner_with_key()
    response = key_client(plain).post(SUBSCRIPTIONS, "{nope", content_type="application/json")
    assert response.status_code == 400
    _assert_error_format(response.json())
    assert response.json()["code"] == "parse_error"


def test_a_private_address_is_refused_when_insecure_urls_are_not_allowed(settings):
    settings.WEBHOOK_ALLOW_INSECURE_URLS = False
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    for url, message in [
        ("http://hooks.example.com/", "must use https"),
        ("https://127.0.0.1/h", "public address"),
        ("https://10.1.2.3/h", "public address"),
        ("https://localhost/h", "public host"),
    ]:
        response = client.post(
            SUBSCRIPTIONS, {"url": url, "events": ["repair_order.status_changed"]}, format="json"
        )
        assert response.status_code == 400, url
        assert message in response.json()["fields"]["url"][0]
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.parametrize(
    ("path", "code"), [("/api/v1/me/", "not_authenticated"), ("/api/v1/nothing-here/", "not_found")]
)
def test_401_and_unknown_endpoints_answer_in_the_error_format(path, code):
    response = APIClient().get(path)
    assert response["Content-Type"] == "application/json"
    _assert_error_format(response.json())
    assert response.json()["code"] == code


def test_a_method_an_endpoint_does_not_have_gets_405_in_the_error_format():
    _partner, _key, plain = partner_with_key()
    response = key_client(plain).put(SUBSCRIPTIONS, {}, format="json")
    assert response.status_code == 405
    _assert_error_format(response.json())
    assert response.json()["code"] == "method_not_allowed"


def test_an_invalid_cursor_gets_404_in_the_error_format():
    _partner, _key, plain = partner_with_key()
    response = key_client(plain).get(SUBSCRIPTIONS, {"cursor": "garbage"})
    assert response.status_code == 404
    _assert_error_format(response.json())


def test_a_key_over_its_rate_gets_429_with_retry_after(settings):
    settings.API_KEY_THROTTLE_RATE = "3/min"
    _partner, _key, plain = partner_with_key()
    client = key_client(plain)
    statuses = [client.get("/api/v1/me/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/me/")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    _assert_error_format(response.json())
    assert response.json()["code"] == "throttled"


def test_each_key_has_its_own_counter_and_may_have_its_own_rate(settings):
    settings.API_KEY_THROTTLE_RATE = "2/min"
    _p, _k, busy = partner_with_key(name="Busy")
    _p, _k, other = partner_with_key(name="Other")
    _p, _k, generous = partner_with_key(name="Generous", throttle_rate="5/min")
    for _ in range(2):
        key_client(busy).get("/api/v1/me/")
    assert key_client(busy).get("/api/v1/me/").status_code == 429
    assert key_client(other).get("/api/v1/me/").status_code == 200
    statuses = [key_client(generous).get("/api/v1/me/").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert key_client(generous).get("/api/v1/me/").json()["code"] == "throttled"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"updated_sinse": "2026-01-01"}, "updated_sinse"),
        ({"is_active": "maybe"}, "is_active"),
        ({"is_active": ""}, "is_active"),
        ({"id__in": "1,99999999999999999999999"}, "id__in"),
        ({"page_size": "0"}, "page_size"),
    ],
)
def test_a_bad_or_unknown_query_parameter_gets_400_naming_it(query, field):
    _partner, _key, plain = partner_with_key()
    response = key_client(plain).get(SUBSCRIPTIONS, query)
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"is_active": 0}, "is_active"),
        ({"description": 12}, "description"),
        ({"url": 12}, "url"),
        ({"events": "repair_order.status_changed"}, "events"),
    ],
)
def test_json_values_of_the_wrong_type_are_refused_not_converted(body, field):
    _partner, _key, plain = partner_with_key()
    data = {"url": "https://h.example.com/", "events": ["repair_order.status_changed"], **body}
    response = key_client(plain).post(SUBSCRIPTIONS, data, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]
    assert WebhookSubscription.objects.count() == 0


def test_a_domain_error_of_another_app_answers_400_with_its_message():
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    from accounts.api.permissions import PartnerKeyRequired
    from inventory.exceptions import InsufficientStock

    class IssuePartView(APIView):
        permission_classes = [PartnerKeyRequired()]

        def post(self, request):
            raise InsufficientStock("Only 1 of OIL-5W30 in stock; cannot take 2.")

    _partner, _key, plain = partner_with_key()
    request = APIRequestFactory().post(
        "/x/", {}, format="json", HTTP_AUTHORIZATION=f"Api-Key {plain}"
    )
    response = IssuePartView.as_view()(request)
    assert response.status_code == 400
    assert response.data == {
        "code": "invalid",
        "message": "Only 1 of OIL-5W30 in stock; cannot take 2.",
        "fields": {"non_field_errors": ["Only 1 of OIL-5W30 in stock; cannot take 2."]},
    }
