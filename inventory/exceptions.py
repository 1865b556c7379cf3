from core.errors import DomainError


class InventoryError(DomainError):
    """A business rule of the inventory refused the operation; the message is for the user.

    `field` names the form field the message is about, when there is one, so a form can show it
    next to that field.
    """


class InsufficientStock(InventoryError):
    """Taking the quantity would leave less than nothing on the shelf."""


class InvalidVin(InventoryError):
    """The VIN is malformed; the message names the character or digit at fault."""

    def __init__(self, message):
        super().__init__(message, field="vin")


class StockUnitError(InventoryError):
    """A rule of the lot refused the change; the message is for the user."""


class InvalidTransition(InventoryError):
    """A purchase order cannot go from its current status to the one asked for."""
