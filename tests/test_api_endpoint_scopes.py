"""Every partner endpoint against every scope: a key reads an endpoint only with the scope it
needs (403 otherwise), no key is 401, and the schema names the scope of each operation."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.services import revoke_key
from carshop.management.commands.generate_api_docs import build_schema
from repairs import services
from sales.services import create_partner_lead
from tests.helpers.api import ALL_SCOPES, key_client, partner_with_key
from tests.helpers.builders.lot import make_unit
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_customer,
    make_order,
    make_vehicle,
    take_to,
)

pytestmark = pytest.mark.django_db

# endpoint -> the scope it needs
ENDPOINTS = {
    "listings": "listings:read",
    "leads": "leads:write",
    "repair-orders": "repairs:read",
    "invoices": "accounting:read",
    "credit-notes": "accounting:read",
    "payments": "accounting:read",
}


@pytest.fixture
def rows():
    """One row of each endpoint, readable by a partner linked to the customer."""
    customer = make_customer(kind="company", company_name="Fleet Co", first_name="", last_name="")
    order = make_order(make_vehicle(owner=customer), customer=customer)
    add_job_with_lines(order, labor=[("1", "100")])
    invoice = take_to(order, "invoiced").invoice
    note = services.issue_credit_note(invoice, Decimal("5.00"), "Goodwill")
    payment = services.record_payment(invoice, Decimal("5.00"), "cash")
    unit = make_unit()
    return (
        customer,
        unit,
        {
            "listings": unit.pk,
            "repair-orders": order.pk,
            "invoices": invoice.pk,
            "credit-notes": note.pk,
            "payments": payment.pk,
        },
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("scope", ALL_SCOPES)
def test_a_key_reads_an_endpoint_only_with_its_scope(endpoint, scope, rows):
    customer, unit, ids = rows
    partner, _key, plain = partner_with_key(name=f"Partner {scope}", scopes=[scope])
    partner.customers.add(customer)
    client = key_client(plain)
    ids = {
        **ids,
        "leads": create_partner_lead(
            partner, stock_unit=unit, first_name="Jo", phone="555 0100"
        ).pk,
    }

    listing = client.get(f"/api/v1/{endpoint}/")
    detail = client.get(f"/api/v1/{endpoint}/{ids[endpoint]}/")

    if scope == ENDPOINTS[endpoint]:
        assert listing.status_code == 200
        assert [row["id"] for row in listing.json()["results"]] == [ids[endpoint]]
        assert detail.status_code == 200
    else:
        assert listing.status_code == detail.status_code == 403
        assert listing.json()["code"] == "permission_denied"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_without_a_key_or_with_a_revoked_one_the_answer_is_401(endpoint, rows):
    _customer, _unit, ids = rows
    ids = {**ids, "leads": 1}
    assert APIClient().get(f"/api/v1/{endpoint}/").status_code == 401
    _partner, key, plain = partner_with_key(name="Revoked", scopes=ALL_SCOPES)
    revoke_key(key)
    response = key_client(plain).get(f"/api/v1/{endpoint}/{ids[endpoint]}/")
    assert response.status_code == 401


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e != "leads"])
def test_writes_are_not_offered(endpoint, rows):
    _customer, _unit, ids = rows
    _partner, _key, plain = partner_with_key(name="All", scopes=ALL_SCOPES)
    client = key_client(plain)
    assert client.post(f"/api/v1/{endpoint}/", {}, format="json").status_code == 405
    assert client.delete(f"/api/v1/{endpoint}/{ids[endpoint]}/").status_code == 405


def test_the_schema_names_the_scope_of_every_operation():
    paths = build_schema()["paths"]
    for endpoint, scope in ENDPOINTS.items():
        assert paths[f"/api/v1/{endpoint}/"]["get"]["x-required-scope"] == scope
        assert paths[f"/api/v1/{endpoint}/{{id}}/"]["get"]["x-required-scope"] == scope
    assert paths["/api/v1/leads/"]["post"]["x-required-scope"] == "leads:write"


def test_the_api_root_lists_every_endpoint():
    endpoints = APIClient().get("/api/v1/").json()["endpoints"]
    assert set(ENDPOINTS) <= set(endpoints)
