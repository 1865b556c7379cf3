"""The service shop in the admin: advisors' daily tool, and technicians' restricted view.

Every change goes through repairs.services; these classes only gather input and report results.
Technicians (the Technician role without the right to change orders) see only the orders and jobs
they have labor lines on, never prices, amounts, totals or costs (accounts.roles.sees_prices, the
`price_fields` of each page), and cannot change prices or rates. Orders, invoices, payments and
credit notes are canceled or credited, never deleted; a job only while its order is open.

No page issues a number of queries that grows with its rows: lists select their related rows,
inlines prefetch, and selects in inline rows get their choices once per page.
"""

from repairs.admin import (  # noqa: F401 - registers the admins
    appointments,
    billing,
    canned,
    inspections,
    orders,
)
