"""Who sees part costs and who may change parts: technicians see neither costs nor prices and
change nothing; anyone without inventory.view_part_cost never sees a cost."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.roles import SERVICE_ADVISOR, TECHNICIAN
from inventory import services
from tests.helpers.builders.inventory import make_part, make_staff, make_supplier

pytestmark = pytest.mark.django_db

COST = "13.57"  # a cost that appears nowhere else on the pages


@pytest.fixture
def part():
    return make_part("SECRET-1", on_hand=3, unit_cost=COST, description="Oxygen sensor")


@pytest.fixture
def tech_client(client):
    client.force_login(make_staff("tech", TECHNICIAN))
    return client


def staff_with(username, *codenames):
    user = make_staff(username)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="inventory", codename__in=codenames)
    )
    return user


def test_a_technician_sees_the_parts_list_without_costs_or_prices(tech_client, part):
    response = tech_client.get(reverse("admin:inventory_part_changelist"))
    assert response.status_code == 200
    columns = response.context["cl"].list_display
    assert "sku" in columns and "on_hand" in columns
    assert not {"unit_cost", "price", "price_override"} & set(columns)
    assert COST not in response.text
    assert str(part.selling_price) not in response.text


def test_a_technician_sees_a_part_read_only_without_its_cost(tech_client, part):
    response = tech_client.get(reverse("admin:inventory_part_change", args=[part.pk]))
    assert response.status_code == 200
    assert "Oxygen sensor" in response.text
    assert COST not in response.text
    assert "unit_cost" not in response.context["adminform"].form.fields
    assert not response.context["has_change_permission"]


def test_a_technician_cannot_change_or_add_a_part(tech_client, part):
    url = reverse("admin:inventory_part_change", args=[part.pk])
    response = tech_client.post(
        url,
        {
            "sku": "SECRET-1",
            "description": "Changed",
            "reorder_point": "0",
            "reorder_quantity": "0",
        },
    )
    assert response.status_code == 403
    part.refresh_from_db()
    assert part.description == "Oxygen sensor"
    assert tech_client.get(reverse("admin:inventory_part_add")).status_code == 403


def test_a_technician_cannot_read_the_parts_history_where_cost_changes_are(tech_client, part):
    assert (
        tech_client.get(reverse("admin:inventory_part_history", args=[part.pk])).status_code == 403
    )


def test_a_technician_cannot_read_the_stock_ledger(tech_client, part):
    assert tech_client.get(reverse("admin:inventory_stockmovement_changelist")).status_code == 403


def test_without_the_cost_permission_the_ledger_shows_no_costs(client, part):
    client.force_login(staff_with("clerk", "view_part", "view_stockmovement"))
    ledger = client.get(reverse("admin:inventory_stockmovement_changelist"))
    assert ledger.status_code == 200
    assert "unit_cost" not in ledger.context["cl"].list_display
    assert COST not in ledger.text
    page = client.get(reverse("admin:inventory_part_change", args=[part.pk]))
    assert "Latest 20 stock movements" in page.text  # the ledger inline is there...
    assert COST not in page.text  # ...without its cost column


def test_without_the_cost_permission_orders_show_no_costs(client, part):
    order = services.create_purchase_order(make_supplier(), [(part, 2, Decimal("11.11"))])
    client.force_login(staff_with("clerk", "view_purchaseorder", "view_purchaseorderline"))
    listing = client.get(reverse("admin:inventory_purchaseorder_changelist"))
    assert "total_cost" not in listing.context["cl"].list_display
    assert "22.22" not in listing.text
    page = client.get(reverse("admin:inventory_purchaseorder_change", args=[order.pk]))
    assert page.status_code == 200
    assert "11.11" not in page.text and "22.22" not in page.text


def test_an_advisor_sees_costs_and_prices(client, part):
    client.force_login(make_staff("advisor", SERVICE_ADVISOR))
    response = client.get(reverse("admin:inventory_part_changelist"))
    assert {"unit_cost", "price"} <= set(response.context["cl"].list_display)
    assert COST in response.text
    page = client.get(reverse("admin:inventory_part_change", args=[part.pk]))
    assert "unit_cost" in page.context["adminform"].form.fields
