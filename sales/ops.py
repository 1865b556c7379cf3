"""What the operations commands need to know about sales' tables (collected by
carshop.ops.facts; the keys are described in accounts/ops.py)."""

WORKFLOW_ONLY = {"csv_import": False}

TABLES = (
    {"name": "leads", "label": "sales.Lead", "resource": "sales.resources.LeadResource"},
    {
        "name": "sales",
        "label": "sales.Deal",
        "aliases": ("deals",),
        "resource": "sales.resources.DealResource",
        **WORKFLOW_ONLY,
    },
    {"name": "trade_ins", "label": "sales.TradeIn", **WORKFLOW_ONLY},
    {"name": "deal_addons", "label": "sales.DealAddon", **WORKFLOW_ONLY},
    {"name": "deal_payments", "label": "sales.DealPayment", **WORKFLOW_ONLY},
    {"name": "deal_refunds", "label": "sales.DealRefund", **WORKFLOW_ONLY},
    {"name": "commission_plans", "label": "sales.CommissionPlan"},
    {"name": "commissions", "label": "sales.Commission", **WORKFLOW_ONLY},
)

PERSONAL_FIELDS = {
    "sales.lead": {"notes", "message"},
}
FREE_TEXT = (
    ("sales.Deal", ("notes", "close_reason")),
    ("sales.Lead", ("lost_reason",)),
)
