"""What a partner's API key may do (scopes) and which webhook events each scope lets it receive.

This is the contract the partner API is built on: every endpoint declares the scope it needs
(`accounts.api.permissions.HasScope`), and a webhook event is delivered only to partners holding a
usable key with the event's scope.
"""

LISTINGS_READ = "listings:read"
LEADS_WRITE = "leads:write"
REPAIRS_READ = "repairs:read"
ACCOUNTING_READ = "accounting:read"
PARTS_READ = "parts:read"

SCOPES = {
    LISTINGS_READ: "Read the cars for sale (available stock units, photos, prices).",
    LEADS_WRITE: "Post leads for cars for sale, and follow the leads it posted.",
    REPAIRS_READ: "Read repair orders, their status history, jobs and invoice totals of the "
    "vehicles owned by the customer accounts linked to the partner.",
    ACCOUNTING_READ: "Read invoices, credit notes and payments.",
    PARTS_READ: "Read parts on hand at each location linked to the partner (no costs).",
}
SCOPE_CHOICES = [(scope, scope) for scope in SCOPES]

# Webhook events, and the scope a partner needs to receive each.
REPAIR_ORDER_STATUS_CHANGED = "repair_order.status_changed"
INVOICE_CREATED = "invoice.created"
STOCK_UNIT_AVAILABLE = "stock_unit.available"
STOCK_UNIT_SOLD = "stock_unit.sold"
LEAD_UPDATED = "lead.updated"

EVENTS = {
    REPAIR_ORDER_STATUS_CHANGED: REPAIRS_READ,
    INVOICE_CREATED: ACCOUNTING_READ,
    STOCK_UNIT_AVAILABLE: LISTINGS_READ,
    STOCK_UNIT_SOLD: LISTINGS_READ,
    LEAD_UPDATED: LEADS_WRITE,
}
EVENT_CHOICES = [(event, event) for event in EVENTS]


def events_allowed(scopes):
    """The event types a holder of `scopes` may subscribe to, in declaration order."""
    granted = set(scopes)
    return [event for event, scope in EVENTS.items() if scope in granted]
