"""Repeated failed logins lock the account from that address, even behind a proxy."""

import json

import pytest
from django.conf import settings
from django.core.management import call_command

LOGIN = "/admin/login/?next=/admin/"


def fail(client, username, times, **headers):
    for _ in range(times):
        client.post(LOGIN, {"username": username, "password": "not-it"}, **headers)


@pytest.mark.django_db
def test_locked_out_after_the_configured_number_of_failures(client, make_user):
    make_user("target", password="right-Password-1")
    fail(client, "target", settings.AXES_FAILURE_LIMIT)

    response = client.post(LOGIN, {"username": "target", "password": "right-Password-1"})

    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_one_failure_less_than_the_limit_still_lets_the_right_password_in(client, make_user):
    make_user("almost", password="right-Password-1")
    fail(client, "almost", settings.AXES_FAILURE_LIMIT - 1)
    response = client.post(LOGIN, {"username": "almost", "password": "right-Password-1"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"]


@pytest.mark.django_db
def test_lockout_is_written_to_auth_log(client, make_user):
    make_user("lockme", password="right-Password-1")
    fail(client, "lockme", settings.AXES_FAILURE_LIMIT)
    path = settings.LOG_DIR / "auth.log"
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert any(e.get("event") == "lockout" and e.get("user") == "lockme" for e in events)


@pytest.mark.django_db
def test_behind_a_proxy_the_real_client_address_is_locked_not_the_proxy(
    client, make_user, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    make_user("shared", password="right-Password-1")
    make_user("colleague", password="right-Password-2")
    # The attacker also forges an address in front; the proxy appends the real one.
    attacker = {"HTTP_X_FORWARDED_FOR": "198.51.100.7, 203.0.113.9", "REMOTE_ADDR": "10.0.0.2"}
    colleague = {"HTTP_X_FORWARDED_FOR": "198.51.100.7", "REMOTE_ADDR": "10.0.0.2"}

    # The attacker guesses at several accounts (counted by address, and each account by name).
    fail(client, "shared", settings.AXES_FAILURE_LIMIT - 1, **attacker)
    fail(client, "someone-else", 1, **attacker)

    locked = client.post(
        LOGIN, {"username": "colleague", "password": "right-Password-2"}, **attacker
    )
    assert locked.status_code == 429
    from axes.models import AccessAttempt

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}
    # Neither the forged address nor the proxy's is locked: the colleague behind the same proxy
    # logs in.
    allowed = client.post(
        LOGIN, {"username": "colleague", "password": "right-Password-2"}, **colleague
    )
    assert allowed.status_code == 302


@pytest.mark.django_db
def test_axes_reset_unlocks(client, make_user):
    make_user("unlockme", password="right-Password-1")
    fail(client, "unlockme", settings.AXES_FAILURE_LIMIT)
    call_command("axes_reset")
    response = client.post(LOGIN, {"username": "unlockme", "password": "right-Password-1"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_password_spraying_from_one_address_is_locked(client, make_user):
    make_user("real", password="right-Password-1")
    # One guess at each of many accounts, from one address.
    for number in range(settings.AXES_FAILURE_LIMIT):
        fail(client, f"user{number}", 1, REMOTE_ADDR="203.0.113.50")

    response = client.post(
        LOGIN, {"username": "real", "password": "right-Password-1"}, REMOTE_ADDR="203.0.113.50"
    )

    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session
    # Another address is not locked by that.
    elsewhere = client.post(
        LOGIN, {"username": "real", "password": "right-Password-1"}, REMOTE_ADDR="198.51.100.20"
    )
    assert elsewhere.status_code == 302


@pytest.mark.django_db
def test_guessing_one_account_from_many_addresses_is_locked(client, make_user):
    make_user("target", password="right-Password-1")
    make_user("bystander", password="right-Password-2")
    for number in range(settings.AXES_FAILURE_LIMIT):
        fail(client, "target", 1, REMOTE_ADDR=f"203.0.113.{number + 1}")

    response = client.post(
        LOGIN, {"username": "target", "password": "right-Password-1"}, REMOTE_ADDR="198.51.100.99"
    )

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # The account is locked, not those addresses for everyone: another account logs in there.
    other = client.post(
        LOGIN, {"username": "bystander", "password": "right-Password-2"}, REMOTE_ADDR="203.0.113.1"
    )
    assert other.status_code == 302
