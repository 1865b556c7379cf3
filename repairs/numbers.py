"""The service shop's document numbers: how each is written when it is given, and read back
from what people type into a search box."""

import re


def repair_order_number(year: int | str, sequence: int) -> str:
    """RO-2024-00123."""
    return f"RO-{year}-{sequence:05d}"


def invoice_number(year: int | str, sequence: int) -> str:
    """2024-000123."""
    return f"{year}-{sequence:06d}"


def credit_note_number(year: int | str, sequence: int) -> str:
    """CN-2024-00123."""
    return f"CN-{year}-{sequence:05d}"


# A repair order number as people type it: RO-2024-00123, ro 2024 123, 2024-00123.
_TYPED_ORDER_NUMBER = re.compile(r"^(?:RO)?[-\s]*(\d{4})[-\s]+(\d{1,6})$", re.IGNORECASE)
_TYPED_INVOICE_NUMBER = re.compile(r"^(\d{4})-(\d{1,6})$")


def parse_invoice_number(text: str) -> str | None:
    """The invoice number `text` names, as stored (2024-000123), or None."""
    match = _TYPED_INVOICE_NUMBER.match(text.strip())
    return invoice_number(match.group(1), int(match.group(2))) if match else None


def parse_repair_order_number(text: str) -> str | None:
    """The repair order number `text` names, as stored (RO-2024-00123), or None."""
    match = _TYPED_ORDER_NUMBER.match(text.strip())
    return repair_order_number(match.group(1), int(match.group(2))) if match else None
