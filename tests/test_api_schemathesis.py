"""Schemathesis over the whole /api/v1/ schema, in process against the WSGI app: generated
requests (valid and invalid, one operation at a time and in stateful sequences that follow the
links between operations) never cause a server error, and every response matches the schema
(status code, content type, headers, body). Every check runs, schema-valid input must be
accepted included.

It runs with the key of each kind of partner: a fleet partner (repair orders and its own
customers' invoices) and a marketplace (listings and leads); each also meets the operations its
key may not use (403). Business rules the schema cannot state (a lead names a car that is for
sale, a buyer's name and a way to reach them; a subscription chooses events its key's scopes
allow, at a public https URL not subscribed yet, and the partner has room for one more) are met
by the valid requests (meet_business_rules), as a partner meets them; invalid requests are left
as generated. The number of examples per operation is kept small so the run takes a few minutes;
raise SCHEMATHESIS_EXAMPLES (and SCHEMATHESIS_STATEFUL_STEPS) to explore more.
"""

import os
import uuid
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from hypothesis import HealthCheck, settings

from tests.helpers.api import partner_with_key

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
STATEFUL_STEPS = int(os.environ.get("SCHEMATHESIS_STATEFUL_STEPS", "10"))

# The two kinds of partner key the API serves.
KEYS = {
    "fleet": ("fleet", ["repairs:read", "accounting:read"]),
    "marketplace": ("marketplace", ["listings:read", "leads:write"]),
}
HYPOTHESIS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
}


@pytest.fixture
def wsgi_app(db, settings):
    """The real WSGI application, kept inside the test's transaction: like Django's test client,
    do not close the connection at the end of each request."""
    from django.core import signals
    from django.db import close_old_connections

    from carshop.wsgi import application

    settings.API_KEY_THROTTLE_RATE = "100000/min"
    settings.API_UNAUTHENTICATED_THROTTLE_RATE = "100000/min"
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _seed_repairs(partner):
    """Repair orders of a linked customer in several statuses, an invoice, a credit note and
    payments: detail endpoints answer more than 404, lists more than empty pages."""
    from decimal import Decimal

    from repairs import services
    from tests.helpers.builders.repairs import (
        add_job_with_lines,
        make_customer,
        make_order,
        make_vehicle,
        take_to,
    )

    customer = make_customer(
        kind="company", company_name="Schemathesis Fleet", first_name="", last_name=""
    )
    partner.customers.add(customer)
    vehicle = make_vehicle(owner=customer, plate="ST 1")
    make_order(vehicle, customer=customer)
    for status in ("approved", "invoiced", "invoiced"):
        order = make_order(vehicle, customer=customer)
        add_job_with_lines(order, labor=[("1", "100")])
        take_to(order, status)
    invoice = order.invoice
    services.issue_credit_note(invoice, Decimal("5.00"), "Goodwill")
    services.record_payment(invoice, Decimal("10.00"), "card")
    services.record_payment(invoice, Decimal("10.00"), "cash")


def _seed_lot(partner):
    """Cars for sale with a photo, and leads the partner posted."""
    from inventory.models import StockUnitPhoto
    from sales.services import create_partner_lead
    from tests.helpers.builders.lot import make_unit

    units = [make_unit() for _ in range(3)]
    StockUnitPhoto.objects.create(unit=units[0], image="stock/photos/front.jpg", is_main=True)
    for index, unit in enumerate(units[:2]):
        create_partner_lead(
            partner,
            stock_unit=unit,
            first_name=f"Buyer {index}",
            email=f"buyer{index}@example.com",
            source_reference=f"st-{index}",
        )


# The key the requests of the current test send (set by the partner_key fixture).
CURRENT_KEY: dict[str, str] = {}
KEY_STAND_IN = "stand-in.for-the-test-key"


@pytest.fixture(params=sorted(KEYS))
def partner_key(request, db):
    kind, scopes = KEYS[request.param]
    partner, _key, plain = partner_with_key(name=f"Schemathesis {kind}", kind=kind, scopes=scopes)
    _seed_repairs(partner)
    _seed_lot(partner)
    CURRENT_KEY["plain"] = plain
    yield plain
    CURRENT_KEY.clear()


def _load_schema():
    from carshop.wsgi import application

    # Served by the app itself (the schema view needs no database).
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


schema = _load_schema()


@schema.auth(refresh_interval=None)
class PartnerKeyAuth:
    """The partner's key, as schemathesis's auth: its checks then know the key is explicit and
    valid, and probe the operation without it and with a wrong one (ignored_auth)."""

    def get(self, case, context):
        # Cases made while collecting the tests get a stand-in, replaced when they are sent.
        return CURRENT_KEY.get("plain", KEY_STAND_IN)

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Api-Key {data}"}


def _positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


def meet_business_rules(case):
    """Valid requests meet the rules the schema cannot state, as a partner's requests do (just
    before they are sent: the data they name is in the test's database)."""
    from accounts.models import Partner
    from accounts.scopes import events_allowed
    from inventory.models import StockUnit

    if (case.headers or {}).get("Authorization") == f"Api-Key {KEY_STAND_IN}":
        case.headers["Authorization"] = f"Api-Key {CURRENT_KEY['plain']}"
    operation = (case.operation.method.upper(), case.operation.path)
    if not _positive(case) or not isinstance(case.body, dict):
        return
    if operation == ("POST", "/api/v1/leads/"):
        listed = (
            StockUnit.objects.filter(status=StockUnit.Status.AVAILABLE)
            .values_list("pk", flat=True)
            .first()
        )
        case.body["stock_unit"] = listed if listed is not None else case.body["stock_unit"]
        if not (case.body.get("first_name", "").strip() or case.body.get("last_name", "").strip()):
            case.body["first_name"] = "Jo"
        if not (case.body.get("email", "").strip() or case.body.get("phone", "").strip()):
            case.body["email"] = "jo@example.com"
    elif operation == ("POST", "/api/v1/webhook-subscriptions/"):
        partner = Partner.objects.order_by("pk").last()
        scopes = {scope for key in partner.keys.all() for scope in key.scopes}
        allowed = events_allowed(scopes)
        chosen = [event for event in case.body.get("events", []) if event in allowed]
        case.body["events"] = chosen or allowed[:1]
        # One subscription per URL, a few per partner: a new URL, and room for it.
        case.body["url"] = f"https://hooks.example.com/carshop/{uuid.uuid4().hex}"
        limit = django_settings.WEBHOOK_MAX_SUBSCRIPTIONS_PER_PARTNER
        oldest = partner.subscriptions.order_by("-pk").values_list("pk", flat=True)[limit - 1 :]
        partner.subscriptions.filter(pk__in=list(oldest)).delete()


@schema.parametrize()
@settings(max_examples=EXAMPLES, **HYPOTHESIS)
def test_the_api_never_fails_and_always_answers_as_documented(case, partner_key, wsgi_app):
    meet_business_rules(case)
    case.call_and_validate()


def test_sequences_of_calls_never_fail_and_always_answer_as_documented(partner_key, wsgi_app):
    class APIWorkflow(schema.as_state_machine()):
        def before_call(self, case):
            meet_business_rules(case)

    APIWorkflow.run(
        settings=settings(max_examples=EXAMPLES, stateful_step_count=STATEFUL_STEPS, **HYPOTHESIS)
    )
