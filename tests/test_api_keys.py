"""Partner keys: shown once, stored hashed, scoped, expiring, revocable, last use recorded."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.exceptions import AccountsError
from accounts.models import PartnerKey
from tests.helpers.api import key_client, partner_with_key

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def test_a_key_is_stored_hashed_and_only_its_prefix_is_readable():
    _partner, key, plain = partner_with_key()
    stored = PartnerKey.objects.get(pk=key.pk)
    assert plain.startswith(stored.prefix + ".")
    assert plain not in stored.hashed_key
    assert stored.hashed_key.startswith("sha512$$")


def test_a_partner_gets_an_inactive_service_user_without_password_or_staff():
    partner, _key, _plain = partner_with_key(name="Blue River Insurance")
    user = partner.user
    assert user.username == "partner:blue-river-insurance"
    assert not user.is_active and not user.is_staff and not user.is_superuser
    assert not user.has_usable_password()
    assert list(user.groups.values_list("name", flat=True)) == ["Partner"]


def test_a_partner_name_already_taken_is_refused():
    services.create_partner("Acme Fleet")
    with pytest.raises(AccountsError, match="taken"):
        services.create_partner("Acme  fleet")


def test_the_key_opens_the_api_and_me_shows_partner_and_scopes():
    partner, key, plain = partner_with_key(scopes=["repairs:read", "accounting:read"])
    response = key_client(plain).get(ME)
    assert response.status_code == 200
    assert response.json()["partner"] == {
        "name": partner.name,
        "slug": partner.slug,
        "kind": "fleet",
    }
    assert response.json()["key"]["scopes"] == ["repairs:read", "accounting:read"]
    assert response.json()["key"]["prefix"] == key.prefix
    assert response.json()["key"]["throttle_rate"] == "600/min"


def test_a_request_without_a_key_gets_401_with_the_scheme_to_use():
    response = APIClient().get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("plain", ["nonsense", "abcdefgh.wrong-secret", "", "a.b.c"])
def test_a_wrong_key_gets_401(plain):
    partner_with_key()
    response = key_client(plain).get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_key_with_the_right_prefix_but_wrong_secret_gets_401():
    _partner, key, _plain = partner_with_key()
    response = key_client(f"{key.prefix}.{'x' * 40}").get(ME)
    assert response.status_code == 401


def test_a_revoked_key_gets_401_with_the_same_answer_as_an_unknown_key():
    _partner, key, plain = partner_with_key()
    services.revoke_key(key)
    revoked = key_client(plain).get(ME)
    unknown = key_client("abcdefgh.unknown").get(ME)
    assert revoked.status_code == unknown.status_code == 401
    assert revoked.json() == unknown.json()


def test_an_expired_key_gets_401():
    _partner, key, plain = partner_with_key(expires_at=timezone.now() + timedelta(hours=1))
    assert key_client(plain).get(ME).status_code == 200
    PartnerKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert key_client(plain).get(ME).status_code == 401


def test_the_keys_of_an_inactive_partner_get_401():
    partner, _key, plain = partner_with_key()
    partner.is_active = False
    partner.save()
    assert key_client(plain).get(ME).status_code == 401


def test_a_key_is_usable_exactly_when_the_usable_keys_include_it():
    """find_usable_key checks a key with PartnerKey.is_usable(): the same rule as the queryset's
    usable()."""
    later, earlier = timezone.now() + timedelta(hours=1), timezone.now() - timedelta(seconds=1)
    keys = [partner_with_key(name=f"Partner {n}")[1] for n in range(5)]
    fresh, revoked, expiring, expired, inactive = keys
    services.revoke_key(revoked)
    PartnerKey.objects.filter(pk=expiring.pk).update(expires_at=later)
    PartnerKey.objects.filter(pk=expired.pk).update(expires_at=earlier)
    inactive.partner.is_active = False
    inactive.partner.save()

    usable = set(PartnerKey.objects.usable().values_list("pk", flat=True))
    checked = {key.pk for key in PartnerKey.objects.select_related("partner") if key.is_usable()}
    assert usable == checked == {fresh.pk, expiring.pk}


def test_a_key_cannot_be_issued_already_expired_or_without_a_known_scope():
    partner, _key, _plain = partner_with_key()
    with pytest.raises(AccountsError, match="past"):
        services.issue_key(
            partner,
            name="x",
            scopes=["repairs:read"],
            expires_at=timezone.now() - timedelta(days=1),
        )
    with pytest.raises(AccountsError, match="Unknown scope"):
        services.issue_key(partner, name="x", scopes=["repairs:write"])
    with pytest.raises(AccountsError, match="at least one scope"):
        services.issue_key(partner, name="x", scopes=[])
    with pytest.raises(AccountsError, match="600/min"):
        services.issue_key(partner, name="x", scopes=["repairs:read"], throttle_rate="fast")
    assert partner.keys.count() == 1


def test_the_last_use_of_a_key_is_recorded_at_most_once_a_minute():
    _partner, key, plain = partner_with_key()
    client = key_client(plain)
    assert client.get(ME).status_code == 200
    first_use = PartnerKey.objects.get(pk=key.pk).last_used_at
    assert first_use is not None
    assert client.get(ME).status_code == 200
    assert PartnerKey.objects.get(pk=key.pk).last_used_at == first_use


def test_a_revoked_key_stays_revoked():
    _partner, key, _plain = partner_with_key()
    services.revoke_key(key)
    revoked_at = PartnerKey.objects.get(pk=key.pk).revoked_at
    services.revoke_key(key)
    assert PartnerKey.objects.get(pk=key.pk).revoked_at == revoked_at


def test_the_deploy_check_refuses_insecure_webhook_urls(settings):
    from accounts.checks import webhook_urls_are_safe

    settings.WEBHOOK_ALLOW_INSECURE_URLS = True
    assert [error.id for error in webhook_urls_are_safe(None)] == ["accounts.E001"]
    settings.WEBHOOK_ALLOW_INSECURE_URLS = False
    assert webhook_urls_are_safe(None) == []
