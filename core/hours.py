"""Hours as people read them: `0.7`, `1.25`, `2` (never `0.700000000000000` or `2.00`)."""

from decimal import ROUND_HALF_UP, Decimal

HUNDREDTH = Decimal("0.01")


def hours_text(value: Decimal | float | int | str | None) -> str:
    """`value` hours rounded to the hundredth, without trailing zeros; empty for None."""
    if value is None:
        return ""
    rounded = Decimal(str(value)).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)
    text = f"{rounded:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
