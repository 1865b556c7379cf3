"""The demo prints partner keys that work: the fleet partner reads its customers' repair orders,
the marketplace reads listings, and neither reads the other's data."""

import io
import re

import pytest
from django.core.management import call_command

from accounts.models import Partner


def _all_rows(client, url, headers):
    rows = []
    while url:
        response = client.get(url, **headers)
        assert response.status_code == 200, response.content
        rows += response.json()["results"]
        url = response.json()["next"]
    return rows


@pytest.mark.django_db
def test_demo_partner_keys_printed_once_work_with_their_scopes_only(client):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    keys = dict(re.findall(r"API key of (.+?) \(.*?\): (\S+)", out.getvalue()))
    fleet = {"HTTP_AUTHORIZATION": f"Api-Key {keys['Metro Fleet Services']}"}
    market = {"HTTP_AUTHORIZATION": f"Api-Key {keys['AutoMarket']}"}

    orders = client.get("/api/v1/repair-orders/", **fleet)
    assert orders.status_code == 200
    assert orders.json()["results"], "the fleet partner follows customers with repair orders"
    assert client.get("/api/v1/listings/", **fleet).status_code == 403

    listings = client.get("/api/v1/listings/", **market)
    assert listings.status_code == 200
    assert listings.json()["results"]
    assert client.get("/api/v1/repair-orders/", **market).status_code == 403

    # The fleet's accounting:read gives it its own customers' invoices only; the accounting
    # partner reads every customer's.
    books = {"HTTP_AUTHORIZATION": f"Api-Key {keys['Ledgerline Books']}"}
    fleet_partner = Partner.objects.get(name="Metro Fleet Services")
    linked = set(fleet_partner.customers.values_list("pk", flat=True))
    all_invoices = _all_rows(client, "/api/v1/invoices/", books)
    assert {row["customer"] for row in all_invoices} - linked, "the demo bills other customers"
    fleet_invoices = _all_rows(client, "/api/v1/invoices/", fleet)
    assert fleet_invoices, "the fleet's customers have invoices"
    assert {row["customer"] for row in fleet_invoices} <= linked
    stranger = next(row["customer"] for row in all_invoices if row["customer"] not in linked)
    response = client.get("/api/v1/invoices/", {"customer": stranger}, **fleet)
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert client.get("/api/v1/repair-orders/", **books).status_code == 403

    again = io.StringIO()
    call_command("seed_demo", "--if-empty", stdout=again)
    assert "API key" not in again.getvalue()
