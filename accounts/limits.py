"""The largest quantity, amount, price, rate, hours and reading Carshop accepts: one place for
every bound, shared by inventory, repairs and sales (accounts is the layer they all import).

Each bound is far above what a real shop ever enters and far below what a slip of the finger
produces (a part quantity of 1,000,000,000,000, an odometer of 99,999,999,999,999). The models
hold them twice: a validator, so a form says the bound next to the field, and a database
CheckConstraint with the same message, so no other path stores more.

Some amounts are bounded by another row instead: a down payment by what the buyer owes
(sales.services.check_down_payment), a payment or credit note on an invoice by its balance
(repairs.services), an order's total by its lines.
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator
from django.db.models import CheckConstraint, DecimalField, ExpressionWrapper, F, Q, Value
from django.db.models.lookups import LessThanOrEqual

# Parts on one line of a repair order or a canned job.
MAX_LINE_QUANTITY = 10_000
# One purchase order line, delivery or stock movement of a part; reorder levels.
MAX_STOCK_QUANTITY = 1_000_000
# A part's unit cost or selling price, a markup band's upper cost.
MAX_PART_PRICE = Decimal("100000.00")
# What a markup band multiplies a cost by.
MAX_MARKUP = Decimal("20")
# Hours sold on one labor line (or a canned job's labor operation).
MAX_LABOR_HOURS = Decimal("500.00")
# A labor rate per hour.
MAX_LABOR_RATE = Decimal("2000.00")
# What one line of a repair order comes to (quantity x price, hours x rate).
MAX_LINE_AMOUNT = Decimal("250000.00")
# An odometer reading (miles or kilometres).
MAX_ODOMETER = 2_000_000
# Money about one vehicle: its cost, asking or sale price, a reconditioning cost, a trade-in's
# allowance, payoff or worth, a down payment, a payment or refund on a deal.
MAX_VEHICLE_AMOUNT = Decimal("2000000.00")
# A fee, an add-on's price or cost, a finance reserve or a commission minimum on a deal.
MAX_DEAL_CHARGE = Decimal("50000.00")


def message(limit, what):
    """What a person reads when a value is over `limit`: "At most 10,000 per line."."""
    return f"At most {limit:,} {what}."


def at_most(limit, what):
    """A validator whose message says the bound (see `message`)."""
    return MaxValueValidator(limit, message=message(limit, what))


def bounded(*fields, limit, name, what, nullable=False):
    """A CheckConstraint keeping every one of `fields` at or below `limit`, with the same
    message as at_most(limit, what)."""
    condition = Q()
    for field in fields:
        part = Q(**{f"{field}__lte": limit})
        condition &= (Q(**{f"{field}__isnull": True}) | part) if nullable else part
    return CheckConstraint(
        condition=condition, name=name, violation_error_message=message(limit, what)
    )


def product_bounded(first, second, *, limit, name, what):
    """A CheckConstraint keeping `first` x `second` at or below `limit` (a line's amount)."""
    amount = ExpressionWrapper(
        F(first) * F(second), output_field=DecimalField(max_digits=24, decimal_places=4)
    )
    return CheckConstraint(
        condition=LessThanOrEqual(amount, Value(limit)),
        name=name,
        violation_error_message=message(limit, what),
    )
