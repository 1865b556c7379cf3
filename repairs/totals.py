"""How a repair order's bill adds up: one pure function, used everywhere a total is shown.

The admin, the printed estimate and invoice, and the invoice snapshot all call compute_totals()
with the counted lines and the shop's rates, so the same order always gives the same numbers.

The rules, in order (all money in Decimal, rounded half-up to the cent at each step):
1. Each line's amount: hours x rate, quantity x unit price.
2. The order's discount % comes off labor and off parts (and off the taxable part of parts).
3. Shop supplies: a % of discounted labor, capped; hazardous waste: a flat fee when the order has
   any line and the fee applies. Fees are not taxed.
4. Tax: labor tax rate on discounted labor, parts tax rate on discounted taxable parts.
5. Total = discounted labor + discounted parts + fees + taxes.
Internal orders (the business's own vehicles) carry cost only: no discount, fees or tax.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from core.money import ZERO, money

if TYPE_CHECKING:
    from accounts.models import ShopSettings


def percent_of(amount: Decimal | int | str, rate: Decimal | int | str) -> Decimal:
    return money(Decimal(amount) * Decimal(rate) / Decimal(100))


@dataclass(frozen=True)
class Rates:
    """The shop's rates that a bill depends on, as percents and amounts."""

    parts_tax_rate: Decimal
    labor_tax_rate: Decimal
    shop_supplies_rate: Decimal
    shop_supplies_cap: Decimal
    hazardous_waste_fee: Decimal

    @classmethod
    def from_settings(cls, shop: ShopSettings) -> Rates:
        return cls(
            parts_tax_rate=shop.parts_tax_rate,
            labor_tax_rate=shop.labor_tax_rate,
            shop_supplies_rate=shop.shop_supplies_rate,
            shop_supplies_cap=shop.shop_supplies_cap,
            hazardous_waste_fee=shop.hazardous_waste_fee,
        )

    def as_dict(self) -> dict[str, str]:
        return {name: str(value) for name, value in asdict(self).items()}


@dataclass(frozen=True)
class LaborItem:
    hours: Decimal
    rate: Decimal

    @property
    def amount(self) -> Decimal:
        return money(Decimal(self.hours) * Decimal(self.rate))


@dataclass(frozen=True)
class PartItem:
    quantity: int
    price: Decimal
    taxable: bool = True

    @property
    def amount(self) -> Decimal:
        return money(Decimal(self.quantity) * Decimal(self.price))


@dataclass(frozen=True)
class Totals:
    labor: Decimal
    parts: Decimal
    labor_discount: Decimal
    parts_discount: Decimal
    shop_supplies: Decimal
    hazardous_waste: Decimal
    labor_tax: Decimal
    parts_tax: Decimal
    total: Decimal

    @property
    def discount(self) -> Decimal:
        return self.labor_discount + self.parts_discount

    @property
    def fees(self) -> Decimal:
        return self.shop_supplies + self.hazardous_waste

    @property
    def tax(self) -> Decimal:
        return self.labor_tax + self.parts_tax

    def as_dict(self) -> dict[str, str]:
        values = asdict(self)
        values.update(discount=self.discount, fees=self.fees, tax=self.tax)
        return {name: str(value) for name, value in values.items()}


def compute_totals(
    labor: Iterable[LaborItem],
    parts: Iterable[PartItem],
    rates: Rates,
    *,
    discount_percent: Decimal | None = ZERO,
    hazardous_waste: bool = True,
    internal: bool = False,
) -> Totals:
    """Totals of an order from its counted labor items, part items and the shop's rates."""
    labor = list(labor)
    parts = list(parts)
    labor_total = sum((item.amount for item in labor), ZERO)
    parts_total = sum((item.amount for item in parts), ZERO)
    if internal:
        return Totals(
            labor=labor_total,
            parts=parts_total,
            labor_discount=ZERO,
            parts_discount=ZERO,
            shop_supplies=ZERO,
            hazardous_waste=ZERO,
            labor_tax=ZERO,
            parts_tax=ZERO,
            total=labor_total + parts_total,
        )

    taxable_parts = sum((item.amount for item in parts if item.taxable), ZERO)
    discount_percent = Decimal(discount_percent or 0)
    labor_discount = percent_of(labor_total, discount_percent)
    parts_discount = percent_of(parts_total, discount_percent)
    labor_net = labor_total - labor_discount
    parts_net = parts_total - parts_discount
    taxable_parts_net = taxable_parts - percent_of(taxable_parts, discount_percent)

    shop_supplies = min(
        percent_of(labor_net, rates.shop_supplies_rate), money(rates.shop_supplies_cap)
    )
    has_lines = bool(labor or parts)
    hazardous = money(rates.hazardous_waste_fee) if hazardous_waste and has_lines else ZERO
    labor_tax = percent_of(labor_net, rates.labor_tax_rate)
    parts_tax = percent_of(taxable_parts_net, rates.parts_tax_rate)
    total = labor_net + parts_net + shop_supplies + hazardous + labor_tax + parts_tax
    return Totals(
        labor=labor_total,
        parts=parts_total,
        labor_discount=labor_discount,
        parts_discount=parts_discount,
        shop_supplies=shop_supplies,
        hazardous_waste=hazardous,
        labor_tax=labor_tax,
        parts_tax=parts_tax,
        total=total,
    )
