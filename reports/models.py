from django.db import models


class Report(models.Model):
    """No table: the holder of the report permissions, which roles grant by codename
    ("reports.view_shop_reports" and so on, see accounts/roles.py)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_dashboard", "Can see the manager's dashboard"),
            ("view_shop_reports", "Can see the shop's reports (sales, gross, productivity)"),
            ("view_work_in_progress", "Can see the shop's work in progress"),
            ("view_lot_reports", "Can see the lot's reports (gross, aging, commissions)"),
            ("view_lot_units_sold", "Can see the lot's units sold (no gross)"),
        ]

    def __str__(self):
        return "Reports"
