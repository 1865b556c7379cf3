"""What schemathesis found, kept as deterministic cases: a query parameter given more than once
is refused with the parameter named (the schema allows each one once; `id__in` takes several ids
in one value), and every answer under /api/ is in the error format, whatever the path holds."""

import pytest

from accounts.models import WebhookSubscription
from tests.helpers.api import ALL_SCOPES, key_client, partner_with_key
from tests.helpers.builders.lot import make_unit

pytestmark = pytest.mark.django_db

LISTINGS = "/api/v1/listings/"


@pytest.fixture
def partner_client():
    _partner, _key, plain = partner_with_key(name="Everything", scopes=ALL_SCOPES)
    return key_client(plain)


def _assert_error_format(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_a_scalar_filter_given_several_times_is_refused_with_its_name(partner_client):
    unit = make_unit()
    # As schemathesis sent it: the last value is a number, the first ones are not.
    response = partner_client.get(
        f"{LISTINGS}?id__in={unit.pk}&year_max=2100&price_max=autoplay&price_max=P"
        "&price_max=8.689602114387796e-84&page_size=12&ordering=-updated_at"
    )
    body = _assert_error_format(response, 400, "invalid")
    assert list(body["fields"]) == ["price_max"]
    assert "once" in body["fields"]["price_max"][0]


@pytest.mark.parametrize(
    "url, name, value",
    [
        (LISTINGS, "price_max", "100"),
        (LISTINGS, "make", "Honda"),
        (LISTINGS, "year_min", "2000"),
        (LISTINGS, "id__in", "1"),
        (LISTINGS, "ordering", "id"),
        (LISTINGS, "page_size", "10"),
        ("/api/v1/leads/", "status", "new"),
        ("/api/v1/leads/", "stock_unit", "1"),
        ("/api/v1/repair-orders/", "status", "paid"),
        ("/api/v1/repair-orders/", "vehicle", "1"),
        ("/api/v1/invoices/", "customer", "1"),
        ("/api/v1/credit-notes/", "invoice", "1"),
        ("/api/v1/payments/", "method", "cash"),
        ("/api/v1/payments/", "updated_since", "2026-01-01T00:00:00Z"),
        ("/api/v1/webhook-subscriptions/", "is_active", "true"),
    ],
)
def test_every_list_refuses_a_parameter_given_twice_even_with_one_value(
    partner_client, url, name, value
):
    response = partner_client.get(f"{url}?{name}={value}&{name}={value}")
    body = _assert_error_format(response, 400, "invalid")
    assert list(body["fields"]) == [name]

    assert partner_client.get(f"{url}?{name}={value}").status_code == 200


def test_a_repeated_and_an_unknown_parameter_are_both_named(partner_client):
    response = partner_client.get(f"{LISTINGS}?make=a&make=b&colour=red")
    body = _assert_error_format(response, 400, "invalid")
    assert body["fields"] == {
        "colour": ["Unknown query parameter."],
        "make": [body["fields"]["make"][0]],
    }


def test_id_in_given_once_is_a_list_of_one_or_more_ids(partner_client):
    first, second, _third = make_unit(), make_unit(), make_unit()

    def listed(query):
        response = partner_client.get(f"{LISTINGS}?{query}")
        assert response.status_code == 200, response.json()
        return sorted(row["id"] for row in response.json()["results"])

    assert listed(f"id__in={first.pk}") == [first.pk]
    assert listed(f"id__in={first.pk},{second.pk}") == sorted([first.pk, second.pk])
    body = _assert_error_format(
        partner_client.get(f"{LISTINGS}?id__in={first.pk}&id__in={second.pk}"), 400, "invalid"
    )
    assert "comma" in body["fields"]["id__in"][0]


def test_the_schema_says_how_id_in_takes_several_ids(client):
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()
    for path, operations in schema["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", ()):
            if parameter["name"] == "id__in":
                assert parameter["style"] == "form" and parameter["explode"] is False, path
                assert parameter["schema"]["type"] == "array", path
                assert "comma" in parameter["description"].lower(), path
                assert "once" in parameter["description"], path


@pytest.mark.parametrize(
    "pk",
    [
        "abc",
        "%2F",
        "a%2Fb",
        "..",
        "%0A",
        "a.%0A",
        ".%0A",
        "%0Ax.y",
        "1.json%0A",
        "%C3%A9.%0A",
        "-1",
        "0",
        "9223372036854775808",
        "9" * 40,
        "%C3%A9",
        "%E2%80%A8",
        "%00",
    ],
)
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_a_subscription_id_the_url_cannot_hold_gets_a_404_in_the_error_format(
    partner_client, method, pk
):
    WebhookSubscription.objects.create(
        partner=partner_with_key(name="Other")[0],
        url="https://hooks.example.com/a",
        events=["lead.updated"],
    )
    response = getattr(partner_client, method)(
        f"/api/v1/webhook-subscriptions/{pk}/", format="json"
    )
    _assert_error_format(response, 404, "not_found")
    assert WebhookSubscription.objects.count() == 1


@pytest.mark.parametrize(
    "path",
    [
        "/api/",
        "/api/v2/",
        "/api/v2/listings/",
        "/api/%0A",
        "/api/v1/%0A",
        "/api/v1/listings/1.%0A/",
        "/api/v1%0A/",
    ],
)
def test_a_path_under_api_that_names_no_endpoint_gets_a_404_in_the_error_format(
    partner_client, path
):
    for method in ("get", "post", "delete"):
        _assert_error_format(getattr(partner_client, method)(path), 404, "not_found")


def test_the_api_root_without_its_slash_still_redirects(partner_client):
    response = partner_client.get("/api/v1")
    assert response.status_code == 301
    assert response["Location"] == "/api/v1/"


@pytest.mark.parametrize(
    "endpoint",
    [
        "listings",
        "leads",
        "repair-orders",
        "invoices",
        "credit-notes",
        "payments",
        "webhook-subscriptions",
    ],
)
@pytest.mark.parametrize("pk", ["9223372036854775807", "9223372036854775808", "9" * 40])
def test_an_id_too_large_for_the_database_is_a_404_not_a_500(partner_client, endpoint, pk):
    _assert_error_format(partner_client.get(f"/api/v1/{endpoint}/{pk}/"), 404, "not_found")
