from django.apps import AppConfig


class SalesConfig(AppConfig):
    """The car lot: leads, deals with trade-ins and financing, commissions."""

    name = "sales"
