"""A deal's life: draft -> signed -> delivered, canceled from draft or signed, unwound after
delivery; what each step does to the stock unit, the trade-ins, the vehicles and commissions."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.models import ShopSettings
from inventory.lot_services import move_unit
from inventory.models import StockNumberSeries, StockUnit, StockUnitCost
from sales import services
from sales.models import Commission, CommissionPlan, Deal, Lead
from tests.helpers.builders.lot import (
    delivered_deal,
    make_customer,
    make_deal,
    make_unit,
    make_vehicle,
    pay_in_full,
)

D = Decimal
S = Deal.Status
pytestmark = pytest.mark.django_db


def deal_in(status, salesperson):
    deal = make_deal(salesperson=salesperson)
    if status == S.DRAFT:
        return deal
    if status == S.CANCELED:
        return services.cancel_deal(deal, reason="Buyer changed their mind")
    services.sign_deal(deal)
    if status == S.SIGNED:
        return deal
    services.deliver_deal(pay_in_full(deal))
    if status == S.DELIVERED:
        return deal
    return services.unwind_deal(deal, reason="Financing fell through")


STEPS = {
    "sign": lambda deal: services.sign_deal(deal),
    "deliver": lambda deal: services.deliver_deal(
        pay_in_full(deal) if deal.status in (S.DRAFT, S.SIGNED) else deal
    ),
    "cancel": lambda deal: services.cancel_deal(deal, reason="Test"),
    "unwind": lambda deal: services.unwind_deal(deal, reason="Test"),
}
ALLOWED = {
    ("sign", S.DRAFT): S.SIGNED,
    ("deliver", S.SIGNED): S.DELIVERED,
    ("cancel", S.DRAFT): S.CANCELED,
    ("cancel", S.SIGNED): S.CANCELED,
    ("unwind", S.DELIVERED): S.UNWOUND,
}


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("status", [s.value for s in S])
def test_each_step_is_allowed_only_from_its_statuses(salesperson, status, step):
    deal = deal_in(status, salesperson)
    unit_status = StockUnit.objects.get(pk=deal.stock_unit_id).status
    expected = ALLOWED.get((step, status))
    if expected:
        STEPS[step](deal)
        assert Deal.objects.get(pk=deal.pk).status == expected
    else:
        with pytest.raises(services.DealError, match=f"{deal.number} is "):
            STEPS[step](deal)
        assert Deal.objects.get(pk=deal.pk).status == status
        assert StockUnit.objects.get(pk=deal.stock_unit_id).status == unit_status


def test_signing_reserves_the_unit_and_freezes_the_figures(salesperson):
    deal = make_deal(salesperson=salesperson, sale_price=D("15000"))
    services.sign_deal(deal)
    assert deal.status == S.SIGNED and deal.signed_at is not None
    assert StockUnit.objects.get(pk=deal.stock_unit_id).status == StockUnit.Status.RESERVED
    # 15,000 x 6.25 % = 937.50; + 199 + 85 = 16,221.50
    assert (deal.sales_tax, deal.total_price) == (D("937.50"), D("16221.50"))


def test_deal_keeps_the_tax_rules_it_was_written_up_with(salesperson):
    deal = make_deal(salesperson=salesperson, sale_price=D("10000"))
    shop = ShopSettings.current()
    shop.sales_tax_rate = D("9.000")
    shop.save()
    services.sign_deal(deal)
    assert deal.sales_tax == D("625.00")  # 10,000 x 6.25 %, not 9 %


def test_a_second_deal_cannot_sign_for_a_reserved_unit(salesperson, make_user):
    other = make_user("sales2", "Salesperson")
    unit = make_unit()
    first = make_deal(unit=unit, salesperson=salesperson)
    second = make_deal(unit=unit, salesperson=other, buyer=make_customer("Bo", "Other"))
    services.sign_deal(first)
    with pytest.raises(
        services.DealError, match=rf"{unit.stock_number} is already reserved by {first.number}"
    ):
        services.sign_deal(second)
    second.refresh_from_db()
    assert second.status == S.DRAFT


def test_signing_needs_an_available_unit(salesperson):
    unit = make_unit(status=StockUnit.Status.RECONDITIONING)
    deal = make_deal(unit=unit, salesperson=salesperson)
    with pytest.raises(services.DealError, match="in reconditioning; make it available"):
        services.sign_deal(deal)


def test_database_refuses_two_live_deals_for_one_unit(salesperson):
    unit = make_unit()
    first = make_deal(unit=unit, salesperson=salesperson)
    second = make_deal(unit=unit, salesperson=salesperson, buyer=make_customer("Bo", "Other"))
    services.sign_deal(first)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.filter(pk=second.pk).update(
            status=S.SIGNED, signed_at=first.signed_at, total_price=D("1")
        )


def test_a_sold_unit_cannot_be_written_up_again(salesperson):
    deal = delivered_deal(salesperson=salesperson)
    with pytest.raises(services.DealError, match="is sold; it is not for sale"):
        make_deal(unit=deal.stock_unit, salesperson=salesperson)


def test_delivery_waits_for_the_money_and_changes_nothing_until_then(salesperson):
    deal = make_deal(salesperson=salesperson, sale_price=D("15000"))
    services.sign_deal(deal)
    services.record_payment(deal, amount=D("16000"), method="check")
    with pytest.raises(services.DealError, match=r"still has 221\.50 to collect"):
        services.deliver_deal(deal)
    deal.refresh_from_db()
    assert deal.status == S.SIGNED
    assert StockUnit.objects.get(pk=deal.stock_unit_id).status == StockUnit.Status.RESERVED
    assert not Commission.objects.exists()


def test_delivery_sells_the_unit_to_the_buyer_and_freezes_the_gross(salesperson):
    unit = make_unit(
        cost="9000",
        other_costs=[(StockUnitCost.Kind.TRANSPORT, "400"), (StockUnitCost.Kind.DETAILING, "600")],
    )
    buyer = make_customer()
    deal = delivered_deal(unit=unit, buyer=buyer, salesperson=salesperson, sale_price=D("12000"))
    unit.refresh_from_db()
    assert unit.status == StockUnit.Status.SOLD and unit.disposed_on is not None
    assert unit.vehicle.owner == buyer
    # Cost 9,000 + 400 + 600 = 10,000; front gross 12,000 - 10,000 = 2,000.
    assert (deal.unit_cost, deal.front_gross, deal.back_gross) == (
        D("10000.00"),
        D("2000.00"),
        D("0.00"),
    )


def test_trade_in_becomes_a_stock_unit_at_its_actual_cash_value_owned_by_the_business(salesperson):
    buyer = make_customer()
    trade_car = make_vehicle(owner=buyer, make="Ford", model="Focus")
    deal = delivered_deal(
        buyer=buyer,
        salesperson=salesperson,
        sale_price=D("20000"),
        trades=[
            {
                "vehicle": trade_car,
                "allowance": D("5000"),
                "payoff": D("2000"),
                "actual_cash_value": D("4500"),
            }
        ],
    )
    trade = deal.trade_ins.get()
    new_unit = trade.stock_unit
    assert new_unit.vehicle == trade_car
    assert new_unit.acquisition_cost == D("4500.00")
    assert new_unit.source == StockUnit.Source.TRADE_IN
    assert new_unit.status == StockUnit.Status.ACQUIRED
    # Numbered by the shop's series, like any unit entered without a number.
    series = StockNumberSeries.objects.get()
    assert new_unit.stock_number == series.format(series.next_number - 1)
    assert new_unit.title_status == StockUnit.TitleStatus.MISSING  # the lender holds it
    trade_car.refresh_from_db()
    assert trade_car.owner is None
    assert trade.previous_owner == buyer


def test_a_trade_in_owned_by_someone_else_is_refused(salesperson):
    stranger = make_customer("Sam", "Stranger")
    deal = make_deal(
        salesperson=salesperson,
        trades=[
            {
                "vehicle": make_vehicle(owner=stranger),
                "allowance": D("1000"),
                "actual_cash_value": D("1000"),
            }
        ],
    )
    with pytest.raises(services.DealError, match="belongs to Stranger, Sam"):
        services.sign_deal(deal)


def test_the_car_being_sold_cannot_be_its_own_trade_in(salesperson):
    unit = make_unit()
    deal = make_deal(
        unit=unit,
        salesperson=salesperson,
        trades=[{"vehicle": unit.vehicle, "allowance": D("1000"), "actual_cash_value": D("1000")}],
    )
    with pytest.raises(services.DealError, match="cannot be traded in on its own deal"):
        services.sign_deal(deal)


def test_a_financed_deal_needs_its_terms_and_something_to_finance(salesperson):
    deal = make_deal(salesperson=salesperson, lender="Credit Union", apr=D("5.9"))
    with pytest.raises(services.DealError, match="needs the APR and the term"):
        services.sign_deal(deal)
    Deal.objects.filter(pk=deal.pk).update(term_months=60, down_payment=D("50000"))
    deal.refresh_from_db()
    with pytest.raises(services.DealError, match="Nothing is left to finance"):
        services.sign_deal(deal)
    assert Deal.objects.get(pk=deal.pk).status == S.DRAFT


def test_financed_deal_stores_amount_financed_and_payment(salesperson):
    # 20,000 + 284 + 1,250 tax = 21,534; down 1,534 -> 20,000 financed at 6 % for 60: 386.66.
    deal = make_deal(
        salesperson=salesperson,
        sale_price=D("20000"),
        lender="Credit Union",
        apr=D("6"),
        term_months=60,
        down_payment=D("1534"),
    )
    services.sign_deal(deal)
    assert (deal.amount_financed, deal.monthly_payment) == (D("20000.00"), D("386.66"))
    services.record_payment(deal, amount=D("1534"), method="card")
    services.deliver_deal(deal)  # only the down payment is collected from the buyer
    assert deal.status == S.DELIVERED


def test_canceling_a_signed_deal_puts_the_unit_back_on_sale(salesperson):
    deal = make_deal(salesperson=salesperson)
    services.sign_deal(deal)
    services.cancel_deal(deal, reason="Buyer found another car")
    assert deal.status == S.CANCELED and deal.close_reason == "Buyer found another car"
    assert StockUnit.objects.get(pk=deal.stock_unit_id).status == StockUnit.Status.AVAILABLE
    # And another deal can now sign for it.
    other = make_deal(unit=deal.stock_unit, salesperson=salesperson)
    services.sign_deal(other)
    assert other.status == S.SIGNED


@pytest.mark.parametrize("reason", ["", "   "])
def test_canceling_and_unwinding_need_a_reason(salesperson, reason):
    deal = make_deal(salesperson=salesperson)
    with pytest.raises(services.DealError, match="Say why the deal is canceled"):
        services.cancel_deal(deal, reason=reason)
    assert Deal.objects.get(pk=deal.pk).status == S.DRAFT
    delivered = delivered_deal(salesperson=salesperson)
    with pytest.raises(services.DealError, match="Say why the deal is unwound"):
        services.unwind_deal(delivered, reason=reason)
    assert Deal.objects.get(pk=delivered.pk).status == S.DELIVERED


def test_unwinding_restores_stock_and_trade_ins(salesperson):
    CommissionPlan.objects.create(name="House", rate=D("20"), minimum=D("250"))
    buyer = make_customer()
    trade_car = make_vehicle(owner=buyer, make="Ford", model="Focus")
    deal = delivered_deal(
        buyer=buyer,
        salesperson=salesperson,
        sale_price=D("20000"),
        trades=[
            {
                "vehicle": trade_car,
                "allowance": D("5000"),
                "payoff": D("0"),
                "actual_cash_value": D("4500"),
            }
        ],
    )
    trade_unit = deal.trade_ins.get().stock_unit

    services.unwind_deal(deal, reason="Buyer's financing was not approved")

    assert deal.status == S.UNWOUND and deal.closed_at is not None
    unit = StockUnit.objects.select_related("vehicle").get(pk=deal.stock_unit_id)
    assert unit.status == StockUnit.Status.AVAILABLE and unit.disposed_on is None
    assert unit.vehicle.owner is None  # the business owns the car again
    trade_unit.refresh_from_db()
    assert trade_unit.status == StockUnit.Status.RETURNED
    trade_car.refresh_from_db()
    assert trade_car.owner == buyer
    earned, chargeback = (
        Commission.objects.get(deal=deal, kind=k) for k in ("earned", "chargeback")
    )
    assert chargeback.amount == -earned.amount
    # The unit can be sold again; the returned trade-in car can be traded in again.
    again = delivered_deal(
        unit=unit,
        buyer=buyer,
        salesperson=salesperson,
        trades=[{"vehicle": trade_car, "allowance": D("4000"), "actual_cash_value": D("4000")}],
    )
    assert again.status == S.DELIVERED
    assert StockUnit.objects.filter(vehicle=trade_car).count() == 2


def test_unwinding_waits_while_the_trade_in_is_reserved_by_another_deal(salesperson):
    buyer = make_customer()
    deal = delivered_deal(
        buyer=buyer,
        salesperson=salesperson,
        trades=[{"allowance": D("3000"), "actual_cash_value": D("3000")}],
    )
    trade_unit = deal.trade_ins.get().stock_unit
    move_unit(trade_unit, StockUnit.Status.AVAILABLE)
    resale = make_deal(unit=trade_unit, salesperson=salesperson, buyer=make_customer("Cy", "Next"))
    services.sign_deal(resale)
    with pytest.raises(services.DealError, match=f"reserved by {resale.number}; cancel that"):
        services.unwind_deal(deal, reason="Customer returned the car")
    assert Deal.objects.get(pk=deal.pk).status == S.DELIVERED
    assert StockUnit.objects.get(pk=deal.stock_unit_id).status == StockUnit.Status.SOLD


def test_commission_follows_the_salespersons_own_plan_else_the_house_plan(salesperson, make_user):
    CommissionPlan.objects.create(name="House", rate=D("20"), minimum=D("250"))
    CommissionPlan.objects.create(
        name="Senior",
        salesperson=salesperson,
        rate=D("30"),
        minimum=D("300"),
        basis=CommissionPlan.Basis.FRONT,
    )
    junior = make_user("junior", "Salesperson")
    # Unit cost 10,000; price 13,000: front gross 3,000.
    mine = delivered_deal(
        unit=make_unit(cost="10000"), salesperson=salesperson, sale_price=D("13000")
    )
    theirs = delivered_deal(unit=make_unit(cost="10000"), salesperson=junior, sale_price=D("10500"))
    senior = Commission.objects.get(deal=mine)
    assert (senior.plan_name, senior.gross, senior.amount) == ("Senior", D("3000.00"), D("900.00"))
    house = Commission.objects.get(deal=theirs)  # 20 % of 500 = 100: the minimum, 250
    assert (house.plan_name, house.gross, house.amount) == ("House", D("500.00"), D("250.00"))


def test_without_any_plan_no_commission_is_recorded(salesperson):
    delivered_deal(salesperson=salesperson)
    assert not Commission.objects.exists()


def test_delivering_a_deal_wins_its_lead(salesperson):
    buyer = make_customer()
    lead = Lead.objects.create(customer=buyer, source=Lead.Source.WEBSITE, salesperson=salesperson)
    delivered_deal(buyer=buyer, salesperson=salesperson, lead=lead)
    lead.refresh_from_db()
    assert lead.status == Lead.Status.WON


def test_payments_are_taken_before_delivery_only(salesperson):
    deal = delivered_deal(salesperson=salesperson)
    with pytest.raises(services.DealError, match="payments are taken before delivery"):
        services.record_payment(deal, amount=D("10"), method="cash")
    with pytest.raises(services.DealError, match="more than zero"):
        services.record_payment(make_deal(salesperson=salesperson), amount=D("0"), method="cash")
