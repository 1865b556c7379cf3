"""Two salespeople signing at the same moment, on PostgreSQL with real threads and connections.

Each thread has its own database connection; a barrier releases them together so the two
transactions really collide on the stock unit's row lock.
"""

from decimal import Decimal

import pytest

from accounts import roles
from inventory.models import StockUnit
from sales import services
from sales.models import Deal
from tests.helpers.barrier import run_together
from tests.helpers.builders.lot import (
    make_customer,
    make_deal,
    make_unit,
    make_vehicle,
    pay_in_full,
)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_salespeople_signing_for_one_unit_at_the_same_moment_one_wins(make_user):
    pat = make_user("pat", roles.SALESPERSON)
    jordan = make_user("jordan", roles.SALESPERSON)
    unit = make_unit()
    deals = [
        make_deal(unit=unit, salesperson=pat, buyer=make_customer("Ann", "First")),
        make_deal(unit=unit, salesperson=jordan, buyer=make_customer("Ben", "Second")),
    ]

    outcomes = run_together(
        *[lambda d=deal: services.sign_deal(Deal.objects.get(pk=d.pk)) for deal in deals]
    )

    results = sorted(kind for kind, _ in outcomes)
    assert results == ["error", "ok"]
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, services.DealError)
    assert f"Stock unit {unit.stock_number} is already reserved by D-" in str(error)
    assert Deal.objects.filter(stock_unit=unit, status=Deal.Status.SIGNED).count() == 1
    assert Deal.objects.filter(stock_unit=unit, status=Deal.Status.DRAFT).count() == 1
    assert StockUnit.objects.get(pk=unit.pk).status == StockUnit.Status.RESERVED


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_one_trade_in_car_signed_on_two_deals_at_once_goes_to_one(make_user):
    pat = make_user("pat", roles.SALESPERSON)
    buyer = make_customer()
    trade_car = make_vehicle(owner=buyer)
    deals = [
        make_deal(
            salesperson=pat,
            buyer=buyer,
            trades=[
                {
                    "vehicle": trade_car,
                    "allowance": Decimal("2000"),
                    "actual_cash_value": Decimal("2000"),
                }
            ],
        )
        for _ in range(2)
    ]

    outcomes = run_together(
        *[lambda d=deal: services.sign_deal(Deal.objects.get(pk=d.pk)) for deal in deals]
    )

    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"]
    error = next(value for kind, value in outcomes if kind == "error")
    assert "is already traded in on D-" in str(error)
    assert Deal.objects.filter(pk__in=[d.pk for d in deals], status="signed").count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_delivering_and_canceling_one_deal_at_once_leave_a_consistent_unit(make_user):
    pat = make_user("pat", roles.SALESPERSON)
    deal = make_deal(salesperson=pat)
    services.sign_deal(deal)
    pay_in_full(deal)

    outcomes = run_together(
        lambda: services.deliver_deal(Deal.objects.get(pk=deal.pk)),
        lambda: services.cancel_deal(Deal.objects.get(pk=deal.pk), reason="Changed mind"),
    )

    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"]
    deal.refresh_from_db()
    unit = StockUnit.objects.get(pk=deal.stock_unit_id)
    expected = {
        Deal.Status.DELIVERED: StockUnit.Status.SOLD,
        Deal.Status.CANCELED: StockUnit.Status.AVAILABLE,
    }
    assert unit.status == expected[deal.status]
