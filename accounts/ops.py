"""What the operations commands need to know about accounts' tables (collected by
carshop.ops.facts).

TABLES: the friendly names operators type for `--tables` (export, import, vacuum_database...).
`secret_fields` are left out of exports unless `--include-secrets`; `csv_import: False` marks tables
only the application's workflows write (restored from a JSON export, never from a spreadsheet).
PERSONAL_FIELDS: values replaced or masked in an anonymized copy (create_test_env) and in its
audit log. PERSON_MODELS: audit entries named after a person. FREE_TEXT: text that may mention
people, where replaced names are replaced too.
"""

WORKFLOW_ONLY = {"csv_import": False}

TABLES = (
    {
        "name": "roles",
        "label": "auth.Group",
        "aliases": ("groups",),
        **WORKFLOW_ONLY,
    },  # setup_roles keeps them
    {
        "name": "users",
        "label": "accounts.User",
        "aliases": ("staff",),
        "secret_fields": ("password",),
        "resource": "accounts.resources.UserResource",
    },
    {
        "name": "customers",
        "label": "accounts.Customer",
        "resource": "accounts.resources.CustomerResource",
    },
    {"name": "locations", "label": "accounts.Location"},
    {"name": "shop_settings", "label": "accounts.ShopSettings", "aliases": ("settings",)},
    {"name": "partners", "label": "accounts.Partner", **WORKFLOW_ONLY},  # with their service user
    {
        "name": "partner_keys",
        "label": "accounts.PartnerKey",
        "aliases": ("api_keys",),
        "secret_fields": ("hashed_key",),
        **WORKFLOW_ONLY,
    },
    {
        "name": "webhook_subscriptions",
        "label": "accounts.WebhookSubscription",
        "aliases": ("webhooks",),
        "secret_fields": ("secret",),
        **WORKFLOW_ONLY,
    },
    {"name": "webhook_events", "label": "accounts.WebhookEvent", **WORKFLOW_ONLY},
    {"name": "webhook_deliveries", "label": "accounts.WebhookDelivery", **WORKFLOW_ONLY},
    {"name": "idempotent_requests", "label": "accounts.IdempotentRequest", **WORKFLOW_ONLY},
)

PERSONAL_FIELDS = {
    "accounts.customer": {
        "first_name",
        "last_name",
        "company_name",
        "display_name",
        "phone",
        "phone_other",
        "phone_digits",
        "email",
        "address_line",
        "postal_code",
        "tax_id",
        "notes",
    },
    "accounts.user": {"first_name", "last_name", "email", "phone", "password"},
    "accounts.partner": {"contact_name", "contact_email", "contact_phone", "notes"},
    "accounts.partnerkey": {"hashed_key"},
    "accounts.webhooksubscription": {"url", "secret"},
}
PERSON_MODELS = ("accounts.customer", "accounts.user")
FREE_TEXT = (("accounts.WebhookDelivery", ("error",)),)
