"""Input the API used to take silently is refused with the field named: empty filter values,
unknown or read-only body fields, a phone that is not a phone; and the schema says what the API
answers (bounds of ids, nullable decision of a pending job)."""

import pytest

from accounts.models import WebhookSubscription
from sales.models import Lead
from tests.helpers.api import key_client, partner_with_key
from tests.helpers.builders.lot import make_unit
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_customer,
    make_order,
    make_vehicle,
)

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"


@pytest.fixture
def market():
    _partner, _key, plain = partner_with_key(
        name="Market", kind="marketplace", scopes=["listings:read", "leads:write"]
    )
    return key_client(plain)


def _lead_body(unit, **fields):
    return {"stock_unit": unit.pk, "first_name": "Jo", "email": "jo@example.com", **fields}


@pytest.mark.parametrize(
    "url, name",
    [
        ("/api/v1/listings/", "make"),
        ("/api/v1/listings/", "model"),
        ("/api/v1/listings/", "price_max"),
        ("/api/v1/listings/", "year_min"),
        ("/api/v1/leads/", "source_reference"),
        ("/api/v1/leads/", "status"),
        ("/api/v1/leads/", "stock_unit"),
    ],
)
@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_filter_value_is_an_error_not_any(market, url, name, value):
    make_unit()
    response = market.get(url, {name: value})
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == [name]


def test_a_filter_with_a_value_still_filters(market):
    unit = make_unit()
    make = unit.vehicle.make
    assert [
        row["id"]
        for row in market.get("/api/v1/listings/", {"make": make.lower()}).json()["results"]
    ] == [unit.pk]
    assert market.get("/api/v1/listings/", {"make": "Nomake"}).json()["results"] == []


@pytest.mark.parametrize("phone", ["abc", "12", "+", "call me maybe", "1" * 16, "555-CALL-NOW"])
def test_a_phone_that_is_not_a_phone_number_is_refused(market, phone):
    response = market.post(LEADS, _lead_body(make_unit(), phone=phone), format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["phone"]
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    "phone", ["+1 217 555 0100", "(217) 555-0100", "0044.20.7946.0958", "5550100", ""]
)
def test_phone_numbers_as_people_write_them_are_taken(market, phone):
    response = market.post(LEADS, _lead_body(make_unit(), phone=phone), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["phone"] == phone


def test_an_unknown_or_read_only_body_field_is_named_not_dropped(market):
    unit = make_unit()
    response = market.post(
        LEADS, _lead_body(unit, emial="typo@example.com", status="won", id=7), format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "emial": ["Unknown field."],
        "id": ["This field is read-only."],
        "status": ["This field is read-only."],
    }
    assert not Lead.objects.exists()

    response = market.post(
        "/api/v1/webhook-subscriptions/",
        {"url": "https://hooks.example.com/", "events": ["lead.updated"], "secret": "mine"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"secret": ["This field is read-only."]}
    assert not WebhookSubscription.objects.exists()


def _schema(client):
    return client.get("/api/v1/schema/", {"format": "json"}).json()


def _parameter(schema, path, name):
    return next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name)


def test_the_schema_gives_the_bounds_the_filters_check(client):
    schema = _schema(client)
    customer = _parameter(schema, "/api/v1/invoices/", "customer")["schema"]
    assert customer["minimum"] == 1
    ids = _parameter(schema, "/api/v1/invoices/", "id__in")["schema"]
    assert ids["minItems"] == 1 and ids["items"]["minimum"] == 1
    make = _parameter(schema, "/api/v1/listings/", "make")["schema"]
    assert make["minLength"] == 1
    year = _parameter(schema, "/api/v1/listings/", "year_min")["schema"]
    assert (year["minimum"], year["maximum"]) == (1886, 2100)
    lead = schema["components"]["schemas"]["LeadRequest"]
    assert lead["additionalProperties"] is False
    responses = schema["paths"]["/api/v1/leads/"]["post"]["responses"]
    assert {"400", "406", "409", "413", "415", "429"} <= set(responses)


def test_a_pending_jobs_decision_is_null_as_the_schema_says(client):
    fleet_customer = make_customer(
        kind="company", company_name="Fleet Co", first_name="", last_name=""
    )
    partner, _key, plain = partner_with_key(name="Fleet")
    partner.customers.add(fleet_customer)
    order = make_order(make_vehicle(owner=fleet_customer), customer=fleet_customer)
    add_job_with_lines(order, labor=[("1", "100")], approve=False)
    fleet = key_client(plain)

    (listed,) = fleet.get("/api/v1/repair-orders/").json()["results"]
    detail = fleet.get(f"/api/v1/repair-orders/{order.pk}/").json()
    for data in (listed, detail):
        (job,) = data["jobs"]
        assert job["authorization"] == "pending"
        assert job["authorization_method"] is None

    method = _schema(client)["components"]["schemas"]["Job"]["properties"]["authorization_method"]
    assert method["nullable"] is True
    assert fleet.get("/api/v1/repair-orders/", {"customer": 0}).status_code == 400
