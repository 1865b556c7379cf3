"""Friendly table names for the operations commands (`--tables=cars,sales`), mapped to models.

One place for every name an operator types: `export`, `import` and the other commands that take
`--tables` resolve names here, and an unknown name lists the valid ones. Every model of the
Carshop apps (accounts, inventory, repairs, sales) has a table here, plus the roles (auth groups)
and the audit log; tests/test_ops_dataio.py fails when a new model is missing.

`secret_fields` are left out of exports unless `--include-secrets`. `csv_import` is False for
tables whose rows only the application's workflows write (documents, ledgers, counters, machine
records): they are exported to CSV for spreadsheets and reports, and restored from a JSON export.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.core.management.base import CommandError
from django.db.models import Model


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    label: str  # app_label.ModelName
    aliases: tuple = ()
    secret_fields: tuple = ()
    csv_import: bool = True
    resource: str = ""  # dotted path of the django-import-export resource, if the app has one

    @property
    def model(self) -> type[Model]:
        return apps.get_model(self.label)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


WORKFLOW_ONLY: dict[str, Any] = {"csv_import": False}

TABLES = (
    # accounts
    Table("roles", "auth.Group", ("groups",), **WORKFLOW_ONLY),  # setup_roles keeps them
    Table("users", "accounts.User", ("staff",), secret_fields=("password",),
          resource="accounts.resources.UserResource"),
    Table("customers", "accounts.Customer", resource="accounts.resources.CustomerResource"),
    Table("shop_settings", "accounts.ShopSettings", ("settings",)),
    Table("partners", "accounts.Partner", **WORKFLOW_ONLY),  # with their service user
    Table("partner_keys", "accounts.PartnerKey", ("api_keys",), secret_fields=("hashed_key",),
          **WORKFLOW_ONLY),
    Table("webhook_subscriptions", "accounts.WebhookSubscription", ("webhooks",),
          secret_fields=("secret",), **WORKFLOW_ONLY),
    Table("webhook_events", "accounts.WebhookEvent", **WORKFLOW_ONLY),
    Table("webhook_deliveries", "accounts.WebhookDelivery", **WORKFLOW_ONLY),
    Table("idempotent_requests", "accounts.IdempotentRequest", **WORKFLOW_ONLY),
    # inventory
    Table("vehicles", "inventory.Vehicle", ("cars",),
          resource="inventory.resources.VehicleResource"),
    Table("odometer_readings", "inventory.OdometerReading", ("odometer",), **WORKFLOW_ONLY),
    Table("parts", "inventory.Part", resource="inventory.resources.PartResource"),
    Table("markup_rules", "inventory.MarkupRule", ("markup",)),
    Table("suppliers", "inventory.Supplier"),
    Table("stock_movements", "inventory.StockMovement", ("parts_ledger",), **WORKFLOW_ONLY),
    Table("purchase_orders", "inventory.PurchaseOrder", **WORKFLOW_ONLY),
    Table("purchase_order_lines", "inventory.PurchaseOrderLine", **WORKFLOW_ONLY),
    Table("purchase_receipts", "inventory.PurchaseReceipt", **WORKFLOW_ONLY),
    Table("purchase_receipt_lines", "inventory.PurchaseReceiptLine", **WORKFLOW_ONLY),
    Table("stock", "inventory.StockUnit", ("stock_units",),
          resource="inventory.resources.StockUnitResource"),
    Table("stock_costs", "inventory.StockUnitCost"),
    Table("stock_photos", "inventory.StockUnitPhoto", **WORKFLOW_ONLY),
    # repairs
    Table("appointments", "repairs.Appointment"),
    Table("canned_jobs", "repairs.CannedJob"),
    Table("canned_job_labor", "repairs.CannedJobLabor"),
    Table("canned_job_parts", "repairs.CannedJobPart"),
    Table("repairs", "repairs.RepairOrder", ("repair_orders",), **WORKFLOW_ONLY),
    Table("repair_events", "repairs.RepairOrderEvent", **WORKFLOW_ONLY),
    Table("jobs", "repairs.Job", **WORKFLOW_ONLY),
    Table("labor_lines", "repairs.LaborLine", **WORKFLOW_ONLY),
    Table("part_lines", "repairs.PartLine", **WORKFLOW_ONLY),
    Table("time_entries", "repairs.TimeEntry", **WORKFLOW_ONLY),
    Table("invoices", "repairs.Invoice", **WORKFLOW_ONLY),
    Table("credit_notes", "repairs.CreditNote", **WORKFLOW_ONLY),
    Table("payments", "repairs.Payment", **WORKFLOW_ONLY),
    Table("document_sequences", "repairs.DocumentSequence", **WORKFLOW_ONLY),
    Table("feed_clocks", "repairs.FeedClock", **WORKFLOW_ONLY),
    # sales
    Table("leads", "sales.Lead", resource="sales.resources.LeadResource"),
    Table("sales", "sales.Deal", ("deals",), **WORKFLOW_ONLY),
    Table("trade_ins", "sales.TradeIn", **WORKFLOW_ONLY),
    Table("deal_addons", "sales.DealAddon", **WORKFLOW_ONLY),
    Table("deal_payments", "sales.DealPayment", **WORKFLOW_ONLY),
    Table("deal_refunds", "sales.DealRefund", **WORKFLOW_ONLY),
    Table("commission_plans", "sales.CommissionPlan"),
    Table("commissions", "sales.Commission", **WORKFLOW_ONLY),
    # history
    Table("audit_log", "auditlog.LogEntry", ("audit",), **WORKFLOW_ONLY),
)

# The apps whose every model must have a table above.
CARSHOP_APPS = ("accounts", "inventory", "repairs", "sales")

_BY_NAME = {name: table for table in TABLES for name in table.names}
_BY_LABEL = {table.label.lower(): table for table in TABLES}


def valid_names() -> str:
    """The names an operator can type, for error messages: main names with aliases in brackets."""
    return ", ".join(
        table.name + (f" ({'/'.join(table.aliases)})" if table.aliases else "")
        for table in TABLES
    )


def get(name: str) -> Table:
    table = _BY_NAME.get(name.strip().lower())
    if table is None:
        raise CommandError(f"unknown table {name.strip()!r}; tables: {valid_names()}")
    return table


def resolve(spec: str | Iterable[str] | None) -> list[Table] | None:
    """`--tables` ("cars,sales", or a list) as tables, in the order given, each once. None,
    empty or "all": None (the caller's default, usually every table)."""
    if not spec or (isinstance(spec, str) and spec.strip().lower() == "all"):
        return None
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    result = []
    for name in names:
        if not name.strip():
            continue
        table = get(name)
        if table not in result:
            result.append(table)
    if not result:
        raise CommandError(f"--tables names no table; tables: {valid_names()}")
    return result


def for_model(model: type[Model] | Model) -> Table | None:
    """The table of a model (None for models that are no table here)."""
    return _BY_LABEL.get(model._meta.label_lower)


def for_label(label: str) -> Table | None:
    """The table of "app_label.modelname" (None if there is none)."""
    return _BY_LABEL.get(str(label).lower())
