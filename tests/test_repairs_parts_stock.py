"""Parts leave stock when work starts (or when added to approved work) and come back when a
line is removed, a job declined or the order canceled; the ledger names the part line."""

import pytest

from inventory.models import StockMovement
from inventory.services import ledger_balance
from repairs import services
from repairs.choices import Authorization, AuthorizationMethod
from repairs.exceptions import RepairError
from tests.helpers.builders.repairs import add_job_with_lines, make_order, make_part, take_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def part():
    return make_part("BP-200", on_hand=10)


def _on_hand(part):
    part.refresh_from_db()
    assert part.on_hand == ledger_balance(part)
    return part.on_hand


def test_parts_of_an_estimate_stay_in_stock_until_work_starts(part):
    order = make_order()
    job = add_job_with_lines(order, parts=[(part, 4, None)])
    services.approve_repair_order(order)
    assert _on_hand(part) == 10
    services.start_work(order)
    assert _on_hand(part) == 6
    line = job.part_lines.get()
    assert line.issued_quantity == 4
    movement = StockMovement.objects.get(reference=f"repairs.partline:{line.pk}")
    assert (movement.kind, movement.quantity) == ("issue", -4)


def test_a_part_added_to_an_order_in_progress_is_issued_at_once(part):
    order = make_order()
    job = add_job_with_lines(order)
    take_to(order, "in_progress")
    services.add_part_line(job, part, 3)
    assert _on_hand(part) == 7


def test_a_part_added_to_an_approved_order_is_issued_at_once(part):
    order = make_order()
    job = add_job_with_lines(order)
    take_to(order, "approved")
    services.add_part_line(job, part, 2)
    assert _on_hand(part) == 8


def test_parts_of_a_job_waiting_for_approval_are_issued_when_it_is_approved(part):
    order = make_order()
    add_job_with_lines(order)
    take_to(order, "in_progress")
    extra = add_job_with_lines(order, title="Wipers", parts=[(part, 2, None)], approve=False)
    assert _on_hand(part) == 10
    services.authorize_job(
        extra,
        Authorization.APPROVED,
        method=AuthorizationMethod.PHONE,
        authorized_by="Maria Garcia",
    )
    assert _on_hand(part) == 8


def test_removing_an_issued_line_returns_it_to_stock(part):
    order = make_order()
    job = add_job_with_lines(order, parts=[(part, 4, None)])
    take_to(order, "in_progress")
    line = job.part_lines.get()
    services.remove_part_line(line)
    assert _on_hand(part) == 10
    assert not job.part_lines.exists()
    returned = StockMovement.objects.get(reference=f"repairs.partline:{line.pk}", kind="return")
    assert returned.quantity == 4


def test_canceling_an_approved_order_returns_its_issued_parts(part):
    order = make_order()
    job = add_job_with_lines(order)
    take_to(order, "approved")
    services.add_part_line(job, part, 5)
    assert _on_hand(part) == 5
    services.cancel_repair_order(order)
    assert _on_hand(part) == 10
    assert job.part_lines.get().issued_quantity == 0


def test_declining_a_job_returns_its_parts(part):
    order = make_order()
    add_job_with_lines(order)
    take_to(order, "approved")
    job = add_job_with_lines(order, title="Rotors", parts=[(part, 2, None)])
    assert _on_hand(part) == 8
    services.authorize_job(
        job, Authorization.DECLINED, method=AuthorizationMethod.PHONE, authorized_by="Maria Garcia"
    )
    assert _on_hand(part) == 10


def test_changing_the_quantity_of_an_issued_line_moves_only_the_difference(part):
    order = make_order()
    job = add_job_with_lines(order, parts=[(part, 2, None)])
    take_to(order, "in_progress")
    line = job.part_lines.get()
    services.change_part_line(line, quantity=5)
    assert _on_hand(part) == 5
    services.change_part_line(line, quantity=1)
    assert _on_hand(part) == 9
    line.refresh_from_db()
    assert (line.quantity, line.issued_quantity) == (1, 1)


def test_work_does_not_start_without_enough_stock_and_nothing_is_issued():
    plenty = make_part("OK-1", on_hand=10)
    scarce = make_part("SC-1", on_hand=1)
    order = make_order()
    add_job_with_lines(order, parts=[(plenty, 2, None), (scarce, 3, None)])
    take_to(order, "approved")
    with pytest.raises(RepairError, match="SC-1"):
        services.start_work(order)
    order.refresh_from_db()
    assert order.status == "approved"
    assert (_on_hand(plenty), _on_hand(scarce)) == (10, 1)


def test_lines_of_a_completed_order_cannot_change(part):
    order = make_order()
    job = add_job_with_lines(order, parts=[(part, 1, None)])
    take_to(order, "completed")
    with pytest.raises(RepairError, match="can no longer be changed"):
        services.remove_part_line(job.part_lines.get())
    assert _on_hand(part) == 9
