"""Prices, rates, amounts and totals are left out of the admin pages of whoever may not see them.

The role rule (accounts.roles.sees_prices) applied with core's HiddenFieldsMixin; it lives in
accounts because core knows no roles.
"""

from accounts.roles import sees_prices
from core.admin import HiddenFieldsMixin


class PriceHidingMixin(HiddenFieldsMixin):
    """Hides the `price_fields` (prices, rates, amounts, totals, payments) from whoever may not
    see prices (accounts.roles.sees_prices): technicians."""

    price_fields: tuple[str, ...] = ()

    def hidden_fields(self, request):
        hidden = super().hidden_fields(request)
        return hidden if sees_prices(request.user) else hidden | set(self.price_fields)
