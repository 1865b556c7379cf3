from django.apps import AppConfig


class RepairsConfig(AppConfig):
    """The service shop: appointments, repair orders, labor and parts, invoices and payments."""

    name = "repairs"

    def ready(self):
        from repairs.history import register_panels

        # This app's part of the customer's and vehicle's pages (core.history).
        register_panels()

        from inventory.views import register_private_file
        from repairs.models import InspectionMedia

        # Inspection photos and videos: private files, like the lot's receipts.
        register_private_file(InspectionMedia, "file", "repairs.view_inspectionmedia")
