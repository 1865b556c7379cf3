"""The role matrix grants and denies what it says, and setup_roles keeps groups matching it."""

import io

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from accounts import roles


@pytest.mark.django_db
def test_every_role_exists_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLES)


@pytest.mark.django_db
def test_technician_cannot_change_prices_or_see_part_costs(technician):
    assert (
        technician.has_perm("repairs.view_repairorder")
        or not Permission.objects.filter(content_type__app_label="repairs").exists()
    )
    assert not technician.has_perm("inventory.change_part")
    assert not technician.has_perm("inventory.view_part_cost")
    assert not technician.has_perm("accounts.change_shopsettings")


@pytest.mark.django_db
def test_salesperson_cannot_delete_invoices_or_customers(salesperson):
    assert not salesperson.has_perm("repairs.delete_invoice")
    assert not salesperson.has_perm("accounts.delete_customer")
    assert salesperson.has_perm("accounts.add_customer")


@pytest.mark.django_db
def test_advisor_works_the_customer_book_but_does_not_edit_shop_rates(advisor):
    assert advisor.has_perm("accounts.add_customer")
    assert advisor.has_perm("accounts.change_customer")
    assert not advisor.has_perm("accounts.delete_customer")
    assert not advisor.has_perm("accounts.change_shopsettings")


@pytest.mark.django_db
def test_manager_edits_shop_settings_and_reads_the_audit_log(manager):
    assert manager.has_perm("accounts.change_shopsettings")
    assert manager.has_perm("auditlog.view_logentry")
    assert manager.has_perm("inventory.view_part_cost")


@pytest.mark.django_db
def test_partner_user_has_no_admin_access(make_user, client):
    partner = make_user("fleetco", roles.PARTNER, staff=False)
    assert not Group.objects.get(name=roles.PARTNER).permissions.exists()
    client.force_login(partner, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_setup_roles_is_idempotent_and_removes_permissions_the_matrix_does_not_list():
    technicians = Group.objects.get(name=roles.TECHNICIAN)
    stray = Permission.objects.get(codename="delete_customer")
    technicians.permissions.add(stray)
    before = set(Group.objects.get(name=roles.MANAGER).permissions.values_list("pk", flat=True))

    call_command("setup_roles", stdout=io.StringIO())
    call_command("setup_roles", stdout=io.StringIO())

    assert not technicians.permissions.filter(pk=stray.pk).exists()
    after = set(Group.objects.get(name=roles.MANAGER).permissions.values_list("pk", flat=True))
    assert after == before
    assert Group.objects.filter(name__in=list(roles.ROLES)).count() == len(roles.ROLES)


def test_matrix_expands_wildcards_all_and_custom_codenames():
    granted = roles.expand(
        {"shop.*": "view", "shop.part": "all view_part_cost"},
        {"shop": ["part", "bin"]},
    )
    assert granted == {
        ("shop", "view_part"),
        ("shop", "view_bin"),
        ("shop", "add_part"),
        ("shop", "change_part"),
        ("shop", "delete_part"),
        ("shop", "view_part_cost"),
    }
