"""The admin's list exports (core.admin_exports) with the role rule for money: a role that may
not see prices (accounts.roles.sees_prices) exports no price, rate, amount or total, one that may
not see part costs no cost, whatever the list itself shows. The resources name their money
columns (`price_fields`, `cost_fields`, see accounts/resources.py)."""

from accounts.roles import sees_prices
from core.admin_exports import ListExportMixin

PART_COST_PERMISSION = "inventory.view_part_cost"


class RoleExportMixin(ListExportMixin):
    """CSV and Excel export of the filtered list, with the columns the reader's role may see."""

    def export_hidden_fields(self, request):
        hidden = super().export_hidden_fields(request)
        resource = self.export_resource_class
        if not sees_prices(request.user):
            hidden |= set(resource.price_fields)
        if not request.user.has_perm(PART_COST_PERMISSION):
            hidden |= set(resource.cost_fields)
        return hidden
