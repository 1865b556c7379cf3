"""The car lot in the admin: stock units, leads, deals, commissions.

The stock unit admin lives here, not in inventory, because it shows what the service shop spent
reconditioning each unit (sales may read repairs; inventory may not). Every workflow step is an
action or a button that calls sales.services / inventory.lot_services; the admin adds no rules.
"""

from sales.admin import commissions, deals, leads, units  # noqa: F401 - registers the admins
