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
def test_behind_a_proxy_the_real_client_address_is_locked_not_the_proxy(client, make_user,
                                                                       settings):
    settings.TRUSTED_PROXY_COUNT = 1
    make_user("shared", password="right-Password-1")
    # The attacker also forges an address in front; the proxy appends the real one.
    attacker = {"HTTP_X_FORWARDED_FOR": "198.51.100.7, 203.0.113.9", "REMOTE_ADDR": "10.0.0.2"}
    colleague = {"HTTP_X_FORWARDED_FOR": "198.51.100.7", "REMOTE_ADDR": "10.0.0.2"}

    fail(client, "shared", settings.AXES_FAILURE_LIMIT, **attacker)

    locked = client.post(LOGIN, {"username": "shared", "password": "right-Password-1"},
                         **attacker)
    assert locked.status_code == 429
    from axes.models import AccessAttempt

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}
    allowed = client.post(LOGIN, {"username": "shared", "password": "right-Password-1"},
                          **colleague)
    assert allowed.status_code == 302


@pytest.mark.django_db
def test_axes_reset_unlocks(client, make_user):
    make_user("unlockme", password="right-Password-1")
    fail(client, "unlockme", settings.AXES_FAILURE_LIMIT)
    call_command("axes_reset")
    response = client.post(LOGIN, {"username": "unlockme", "password": "right-Password-1"})
    assert response.status_code == 302
