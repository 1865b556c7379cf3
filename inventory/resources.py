"""django-import-export resources of the inventory tables (see accounts/resources.py)."""

from accounts.resources import CarshopResource
from inventory.models import Part, StockUnit, Vehicle


class VehicleResource(CarshopResource):
    """A VIN is checked like in the admin (17 characters, no I/O/Q, check digit where it
    applies). The odometer is kept by the readings (inventory.services.record_odometer)."""

    read_only = ("vin_reversed", "country", "odometer", "odometer_read_on")

    class Meta:
        model = Vehicle


class PartResource(CarshopResource):
    """Stock on hand is the sum of the parts ledger: exported, never imported (a new part starts
    at 0 and is stocked by a receipt or an adjustment)."""

    read_only = ("on_hand",)
    price_fields = ("price_override",)
    cost_fields = ("unit_cost",)

    class Meta:
        model = Part


class StockUnitResource(CarshopResource):
    """A stock unit's status, front-line day and disposal follow its workflow
    (inventory.lot_services and deals): exported, never imported; a new unit starts as
    acquired."""

    read_only = ("status", "available_on", "disposed_on", "wholesale_price")
    price_fields = ("acquisition_cost", "asking_price", "internet_price", "wholesale_price")

    class Meta:
        model = StockUnit
