"""What the operations commands need to know about messaging's tables (collected by
carshop.ops.facts; the keys are described in accounts/ops.py)."""

WORKFLOW_ONLY = {"csv_import": False}

TABLES = (
    {"name": "message_templates", "label": "messaging.MessageTemplate"},
    {"name": "messages", "label": "messaging.Message", **WORKFLOW_ONLY},
    {"name": "opt_outs", "label": "messaging.OptOut"},
    {"name": "reminder_rules", "label": "messaging.ReminderRule"},
)

# A message's address and text name the customer (and the text carries signed links).
PERSONAL_FIELDS = {"messaging.message": {"to", "subject", "body"}}
FREE_TEXT = (("messaging.Message", ("error",)),)
