class InventoryError(Exception):
    """A business rule of the inventory refused the operation; the message is for the user."""


class InsufficientStock(InventoryError):
    pass
