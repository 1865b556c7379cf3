"""Whatever a client sends as a body, the API answers in its JSON error format and changes
nothing: malformed or deeply nested JSON (400), a body too large (413), a body that is not JSON
(415), an answer in a format the API does not give (406)."""

import json

import pytest

from accounts.models import WebhookSubscription
from sales.models import Lead
from tests.helpers.api import key_client, partner_with_key

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
SUBSCRIPTIONS = "/api/v1/webhook-subscriptions/"


@pytest.fixture
def client():
    _partner, _key, plain = partner_with_key(
        name="Market", kind="marketplace", scopes=["listings:read", "leads:write"]
    )
    return key_client(plain)


def _error(response, status, code):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code, body
    return body


def _nested(depth):
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("url", [LEADS, SUBSCRIPTIONS])
@pytest.mark.parametrize(
    "body",
    [
        _nested(1000),  # a RecursionError in the decoder
        '{"stock_unit": ' + _nested(30_000) + "}",  # far deeper still (60 KB)
        '{"a": ' * 40 + "1" + "}" * 40,  # parses, but no request nests that deep
    ],
)
def test_a_deeply_nested_body_gets_400_not_a_server_error(client, url, body):
    response = client.generic("POST", url, body, content_type="application/json")
    body = _error(response, 400, "parse_error")
    assert "nested" in body["message"]
    assert not Lead.objects.exists() and not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"{nope", "application/json"),
        (b'{"a": NaN}', "application/json"),
        (b'\xff\xfe{"a": 1}', "application/json"),  # not UTF-8
        (b'{"a": 1}', "application/json; charset=no-such-charset"),
        (b"[1, 2", "application/json"),
        (b'"just a string"', "application/json"),
        (b"[]", "application/json"),
        (b"null", "application/json"),
    ],
)
def test_a_malformed_body_gets_400(client, body, content_type):
    response = client.generic("POST", LEADS, body, content_type=content_type)
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] in ("parse_error", "invalid")
    assert not Lead.objects.exists()


def test_a_body_over_the_limit_gets_413_in_json(client):
    body = json.dumps({"message": "x" * (70 * 1024)})
    response = client.generic("POST", LEADS, body, content_type="application/json")
    _error(response, 413, "request_too_large")
    assert not Lead.objects.exists()


def test_a_body_over_djangos_own_limit_gets_413_in_json_too(client):
    body = json.dumps({"message": "x" * (3 * 1024 * 1024)})
    for content_type in ("application/json", "application/x-www-form-urlencoded"):
        response = client.generic("POST", LEADS, body, content_type=content_type)
        assert response.status_code in (413, 415), response.content[:300]
        assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
def test_a_body_that_is_not_json_gets_415(client, content_type):
    response = client.generic(
        "POST", LEADS, b"stock_unit=1&first_name=Jo", content_type=content_type
    )
    _error(response, 415, "unsupported_media_type")
    assert not Lead.objects.exists()


@pytest.mark.parametrize("accept", ["text/csv", "application/xml", "image/png"])
def test_asking_for_a_format_the_api_does_not_give_gets_406_in_json(client, accept):
    response = client.get(LEADS, HTTP_ACCEPT=accept)
    _error(response, 406, "not_acceptable")
    response = client.post(LEADS, {"stock_unit": 1}, format="json", HTTP_ACCEPT=accept)
    _error(response, 406, "not_acceptable")
    assert not Lead.objects.exists()
