"""Money amounts: two decimal places, rounded half up, everywhere in Carshop."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal | int | str) -> Decimal:
    """`value` (a Decimal, int or numeric string) as an amount in cents, rounded half up."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
