from django.apps import AppConfig


class InventoryConfig(AppConfig):
    """Things the business has: vehicles, dealer stock units, parts, suppliers, purchase orders."""

    name = "inventory"

    def ready(self):
        from inventory.history import register_panels

        # This app's part of the customer's and vehicle's pages (core.history).
        register_panels()
