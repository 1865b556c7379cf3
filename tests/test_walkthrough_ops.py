"""Operations' day at a real browser: the user list, the lockout pages, a locked-out login seen
and unlocked, and no way to make themselves superuser."""

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOGIN = "/admin/login/?next=/admin/"


def try_to_log_in(username, password):
    """A login at the admin by another person, from another address (the lockout also counts
    per address, and Olga's browser is on this one): the status it answers."""
    elsewhere = Client(REMOTE_ADDR="203.0.113.7")
    return elsewhere.post(LOGIN, {"username": username, "password": password}).status_code


def test_ops_sees_the_users_unlocks_a_login_and_cannot_raise_their_rights(
    people, live_server, operator, advisor
):
    # Someone hammers the advisor's account until it locks.
    for _ in range(settings.AXES_FAILURE_LIMIT):
        try_to_log_in("advisor", "guessing-wrong")
    assert try_to_log_in("advisor", "s3cret-Pass-word") == 429

    olga = people.open().log_in("ops")

    # The user list, from the home page.
    olga.go("/admin/")
    olga.page.click("a[href='/admin/accounts/user/']")
    olga.page.wait_for_load_state()
    users = olga.text("#result_list")
    assert "advisor" in users and "ops" in users

    # The lockout pages, from the home page: the locked-out attempt is there.
    olga.go("/admin/")
    olga.page.click("a[href='/admin/axes/accessattempt/']")
    olga.page.wait_for_load_state()
    attempts = olga.text("#result_list")
    assert "advisor" in attempts and "Locked Out" in attempts
    olga.go("/admin/axes/accesslog/")
    assert "ops" in olga.text("#result_list")  # her own login of this morning
    olga.go("/admin/axes/accessfailurelog/")
    assert "access failure" in olga.text("#content h1").lower()

    # Unlock: delete the attempt (Django's delete action, then its confirmation).
    olga.go("/admin/axes/accessattempt/")
    olga.page.check("input.action-select")
    olga.page.select_option("select[name=action]", "delete_selected")
    olga.page.click("button[name=index]")
    olga.page.wait_for_load_state()
    olga.page.click("input[type=submit]")
    olga.page.wait_for_load_state()
    assert "Successfully deleted 1 access attempt" in olga.text(".messagelist")
    assert try_to_log_in("advisor", "s3cret-Pass-word") == 302

    # Their own user: no superuser box, no staff box, no roles or permissions to pick.
    me = User.objects.get(username="ops")
    olga.go(f"/admin/accounts/user/{me.pk}/change/")
    page = olga.text()
    assert "Superuser status" not in page and "User permissions" not in page
    for box in ("#id_is_superuser", "#id_is_staff", "#id_groups", "#id_user_permissions"):
        assert olga.page.locator(box).count() == 0, box
    olga.page.fill("#id_first_name", "Olga")
    olga.page.click("input[name=_save]")
    olga.page.wait_for_load_state()
    assert "was changed successfully" in olga.text(".messagelist")
    me.refresh_from_db()
    assert me.first_name == "Olga" and not me.is_superuser
    assert list(me.groups.values_list("name", flat=True)) == ["Operations"]

    # Nor through the add form: a new user comes without any right.
    olga.go("/admin/accounts/user/add/")
    assert olga.page.locator("#id_is_superuser").count() == 0
