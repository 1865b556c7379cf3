"""Parts stock: the ledger, receiving and average cost, adjustments, never below zero."""

import random
from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.urls import reverse

from accounts.roles import SERVICE_ADVISOR, TECHNICIAN
from inventory import services
from inventory.exceptions import InsufficientStock, InventoryError
from inventory.models import Part, StockMovement
from tests.helpers.barrier import answers, run_together
from tests.helpers.builders.inventory import make_part, make_staff

D = Decimal


@pytest.mark.django_db
def test_issuing_takes_stock_and_writes_a_ledger_line():
    part = make_part(on_hand=5)
    advisor = make_staff("advisor")
    movement = services.issue_part(part, 2, reference="repairs.partline:7", user=advisor)
    assert (movement.kind, movement.quantity, movement.reference, movement.user) == (
        "issue",
        -2,
        "repairs.partline:7",
        advisor,
    )
    assert movement.unit_cost == D("10.00")
    assert part.on_hand == 3
    assert Part.objects.get(pk=part.pk).on_hand == 3


@pytest.mark.django_db
def test_issuing_more_than_on_hand_is_refused_and_nothing_is_written():
    part = make_part("BRK-PAD-1", on_hand=1)
    with pytest.raises(InsufficientStock) as caught:
        services.issue_part(part, 2)
    assert caught.value.message == "Only 1 of BRK-PAD-1 in stock; cannot take 2."
    assert Part.objects.get(pk=part.pk).on_hand == 1
    assert not part.movements.filter(kind="issue").exists()


@pytest.mark.django_db
def test_the_database_refuses_negative_stock_even_without_the_services():
    part = make_part(on_hand=1)
    with pytest.raises(IntegrityError):
        Part.objects.filter(pk=part.pk).update(on_hand=-1)


@pytest.mark.django_db
def test_receiving_adds_stock_and_moves_the_average_cost():
    part = make_part(on_hand=10, unit_cost="10.00")
    services.receive_part(part, 10, D("14.00"), reference="inventory.purchasereceipt:1")
    assert (part.on_hand, part.unit_cost) == (20, D("12.00"))
    services.receive_part(part, 5, D("2.00"))
    assert (part.on_hand, part.unit_cost) == (25, D("10.00"))  # (20*12 + 5*2) / 25


@pytest.mark.django_db
def test_receiving_into_an_empty_bin_takes_the_new_cost():
    part = make_part(unit_cost="99.00")
    services.receive_part(part, 3, D("40.00"))
    assert (part.on_hand, part.unit_cost) == (3, D("40.00"))


@pytest.mark.django_db
def test_an_adjustment_needs_a_reason_and_keeps_who_made_it():
    part = make_part(on_hand=4)
    manager = make_staff("manager")
    with pytest.raises(InventoryError, match=r"An adjustment needs a reason\."):
        services.adjust_stock(part, -1, reason="  ")
    movement = services.adjust_stock(part, -1, reason="Count found 3", user=manager)
    assert (movement.kind, movement.reason, movement.user, part.on_hand) == (
        "adjustment",
        "Count found 3",
        manager,
        3,
    )


@pytest.mark.django_db
def test_an_adjustment_cannot_take_stock_below_zero():
    part = make_part(on_hand=2)
    with pytest.raises(InsufficientStock):
        services.adjust_stock(part, -3, reason="Count")
    assert Part.objects.get(pk=part.pk).on_hand == 2


@pytest.mark.django_db
def test_on_hand_always_equals_the_ledger_after_mixed_operations():
    rng = random.Random(20)
    parts = [make_part(f"MIX-{index}", on_hand=3) for index in range(3)]
    refused = 0
    for _ in range(60):
        part = rng.choice(parts)
        quantity = rng.randint(1, 4)
        operation = rng.choice(
            [
                "issue",
                "issue",
                "issue",
                "return",
                "receive",
                "adjust_up",
                "adjust_down",
                "adjust_down",
            ]
        )
        try:
            if operation == "issue":
                services.issue_part(part, quantity, reference="repairs.partline:1")
            elif operation == "return":
                services.return_part(part, quantity, reference="repairs.partline:1")
            elif operation == "receive":
                services.receive_part(part, quantity, D(rng.randint(500, 2000)) / 100)
            elif operation == "adjust_up":
                services.adjust_stock(part, quantity, reason="Found on the shelf")
            else:
                services.adjust_stock(part, -quantity, reason="Damaged")
        except InsufficientStock:
            refused += 1
    assert refused  # the sequence did hit the floor
    for part in Part.objects.filter(pk__in=[p.pk for p in parts]):
        assert part.on_hand >= 0
        assert services.ledger_balance(part) == part.on_hand


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_advisors_issuing_the_last_unit_at_once_get_one_success_and_one_clear_error():
    part = make_part("ALT-1", on_hand=1)

    def issue():
        services.issue_part(Part.objects.get(pk=part.pk), 1, reference="repairs.partline:1")
        return "issued"

    outcomes = answers(run_together(*[issue] * 2, catch=InventoryError))
    assert sorted(outcomes) == ["Only 0 of ALT-1 in stock; cannot take 1.", "issued"]
    part.refresh_from_db()
    assert part.on_hand == 0
    assert services.ledger_balance(part) == 0
    assert part.movements.filter(kind="issue").count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_many_concurrent_issues_never_take_more_than_the_shelf_holds():
    part = make_part("PLUG-1", on_hand=3)

    def issue():
        services.issue_part(Part.objects.get(pk=part.pk), 1)
        return "issued"

    outcomes = answers(run_together(*[issue] * 6, catch=InventoryError))
    assert outcomes.count("issued") == 3
    assert len(outcomes) == 6
    part.refresh_from_db()
    assert part.on_hand == 0
    assert services.ledger_balance(part) == 0


# -- adjusting stock from the admin -----------------------------------------------------------
@pytest.mark.django_db
def test_an_advisor_adjusts_stock_from_the_part_page_with_a_reason(client):
    part = make_part(on_hand=5)
    advisor = make_staff("advisor", SERVICE_ADVISOR)
    client.force_login(advisor)
    page = client.get(reverse("admin:inventory_part_change", args=[part.pk]))
    url = reverse("admin:inventory_part_adjust_stock", args=[part.pk])
    assert url in page.text

    response = client.post(url, {"quantity": "-2", "reason": "Cycle count"}, follow=True)
    assert "Stock of OIL-FILTER-1 adjusted by -2: 3 on hand now." in response.text
    movement = part.movements.get(kind="adjustment")
    assert (movement.quantity, movement.reason, movement.user) == (-2, "Cycle count", advisor)
    assert Part.objects.get(pk=part.pk).on_hand == 3


@pytest.mark.django_db
def test_an_adjustment_without_a_reason_is_refused_on_the_form_and_changes_nothing(client):
    part = make_part(on_hand=5)
    client.force_login(make_staff("advisor", SERVICE_ADVISOR))
    url = reverse("admin:inventory_part_adjust_stock", args=[part.pk])
    response = client.post(url, {"quantity": "-2", "reason": ""})
    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["An adjustment needs a reason."]}
    assert Part.objects.get(pk=part.pk).on_hand == 5
    assert not StockMovement.objects.filter(kind="adjustment").exists()


@pytest.mark.django_db
def test_an_adjustment_below_zero_is_refused_with_the_reason_shown(client):
    part = make_part("WIPER-22", on_hand=1)
    client.force_login(make_staff("advisor", SERVICE_ADVISOR))
    response = client.post(
        reverse("admin:inventory_part_adjust_stock", args=[part.pk]),
        {"quantity": "-5", "reason": "Count"},
    )
    assert "Only 1 of WIPER-22 in stock; cannot take 5." in response.text
    assert Part.objects.get(pk=part.pk).on_hand == 1


@pytest.mark.django_db
def test_the_adjust_action_opens_the_form_for_the_one_selected_part(client):
    part = make_part(on_hand=5)
    client.force_login(make_staff("advisor", SERVICE_ADVISOR))
    response = client.post(
        reverse("admin:inventory_part_changelist"),
        {"action": "adjust_selected", "_selected_action": [part.pk]},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:inventory_part_adjust_stock", args=[part.pk])


@pytest.mark.django_db
def test_a_technician_cannot_adjust_stock(client):
    part = make_part(on_hand=5)
    client.force_login(make_staff("tech", TECHNICIAN))
    response = client.post(
        reverse("admin:inventory_part_adjust_stock", args=[part.pk]),
        {"quantity": "-2", "reason": "Took one"},
    )
    assert response.status_code == 403
    assert Part.objects.get(pk=part.pk).on_hand == 5
