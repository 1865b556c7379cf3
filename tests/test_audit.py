"""Every change is in the audit log with who made it: admin users and command operators."""

import io

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.core.management import call_command

from accounts import roles
from accounts.models import Customer


@pytest.mark.django_db
def test_admin_change_is_credited_to_the_staff_user(advisor, login):
    client = login(advisor)
    response = client.post(
        "/admin/accounts/customer/add/",
        {
            "kind": "person",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "555-0101",
            "email": "ada@example.com",
        },
    )
    assert response.status_code == 302, response.content
    customer = Customer.objects.get(last_name="Lovelace")
    entry = LogEntry.objects.get_for_object(customer).get()
    assert entry.action == LogEntry.Action.CREATE
    assert entry.actor == advisor


@pytest.mark.django_db
def test_delete_is_logged_with_the_actor(manager, login):
    customer = Customer.objects.create(first_name="Del", last_name="Gone")
    client = login(manager)
    response = client.post(f"/admin/accounts/customer/{customer.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    entry = LogEntry.objects.filter(object_pk=str(customer.pk), action=LogEntry.Action.DELETE).get()
    assert entry.actor == manager


@pytest.mark.django_db
def test_command_changes_are_credited_to_the_operator(operator, monkeypatch):
    monkeypatch.setenv("CARSHOP_OPERATOR", operator.username)
    Group.objects.filter(name=roles.PARTNER).delete()

    call_command("setup_roles", stdout=io.StringIO())

    group = Group.objects.get(name=roles.PARTNER)
    entry = LogEntry.objects.get_for_object(group).get(action=LogEntry.Action.CREATE)
    assert entry.actor == operator


@pytest.mark.django_db
def test_command_run_by_an_os_login_without_account_is_credited_to_system(monkeypatch):
    monkeypatch.setenv("CARSHOP_OPERATOR", "nobody-with-that-name")
    Group.objects.filter(name=roles.PARTNER).delete()

    call_command("setup_roles", stdout=io.StringIO())

    entry = LogEntry.objects.get_for_object(Group.objects.get(name=roles.PARTNER)).get()
    assert entry.actor.username == "system"
    assert not entry.actor.is_active
    assert not entry.actor.has_usable_password()


@pytest.mark.django_db
def test_change_page_links_to_its_audit_history(advisor, login):
    customer = Customer.objects.create(first_name="Grace", last_name="Hopper")
    client = login(advisor)
    change_page = client.get(f"/admin/accounts/customer/{customer.pk}/change/")
    history_url = f"/admin/accounts/customer/{customer.pk}/history/"
    assert history_url.encode() in change_page.content

    customer.phone = "555-0199"
    customer.save()
    history = client.get(history_url)
    assert history.status_code == 200
    assert b"555-0199" in history.content


@pytest.mark.django_db
def test_history_needs_view_permission(make_user, login):
    customer = Customer.objects.create(first_name="No", last_name="Access")
    outsider = make_user("outsider")  # staff, no role
    response = login(outsider).get(f"/admin/accounts/customer/{customer.pk}/history/")
    assert response.status_code == 403


@pytest.mark.django_db
def test_the_history_of_a_row_the_reader_cannot_open_answers_as_its_change_page(advisor, login):
    missing = login(advisor).get("/admin/accounts/customer/999999/history/")
    assert missing.status_code == 302
    assert missing["Location"] == "/admin/"
