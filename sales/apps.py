from django.apps import AppConfig


class SalesConfig(AppConfig):
    """The car lot: leads, deals with trade-ins and financing, commissions."""

    name = "sales"

    def ready(self):
        from sales.history import register_panels

        # This app's part of the customer's and vehicle's pages (core.history).
        register_panels()
