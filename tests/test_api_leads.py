"""Marketplaces post leads for cars for sale, once even when they retry (Idempotency-Key), follow
only their own leads, and hear of status changes (`lead.updated`, in the change's transaction)."""

import pytest
from django.db import transaction

from accounts.models import WebhookEvent
from accounts.roles import MANAGER, SALESPERSON
from inventory.models import StockUnit
from sales import services
from sales.models import Lead
from tests.helpers.api import key_client, partner_with_key, staff_client, verified_subscription
from tests.helpers.builders.lot import delivered_deal, make_unit

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"


def _marketplace(name="CarsNow", scopes=("listings:read", "leads:write")):
    partner, _key, plain = partner_with_key(name=name, scopes=list(scopes), kind="marketplace")
    return partner, key_client(plain)


def _lead_body(unit, **fields):
    return {
        "stock_unit": unit.pk,
        "first_name": "Jo",
        "last_name": "Rivera",
        "email": "jo@example.com",
        "phone": "+1 217 555 0100",
        "message": "Is it still available?",
        "source_reference": "cn-981",
        **fields,
    }


def test_a_marketplace_posts_a_lead_for_a_car_for_sale():
    partner, client = _marketplace()
    unit = make_unit()

    response = client.post(LEADS, _lead_body(unit), format="json")

    assert response.status_code == 201, response.json()
    lead = Lead.objects.select_related("customer").get()
    assert response.json()["id"] == lead.pk
    assert response.json()["status"] == "new"
    assert (lead.partner, lead.stock_unit, lead.source, lead.source_reference) == (
        partner,
        unit,
        "marketplace",
        "cn-981",
    )
    assert lead.message == "Is it still available?"
    assert (lead.customer.first_name, lead.customer.email) == ("Jo", "jo@example.com")


def test_the_same_idempotency_key_returns_the_first_answer_and_creates_nothing_new():
    _partner, client = _marketplace()
    unit = make_unit()
    first = client.post(LEADS, _lead_body(unit), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(LEADS, _lead_body(unit), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other = client.post(
        LEADS, _lead_body(unit, message="Changed"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert other.status_code == 409
    assert Lead.objects.count() == 1


@pytest.mark.parametrize("status", [StockUnit.Status.RECONDITIONING, StockUnit.Status.ACQUIRED])
def test_a_lead_for_a_car_not_for_sale_is_refused_and_nothing_is_written(status):
    _partner, client = _marketplace()
    unit = make_unit(status=status)
    response = client.post(LEADS, _lead_body(unit), format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["stock_unit"]
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"first_name": "", "last_name": ""}, "last_name"),
        ({"email": "", "phone": ""}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"stock_unit": "12"}, "stock_unit"),
        ({"phone": 2175550100}, "phone"),
    ],
)
def test_bad_lead_input_names_the_field_and_writes_nothing(change, field):
    _partner, client = _marketplace()
    unit = make_unit()
    response = client.post(LEADS, _lead_body(unit, **change), format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()
    assert not Lead.objects.exists()


def test_a_marketplace_sees_only_its_own_leads_404_for_the_others():
    _mine, client = _marketplace()
    _theirs, other = _marketplace(name="AutoHub")
    unit = make_unit()
    mine = client.post(LEADS, _lead_body(unit), format="json").json()
    theirs = other.post(LEADS, _lead_body(unit, source_reference="ah-1"), format="json").json()
    walk_in = Lead.objects.create(
        customer=Lead.objects.get(pk=mine["id"]).customer, source="walk_in", stock_unit=unit
    )

    assert [row["id"] for row in client.get(LEADS).json()["results"]] == [mine["id"]]
    assert client.get(f"{LEADS}{theirs['id']}/").status_code == 404
    assert client.get(f"{LEADS}{walk_in.pk}/").status_code == 404
    assert client.get(f"{LEADS}{mine['id']}/").json() == mine | {
        "updated_at": client.get(f"{LEADS}{mine['id']}/").json()["updated_at"]
    }


@pytest.mark.parametrize("scope", ["listings:read", "repairs:read", "accounting:read"])
def test_posting_and_reading_leads_need_the_leads_scope(scope):
    _partner, client = _marketplace(name=f"No leads {scope}", scopes=[scope])
    unit = make_unit()
    assert client.post(LEADS, _lead_body(unit), format="json").status_code == 403
    assert client.get(LEADS).status_code == 403
    assert not Lead.objects.exists()


def test_staff_read_leads_with_their_role_but_post_them_in_the_admin():
    unit = make_unit()
    manager, _user = staff_client("boss", MANAGER)
    assert manager.get(LEADS).status_code == 200
    response = manager.post(LEADS, _lead_body(unit), format="json")
    assert response.status_code == 403
    assert not Lead.objects.exists()


@pytest.mark.parametrize("rows", [1, 50])
def test_a_page_of_leads_costs_the_same_number_of_queries_with_1_or_50_leads(
    rows, django_assert_max_num_queries
):
    partner, client = _marketplace()
    unit = make_unit()
    for index in range(rows):
        services.create_partner_lead(
            partner, stock_unit=unit, first_name=f"B{index}", email=f"b{index}@example.com"
        )
    client.get("/api/v1/me/")
    with django_assert_max_num_queries(2):  # the key, the page with its customers
        response = client.get(LEADS, {"page_size": 50})
    assert len(response.json()["results"]) == rows


def _subscribed_marketplace():
    partner, client = _marketplace()
    verified_subscription(partner, url="https://hooks.example.com/leads", events=["lead.updated"])
    other, _other_client = _marketplace(name="AutoHub")
    verified_subscription(other, url="https://hooks.example.com/other", events=["lead.updated"])
    return partner, client


def test_the_marketplace_hears_when_its_lead_is_worked_lost_or_won():
    partner, client = _subscribed_marketplace()
    unit = make_unit()
    lead = Lead.objects.get(pk=client.post(LEADS, _lead_body(unit), format="json").json()["id"])

    lead.status = Lead.Status.CONTACTED
    services.save_lead(lead)  # what the admin does when a salesperson changes the status
    lead.notes = "Called, will come Saturday"
    services.save_lead(lead)  # no new status: no event
    services.mark_lead_lost(lead, reason="Bought elsewhere")

    events = list(WebhookEvent.objects.filter(event_type="lead.updated").order_by("id"))
    assert [event.payload["status"] for event in events] == ["contacted", "lost"]
    assert all(event.partner_id == partner.pk for event in events)
    assert events[0].payload["source_reference"] == "cn-981"
    assert all(
        [d.subscription.partner_id for d in event.deliveries.all()] == [partner.pk]
        for event in events
    )


def test_a_delivered_deal_tells_the_marketplace_its_lead_was_won():
    partner, client = _subscribed_marketplace()
    unit = make_unit()
    lead = Lead.objects.get(pk=client.post(LEADS, _lead_body(unit), format="json").json()["id"])
    salesperson = staff_client("sally", SALESPERSON)[1]
    delivered_deal(unit=unit, buyer=lead.customer, salesperson=salesperson, lead=lead)

    (event,) = WebhookEvent.objects.filter(event_type="lead.updated")
    assert event.payload == {**event.payload, "lead": lead.pk, "status": "won"}
    assert event.partner_id == partner.pk


def test_the_lot_own_leads_publish_nothing_and_a_failed_change_rolls_its_event_back():
    partner, client = _subscribed_marketplace()
    unit = make_unit()
    walk_in = Lead.objects.create(
        customer=services.create_partner_lead(
            partner, stock_unit=unit, first_name="X", phone="1"
        ).customer,
        source="walk_in",
    )
    services.mark_lead_lost(walk_in, reason="No budget")
    assert not WebhookEvent.objects.filter(event_type="lead.updated").exists()

    lead = Lead.objects.get(pk=client.post(LEADS, _lead_body(unit), format="json").json()["id"])
    with pytest.raises(RuntimeError), transaction.atomic():
        services.mark_lead_lost(lead, reason="Duplicate")
        assert WebhookEvent.objects.filter(event_type="lead.updated").exists()
        raise RuntimeError("rolled back")
    assert not WebhookEvent.objects.filter(event_type="lead.updated").exists()
    lead.refresh_from_db()
    assert lead.status == "new"


def test_a_status_changed_in_the_admin_reaches_the_marketplace(client):
    partner, api = _subscribed_marketplace()
    unit = make_unit()
    lead = Lead.objects.get(pk=api.post(LEADS, _lead_body(unit), format="json").json()["id"])
    _staff, salesperson = staff_client("sally", SALESPERSON)
    client.force_login(salesperson)

    response = client.post(
        f"/admin/sales/lead/{lead.pk}/change/",
        {
            "customer": lead.customer_id,
            "source": "marketplace",
            "source_reference": "cn-981",
            "stock_unit": unit.pk,
            "status": "appointment",
            "salesperson": salesperson.pk,
            "next_follow_up": "",
            "notes": "Test drive Saturday",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    (event,) = WebhookEvent.objects.filter(event_type="lead.updated")
    assert (event.payload["status"], event.partner_id) == ("appointment", partner.pk)
