"""Who may call each endpoint: every scope against every endpoint, staff sessions, other
partners' records (404, never 403), and HasScope as later endpoints will declare it."""

import pytest
from rest_framework import generics, serializers
from rest_framework.test import APIClient, APIRequestFactory

from accounts.api.authentication import ApiKeyAuthentication
from accounts.api.permissions import HasScope
from accounts.models import Customer, WebhookSubscription
from accounts.roles import MANAGER, SERVICE_ADVISOR, TECHNICIAN
from accounts.services import subscribe
from tests.helpers.api import ALL_SCOPES, key_client, partner_with_key, staff_client

pytestmark = pytest.mark.django_db

EVENTS_OF = {
    "listings:read": ["stock_unit.available", "stock_unit.sold"],
    "leads:write": ["lead.updated"],
    "repairs:read": ["repair_order.status_changed"],
    "accounting:read": ["invoice.created"],
}


def test_the_root_schema_and_docs_are_public():
    client = APIClient()
    root = client.get("/api/v1/")
    assert root.status_code == 200
    assert "webhook-subscriptions" in root.json()["endpoints"]
    assert set(root.json()["scopes"]) == set(ALL_SCOPES)
    assert client.get("/api/v1/schema/").status_code == 200
    assert client.get("/api/v1/docs/").status_code == 200


@pytest.mark.parametrize("scope", list(EVENTS_OF))
def test_every_scope_may_read_me_and_its_own_subscriptions(scope):
    partner, _key, plain = partner_with_key(scopes=[scope])
    subscribe(partner, url="https://hooks.example.com/a", events=EVENTS_OF[scope])
    client = key_client(plain)
    assert client.get("/api/v1/me/").status_code == 200
    listing = client.get("/api/v1/webhook-subscriptions/")
    assert listing.status_code == 200
    assert [row["events"] for row in listing.json()["results"]] == [EVENTS_OF[scope]]


def test_a_scope_without_events_reads_me_and_subscribes_to_nothing():
    assert set(ALL_SCOPES) - set(EVENTS_OF) == {"parts:read"}
    _partner, _key, plain = partner_with_key(scopes=["parts:read"])
    client = key_client(plain)
    assert client.get("/api/v1/me/").status_code == 200
    refused = client.post(
        "/api/v1/webhook-subscriptions/",
        {"url": "https://hooks.example.com/y", "events": ["invoice.created"]},
        format="json",
    )
    assert refused.status_code in (400, 403)
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.parametrize("scope", list(EVENTS_OF))
def test_a_key_may_subscribe_only_to_the_events_of_its_scopes(scope):
    _partner, _key, plain = partner_with_key(scopes=[scope])
    client = key_client(plain)
    allowed = client.post(
        "/api/v1/webhook-subscriptions/",
        {"url": "https://hooks.example.com/x", "events": EVENTS_OF[scope]},
        format="json",
    )
    assert allowed.status_code == 201, allowed.json()
    others = [e for s, events in EVENTS_OF.items() if s != scope for e in events]
    refused = client.post(
        "/api/v1/webhook-subscriptions/",
        {"url": "https://hooks.example.com/y", "events": others[:1]},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid"
    assert "needs" in refused.json()["fields"]["events"][0]
    assert WebhookSubscription.objects.count() == 1


def test_a_partner_never_sees_another_partners_subscription_and_cannot_tell_it_exists():
    other, _other_key, _ = partner_with_key(name="Other Fleet")
    theirs = subscribe(
        other, url="https://other.example.com/h", events=["repair_order.status_changed"]
    )
    _partner, _key, plain = partner_with_key(name="Acme Fleet")
    client = key_client(plain)

    assert client.get("/api/v1/webhook-subscriptions/").json()["results"] == []
    foreign = client.get(f"/api/v1/webhook-subscriptions/{theirs.pk}/")
    missing = client.get("/api/v1/webhook-subscriptions/999999/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert client.delete(f"/api/v1/webhook-subscriptions/{theirs.pk}/").status_code == 404
    assert WebhookSubscription.objects.filter(pk=theirs.pk).exists()


def test_a_partner_deletes_its_own_subscription():
    partner, _key, plain = partner_with_key()
    mine = subscribe(
        partner, url="https://hooks.example.com/h", events=["repair_order.status_changed"]
    )
    response = key_client(plain).delete(f"/api/v1/webhook-subscriptions/{mine.pk}/")
    assert response.status_code == 204
    assert not WebhookSubscription.objects.filter(pk=mine.pk).exists()


@pytest.mark.parametrize("role", [MANAGER, SERVICE_ADVISOR])
def test_staff_sessions_cannot_use_the_partner_only_endpoints(role):
    client, _user = staff_client("someone", role)
    assert client.get("/api/v1/me/").status_code == 403
    assert client.get("/api/v1/webhook-subscriptions/").status_code == 403


def test_the_partner_service_user_cannot_log_in_to_the_admin():
    partner, _key, _plain = partner_with_key()
    client = APIClient()
    client.force_login(partner.user)
    assert client.get("/admin/").status_code == 302  # sent to the login page


# HasScope as every later endpoint declares it, on a view over an existing model.


class CustomerNameSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "display_name", "last_name"]
        extra_kwargs = {"last_name": {"required": True, "allow_blank": False}}


class RepairsOnlyView(generics.ListAPIView):
    queryset = Customer.objects.all()
    serializer_class = CustomerNameSerializer
    permission_classes = [HasScope("repairs:read")]  # type: ignore[list-item]  # an instance that returns itself when called


class ListingsReadLeadsWriteView(generics.ListCreateAPIView):
    queryset = Customer.objects.all()
    serializer_class = CustomerNameSerializer
    permission_classes = [HasScope(read="listings:read", write="leads:write")]  # type: ignore[list-item]  # an instance that returns itself when called


def _call(view, method="get", plain=None, user=None):
    factory = APIRequestFactory()
    request = getattr(factory, method)("/x/", {}, format="json")
    if plain:
        request.META["HTTP_AUTHORIZATION"] = f"Api-Key {plain}"
    if user:
        from rest_framework.test import force_authenticate

        force_authenticate(request, user=user)
    return view.as_view()(request)


@pytest.mark.parametrize("scope", ALL_SCOPES)
def test_has_scope_lets_in_only_keys_with_the_scope(scope):
    _partner, _key, plain = partner_with_key(name=f"P {scope}", scopes=[scope])
    response = _call(RepairsOnlyView, plain=plain)
    expected = 200 if scope == "repairs:read" else 403
    assert response.status_code == expected
    if expected == 403:
        assert response.data["code"] == "permission_denied"


def test_has_scope_can_ask_a_different_scope_for_writes():
    _p, _k, reader = partner_with_key(name="Reader", scopes=["listings:read"])
    _p, _k, writer = partner_with_key(name="Writer", scopes=["leads:write"])
    assert _call(ListingsReadLeadsWriteView, plain=reader).status_code == 200
    assert _call(ListingsReadLeadsWriteView, "post", plain=reader).status_code == 403
    assert _call(ListingsReadLeadsWriteView, plain=writer).status_code == 403
    assert _call(ListingsReadLeadsWriteView, "post", plain=writer).status_code == 400


@pytest.mark.parametrize(
    ("role", "status"), [(MANAGER, 200), (SERVICE_ADVISOR, 200), (TECHNICIAN, 403), (None, 403)]
)
def test_staff_sessions_pass_has_scope_by_their_roles_model_permissions(role, status):
    _client, user = staff_client(f"user-{role}", role)
    assert _call(RepairsOnlyView, user=user).status_code == status


def test_authentication_class_is_the_api_default():
    assert ApiKeyAuthentication in RepairsOnlyView().authentication_classes
