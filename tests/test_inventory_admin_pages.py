"""Every inventory admin page opens, for a manager and (where allowed) for a technician."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import Location
from accounts.roles import MANAGER, TECHNICIAN
from inventory import services, transfer_services
from inventory.lot_services import acquire_unit
from inventory.models import MarkupRule, StockUnit
from tests.helpers.builders.inventory import (
    VALID_VINS,
    make_customer,
    make_part,
    make_staff,
    make_supplier,
    make_vehicle,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    """One of everything the inventory has."""
    vehicle = make_vehicle(owner=make_customer(), plate="ABC123")
    services.record_odometer(vehicle, 12_000, date(2024, 5, 1))
    supplier = make_supplier()
    part = make_part(on_hand=4, supplier=supplier, reorder_point=5, reorder_quantity=10)
    order = services.create_purchase_order(supplier, [(part, 3)])
    services.place_purchase_order(order)
    receipt = services.receive_purchase_order(order, {order.lines.get().pk: 1})
    MarkupRule.objects.create(up_to=Decimal("10.00"), multiplier=Decimal("2.000"))
    acquire_unit(
        StockUnit(
            stock_number="",  # the series' next number: the series is written
            vehicle=make_vehicle(VALID_VINS[1]),
            source="auction",
            acquisition_cost=Decimal("9000.00"),
        )
    )
    # A second shop, and a draft transfer of parts to it.
    north = Location.objects.create(code="north", name="North Shop", kind=Location.Kind.SHOP)
    transfer_services.create_transfer(Location.default(), north, [(part, 1)])
    return {"vehicle": vehicle, "part": part, "order": order, "receipt": receipt}


def inventory_models():
    return sorted(
        (model for model in admin.site._registry if model._meta.app_label == "inventory"),
        key=lambda m: m._meta.model_name,
    )


@pytest.mark.parametrize("model", inventory_models(), ids=lambda model: model._meta.model_name)
def test_a_manager_opens_the_list_and_a_page_of_every_inventory_model(client, shop, model):
    client.force_login(make_staff("manager", MANAGER))
    name = model._meta.model_name
    listing = client.get(reverse(f"admin:inventory_{name}_changelist"))
    assert listing.status_code == 200
    obj = model.objects.first()
    assert obj is not None
    page = client.get(reverse(f"admin:inventory_{name}_change", args=[obj.pk]))
    assert page.status_code == 200
    model_admin = admin.site._registry[model]
    if model_admin.has_add_permission(page.wsgi_request):
        assert client.get(reverse(f"admin:inventory_{name}_add")).status_code == 200


def test_every_inventory_model_is_in_the_admin():
    assert [model._meta.model_name for model in inventory_models()] == [
        "markuprule",
        "odometerreading",
        "part",
        "partstock",
        "purchaseorder",
        "purchaseorderline",
        "purchasereceipt",
        "purchasereceiptline",
        "stockmovement",
        "stocknumberseries",
        "stocktransfer",
        "stockunit",
        "supplier",
        "vehicle",
    ]


def test_the_order_pages_offer_the_steps_its_status_allows(client, shop):
    client.force_login(make_staff("manager", MANAGER))
    order = shop["order"]  # partially received
    page = client.get(reverse("admin:inventory_purchaseorder_change", args=[order.pk]))
    assert reverse("admin:inventory_purchaseorder_receive", args=[order.pk]) in page.text
    assert reverse("admin:inventory_purchaseorder_place", args=[order.pk]) not in page.text
    assert reverse("admin:inventory_purchaseorder_cancel", args=[order.pk]) not in page.text
    assert (
        client.get(reverse("admin:inventory_purchaseorder_receive", args=[order.pk])).status_code
        == 200
    )


def test_a_purchase_order_without_lines_yet_costs_nothing(client, shop):
    # A special order is saved first, its lines added after: its total reads 0.00, not "None".
    client.force_login(make_staff("manager", MANAGER))
    draft = services.create_purchase_order(make_supplier(name="Second Supplier"), [])
    page = client.get(reverse("admin:inventory_purchaseorder_change", args=[draft.pk])).text
    total = re.search(r'field-total_cost.*?<div class="readonly">(.*?)</div>', page, re.S)
    assert total.group(1).strip() == "0.00"


def test_a_technician_opens_vehicles_and_parts_but_not_purchasing(client, shop):
    client.force_login(make_staff("tech", TECHNICIAN))
    assert (
        client.get(reverse("admin:inventory_vehicle_change", args=[shop["vehicle"].pk])).status_code
        == 200
    )
    assert (
        client.get(reverse("admin:inventory_part_change", args=[shop["part"].pk])).status_code
        == 200
    )
    assert client.get(reverse("admin:inventory_purchaseorder_changelist")).status_code == 403
    assert (
        client.get(
            reverse("admin:inventory_purchaseorder_receive", args=[shop["order"].pk])
        ).status_code
        == 403
    )
