"""Nobody raises their own privileges in the admin: only a superuser grants superuser or staff
status, roles (groups) and permissions, and a non-superuser never takes over an account with
more rights (by changing it or setting its password). Operations sees the lockouts."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, Permission
from django.core.management.sql import emit_post_migrate_signal
from django.urls import reverse

from accounts import roles
from accounts.models import User
from tests.helpers.builders.inventory import admin_form_data

pytestmark = pytest.mark.django_db

PRIVILEGE_INPUTS = (
    'name="is_superuser"',
    'name="groups"',
    'name="user_permissions"',
    'name="is_staff"',
)


def change_url(user):
    return reverse("admin:accounts_user_change", args=[user.pk])


def test_ops_sees_no_privilege_field_on_their_own_page(client, operator):
    client.force_login(operator)
    page = client.get(change_url(operator)).content.decode()
    for name in PRIVILEGE_INPUTS:
        assert name not in page
    assert "Superuser status" not in page and "User permissions" not in page


def test_ops_ticking_superuser_on_their_own_user_changes_nothing(client, operator):
    client.force_login(operator)
    url = change_url(operator)
    data = admin_form_data(client.get(url))
    data.update(
        {
            "is_superuser": "on",
            "is_staff": "on",
            "groups": [Group.objects.get(name=roles.MANAGER).pk],
            "user_permissions": [Permission.objects.get(codename="change_group").pk],
            "first_name": "Olga",
        }
    )
    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    operator.refresh_from_db()
    assert operator.first_name == "Olga"  # the ordinary fields were saved
    assert not operator.is_superuser
    assert list(operator.groups.values_list("name", flat=True)) == [roles.OPERATIONS]
    assert not operator.user_permissions.exists()
    # Logged in again: still only Operations' rights.
    client.logout()
    client.force_login(User.objects.get(pk=operator.pk))
    assert client.get(reverse("admin:repairs_invoice_changelist")).status_code == 403


def test_ops_adds_a_user_without_privileges(client, operator):
    client.force_login(operator)
    url = reverse("admin:accounts_user_add")
    page = client.get(url).content.decode()
    for name in PRIVILEGE_INPUTS:
        assert name not in page
    response = client.post(
        url,
        {
            "username": "newhire",
            "usable_password": "true",
            "password1": "a-Long-pass-phrase-9",
            "password2": "a-Long-pass-phrase-9",
            "is_superuser": "on",
            "is_staff": "on",
        },
    )
    assert response.status_code == 302
    new = User.objects.get(username="newhire")
    assert (new.is_superuser, new.is_staff, new.groups.count()) == (False, False, 0)


def test_ops_cannot_change_a_superuser_or_set_their_password(client, operator, make_user):
    boss = make_user("boss", superuser=True)
    client.force_login(operator)
    page = client.get(change_url(boss))
    assert page.status_code == 200  # may look
    assert 'name="first_name"' not in page.content.decode()
    assert client.post(change_url(boss), {"username": "boss", "first_name": "X"}).status_code == 403
    password_url = reverse("admin:auth_user_password_change", args=[boss.pk])
    assert client.get(password_url).status_code == 403
    response = client.post(
        password_url, {"password1": "Taken-0ver-pass", "password2": "Taken-0ver-pass"}
    )
    assert response.status_code == 403
    boss.refresh_from_db()
    assert boss.check_password("s3cret-Pass-word") and boss.first_name == ""


def test_a_user_page_offers_a_password_reset_only_to_who_may_do_it(client, operator, manager):
    # Ops may look at a manager's page but not set their password: no button to a refusal.
    client.force_login(operator)
    password_url = reverse("admin:auth_user_password_change", args=[manager.pk])
    page = client.get(change_url(manager)).content.decode()
    assert "Reset password" not in page and "../password/" not in page
    assert client.get(password_url).status_code == 403
    # Their own page (a user they may change) keeps it.
    page = client.get(change_url(operator)).content.decode()
    assert "Reset password" in page


def test_ops_cannot_set_the_password_of_someone_with_more_rights(client, operator, manager):
    client.force_login(operator)
    password_url = reverse("admin:auth_user_password_change", args=[manager.pk])
    assert (
        client.post(
            password_url, {"password1": "Taken-0ver-pass", "password2": "Taken-0ver-pass"}
        ).status_code
        == 403
    )
    manager.refresh_from_db()
    assert manager.check_password("s3cret-Pass-word")


def test_ops_cannot_reactivate_a_disabled_manager(client, operator, manager):
    manager.is_active = False
    manager.save()
    client.force_login(operator)
    assert (
        client.post(change_url(manager), {"username": "manager", "is_active": "on"}).status_code
        == 403
    )
    password_url = reverse("admin:auth_user_password_change", args=[manager.pk])
    assert client.get(password_url).status_code == 403
    manager.refresh_from_db()
    assert not manager.is_active


def test_ops_may_reset_the_password_of_a_user_without_more_rights(client, operator, make_user):
    clerk = make_user("clerk", staff=False)
    client.force_login(operator)
    password_url = reverse("admin:auth_user_password_change", args=[clerk.pk])
    response = client.post(
        password_url, {"password1": "New-pass-phrase-7", "password2": "New-pass-phrase-7"}
    )
    assert response.status_code == 302
    clerk.refresh_from_db()
    assert clerk.check_password("New-pass-phrase-7")


def test_a_superuser_grants_privileges(client, make_user, operator):
    boss = make_user("boss", superuser=True)
    client.force_login(boss)
    url = change_url(operator)
    page = client.get(url).content.decode()
    assert 'name="is_superuser"' in page and 'name="groups"' in page
    data = admin_form_data(client.get(url))
    data["groups"] = [Group.objects.get(name=roles.MANAGER).pk]
    data.pop("last_login", None)
    del data["date_joined"]
    data.update({"date_joined_0": "2026-01-05", "date_joined_1": "08:00:00"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert operator.groups.get().name == roles.MANAGER


def test_only_a_superuser_changes_a_role_group(client, make_user):
    # Someone given the permission to change groups still may not: a group's permissions are
    # what its members (maybe themselves) may do.
    user = make_user("groupie", roles.OPERATIONS)
    user.user_permissions.add(Permission.objects.get(codename="change_group"))
    group = Group.objects.get(name=roles.OPERATIONS)
    client.force_login(user)
    url = reverse("admin:auth_group_change", args=[group.pk])
    assert 'name="permissions"' not in client.get(url).content.decode()
    everything = list(Permission.objects.values_list("pk", flat=True))
    assert client.post(url, {"name": group.name, "permissions": everything}).status_code == 403
    assert group.permissions.count() < len(everything)


def test_every_migrate_leaves_operations_the_lockout_pages():
    # The roles are applied after the last app's permissions exist (django-axes is last).
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    granted = set(
        Group.objects.get(name=roles.OPERATIONS).permissions.values_list(
            "content_type__app_label", "codename"
        )
    )
    assert {
        ("axes", "view_accessattempt"),
        ("axes", "delete_accessattempt"),
        ("axes", "view_accesslog"),
    } <= granted


def test_ops_opens_the_lockout_pages_and_unlocks(client, operator):
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    attempt = AccessAttempt.objects.create(
        username="locked-lou",
        ip_address="203.0.113.5",
        user_agent="test",
        failures_since_start=5,
        get_data="",
        post_data="",
        http_accept="",
        path_info="/admin/login/",
    )
    client.force_login(User.objects.get(pk=operator.pk))
    for name in ("accessattempt", "accessfailurelog", "accesslog"):
        assert client.get(reverse(f"admin:axes_{name}_changelist")).status_code == 200, name
    assert (
        "locked-lou" in client.get(reverse("admin:axes_accessattempt_changelist")).content.decode()
    )
    response = client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
