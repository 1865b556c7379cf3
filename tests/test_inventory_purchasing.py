"""Purchase orders: draft -> ordered -> partially received -> received (or cancelled), receiving
into stock, and reordering what runs low."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.roles import MANAGER, SERVICE_ADVISOR
from inventory import services
from inventory.exceptions import InvalidTransition, InventoryError
from inventory.models import Part, PurchaseOrder, PurchaseReceipt, StockMovement
from tests.helpers.barrier import answers, run_together
from tests.helpers.builders.inventory import admin_form_data, make_part, make_staff, make_supplier

pytestmark = pytest.mark.django_db

D = Decimal
Status = PurchaseOrder.Status


@pytest.fixture
def supplier():
    return make_supplier("Main Street NAPA")


@pytest.fixture
def filters():
    return make_part("FLT-1", unit_cost="4.00", on_hand=2)


@pytest.fixture
def pads():
    return make_part("PAD-1", unit_cost="30.00")


@pytest.fixture
def draft(supplier, filters, pads):
    return services.create_purchase_order(supplier, [(filters, 10, D("5.00")), (pads, 4)])


def placed(order):
    return services.place_purchase_order(order)


# -- the workflow -----------------------------------------------------------------------------
def test_a_new_order_is_a_draft_and_lines_default_to_the_parts_average_cost(draft, pads):
    assert draft.status == Status.DRAFT
    assert draft.lines.get(part=pads).unit_cost == D("30.00")


def test_adding_a_part_already_on_the_draft_adds_to_its_quantity(draft, filters):
    services.add_purchase_order_line(draft, filters, 5)
    assert draft.lines.get(part=filters).quantity_ordered == 15
    assert draft.lines.count() == 2


def test_placing_a_draft_makes_it_ordered_with_who_and_when(draft):
    manager = make_staff("manager")
    services.place_purchase_order(draft, user=manager, supplier_reference="NAPA-991")
    draft.refresh_from_db()
    assert (draft.status, draft.ordered_by, draft.supplier_reference) == (
        Status.ORDERED,
        manager,
        "NAPA-991",
    )
    assert draft.ordered_at is not None


def test_an_empty_draft_cannot_be_placed(supplier):
    order = services.create_purchase_order(supplier)
    with pytest.raises(InventoryError, match="has no lines: add the parts to order first"):
        services.place_purchase_order(order)
    order.refresh_from_db()
    assert order.status == Status.DRAFT


def test_an_order_cannot_be_placed_twice(draft):
    placed(draft)
    with pytest.raises(InvalidTransition) as caught:
        services.place_purchase_order(draft)
    assert caught.value.message == (
        f"{draft.number} is ordered: only a draft can be placed with the supplier."
    )


def test_lines_cannot_be_added_once_the_order_is_placed(draft, filters):
    placed(draft)
    with pytest.raises(InvalidTransition, match="lines can only be changed while it is a draft"):
        services.add_purchase_order_line(draft, filters, 1)


@pytest.mark.parametrize("step", ["draft", "ordered"])
def test_a_draft_or_an_order_nothing_arrived_on_can_be_cancelled(draft, step):
    if step == "ordered":
        placed(draft)
    services.cancel_purchase_order(draft, reason="Wrong supplier")
    draft.refresh_from_db()
    assert (draft.status, draft.cancel_reason) == (Status.CANCELED, "Wrong supplier")


def test_an_order_partly_received_cannot_be_cancelled(draft, filters):
    placed(draft)
    services.receive_purchase_order(draft, {draft.lines.get(part=filters): 3})
    with pytest.raises(InvalidTransition) as caught:
        services.cancel_purchase_order(draft)
    assert caught.value.message == (
        f"{draft.number} is partially received: only a draft, or an order nothing was "
        f"received on yet, can be cancelled."
    )


def test_a_cancelled_order_cannot_be_placed_nor_received(draft):
    services.cancel_purchase_order(draft)
    with pytest.raises(InvalidTransition, match="is cancelled: only a draft can be placed"):
        services.place_purchase_order(draft)
    with pytest.raises(InvalidTransition, match="only an ordered or partially received"):
        services.receive_purchase_order(draft)


def test_a_draft_cannot_be_received(draft):
    with pytest.raises(InvalidTransition) as caught:
        services.receive_purchase_order(draft)
    assert caught.value.message == (
        f"{draft.number} is a draft: only an ordered or partially received order can be received."
    )
    assert not PurchaseReceipt.objects.exists()


# -- receiving --------------------------------------------------------------------------------
def test_receiving_part_of_an_order_adds_stock_at_the_order_cost(draft, filters, pads):
    placed(draft)
    user = make_staff("advisor")
    receipt = services.receive_purchase_order(
        draft, {draft.lines.get(part=filters).pk: 6}, user=user, packing_slip="PS-1"
    )
    draft.refresh_from_db()
    filters.refresh_from_db()
    assert draft.status == Status.PARTIALLY_RECEIVED
    assert filters.on_hand == 8
    assert filters.unit_cost == D("4.75")  # (2 x 4.00 + 6 x 5.00) / 8
    line = receipt.lines.get()
    assert (line.quantity, line.unit_cost, line.movement.kind, line.movement.quantity) == (
        6,
        D("5.00"),
        StockMovement.Kind.RECEIPT,
        6,
    )
    assert line.movement.reference == f"inventory.purchasereceipt:{receipt.pk}"
    assert (receipt.received_by, receipt.packing_slip) == (user, "PS-1")
    assert Part.objects.get(pk=pads.pk).on_hand == 0


def test_receiving_the_rest_makes_the_order_received(draft, filters, pads):
    placed(draft)
    services.receive_purchase_order(draft, {draft.lines.get(part=filters): 6})
    services.receive_purchase_order(draft)  # everything still expected
    draft.refresh_from_db()
    assert draft.status == Status.RECEIVED
    assert draft.received_at is not None
    assert Part.objects.get(pk=filters.pk).on_hand == 12
    assert Part.objects.get(pk=pads.pk).on_hand == 4
    assert draft.receipts.count() == 2
    for part in Part.objects.all():
        assert services.ledger_balance(part) == part.on_hand


def test_receiving_more_than_is_still_expected_is_refused_and_changes_nothing(draft, filters):
    placed(draft)
    line = draft.lines.get(part=filters)
    with pytest.raises(InventoryError) as caught:
        services.receive_purchase_order(draft, {line.pk: 11})
    assert caught.value.message == (
        f"Only 10 of FLT-1 are still expected on {draft.number}; 11 cannot be received."
    )
    assert Part.objects.get(pk=filters.pk).on_hand == 2
    assert not PurchaseReceipt.objects.exists()
    line.refresh_from_db()
    assert line.quantity_received == 0


def test_receiving_nothing_is_refused(draft):
    placed(draft)
    with pytest.raises(InventoryError, match="Nothing to receive"):
        services.receive_purchase_order(draft, {line.pk: 0 for line in draft.lines.all()})


def test_a_received_order_cannot_be_received_again(draft):
    placed(draft)
    services.receive_purchase_order(draft)
    with pytest.raises(InvalidTransition, match="is received: only an ordered"):
        services.receive_purchase_order(draft)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_people_receiving_the_same_delivery_at_once_receive_it_once():
    supplier = make_supplier("Race Parts")
    part = make_part("RACE-1")
    order = services.create_purchase_order(supplier, [(part, 5, D("3.00"))])
    services.place_purchase_order(order)

    def receive():
        services.receive_purchase_order(PurchaseOrder.objects.get(pk=order.pk))
        return "received"

    outcomes = answers(run_together(receive, receive, catch=InventoryError))
    assert sorted(outcomes) == [
        f"{order.number} is received: only an ordered or partially received order can be received.",
        "received",
    ]
    part.refresh_from_db()
    assert part.on_hand == 5
    assert PurchaseReceipt.objects.count() == 1


# -- the admin --------------------------------------------------------------------------------
@pytest.fixture
def advisor_client(client):
    client.force_login(make_staff("advisor", SERVICE_ADVISOR))
    return client


def test_an_advisor_places_receives_and_sees_the_order_move(advisor_client, draft, filters):
    place_url = reverse("admin:inventory_purchaseorder_place", args=[draft.pk])
    page = advisor_client.get(reverse("admin:inventory_purchaseorder_change", args=[draft.pk]))
    assert place_url in page.text

    response = advisor_client.post(place_url, {"supplier_reference": "NAPA-1"}, follow=True)
    assert f"{draft.number} placed with Main Street NAPA." in response.text
    draft.refresh_from_db()
    assert draft.status == Status.ORDERED

    receive_url = reverse("admin:inventory_purchaseorder_receive", args=[draft.pk])
    form = advisor_client.get(receive_url).context["form"]
    filters_line, pads_line = draft.lines.order_by("id")
    assert form.fields[f"line_{filters_line.pk}"].initial == 10  # what is still expected
    response = advisor_client.post(
        receive_url,
        {f"line_{filters_line.pk}": "10", f"line_{pads_line.pk}": "1", "packing_slip": "PS-9"},
        follow=True,
    )
    assert f"Received 11 unit(s) on {draft.number}; it is partially received now." in (
        response.text
    )
    assert Part.objects.get(pk=filters.pk).on_hand == 12


def test_receiving_more_than_expected_in_the_admin_shows_why_and_changes_nothing(
    advisor_client, draft, filters
):
    placed(draft)
    line = draft.lines.get(part=filters)
    response = advisor_client.post(
        reverse("admin:inventory_purchaseorder_receive", args=[draft.pk]), {f"line_{line.pk}": "12"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors[f"line_{line.pk}"] == [
        "Ensure this value is less than or equal to 10."
    ]
    assert Part.objects.get(pk=filters.pk).on_hand == 2


def test_the_cancel_page_cancels_with_a_reason(advisor_client, draft):
    response = advisor_client.post(
        reverse("admin:inventory_purchaseorder_cancel", args=[draft.pk]),
        {"reason": "Ordered by phone instead"},
        follow=True,
    )
    assert f"{draft.number} cancelled." in response.text
    draft.refresh_from_db()
    assert (draft.status, draft.cancel_reason) == (Status.CANCELED, "Ordered by phone instead")


def test_the_place_action_reports_what_it_placed_and_what_it_refused(
    advisor_client, draft, supplier, pads
):
    other = services.create_purchase_order(supplier, [(pads, 1)])
    services.cancel_purchase_order(other)
    response = advisor_client.post(
        reverse("admin:inventory_purchaseorder_changelist"),
        {"action": "place_selected", "_selected_action": [draft.pk, other.pk]},
        follow=True,
    )
    messages = [str(message) for message in response.context["messages"]]
    assert messages == [
        f"Placed 1 order(s): {draft.number}.",
        f"{other.number} is cancelled: only a draft can be placed with the supplier.",
    ]
    draft.refresh_from_db()
    assert draft.status == Status.ORDERED


def test_a_line_added_on_a_draft_page_without_a_cost_takes_the_parts_cost(advisor_client, draft):
    rotor = make_part("ROT-1", unit_cost="42.00")
    url = reverse("admin:inventory_purchaseorder_change", args=[draft.pk])
    data = admin_form_data(advisor_client.get(url))
    extra = f"lines-{data['lines-INITIAL_FORMS']}"
    data |= {f"{extra}-part": rotor.pk, f"{extra}-quantity_ordered": "2"}
    response = advisor_client.post(url, data)
    assert response.status_code == 302
    line = draft.lines.get(part=rotor)
    assert (line.quantity_ordered, line.unit_cost) == (2, D("42.00"))


def test_the_lines_of_a_placed_order_cannot_be_changed_from_its_page(
    advisor_client, draft, filters
):
    placed(draft)
    url = reverse("admin:inventory_purchaseorder_change", args=[draft.pk])
    data = admin_form_data(advisor_client.get(url))
    data["lines-0-quantity_ordered"] = "999"
    advisor_client.post(url, data)
    assert draft.lines.get(part=filters).quantity_ordered == 10


def test_orders_are_found_by_number(advisor_client, draft, supplier):
    other = services.create_purchase_order(supplier)
    response = advisor_client.get(
        reverse("admin:inventory_purchaseorder_changelist"), {"q": draft.number}
    )
    assert list(response.context["cl"].result_list) == [draft]
    assert other not in response.context["cl"].result_list


def test_autocomplete_offers_parts_by_sku_start(advisor_client, filters, pads):
    # Repair orders' part lines pick parts with an autocomplete that runs this admin's search.
    response = advisor_client.get(
        reverse("admin:autocomplete"),
        {
            "term": "pad",
            "app_label": "inventory",
            "model_name": "purchaseorderline",
            "field_name": "part",
        },
    )
    assert [row["id"] for row in response.json()["results"]] == [str(pads.pk)]


# -- low stock and reordering -----------------------------------------------------------------
@pytest.fixture
def shelf():
    napa = make_supplier("Main Street NAPA")
    worldpac = make_supplier("WorldPac")
    return {
        "low_napa": make_part(
            "A-LOW", on_hand=2, reorder_point=2, reorder_quantity=10, supplier=napa
        ),
        "out_napa": make_part("B-OUT", reorder_point=1, reorder_quantity=4, supplier=napa),
        "low_wp": make_part(
            "C-LOW", on_hand=1, reorder_point=3, reorder_quantity=6, supplier=worldpac
        ),
        "plenty": make_part("D-OK", on_hand=9, reorder_point=2, reorder_quantity=5, supplier=napa),
        "not_stocked": make_part("E-SPECIAL", supplier=napa),
        "no_supplier": make_part("F-ORPHAN", reorder_point=2, reorder_quantity=2),
    }


def test_the_low_stock_list_has_the_parts_at_or_below_their_reorder_point(shelf):
    assert set(Part.objects.low_stock().values_list("sku", flat=True)) == {
        "A-LOW",
        "B-OUT",
        "C-LOW",
        "F-ORPHAN",
    }


def test_the_low_stock_filter_of_the_parts_list(advisor_client, shelf):
    response = advisor_client.get(reverse("admin:inventory_part_changelist"), {"stock": "low"})
    assert [part.sku for part in response.context["cl"].result_list] == [
        "A-LOW",
        "B-OUT",
        "C-LOW",
        "F-ORPHAN",
    ]


def test_the_reorder_action_creates_one_draft_per_supplier_for_the_reorder_quantities(
    client, shelf
):
    manager = make_staff("manager", MANAGER)
    client.force_login(manager)
    low = Part.objects.low_stock()
    response = client.post(
        reverse("admin:inventory_part_changelist") + "?stock=low",
        {"action": "reorder_selected", "_selected_action": [part.pk for part in low]},
        follow=True,
    )

    orders = PurchaseOrder.objects.order_by("supplier__name")
    assert [(order.supplier.name, order.status, order.created_by) for order in orders] == [
        ("Main Street NAPA", Status.DRAFT, manager),
        ("WorldPac", Status.DRAFT, manager),
    ]
    assert sorted(orders[0].lines.values_list("part__sku", "quantity_ordered")) == [
        ("A-LOW", 10),
        ("B-OUT", 4),
    ]
    assert list(orders[1].lines.values_list("part__sku", "quantity_ordered")) == [("C-LOW", 6)]
    messages = [str(message) for message in response.context["messages"]]
    assert messages == [
        f"Created 2 draft purchase order(s): {orders[0].number} (Main Street NAPA), "
        f"{orders[1].number} (WorldPac).",
        "Left out 1 part(s) - F-ORPHAN: no usual supplier.",
    ]


def test_reordering_again_leaves_out_parts_already_on_order(shelf):
    first = services.reorder_parts(Part.objects.low_stock())
    again = services.reorder_parts(Part.objects.low_stock())
    assert len(first.orders) == 2
    assert again.orders == []
    napa_order = first.orders[0]
    assert (shelf["low_napa"], f"already on {napa_order.number}") in again.skipped


def test_a_technician_has_no_reorder_action(client, shelf):
    client.force_login(make_staff("tech", "Technician"))
    response = client.get(reverse("admin:inventory_part_changelist"))
    assert response.status_code == 200
    assert "reorder_selected" not in response.text
