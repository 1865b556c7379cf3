from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The managers' report pages: the shop's and the lot's figures, read from every app.

    The top layer: it reads accounts, inventory, repairs and sales; nothing imports it."""

    name = "reports"
    verbose_name = "Reports"

    def ready(self):
        from reports.registry import load_figures

        load_figures()

        from reports.stale import connect

        connect()
