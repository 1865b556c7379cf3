"""The demo prints partner keys that work: the fleet partner reads its customers' repair orders,
the marketplace reads listings, and neither reads the other's data."""

import io
import re

import pytest
from django.core.management import call_command


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

    again = io.StringIO()
    call_command("seed_demo", "--if-empty", stdout=again)
    assert "API key" not in again.getvalue()
