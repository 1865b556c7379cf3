"""The inventory admin: vehicles, parts and the stock ledger, purchasing.

Every page keeps a constant number of queries whatever the number of rows (list_select_related,
annotations, one-query labels for autocomplete rows). Costs are hidden from anyone without
inventory.view_part_cost.
"""

from inventory.admin import parts, purchasing, transfers, vehicles  # noqa: F401 - registers the admins
