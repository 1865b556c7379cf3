from django.apps import AppConfig


class RepairsConfig(AppConfig):
    """The service shop: appointments, repair orders, labor and parts, invoices and payments."""

    name = "repairs"
