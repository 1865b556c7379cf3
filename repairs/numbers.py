"""The service shop's document numbers: how each is written when it is given, and read back
from what people type into a search box.

Each location numbers its own repair orders, invoices and credit notes. The default location's
numbers are written as they always were (RO-2024-00123); another location's carry its code in
front (EAST-RO-2024-00123), so a number names one document of the group."""

import re

from accounts.models import Location


def location_prefix(location: Location | None) -> str:
    """What a location's numbers start with: nothing for the default location, else its code
    in capitals and a dash."""
    if location is None or location.pk == Location.default().pk:
        return ""
    return f"{location.code.upper()}-"


def repair_order_number(year: int | str, sequence: int, prefix: str = "") -> str:
    """RO-2024-00123."""
    return f"{prefix}RO-{year}-{sequence:05d}"


def invoice_number(year: int | str, sequence: int, prefix: str = "") -> str:
    """2024-000123."""
    return f"{prefix}{year}-{sequence:06d}"


def credit_note_number(year: int | str, sequence: int, prefix: str = "") -> str:
    """CN-2024-00123."""
    return f"{prefix}CN-{year}-{sequence:05d}"


# A repair order number as people type it: RO-2024-00123, ro 2024 123, 2024-00123, and with a
# location's code in front: east-ro-2024-123.
_TYPED_ORDER_NUMBER = re.compile(
    r"^(?:([a-z0-9-]+?)[-\s]+(?=RO))?(?:RO)?[-\s]*(\d{4})[-\s]+(\d{1,6})$", re.IGNORECASE
)
_TYPED_INVOICE_NUMBER = re.compile(r"^(?:([a-z0-9-]*[a-z][a-z0-9-]*)-)?(\d{4})-(\d{1,6})$", re.I)


def _prefix(code: str | None) -> str:
    return f"{code.upper()}-" if code else ""


def parse_invoice_number(text: str) -> str | None:
    """The invoice number `text` names, as stored (2024-000123), or None."""
    match = _TYPED_INVOICE_NUMBER.match(text.strip())
    if not match:
        return None
    return invoice_number(match.group(2), int(match.group(3)), _prefix(match.group(1)))


def parse_repair_order_number(text: str) -> str | None:
    """The repair order number `text` names, as stored (RO-2024-00123), or None."""
    match = _TYPED_ORDER_NUMBER.match(text.strip())
    if not match:
        return None
    return repair_order_number(match.group(2), int(match.group(3)), _prefix(match.group(1)))
