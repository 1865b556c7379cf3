"""The arithmetic of a deal, on plain Decimals: sales tax, totals, amortization, gross, commission.

No database here; sales.services feeds these from a deal's rows. Every amount is rounded to the
cent, half up, at the point a person would see it on the buyer's order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from core.money import ZERO, money

# What the functions take for an amount: a Decimal, or an int or string Decimal() reads exactly.
Amount = Decimal | int | str

HUNDRED = Decimal("100")


def sales_tax(
    *,
    sale_price: Amount,
    taxable_addons: Amount,
    trade_allowance: Amount,
    rate_percent: Amount,
    trade_reduces: bool,
) -> Decimal:
    """Tax on the vehicle and taxable add-ons; where the law says so, the trade-in allowance is
    deducted from the taxable amount first (never below zero)."""
    taxable = Decimal(sale_price) + Decimal(taxable_addons)
    if trade_reduces:
        taxable -= Decimal(trade_allowance)
    taxable = max(taxable, ZERO)
    return money(taxable * Decimal(rate_percent) / HUNDRED)


def monthly_payment(principal: Amount, apr_percent: Amount, term_months: int | None) -> Decimal:
    """The level monthly payment of a loan: P = A * r / (1 - (1 + r) ** -n), r = APR / 12.

    With APR 0 it is simply the amount over the months."""
    principal = Decimal(principal)
    if term_months is None or term_months <= 0:
        raise ValueError("a loan needs a term of at least one month")
    if principal <= 0:
        return ZERO
    rate = Decimal(apr_percent) / HUNDRED / 12
    if rate == 0:
        return money(principal / term_months)
    growth = (1 + rate) ** term_months
    return money(principal * rate * growth / (growth - 1))


@dataclass(frozen=True)
class TradeFigures:
    allowance: Decimal
    payoff: Decimal
    actual_cash_value: Decimal


@dataclass(frozen=True)
class AddonFigures:
    price: Decimal
    cost: Decimal
    taxable: bool


@dataclass(frozen=True)
class DealFigures:
    """Everything printed on a buyer's order, plus the gross."""

    sale_price: Decimal
    addons: Decimal
    documentation_fee: Decimal
    registration_fee: Decimal
    fees: Decimal
    taxable_amount: Decimal
    sales_tax: Decimal
    total_price: Decimal
    trade_allowance: Decimal
    trade_payoff: Decimal
    net_trade: Decimal  # allowance - payoff; negative is negative equity, which adds to the debt
    down_payment: Decimal
    balance: Decimal  # what is left after trade and down payment: financed or paid in cash
    amount_financed: Decimal
    monthly_payment: Decimal | None
    cash_due: Decimal  # what the buyer pays the business in money (down payment, or everything)
    unit_cost: Decimal
    trade_over_allowance: Decimal
    front_gross: Decimal
    addon_profit: Decimal
    finance_reserve: Decimal
    back_gross: Decimal

    @property
    def total_gross(self) -> Decimal:
        return self.front_gross + self.back_gross

    @property
    def negative_equity(self) -> Decimal:
        return max(-self.net_trade, ZERO)


def deal_figures(
    *,
    sale_price: Amount,
    documentation_fee: Amount,
    registration_fee: Amount,
    tax_rate: Amount,
    trade_reduces_tax: bool,
    trades: Iterable[TradeFigures] = (),
    addons: Iterable[AddonFigures] = (),
    down_payment: Amount = ZERO,
    financed: bool = False,
    apr: Amount | None = None,
    term_months: int | None = None,
    finance_reserve: Amount = ZERO,
    unit_cost: Amount = ZERO,
) -> DealFigures:
    """The whole deal from its inputs.

    Front gross is the price less what the unit cost the business, less any trade over-allowance
    (allowing more for a trade than its actual cash value gives part of the price away). Back
    gross is the profit on add-ons plus the lender's finance reserve. Fees are pass-through.
    """
    sale_price = Decimal(sale_price)
    addon_total = sum((Decimal(a.price) for a in addons), ZERO)
    taxable_addons = sum((Decimal(a.price) for a in addons if a.taxable), ZERO)
    allowance = sum((Decimal(t.allowance) for t in trades), ZERO)
    payoff = sum((Decimal(t.payoff) for t in trades), ZERO)
    acv = sum((Decimal(t.actual_cash_value) for t in trades), ZERO)
    documentation_fee, registration_fee = Decimal(documentation_fee), Decimal(registration_fee)
    fees = documentation_fee + registration_fee

    taxable = max(sale_price + taxable_addons - (allowance if trade_reduces_tax else 0), ZERO)
    tax = sales_tax(
        sale_price=sale_price,
        taxable_addons=taxable_addons,
        trade_allowance=allowance,
        rate_percent=tax_rate,
        trade_reduces=trade_reduces_tax,
    )
    total = sale_price + addon_total + fees + tax
    net_trade = allowance - payoff
    down_payment = Decimal(down_payment)
    balance = total - net_trade - down_payment
    if financed:
        amount_financed = max(balance, ZERO)
        payment = (
            monthly_payment(amount_financed, apr, term_months)
            if apr is not None and term_months
            else None
        )
        cash_due = down_payment
    else:
        amount_financed, payment = ZERO, None
        cash_due = max(total - net_trade, ZERO)

    unit_cost = Decimal(unit_cost)
    over_allowance = allowance - acv
    front = sale_price - unit_cost - over_allowance
    addon_profit = sum((Decimal(a.price) - Decimal(a.cost) for a in addons), ZERO)
    reserve = Decimal(finance_reserve) if financed else ZERO
    return DealFigures(
        sale_price=money(sale_price),
        addons=money(addon_total),
        documentation_fee=money(documentation_fee),
        registration_fee=money(registration_fee),
        fees=money(fees),
        taxable_amount=money(taxable),
        sales_tax=tax,
        total_price=money(total),
        trade_allowance=money(allowance),
        trade_payoff=money(payoff),
        net_trade=money(net_trade),
        down_payment=money(down_payment),
        balance=money(balance),
        amount_financed=money(amount_financed),
        monthly_payment=payment,
        cash_due=money(cash_due),
        unit_cost=money(unit_cost),
        trade_over_allowance=money(over_allowance),
        front_gross=money(front),
        addon_profit=money(addon_profit),
        finance_reserve=money(reserve),
        back_gross=money(addon_profit + reserve),
    )


def commission(gross: Amount, rate_percent: Amount, minimum: Amount) -> Decimal:
    """A percentage of the gross, never less than the minimum (also when the gross is a loss)."""
    earned = money(max(Decimal(gross), ZERO) * Decimal(rate_percent) / HUNDRED)
    return max(earned, money(minimum))
