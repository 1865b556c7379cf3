"""What the operations commands need to know about repairs' tables (collected by
carshop.ops.facts; the keys are described in accounts/ops.py)."""

WORKFLOW_ONLY = {"csv_import": False}

TABLES = (
    {"name": "appointments", "label": "repairs.Appointment"},
    {"name": "canned_jobs", "label": "repairs.CannedJob"},
    {"name": "canned_job_labor", "label": "repairs.CannedJobLabor"},
    {"name": "canned_job_parts", "label": "repairs.CannedJobPart"},
    {
        "name": "repairs",
        "label": "repairs.RepairOrder",
        "aliases": ("repair_orders",),
        "resource": "repairs.resources.RepairOrderResource",
        **WORKFLOW_ONLY,
    },
    {"name": "repair_events", "label": "repairs.RepairOrderEvent", **WORKFLOW_ONLY},
    {"name": "jobs", "label": "repairs.Job", **WORKFLOW_ONLY},
    {"name": "labor_lines", "label": "repairs.LaborLine", **WORKFLOW_ONLY},
    {"name": "part_lines", "label": "repairs.PartLine", **WORKFLOW_ONLY},
    {"name": "time_entries", "label": "repairs.TimeEntry", **WORKFLOW_ONLY},
    {
        "name": "invoices",
        "label": "repairs.Invoice",
        "resource": "repairs.resources.InvoiceResource",
        **WORKFLOW_ONLY,
    },
    {"name": "credit_notes", "label": "repairs.CreditNote", **WORKFLOW_ONLY},
    {
        "name": "payments",
        "label": "repairs.Payment",
        "resource": "repairs.resources.PaymentResource",
        **WORKFLOW_ONLY,
    },
    {"name": "document_sequences", "label": "repairs.DocumentSequence", **WORKFLOW_ONLY},
    {"name": "feed_clocks", "label": "repairs.FeedClock", **WORKFLOW_ONLY},
    {"name": "inspection_templates", "label": "repairs.InspectionTemplate"},
    {"name": "inspection_template_points", "label": "repairs.InspectionTemplatePoint"},
    {"name": "inspections", "label": "repairs.Inspection", **WORKFLOW_ONLY},
    {"name": "inspection_items", "label": "repairs.InspectionItem", **WORKFLOW_ONLY},
    {"name": "inspection_media", "label": "repairs.InspectionMedia", **WORKFLOW_ONLY},
    {"name": "estimate_signatures", "label": "repairs.EstimateSignature", **WORKFLOW_ONLY},
)

PERSONAL_FIELDS = {
    "repairs.job": {"authorized_by"},
    "repairs.estimatesignature": {"signed_name", "client_ip"},
}
FREE_TEXT = (
    ("repairs.RepairOrder", ("notes",)),
    ("repairs.Appointment", ("concern",)),
    ("repairs.RepairOrderEvent", ("note",)),
    ("repairs.InspectionItem", ("notes",)),
)
