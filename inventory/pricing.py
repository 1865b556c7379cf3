"""Selling prices of parts: the part's own override, or its cost times the markup matrix.

The matrix is a list of cost bands (upper bound, multiplier), cheapest first: a part whose unit
cost is at most a band's upper bound sells at cost x that band's multiplier; a cost above the last
band uses the last multiplier. A manager edits the bands as MarkupRule rows; while there are none,
DEFAULT_MATRIX applies.

Pages that price many parts wrap their work in `matrix_snapshot()`, so the rules are read once and
not once per part.
"""

import contextlib
import contextvars
from decimal import Decimal

from django.apps import apps

from core.money import money

DEFAULT_MATRIX = (
    (Decimal("5.00"), Decimal("2.500")),
    (Decimal("10.00"), Decimal("2.250")),
    (Decimal("25.00"), Decimal("2.000")),
    (Decimal("50.00"), Decimal("1.800")),
    (Decimal("100.00"), Decimal("1.650")),
    (Decimal("250.00"), Decimal("1.500")),
    (Decimal("500.00"), Decimal("1.400")),
    (Decimal("1000.00"), Decimal("1.300")),
)

_snapshot = contextvars.ContextVar("inventory_markup_matrix", default=None)


def load_matrix():
    """The manager's bands, or DEFAULT_MATRIX while there are none (one query). MarkupRule is
    found through the app registry: inventory.models imports this module (Part.selling_price),
    so this module does not import it back."""
    rules = apps.get_model("inventory", "MarkupRule").objects.order_by("up_to")
    rules = tuple(rules.values_list("up_to", "multiplier"))
    return rules or DEFAULT_MATRIX


def current_matrix():
    snapshot = _snapshot.get()
    return load_matrix() if snapshot is None else snapshot


@contextlib.contextmanager
def matrix_snapshot():
    """Read the matrix once for everything priced inside the block."""
    token = _snapshot.set(load_matrix())
    try:
        yield
    finally:
        _snapshot.reset(token)


def multiplier_for(cost, matrix):
    for up_to, multiplier in matrix:
        if cost <= up_to:
            return multiplier
    return matrix[-1][1]


def markup_price(cost, matrix=None):
    """Selling price of a part costing `cost`, from the matrix (the current one by default)."""
    cost = Decimal(cost)
    matrix = current_matrix() if matrix is None else matrix
    return money(cost * multiplier_for(cost, matrix))


def selling_price(part):
    """The part's price override when it has one, else its cost marked up by the matrix."""
    if part.price_override is not None:
        return part.price_override
    return markup_price(part.unit_cost)
