"""What the operations commands need to know about inventory's tables (collected by
carshop.ops.facts; the keys are described in accounts/ops.py)."""

WORKFLOW_ONLY = {"csv_import": False}

TABLES = (
    {
        "name": "vehicles",
        "label": "inventory.Vehicle",
        "aliases": ("cars",),
        "resource": "inventory.resources.VehicleResource",
    },
    {
        "name": "odometer_readings",
        "label": "inventory.OdometerReading",
        "aliases": ("odometer",),
        **WORKFLOW_ONLY,
    },
    {"name": "parts", "label": "inventory.Part", "resource": "inventory.resources.PartResource"},
    {"name": "markup_rules", "label": "inventory.MarkupRule", "aliases": ("markup",)},
    {"name": "suppliers", "label": "inventory.Supplier"},
    {
        "name": "stock_movements",
        "label": "inventory.StockMovement",
        "aliases": ("parts_ledger",),
        **WORKFLOW_ONLY,
    },
    {"name": "purchase_orders", "label": "inventory.PurchaseOrder", **WORKFLOW_ONLY},
    {"name": "purchase_order_lines", "label": "inventory.PurchaseOrderLine", **WORKFLOW_ONLY},
    {"name": "purchase_receipts", "label": "inventory.PurchaseReceipt", **WORKFLOW_ONLY},
    {"name": "purchase_receipt_lines", "label": "inventory.PurchaseReceiptLine", **WORKFLOW_ONLY},
    {
        "name": "stock",
        "label": "inventory.StockUnit",
        "aliases": ("stock_units",),
        "resource": "inventory.resources.StockUnitResource",
    },
    {"name": "stock_costs", "label": "inventory.StockUnitCost"},
    {"name": "stock_photos", "label": "inventory.StockUnitPhoto", **WORKFLOW_ONLY},
    {"name": "stock_number_series", "label": "inventory.StockNumberSeries", **WORKFLOW_ONLY},
    # Stock per location, kept by the services that write the ledger: loaded with it.
    {"name": "parts_stock", "label": "inventory.PartStock", **WORKFLOW_ONLY},
    {"name": "stock_transfers", "label": "inventory.StockTransfer", **WORKFLOW_ONLY},
    {"name": "stock_transfer_lines", "label": "inventory.StockTransferLine", **WORKFLOW_ONLY},
    {"name": "stock_unit_moves", "label": "inventory.StockUnitMove", **WORKFLOW_ONLY},
)

PERSONAL_FIELDS = {
    "inventory.vehicle": {"plate"},
    "inventory.stockunit": {"acquired_from"},
}
FREE_TEXT = (("inventory.StockUnit", ("notes",)),)
