"""Selling prices of parts: the override when set, else cost marked up by the matrix."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")

# Fallback matrix (upper bound of the cost band, multiplier) used until managers define their own.
DEFAULT_MATRIX = (
    (Decimal("10"), Decimal("2.50")),
    (Decimal("50"), Decimal("1.90")),
    (Decimal("200"), Decimal("1.60")),
    (None, Decimal("1.40")),
)


def markup_price(unit_cost, matrix=DEFAULT_MATRIX):
    for upper, multiplier in matrix:
        if upper is None or unit_cost <= upper:
            return (unit_cost * multiplier).quantize(CENT, rounding=ROUND_HALF_UP)
    raise ValueError("the markup matrix has no open-ended last band")


def selling_price(part):
    if part.price_override is not None:
        return part.price_override
    return markup_price(part.unit_cost)
