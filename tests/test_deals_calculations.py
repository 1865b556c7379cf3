"""A deal's arithmetic on worked examples, each figure computed by hand in the comments.

Shop settings used: sales tax 6.25 %, documentation fee 199.00, registration and title 85.00.
"""

from decimal import Decimal

import pytest

from sales.calculations import (
    AddonFigures,
    TradeFigures,
    commission,
    deal_figures,
    monthly_payment,
    sales_tax,
)

D = Decimal
SHOP = {"documentation_fee": D("199.00"), "registration_fee": D("85.00"), "tax_rate": D("6.250")}


def test_cash_deal_without_trade_in():
    # 15,000 x 6.25 % = 937.50 tax; 15,000 + 199 + 85 + 937.50 = 16,221.50 due in cash.
    f = deal_figures(sale_price=D("15000"), trade_reduces_tax=True, **SHOP)
    assert f.sales_tax == D("937.50")
    assert f.total_price == D("16221.50")
    assert f.cash_due == D("16221.50")
    assert f.amount_financed == D("0.00")
    assert f.monthly_payment is None


def test_trade_in_allowance_is_deducted_from_the_taxable_amount_where_the_setting_says_so():
    trade = [TradeFigures(D("5000"), D("2000"), D("4500"))]
    # Deducted: (20,000 - 5,000) x 6.25 % = 937.50. Not deducted: 20,000 x 6.25 % = 1,250.00.
    deducted = deal_figures(sale_price=D("20000"), trade_reduces_tax=True, trades=trade, **SHOP)
    full = deal_figures(sale_price=D("20000"), trade_reduces_tax=False, trades=trade, **SHOP)
    assert (deducted.taxable_amount, deducted.sales_tax) == (D("15000.00"), D("937.50"))
    assert (full.taxable_amount, full.sales_tax) == (D("20000.00"), D("1250.00"))


def test_taxable_amount_never_goes_below_zero():
    # Allowance 9,000 on a 6,000 car: nothing left to tax.
    assert sales_tax(
        sale_price=D("6000"),
        taxable_addons=0,
        trade_allowance=D("9000"),
        rate_percent=D("6.25"),
        trade_reduces=True,
    ) == D("0.00")


def test_taxable_add_ons_are_taxed_and_others_are_not():
    # Accessory 400 taxable, service contract 1,500 not: (10,000 + 400) x 6.25 % = 650.00.
    addons = [AddonFigures(D("400"), D("150"), True), AddonFigures(D("1500"), D("600"), False)]
    f = deal_figures(sale_price=D("10000"), trade_reduces_tax=True, addons=addons, **SHOP)
    assert f.sales_tax == D("650.00")
    # 10,000 + 1,900 + 284 + 650 = 12,834.00
    assert f.total_price == D("12834.00")


def test_financed_deal_with_trade_in_service_contract_and_reserve():
    # Price 20,000; service contract 1,500 (cost 600); trade allowance 5,000, payoff 2,000,
    # actual cash value 4,500; down 1,000; 6 % APR over 60 months; reserve 300; unit cost 15,500.
    f = deal_figures(
        sale_price=D("20000"),
        trade_reduces_tax=True,
        **SHOP,
        trades=[TradeFigures(D("5000"), D("2000"), D("4500"))],
        addons=[AddonFigures(D("1500"), D("600"), False)],
        down_payment=D("1000"),
        financed=True,
        apr=D("6"),
        term_months=60,
        finance_reserve=D("300"),
        unit_cost=D("15500"),
    )
    assert f.sales_tax == D("937.50")  # (20,000 - 5,000) x 6.25 %
    assert f.total_price == D("22721.50")  # 20,000 + 1,500 + 284 + 937.50
    assert f.net_trade == D("3000.00")  # 5,000 - 2,000
    assert f.amount_financed == D("18721.50")  # 22,721.50 - 3,000 - 1,000
    # r = 0.06 / 12 = 0.005; 18,721.50 x 0.005 / (1 - 1.005^-60) = 361.939... -> 361.94
    assert f.monthly_payment == D("361.94")
    assert f.cash_due == D("1000.00")  # the down payment
    assert f.trade_over_allowance == D("500.00")  # 5,000 - 4,500
    assert f.front_gross == D("4000.00")  # 20,000 - 15,500 - 500
    assert f.back_gross == D("1200.00")  # (1,500 - 600) + 300
    assert f.total_gross == D("5200.00")


def test_trade_in_with_negative_equity_is_added_to_the_amount_financed():
    # Price 12,000; trade allowance 3,000 but 5,500 still owed: 2,500 negative equity.
    # Tax without trade deduction: 12,000 x 6.25 % = 750.00; total 12,000 + 284 + 750 = 13,034.
    # Financed: 13,034 - (3,000 - 5,500) - 500 down = 15,034.00; APR 0 over 48 months:
    # 15,034 / 48 = 313.2083 -> 313.21.
    f = deal_figures(
        sale_price=D("12000"),
        trade_reduces_tax=False,
        **SHOP,
        trades=[TradeFigures(D("3000"), D("5500"), D("2800"))],
        addons=[AddonFigures(D("800"), D("300"), False)],
        down_payment=D("500"),
        financed=True,
        apr=D("0"),
        term_months=48,
        unit_cost=D("11000"),
    )
    assert f.sales_tax == D("750.00")
    assert f.total_price == D("13834.00")  # 12,000 + 800 GAP + 284 + 750
    assert f.net_trade == D("-2500.00")
    assert f.negative_equity == D("2500.00")
    assert f.amount_financed == D("15834.00")  # 13,834 + 2,500 - 500
    assert f.monthly_payment == D("329.88")  # 15,834 / 48 = 329.875 -> 329.88
    assert f.front_gross == D("800.00")  # 12,000 - 11,000 - (3,000 - 2,800)
    assert f.back_gross == D("500.00")  # 800 - 300, no reserve


def test_cash_deal_collects_price_less_trade_equity():
    # 10,000 + 284 + (10,000 - 4,000) x 6.25 % = 375 -> 10,659; equity 4,000 - 1,000 = 3,000;
    # the buyer pays 7,659.00.
    f = deal_figures(
        sale_price=D("10000"),
        trade_reduces_tax=True,
        **SHOP,
        trades=[TradeFigures(D("4000"), D("1000"), D("4000"))],
    )
    assert f.total_price == D("10659.00")
    assert f.cash_due == D("7659.00")


@pytest.mark.parametrize(
    ("principal", "apr", "months", "payment"),
    [
        # The textbook examples: 20,000 at 6 % for 60 months; 10,000 at 4.5 % for 36 months.
        (D("20000"), D("6"), 60, D("386.66")),
        (D("10000"), D("4.5"), 36, D("297.47")),
        # APR 0: the amount over the months (1,000 / 3 = 333.33).
        (D("1000"), D("0"), 3, D("333.33")),
        (D("12000"), D("0"), 12, D("1000.00")),
        # One month: principal plus one month's interest, 1,000 x (1 + 0.12 / 12) = 1,010.00.
        (D("1000"), D("12"), 1, D("1010.00")),
    ],
)
def test_monthly_payment_follows_the_amortization_formula(principal, apr, months, payment):
    assert monthly_payment(principal, apr, months) == payment


def test_monthly_payment_is_decimal_and_refuses_a_loan_without_a_term():
    assert isinstance(monthly_payment(D("5000"), D("7.9"), 24), Decimal)
    with pytest.raises(ValueError, match="term"):
        monthly_payment(D("5000"), D("7.9"), 0)


def test_trade_under_allowance_adds_to_front_gross():
    # Allowed 3,000 for a car worth 3,500: the 500 is the business's gain.
    # 10,000 - 8,000 - (3,000 - 3,500) = 2,500.
    f = deal_figures(
        sale_price=D("10000"),
        trade_reduces_tax=True,
        **SHOP,
        trades=[TradeFigures(D("3000"), D("0"), D("3500"))],
        unit_cost=D("8000"),
    )
    assert f.front_gross == D("2500.00")


@pytest.mark.parametrize(
    ("gross", "rate", "minimum", "expected"),
    [
        (D("5200"), D("20"), D("250"), D("1040.00")),  # 20 % of 5,200
        (D("800"), D("20"), D("250"), D("250.00")),  # 20 % is 160: the minimum
        (D("-1500"), D("25"), D("200"), D("200.00")),  # a losing deal still pays the minimum
        (D("1300"), D("25"), D("0"), D("325.00")),
    ],
)
def test_commission_is_a_percentage_of_gross_with_a_minimum(gross, rate, minimum, expected):
    assert commission(gross, rate, minimum) == expected
