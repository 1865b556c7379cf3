from django.apps import AppConfig


class RepairsConfig(AppConfig):
    """The service shop: appointments, repair orders, labor and parts, invoices and payments."""

    name = "repairs"

    def ready(self):
        from repairs.history import register_panels

        # This app's part of the customer's and vehicle's pages (core.history).
        register_panels()
