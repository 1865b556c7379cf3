from django.apps import AppConfig


class InventoryConfig(AppConfig):
    """Things the business has: vehicles, dealer stock units, parts, suppliers, purchase orders."""

    name = "inventory"
