"""The large data set: a group of shops after five years, for benchmarks and capacity checks.

`python manage.py seed_demo --scale large` fills an empty, migrated database with, at full size
(`--fraction 1`): 100,000 customers, 200,000 vehicles with valid VINs, 20,000 parts, 1,000,000
repair orders with their jobs, labor and part lines, status history, time clocked, invoices,
credit notes and payments, the parts ledger and the purchase orders that stocked it, and the car
lot (30,000 stock units, 60,000 leads, 25,000 deals) once the lot's models exist. Dates spread
over the five years before `until`; recent orders are still open.

The group has five locations (docs/locations.md): the default one (a shop and a lot, keeping its
name and settings), three more service shops (east, west, north) and a car lot (Route 9 Auto
Sales), each with its own settings. The shops share the repair orders 34/24/22/20 %; an order's
appointment, time, invoice and credit note are at its location, its advisor and technicians have
it as their home location (managers work at every location), and each location numbers its own
documents (EAST-RO-2026-00001). Each shop has its own parts stock, received by its own purchase
orders; stock units stand on the two lots.

Everything is deterministic for a seed (and `until`). Rows are written with COPY
(carshop.ops.testenv.bulkload), never through the ORM row by row, in one transaction; sequences
are set after the load and the tables analyzed.

The data keeps the rules the services keep: repair order, invoice and credit note numbers are
sequential and gapless per location and year (with their DocumentSequence counters), every issued
part line has its issue movement and stock on hand at each location equals the sum of that
location's ledger for the part (stock is received by quarterly
purchase orders before it is issued), invoices carry the totals repairs.totals computes from their
counted lines and a snapshot shaped like repairs.documents.build_document, payments never exceed
what is owed, a stock unit is sold by at most one deal and its vehicle then belongs to the buyer.
"""

from __future__ import annotations

import bisect
import datetime
import heapq
import math
import os
import random
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection as default_connection
from django.db import transaction

from carshop.ops.testenv.bulkload import BulkLoadSchema, BulkWriter, Table

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import Model

FULL_SIZE = {
    "customers": 100_000,
    "vehicles": 200_000,
    "parts": 20_000,
    "suppliers": 40,
    "repair_orders": 1_000_000,
    "stock_units": 30_000,
    "leads": 60_000,
    "deals": 25_000,
    "appointments": 3_000,
}
# Even a tiny fraction keeps enough of everything for every kind of row to appear.
MINIMUM = {
    "customers": 40,
    "vehicles": 80,
    "parts": 60,
    "suppliers": 3,
    "repair_orders": 60,
    "stock_units": 20,
    "leads": 20,
    "deals": 8,
    "appointments": 5,
}
YEARS = 5
CHUNK_ORDERS = 10_000  # repair orders per COPY round

UTC = datetime.UTC
HOUR = 3600
DAY = 86_400

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------


def summary_path(connection: BaseDatabaseWrapper = default_connection) -> Path:
    """Where `seed_demo --scale large` keeps the figures of its last load into this database
    (VAR_DIR/seed_demo/generated-<database>.json): the benchmark report (bench/run.py) quotes
    them."""
    name = Path(str(connection.settings_dict["NAME"])).name  # a SQLite path: its file name
    return Path(settings.VAR_DIR) / "seed_demo" / f"generated-{name}.json"


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul "
    "Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy "
    "Stephanie Ronald Rebecca Jason Laura Edward Sharon Jeffrey Cynthia Ryan Kathleen Jacob Amy "
    "Gary Angela Nicholas Shirley Eric Anna Jonathan Brenda Stephen Pamela Larry Emma Justin "
    "Nicole Scott Helen Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra "
    "Alexander Rachel Frank Carolyn Patrick Janet Raymond Maria Jack Olivia Dennis Heather "
    "Jerry Catherine Carlos Aisha Wei Fatima Kwame Sofia Ahmed Noah Grace Mateo Priya Hiroshi "
    "Olga Diego Chloe Omar Leila Ivan Mei Tariq Ingrid Rafael"
)
LAST = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White "
    "Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres "
    "Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts "
    "Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales "
    "Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos "
    "Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes "
    "Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry "
    "Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons "
    "Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West "
    "Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro "
    "Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry "
    "Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez "
    "Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd "
    "Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols "
    "Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce "
    "Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong "
    "Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston "
    "Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval Okafor Nakamura "
    "Kowalski Lindqvist Haddad Novak"
)
COMPANY_WORDS = _words(
    "Acme Blue River Metro Northside Sunrise Tri-County Valley Summit Harbor Pioneer Lakeside "
    "Prairie Redwood Granite Cedar Eagle Liberty Frontier Union Keystone Atlas Beacon Coastal "
    "Central Heritage Iron Maple Oak Pinnacle"
)
COMPANY_KINDS = _words(
    "Plumbing Logistics Cab Co Farms Delivery Electric Bakery Rentals Landscaping Roofing "
    "Couriers Construction Florist Movers Catering Security Towing Cleaning Pest Control "
    "Medical Transport Builders HVAC Auto Glass"
)
STREETS = _words(
    "Oak Elm Pine Maple Cedar Main Church Mill Lake Hill Park Washington Lincoln Jefferson "
    "Madison Sunset Ridge River Spring Walnut"
)
CITIES = [
    ("Springfield", "IL", "627"),
    ("Riverton", "WY", "825"),
    ("Fairview", "TN", "370"),
    ("Franklin", "OH", "450"),
    ("Greenville", "SC", "296"),
    ("Clinton", "IA", "527"),
    ("Salem", "OR", "973"),
    ("Madison", "WI", "537"),
    ("Georgetown", "KY", "403"),
    ("Arlington", "TX", "760"),
    ("Dover", "DE", "199"),
    ("Bristol", "CT", "060"),
    ("Auburn", "AL", "368"),
    ("Marion", "IN", "469"),
    ("Oxford", "MS", "386"),
]

# World manufacturer identifier -> make, country, models (the demo's VIN maker draws from these).
MAKERS = {
    "1HG": ("Honda", "United States", ["Accord", "Civic"]),
    "1FT": ("Ford", "United States", ["F-150", "F-250"]),
    "2T1": ("Toyota", "Canada", ["Corolla", "Matrix"]),
    "3VW": ("Volkswagen", "Mexico", ["Jetta", "Golf"]),
    "5YJ": ("Tesla", "United States", ["Model 3", "Model Y"]),
    "1G1": ("Chevrolet", "United States", ["Malibu", "Cruze", "Camaro"]),
    "4T1": ("Toyota", "United States", ["Camry", "Avalon"]),
    "1N4": ("Nissan", "United States", ["Altima", "Sentra"]),
    "2HG": ("Honda", "Canada", ["Civic", "CR-V"]),
    "WVW": ("Volkswagen", "Germany", ["Golf", "Passat"]),
    "WBA": ("BMW", "Germany", ["320i", "530i"]),
    "VF1": ("Renault", "France", ["Clio", "Megane"]),
    "SAL": ("Land Rover", "United Kingdom", ["Discovery"]),
}
MAKER_WEIGHTS = {
    "1HG": 12,
    "1FT": 14,
    "2T1": 10,
    "3VW": 6,
    "5YJ": 4,
    "1G1": 12,
    "4T1": 12,
    "1N4": 9,
    "2HG": 6,
    "WVW": 5,
    "WBA": 4,
    "VF1": 3,
    "SAL": 3,
}
COLORS = ["White", "Black", "Silver", "Grey", "Blue", "Red", "Green", "Brown"]
ENGINES = ["1.5L I4", "2.0L I4", "2.5L I4", "3.5L V6", "5.0L V8", "Electric"]

# category, code, base descriptions, brands, cost range in dollars
CATALOG = [
    (
        "Filters",
        "FLT",
        ["Oil filter", "Engine air filter", "Cabin air filter", "Fuel filter"],
        ["Wix", "Fram", "Mann", "Purolator", "Bosch"],
        (4, 28),
    ),
    (
        "Brakes",
        "BRK",
        ["Front brake pads", "Rear brake pads", "Front rotor", "Rear rotor", "Brake caliper"],
        ["Akebono", "Wagner", "Bosch", "Raybestos"],
        (25, 160),
    ),
    ("Ignition", "IGN", ["Spark plug", "Ignition coil"], ["NGK", "Denso", "Champion"], (6, 75)),
    (
        "Fluids",
        "FLD",
        ["Synthetic oil 5W-30 (qt)", "ATF (qt)", "Coolant (gal)", "Brake fluid"],
        ["Mobil 1", "Valvoline", "Prestone", "Castrol"],
        (5, 30),
    ),
    (
        "Electrical",
        "ELE",
        ["Battery group 24F", "Alternator", "Starter", "Headlight bulb"],
        ["Interstate", "Bosch", "Sylvania", "Denso"],
        (12, 320),
    ),
    (
        "Wipers",
        "WIP",
        ["Wiper blade 22in", "Wiper blade 18in"],
        ["Bosch", "Rain-X", "Trico"],
        (6, 22),
    ),
    (
        "Suspension",
        "SUS",
        ["Front strut", "Sway bar link", "Control arm", "Wheel bearing"],
        ["Monroe", "Moog", "KYB"],
        (18, 210),
    ),
    (
        "Belts & hoses",
        "BLT",
        ["Serpentine belt", "Timing belt kit", "Upper radiator hose"],
        ["Gates", "Dayco", "Continental"],
        (15, 180),
    ),
]
FITMENTS = [
    "Honda Accord",
    "Honda Civic",
    "Ford F-150",
    "Toyota Corolla",
    "Toyota Camry",
    "Chevrolet Malibu",
    "Nissan Altima",
    "VW Jetta",
    "VW Golf",
    "BMW 3 series",
    "Tesla Model 3",
    "Chevrolet Cruze",
    "Universal",
]

# Job templates: title, complaint, cause, correction, weight, labor [(operation, hours)],
# parts [(category, base description, min qty, max qty)]
JOBS = [
    (
        "Oil and filter change",
        "Due for oil service",
        "Oil at change interval",
        "Changed oil and filter, reset reminder",
        30,
        [("Drain oil, replace filter, refill", "0.50")],
        [("Filters", "Oil filter", 1, 1), ("Fluids", "Synthetic oil 5W-30 (qt)", 4, 6)],
    ),
    (
        "Front brake pads and rotors",
        "Brakes squeal / pulsate",
        "Pads at 2 mm, rotors scored",
        "Replaced front pads and rotors",
        8,
        [("R&R front pads and rotors", "1.80")],
        [("Brakes", "Front brake pads", 1, 1), ("Brakes", "Front rotor", 2, 2)],
    ),
    (
        "Rear brake pads",
        "Grinding from the rear",
        "Rear pads worn",
        "Replaced rear pads",
        5,
        [("R&R rear brake pads", "1.20")],
        [("Brakes", "Rear brake pads", 1, 1)],
    ),
    (
        "Tire rotation and balance",
        "Uneven tire wear",
        "Rotation due",
        "Rotated and balanced",
        10,
        [("Rotate and balance four tires", "0.80")],
        [],
    ),
    (
        "Replace wiper blades",
        "Wipers streak",
        "Blades hardened",
        "Replaced wiper blades",
        5,
        [("R&R wiper blades", "0.20")],
        [("Wipers", "Wiper blade 22in", 1, 2)],
    ),
    (
        "Cabin air filter",
        "Musty smell from vents",
        "Filter clogged",
        "Replaced cabin air filter",
        5,
        [("R&R cabin air filter", "0.30")],
        [("Filters", "Cabin air filter", 1, 1)],
    ),
    (
        "Engine air filter",
        "Due for air filter",
        "Filter dirty",
        "Replaced engine air filter",
        5,
        [("R&R engine air filter", "0.30")],
        [("Filters", "Engine air filter", 1, 1)],
    ),
    (
        "Battery replacement",
        "Slow crank",
        "Battery fails load test",
        "Tested and replaced battery",
        4,
        [("Test charging system", "0.30"), ("R&R battery", "0.40")],
        [("Electrical", "Battery group 24F", 1, 1)],
    ),
    (
        "Spark plugs",
        "Rough idle",
        "Plugs worn",
        "Replaced spark plugs",
        3,
        [("R&R spark plugs", "1.50")],
        [("Ignition", "Spark plug", 4, 8)],
    ),
    (
        "Ignition coil",
        "Check engine light, misfire",
        "Coil failed",
        "Replaced ignition coil",
        2,
        [("Diagnose misfire", "1.00"), ("R&R ignition coil", "0.50")],
        [("Ignition", "Ignition coil", 1, 2)],
    ),
    (
        "Check engine light diagnosis",
        "Check engine light on",
        "Code stored, tested circuit",
        "Diagnosed and reported",
        6,
        [("Scan and diagnose", "1.00")],
        [],
    ),
    (
        "Coolant flush",
        "Coolant tested weak",
        "Coolant degraded",
        "Flushed and refilled coolant",
        3,
        [("Flush and refill coolant", "1.00")],
        [("Fluids", "Coolant (gal)", 1, 2)],
    ),
    (
        "Transmission service",
        "Harsh shifts",
        "Fluid dark",
        "Drained and refilled ATF",
        2,
        [("Drain and refill ATF", "1.00")],
        [("Fluids", "ATF (qt)", 4, 8)],
    ),
    (
        "Alternator replacement",
        "Battery light on",
        "Alternator output low",
        "Replaced alternator",
        1,
        [("R&R alternator", "1.60")],
        [("Electrical", "Alternator", 1, 1)],
    ),
    (
        "Starter replacement",
        "Clicks, no crank",
        "Starter failed",
        "Replaced starter",
        1,
        [("R&R starter", "1.40")],
        [("Electrical", "Starter", 1, 1)],
    ),
    (
        "Front struts",
        "Bouncy ride",
        "Struts leaking",
        "Replaced front struts, aligned",
        1,
        [("R&R front struts", "2.50"), ("Four-wheel alignment", "1.00")],
        [("Suspension", "Front strut", 2, 2)],
    ),
    (
        "Sway bar links",
        "Clunk over bumps",
        "Links loose",
        "Replaced sway bar links",
        2,
        [("R&R sway bar links", "0.80")],
        [("Suspension", "Sway bar link", 2, 2)],
    ),
    (
        "Wheel bearing",
        "Hum at speed",
        "Bearing worn",
        "Replaced wheel bearing",
        1,
        [("R&R wheel bearing", "1.70")],
        [("Suspension", "Wheel bearing", 1, 1)],
    ),
    (
        "Serpentine belt",
        "Squeal at start",
        "Belt cracked",
        "Replaced serpentine belt",
        2,
        [("R&R serpentine belt", "0.60")],
        [("Belts & hoses", "Serpentine belt", 1, 1)],
    ),
    (
        "Timing belt",
        "Timing belt due",
        "At interval",
        "Replaced timing belt and water pump",
        1,
        [("R&R timing belt and water pump", "4.50")],
        [("Belts & hoses", "Timing belt kit", 1, 1)],
    ),
    (
        "Headlight bulb",
        "Headlight out",
        "Bulb burned out",
        "Replaced headlight bulb",
        2,
        [("R&R headlight bulb", "0.30")],
        [("Electrical", "Headlight bulb", 1, 2)],
    ),
    (
        "State inspection",
        "Inspection due",
        "",
        "Inspected, passed",
        5,
        [("Safety inspection", "0.50")],
        [],
    ),
    (
        "A/C performance check",
        "A/C blows warm",
        "Low refrigerant",
        "Recharged A/C",
        2,
        [("A/C performance test and recharge", "1.20")],
        [],
    ),
    (
        "Four-wheel alignment",
        "Pulls to the right",
        "Alignment out of spec",
        "Aligned four wheels",
        3,
        [("Four-wheel alignment", "1.00")],
        [],
    ),
    (
        "Brake fluid flush",
        "Soft pedal",
        "Fluid moisture high",
        "Flushed brake fluid",
        2,
        [("Flush brake fluid", "0.80")],
        [("Fluids", "Brake fluid", 1, 2)],
    ),
]
# repairs.totals.Totals.as_dict(), without the dataclass machinery (a million times).
TOTALS = (
    "labor",
    "parts",
    "labor_discount",
    "parts_discount",
    "shop_supplies",
    "hazardous_waste",
    "labor_tax",
    "parts_tax",
    "total",
    "discount",
    "fees",
    "tax",
)
PAYMENT_METHODS = ["card"] * 12 + ["cash"] * 3 + ["check"] * 2 + ["transfer", "on_account"]
AUTH_METHODS = ["in_person"] * 9 + ["phone"] * 9 + ["online"] * 2
LABOR_RATE_BY_YEAR_AGO = ["120.00", "115.00", "110.00", "105.00", "99.00", "95.00"]

# The group: the default location (a shop and a lot, keeping its name and settings) and these.
# code, name, kind, address, phone, labor rate above the default's, parts tax rate above its.
EXTRA_LOCATIONS = [
    (
        "east",
        "East Side Service",
        "shop",
        "2200 East Washington Street\nSpringfield, IL 62703",
        "(217) 555-0200",
        "5.00",
        "0.000",
    ),
    (
        "west",
        "West End Service",
        "shop",
        "3100 Wabash Avenue\nSpringfield, IL 62704",
        "(217) 555-0300",
        "-5.00",
        "0.000",
    ),
    (
        "north",
        "North Shop",
        "shop",
        "1500 North Grand Avenue\nSpringfield, IL 62702",
        "(217) 555-0400",
        "10.00",
        "0.250",
    ),
    (
        "lot",
        "Route 9 Auto Sales",
        "lot",
        "4800 Route 9\nChatham, IL 62629",
        "(217) 555-0500",
        "0.00",
        "0.000",
    ),
]
# Each service shop's share of the repair orders (the default location first, then the shops
# above in their order), in percent.
SHOP_SHARES = (34, 24, 22, 20)
SAFETY_STOCK = (0, 0, 1, 2, 2, 3, 4, 6, 8, 12)

STAFF = [
    # username, first, last, role (accounts.roles constant name), count of numbered extras
    ("advisor", "Sam", "Advisor", "SERVICE_ADVISOR", 5),
    ("tech", "Terry", "Tech", "TECHNICIAN", 17),
    ("sales", "Pat", "Seller", "SALESPERSON", 5),
    ("manager", "Robin", "Manager", "MANAGER", 1),
    ("ops", "Casey", "Operator", "OPERATIONS", 0),
]


def sizes(fraction: float) -> dict[str, int]:
    return {name: max(MINIMUM[name], round(full * fraction)) for name, full in FULL_SIZE.items()}


def _model(label: str) -> type[Model] | None:
    try:
        return apps.get_model(label)
    except LookupError:
        return None


class _Unit:
    """One stock unit of the lot plan (written as inventory.StockUnit once that model exists)."""

    __slots__ = (
        "acquired_day",
        "asking",
        "available_day",
        "buyer",
        "canceled_deal_day",
        "deal_days",
        "disposed_day",
        "draft_deal_day",
        "index",
        "internal_order",
        "outcome",
        "recon",
        "recon_cost",
        "source",
        "status",
        "total_cost",
        "trade_in_of",
        "vehicle",
    )
    acquired_day: int
    asking: Decimal
    available_day: int
    buyer: int | None
    canceled_deal_day: int | None
    deal_days: tuple[int, int | None, int | None] | None
    disposed_day: int | None
    draft_deal_day: int | None
    index: int
    internal_order: int | None
    outcome: str
    recon: tuple[int, int] | None
    recon_cost: Decimal
    source: str
    status: str
    total_cost: Decimal
    trade_in_of: int | None  # the index of the unit whose deal took this one in trade
    vehicle: int


class Generator:
    """Builds the data set. `run()` does everything in one transaction and returns a summary."""

    def __init__(
        self,
        *,
        fraction: float = 1.0,
        seed: int = 42,
        until: datetime.datetime | None = None,
        log: Callable[[str], object] | None = None,
        connection: BaseDatabaseWrapper | None = None,
    ) -> None:
        if not 0 < fraction <= 1:
            raise ValueError("the fraction is more than 0 and at most 1")
        self.fraction = fraction
        self.seed = seed
        self.size = sizes(fraction)
        self.connection = connection or default_connection
        self.log = log or (lambda message: None)
        self.tz = ZoneInfo(settings.TIME_ZONE)
        until = until or datetime.datetime.now(UTC)
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        self.until = until
        self.until_ts = until.timestamp()
        # Orders are opened on the days before `until`'s date, for five years.
        self.today = until.astimezone(self.tz).date()
        self.first_day = self.today.replace(year=self.today.year - YEARS)
        self.days = (self.today - self.first_day).days
        self.start_ts = self._local_ts(self.first_day, 0)
        self.writer = BulkWriter(self.connection)
        self.timings: dict[str, float] = {}

    # -- helpers -------------------------------------------------------------------------------
    def rng(self, stage: str) -> random.Random:
        """An independent random stream per stage: a stage's data does not depend on others."""
        return random.Random(f"{self.seed}:{stage}")

    def _local_ts(self, day: datetime.date, seconds: float) -> float:
        midnight = datetime.datetime.combine(day, datetime.time(), tzinfo=self.tz)
        return midnight.timestamp() + seconds

    def day_ts(self, day_index: int, seconds: float = 0.0) -> float:
        return self._local_ts(self.first_day + datetime.timedelta(days=day_index), seconds)

    @staticmethod
    def dt(ts: float) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(ts, UTC)

    def local_year(self, ts: float) -> int:
        return datetime.datetime.fromtimestamp(ts, self.tz).year

    def local_date(self, ts: float) -> datetime.date:
        return datetime.datetime.fromtimestamp(ts, self.tz).date()

    def _stage(self, name: str, function: Callable[[], Any]) -> Any:
        started = time.monotonic()
        self.log(f"{name}...")
        result = function()
        self.writer.drain()
        self.timings[name] = round(time.monotonic() - started, 1)
        self.log(f"{name}: {self.timings[name]} s")
        return result

    # -- the whole run -------------------------------------------------------------------------
    def loaded_models(self) -> list[type[Model]]:
        labels = [
            "accounts.Customer",
            "inventory.Vehicle",
            "inventory.OdometerReading",
            "inventory.Supplier",
            "inventory.Part",
            "inventory.StockMovement",
            "inventory.PurchaseOrder",
            "inventory.PurchaseOrderLine",
            "inventory.PurchaseReceipt",
            "inventory.PurchaseReceiptLine",
            "repairs.RepairOrder",
            "repairs.RepairOrderEvent",
            "repairs.Job",
            "repairs.LaborLine",
            "repairs.PartLine",
            "repairs.TimeEntry",
            "repairs.Invoice",
            "repairs.CreditNote",
            "repairs.Payment",
            "repairs.Appointment",
        ]
        return [model for model in map(_model, labels) if model is not None]

    def check_empty(self) -> None:
        from accounts.models import Customer
        from inventory.models import Part, Vehicle
        from repairs.models import RepairOrder

        filled = [
            str(model._meta.verbose_name_plural)
            for model in (Customer, Vehicle, Part, RepairOrder)
            if model._default_manager.using(self.connection.alias).exists()
        ]
        if filled:
            raise ValueError(
                f"the database already has {', '.join(filled)}: the large data "
                "set is loaded into an empty, migrated database"
            )

    def run(self) -> dict[str, Any]:
        from auditlog.context import disable_auditlog

        self.check_empty()
        started = time.monotonic()
        load_at_start = os.getloadavg()[0]
        models = self.loaded_models()
        with disable_auditlog(), transaction.atomic(using=self.connection.alias):
            if self.connection.vendor == "postgresql":
                with self.connection.cursor() as cursor:
                    # This transaction only: a bulk load wants memory for sorting and no wait
                    # for each commit record.
                    cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
                    cursor.execute("SET LOCAL work_mem = '64MB'")
                    cursor.execute("SET LOCAL synchronous_commit = off")
            schema = BulkLoadSchema(self.connection, models)
            schema.drop()
            self._stage("staff and settings", self.staff_and_settings)
            self._stage("lot plan", self.plan_lot)
            self._stage("customers", self.customers)
            self._stage("partners", self.partners)
            self._stage("vehicle plan", self.plan_vehicles)
            self._stage("parts plan", self.plan_parts)
            self._stage("repair orders", self.repair_orders)
            self._stage("vehicles", self.vehicles)
            self._stage("appointments", self.appointments)
            self._stage("purchasing and parts", self.purchasing)
            self._stage("lot and sales", self.lot_and_sales)
            self.writer.close()
            self._stage("indexes and foreign keys", lambda: schema.restore(log=self.log))
            # Ids were given: the next row saved by the application continues after them.
            self.writer.reset_sequences([apps.get_model(label) for label in self.writer.counts])
        self._stage("analyze", self.analyze)
        self.timings["total"] = round(time.monotonic() - started, 1)
        return {
            "fraction": self.fraction,
            "seed": self.seed,
            "until": self.until.isoformat(),
            "rows": dict(sorted(self.writer.counts.items())),
            "seconds": self.timings,
            "note": f"on this machine, load average {load_at_start:.1f} when it started "
            f"({os.cpu_count()} cores)",
        }

    def analyze(self) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    # -- staff, settings, partners (a few rows: through the ORM) -------------------------------
    def staff_and_settings(self) -> None:
        from accounts import roles
        from accounts.demo import DEMO_PASSWORD
        from accounts.models import Location, ShopSettings, User
        from inventory.models import MarkupRule
        from inventory.pricing import DEFAULT_MATRIX
        from repairs.totals import Rates

        # The default location's settings, asked of the location itself (not a cached id).
        shop = ShopSettings.of(Location.default())
        shop.name, shop.address = "Main Street Auto Group", "100 Main Street\nSpringfield, IL 62701"
        shop.phone, shop.email, shop.tax_id = (
            "(217) 555-0100",
            "service@mainstreet.example",
            "12-3456789",
        )
        shop.labor_rate = Decimal(LABOR_RATE_BY_YEAR_AGO[0])
        shop.save()
        self.shop = shop
        self.rates = Rates.from_settings(shop)
        for up_to, multiplier in DEFAULT_MATRIX:
            MarkupRule.objects.get_or_create(up_to=up_to, defaults={"multiplier": multiplier})
        self.matrix = DEFAULT_MATRIX

        password = make_password(DEMO_PASSWORD)  # hashed once for every login
        self.staff = {}
        for username, first, last, role_name, extras in STAFF:
            group = Group.objects.get(name=getattr(roles, role_name))
            names = [username] + [f"{username}{n}" for n in range(2, extras + 2)]
            people = []
            for number, name in enumerate(names):
                user, _ = User.objects.get_or_create(
                    username=name,
                    defaults={
                        "first_name": first if number == 0 else FIRST[(number * 7) % len(FIRST)],
                        "last_name": last if number == 0 else LAST[(number * 11) % len(LAST)],
                        "is_staff": True,
                        "email": f"{name}@mainstreet.example",
                    },
                )
                user.password = password
                user.save(update_fields=["password"])
                user.groups.add(group)
                people.append(user)
            self.staff[role_name] = people
        admin, _ = User.objects.get_or_create(
            username="admin",
            defaults={
                "first_name": "Alex",
                "last_name": "Admin",
                "is_staff": True,
                "is_superuser": True,
                "email": "admin@mainstreet.example",
            },
        )
        admin.password = password
        admin.save(update_fields=["password"])
        self.advisors = [user.pk for user in self.staff["SERVICE_ADVISOR"]]
        self.advisor_names = {user.pk: str(user) for user in self.staff["SERVICE_ADVISOR"]}
        self.technicians = [user.pk for user in self.staff["TECHNICIAN"]]
        self.tech_names = {user.pk: str(user) for user in self.staff["TECHNICIAN"]}
        self.salespeople = [user.pk for user in self.staff["SALESPERSON"]]
        self.manager = self.staff["MANAGER"][0].pk
        self.group_locations()

    def group_locations(self) -> None:
        """The group's five locations, each with its settings; advisors, technicians and
        salespeople get a home location, managers work at every location."""
        from django.contrib.auth.models import Permission

        from accounts.models import Location, ShopSettings
        from repairs.numbers import location_prefix
        from repairs.totals import Rates

        default = Location.default()
        if default.kind != Location.Kind.BOTH:
            default.kind = Location.Kind.BOTH
            default.save(update_fields=["kind"])
        self.default_location = default.pk
        locations = [default]
        shop = self.shop
        labor_delta = {default.pk: Decimal("0.00")}
        for code, name, kind, address, phone, labor, tax in EXTRA_LOCATIONS:
            location, _ = Location.objects.get_or_create(
                code=code, defaults={"name": name, "kind": kind}
            )
            own = ShopSettings.of(location)
            own.name, own.address, own.phone = name, address, phone
            own.email = f"{code}@mainstreet.example"
            own.tax_id = shop.tax_id
            own.labor_rate = shop.labor_rate + Decimal(labor)
            own.parts_tax_rate = shop.parts_tax_rate + Decimal(tax)
            own.save()
            labor_delta[location.pk] = Decimal(labor)
            locations.append(location)
        self.locations = locations
        self.labor_delta = labor_delta
        self.shop_ids = [location.pk for location in locations if location.is_shop]
        self.lot_ids = [location.pk for location in locations if location.is_lot]
        self.shop_weights = list(_accumulate(SHOP_SHARES[: len(self.shop_ids)]))
        self.prefix = {location.pk: location_prefix(location) for location in locations}
        self.settings_of = {location.pk: ShopSettings.of(location) for location in locations}
        self.rates_of = {pk: Rates.from_settings(own) for pk, own in self.settings_of.items()}

        def spread(people: list[Any], places: list[int]) -> dict[int, list[int]]:
            at: dict[int, list[int]] = {place: [] for place in places}
            for number, person in enumerate(people):
                place = places[number % len(places)]
                at[place].append(person.pk)
                person.home_location_id = place
                person.save(update_fields=["home_location"])  # their sessions see it
            return at

        self.advisors_at = spread(self.staff["SERVICE_ADVISOR"], self.shop_ids)
        self.technicians_at = spread(self.staff["TECHNICIAN"], self.shop_ids)
        spread(self.staff["SALESPERSON"], self.lot_ids)
        everywhere = Permission.objects.get(
            content_type__app_label="accounts", codename="work_at_all_locations"
        )
        for role in ("MANAGER", "OPERATIONS"):
            for person in self.staff.get(role, []):
                person.user_permissions.add(everywhere)

    def pick_shop(self, rng: random.Random) -> int:
        """A service shop, by its share of the work."""
        weights = self.shop_weights
        return self.shop_ids[bisect.bisect_right(weights, rng.random() * weights[-1])]

    def partners(self) -> None:
        """API partners for the benchmarks: a fleet (linked to the fleet companies), a
        marketplace and an accounting system, each linked to every location of the group. Keys
        are issued by whoever uses them."""
        from accounts import services
        from accounts.models import Partner

        if Partner.objects.filter(slug="bench-fleet").exists():
            return
        services.create_partner(
            "Fleetwise Leasing",
            slug="bench-fleet",
            kind=Partner.Kind.FLEET,
            customers=self.fleet_ids,
            locations=self.locations,
        )
        self.marketplace = services.create_partner(
            "AutoMarket",
            slug="bench-market",
            kind=Partner.Kind.MARKETPLACE,
            locations=self.locations,
        )
        services.create_partner(
            "LedgerLine",
            slug="bench-books",
            kind=Partner.Kind.ACCOUNTING,
            locations=self.locations,
        )

    # -- the car lot's plan (decides which vehicles the business owns or sold) -----------------
    def plan_lot(self) -> None:
        """Simulate five years of the lot: units bought at auction, privately or wholesale, and
        traded in on deals; reconditioned by internal repair orders; sold or wholesaled."""
        rng = self.rng("lot")
        target = self.size["stock_units"]
        customers = self.size["customers"]
        bought = round(target * 0.76)
        queue: list[tuple[int, int, str, int | None]] = []
        for order in range(bought):
            source = rng.choices(["auction", "private", "wholesale"], [60, 20, 20])[0]
            heapq.heappush(queue, (rng.randrange(self.days), order, source, None))
        order = bought
        self.units: list[_Unit] = []
        while queue:
            day, _order, source, traded_on = heapq.heappop(queue)
            unit = _Unit()
            unit.index = len(self.units)
            unit.acquired_day = day
            unit.source = source
            unit.trade_in_of = traded_on  # the unit whose deal took this one in trade
            unit.recon = None
            unit.internal_order = None
            unit.canceled_deal_day = unit.draft_deal_day = unit.deal_days = None
            unit.buyer = None
            unit.disposed_day = None
            unit.recon_cost = Decimal("0.00")
            if rng.random() < 0.5:
                start = day + rng.randint(1, 3)
                unit.recon = (start, start + rng.randint(1, 4))
                unit.available_day = unit.recon[1] + 1
            else:
                unit.available_day = day + rng.randint(1, 3)
            if rng.random() < 0.8:
                unit.outcome = "sold"
                gone = unit.available_day + min(int(rng.lognormvariate(math.log(30), 0.8)), 240)
            else:
                unit.outcome = "wholesaled"
                gone = day + rng.randint(60, 150)
            today = self.days
            if gone < today:
                unit.status = unit.outcome
                unit.disposed_day = gone
            elif unit.outcome == "sold" and gone - today <= 7 and unit.available_day < today:
                unit.status = "reserved"
            elif today > unit.available_day:
                unit.status = "available"
            elif unit.recon and today >= unit.recon[0]:
                unit.status = "reconditioning"
            else:
                unit.status = "acquired"
            if unit.status in ("sold", "reserved"):
                unit.buyer = rng.randrange(customers) + 1
                signed = max(unit.available_day, gone - rng.randint(0, 4))
                created = max(unit.available_day, signed - rng.randint(0, 6))
                unit.deal_days = (created, signed, gone if unit.status == "sold" else None)
                if unit.status == "sold" and rng.random() < 0.3 and gone < today:
                    heapq.heappush(queue, (gone, order, "trade_in", unit.index))
                    order += 1
            if (
                unit.available_day < min(today, (unit.deal_days or (today,))[0]) - 2
                and rng.random() < 0.08
            ):
                last = min(today, (unit.deal_days or (today,))[0]) - 1
                unit.canceled_deal_day = rng.randint(unit.available_day, last - 1)
            if unit.status == "available" and rng.random() < 0.15:
                unit.draft_deal_day = rng.randint(unit.available_day, today - 1)
            self.units.append(unit)
        self.log(f"  {len(self.units)} stock units planned")

    # -- customers -----------------------------------------------------------------------------
    def customers(self) -> None:
        from accounts.models import Customer, phone_digits

        rng = self.rng("customers")
        count = self.size["customers"]
        table = Table(
            Customer,
            [
                "id",
                "kind",
                "first_name",
                "last_name",
                "company_name",
                "display_name",
                "phone",
                "phone_other",
                "phone_digits",
                "email",
                "address_line",
                "city",
                "region",
                "postal_code",
                "tax_id",
                "consent_reminders",
                "notes",
                "created_at",
                "updated_at",
            ],
        )
        fleets = max(2, round(count * 0.003))
        # index = id: (name, address, phone, email, tax_id, kind)
        self.customer_details: list[Any] = [None]
        self.fleet_ids: list[int] = []
        self.person_ids = []
        rows = []
        used_phones = set()
        for pk in range(1, count + 1):
            city, region, zip_prefix = rng.choice(CITIES)
            company = pk % 8 == 0
            while True:
                phone = (
                    f"({rng.randint(201, 989)}) {rng.randint(201, 989)}-{rng.randint(0, 9999):04d}"
                )
                if phone not in used_phones:
                    used_phones.add(phone)
                    break
            other = (
                f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}"
                if rng.random() < 0.15
                else ""
            )
            if company:
                first = last = ""
                name = (
                    f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}"
                    f"{'' if rng.random() < 0.5 else ' ' + rng.choice(['LLC', 'Inc', 'Co'])}"
                )
                company_name, display = name, name
                tax_id = f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}"
                email = f"office{pk}@{name.split()[0].lower()}.example"
                if len(self.fleet_ids) < fleets:
                    self.fleet_ids.append(pk)
            else:
                first, last = rng.choice(FIRST), rng.choice(LAST)
                company_name, display, tax_id = "", f"{last}, {first}", ""
                email = (
                    f"{first.lower()}.{last.lower()}{pk}@example.com" if rng.random() < 0.85 else ""
                )
                self.person_ids.append(pk)
            address = f"{rng.randint(1, 9999)} {rng.choice(STREETS)} St"
            postal = f"{zip_prefix}{rng.randint(0, 99):02d}"
            created = self.dt(self.start_ts - rng.randint(0, 700) * DAY - rng.randint(0, DAY))
            rows.append(
                (
                    pk,
                    "company" if company else "person",
                    first,
                    last,
                    company_name,
                    display,
                    phone,
                    other,
                    phone_digits(phone, other),
                    email,
                    address,
                    city,
                    region,
                    postal,
                    tax_id,
                    rng.random() < 0.7,
                    "",
                    created,
                    created,
                )
            )
            self.customer_details.append(
                (display, f"{address}\n{city} {region} {postal}", phone, email, tax_id)
            )
            if len(rows) == 20_000:
                self.writer.write(table, rows)
                rows = []
        self.writer.write(table, rows)

    # -- vehicles (planned before the repair orders, written after with their odometer) --------
    def plan_vehicles(self) -> None:
        from inventory.demo import make_vin

        rng = self.rng("vehicles")
        total = max(self.size["vehicles"], len(self.units) + 20)
        lot = len(self.units)
        customer_count = total - lot
        wmis = list(MAKER_WEIGHTS)
        weights = [MAKER_WEIGHTS[wmi] for wmi in wmis]
        used: set[Any] = set()
        self.vehicle_count = total
        # Per vehicle (index = id): the columns, the owner, and the odometer as it goes.
        self.v_info: list[Any] = [None]
        self.v_owner: list[Any] = [None]
        self.v_created = [0.0]
        self.v_odo = [0]
        self.v_odo_ts = [0.0]
        self.v_miles = [0.0]
        self.v_last_order: list[Any] = [None]
        fleet_share = 0.08
        people = self.person_ids
        companies = list(range(8, self.size["customers"] + 1, 8))
        old = []  # customer vehicles known before the first day: any order may pick them
        this_year = self.today.year
        for pk in range(1, total + 1):
            wmi = rng.choices(wmis, weights)[0]
            make, country, models = MAKERS[wmi]
            in_lot = pk > customer_count
            if in_lot:
                unit = self.units[pk - customer_count - 1]
                unit.vehicle = pk
                acquired = self.day_ts(unit.acquired_day, 10 * HOUR + rng.randint(0, 6 * HOUR))
                year = max(2000, self.local_year(acquired) - rng.randint(1, 9))
                created = acquired
                owner = unit.buyer if unit.status == "sold" else None
            else:
                roll = rng.random()
                if roll < fleet_share:
                    owner = rng.choice(self.fleet_ids)
                elif roll < 0.2:
                    owner = rng.choice(companies)
                else:
                    owner = rng.choice(people)
                if rng.random() < 0.65:
                    created = self.start_ts - rng.randint(1, 800) * DAY
                    year = rng.randint(2000, self.first_day.year)
                else:
                    created = self.start_ts + rng.random() * (self.days - 1) * DAY
                    year = min(this_year, self.local_year(created) + rng.randint(-8, 1))
                    year = max(year, 2000)
            vin = make_vin(rng, wmi, year, used)
            plate = (
                ""
                if owner is None
                else (
                    f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}"
                    f"{rng.randint(100, 999)}{rng.randint(1000, 9999)}"
                )
            )
            miles = rng.uniform(6000, 20000)
            age_years = max(
                0.2, (created - self._local_ts(datetime.date(year, 1, 1), 0)) / (365.25 * DAY)
            )
            self.v_info.append(
                (
                    vin,
                    make,
                    rng.choice(models),
                    year,
                    rng.choice(COLORS),
                    rng.choice(ENGINES),
                    plate,
                    country,
                )
            )
            self.v_owner.append(owner)
            self.v_created.append(created)
            self.v_odo.append(int(age_years * miles))
            self.v_odo_ts.append(created)
            self.v_miles.append(miles / (365.25 * DAY))
            self.v_last_order.append(None)
            if not in_lot and created < self.start_ts:
                old.append(pk)
        self.customer_vehicle_count = customer_count
        self.old_vehicles = old

    def vehicles(self) -> None:
        from inventory.models import OdometerReading, Vehicle

        vehicles = Table(
            Vehicle,
            [
                "id",
                "vin",
                "vin_reversed",
                "make",
                "model",
                "model_year",
                "trim",
                "engine",
                "color",
                "plate",
                "country",
                "owner",
                "odometer",
                "odometer_read_on",
                "created_at",
                "updated_at",
            ],
        )
        readings = Table(
            OdometerReading,
            ["id", "vehicle", "reading", "read_on", "note", "recorded_by", "created_at"],
        )
        vehicle_rows, reading_rows = [], []
        reading_id = 0
        advisor = self.advisors[0]
        for pk in range(1, self.vehicle_count + 1):
            vin, make, model, year, color, engine, plate, country = self.v_info[pk]
            created = self.v_created[pk]
            first_reading = int(self.v_odo_first[pk])
            reading_id += 1
            reading_rows.append(
                (
                    reading_id,
                    pk,
                    first_reading,
                    self.local_date(created),
                    "",
                    advisor,
                    self.dt(created),
                )
            )
            last_ts = self.v_odo_ts[pk]
            last = self.v_odo[pk]
            if last_ts > created:
                reading_id += 1
                reading_rows.append(
                    (reading_id, pk, last, self.local_date(last_ts), "", advisor, self.dt(last_ts))
                )
            updated = max(created, last_ts)
            vehicle_rows.append(
                (
                    pk,
                    vin,
                    vin[::-1],
                    make,
                    model,
                    year,
                    "",
                    engine,
                    color,
                    plate,
                    country,
                    self.v_owner[pk],
                    last,
                    self.local_date(last_ts),
                    self.dt(created),
                    self.dt(updated),
                )
            )
            if len(vehicle_rows) == 20_000:
                self.writer.write(vehicles, vehicle_rows)
                self.writer.write(readings, reading_rows)
                vehicle_rows, reading_rows = [], []
        self.writer.write(vehicles, vehicle_rows)
        self.writer.write(readings, reading_rows)

    # -- parts (planned first; written after the orders, with stock on hand) -------------------
    def plan_parts(self) -> None:
        from inventory.pricing import markup_price

        rng = self.rng("parts")
        count = self.size["parts"]
        supplier_count = self.size["suppliers"]
        # index = id: (sku, description, brand, category, cost, override,
        #              taxable, bin, reorder point, reorder qty, supplier)
        self.parts: list[Any] = [None]
        self.part_price: list[Any] = [None]
        self.part_cost: list[Any] = [None]
        self.part_taxable: list[Any] = [None]
        by_kind: dict[tuple[str, str], list[Any]] = {}
        for pk in range(1, count + 1):
            category, code, bases, brands, (low, high) = CATALOG[(pk - 1) % len(CATALOG)]
            base = bases[((pk - 1) // len(CATALOG)) % len(bases)]
            brand = rng.choice(brands)
            fitment = rng.choice(FITMENTS)
            cost = Decimal(rng.randint(low * 100, high * 100)) / 100
            override = (cost * 2).quantize(Decimal("0.01")) if rng.random() < 0.04 else None
            taxable = category != "Fluids" or rng.random() < 0.5
            reorder_point = rng.choice([0, 2, 2, 4, 6, 10])
            self.parts.append(
                (
                    f"{code}-{brand[:3].upper()}-{pk:05d}",
                    f"{base} ({brand}) {fitment}",
                    brand,
                    category,
                    cost,
                    override,
                    taxable,
                    f"{chr(65 + pk % 8)}-{pk % 40 + 1:02d}-{pk % 5 + 1}",
                    reorder_point,
                    max(reorder_point * 2, 4) if reorder_point else 0,
                    (pk - 1) % supplier_count + 1,
                )
            )
            self.part_price.append(
                override if override is not None else markup_price(cost, self.matrix)
            )
            self.part_cost.append(cost)
            self.part_taxable.append(taxable)
            by_kind.setdefault((category, base), []).append(pk)
        # Within a kind, a few parts are used far more than the rest (Zipf-like popularity).
        self.part_choice = {}
        for kind, ids in by_kind.items():
            rng.shuffle(ids)
            cumulative, total = [], 0.0
            for rank in range(len(ids)):
                total += 1.0 / (rank + 3)
                cumulative.append(total)
            self.part_choice[kind] = (ids, cumulative, total)

    def pick_part(self, rng: random.Random, kind: tuple[str, str]) -> int:
        ids, cumulative, total = self.part_choice[kind]
        return ids[bisect.bisect_left(cumulative, rng.random() * total)]

    # -- repair orders and everything that hangs from them -------------------------------------
    def repair_orders(self) -> None:
        from core.money import money
        from repairs import models as rm
        from repairs.numbers import credit_note_number, invoice_number, repair_order_number
        from repairs.totals import LaborItem, PartItem, compute_totals

        rng = self.rng("repairs")
        # Always there: the stock movements came with the parts ledger.
        inventory_movement = cast("type[Model]", _model("inventory.StockMovement"))
        tables = {
            "order": Table(
                rm.RepairOrder,
                [
                    "id",
                    "number",
                    "location",
                    "status",
                    "customer",
                    "vehicle",
                    "appointment",
                    "odometer_in",
                    "advisor",
                    "promised_at",
                    "internal",
                    "comeback_of",
                    "discount_percent",
                    "hazardous_waste",
                    "notes",
                    "opened_at",
                    "status_changed_at",
                ],
                stamp="status_changed_at",
            ),
            "event": Table(
                rm.RepairOrderEvent,
                ["id", "repair_order", "from_status", "to_status", "at", "user", "note"],
            ),
            "job": Table(
                rm.Job,
                [
                    "id",
                    "repair_order",
                    "position",
                    "title",
                    "complaint",
                    "cause",
                    "correction",
                    "canned_job",
                    "authorization",
                    "authorization_method",
                    "authorized_by",
                    "authorized_at",
                    "authorization_recorded_by",
                ],
            ),
            "labor": Table(
                rm.LaborLine, ["id", "job", "operation", "hours_sold", "rate", "technician"]
            ),
            "part": Table(
                rm.PartLine,
                [
                    "id",
                    "job",
                    "part",
                    "quantity",
                    "price",
                    "unit_cost",
                    "taxable",
                    "issued_quantity",
                ],
            ),
            "time": Table(
                rm.TimeEntry, ["id", "technician", "job", "location", "started", "ended"]
            ),
            "invoice": Table(
                rm.Invoice,
                [
                    "id",
                    "repair_order",
                    "customer",
                    "location",
                    "number",
                    "year",
                    "sequence",
                    "issued_at",
                    "issued_by",
                    "labor_total",
                    "parts_total",
                    "discount_total",
                    "fees_total",
                    "tax_total",
                    "total",
                    "snapshot",
                    "updated_at",
                ],
            ),
            "credit": Table(
                rm.CreditNote,
                [
                    "id",
                    "invoice",
                    "location",
                    "number",
                    "year",
                    "sequence",
                    "amount",
                    "reason",
                    "issued_at",
                    "issued_by",
                    "updated_at",
                ],
            ),
            "payment": Table(
                rm.Payment,
                [
                    "id",
                    "invoice",
                    "amount",
                    "method",
                    "reference",
                    "received_at",
                    "received_by",
                    "updated_at",
                ],
            ),
            "movement": Table(
                inventory_movement,
                [
                    "id",
                    "part",
                    "location",
                    "kind",
                    "quantity",
                    "unit_cost",
                    "reason",
                    "reference",
                    "user",
                    "created_at",
                ],
            ),
        }
        rows: dict[str, list[Any]] = {name: [] for name in tables}
        ids = dict.fromkeys(tables, 0)
        # (location, series, year) -> last number
        self.sequences: dict[tuple[int, str, int], int] = {}
        quarters = self.days // 91 + 2
        self.demand: list[dict[Any, Any]] = [{} for _ in range(quarters)]
        self.movement_ids = 0

        # Labor rate by year before `until` (as Decimal), the rates, and job templates.
        rate_of_year = {
            self.today.year - back: Decimal(rate)
            for back, rate in enumerate(LABOR_RATE_BY_YEAR_AGO)
        }
        templates = [
            (
                title,
                complaint,
                cause,
                correction,
                [(operation, Decimal(hours)) for operation, hours in labor],
                [((category, base), low, high) for category, base, low, high in parts],
            )
            for title, complaint, cause, correction, _w, labor, parts in JOBS
        ]
        template_weights = list(_accumulate(weight for *_x, weight, _l, _p in JOBS))
        headers = {
            pk: {
                "name": own.name,
                "address": own.address,
                "phone": own.phone,
                "email": own.email,
                "tax_id": own.tax_id,
            }
            for pk, own in self.settings_of.items()
        }
        rates_dicts = {pk: rates.as_dict() for pk, rates in self.rates_of.items()}
        where = self.rng("repair locations")  # its own stream: the rest does not shift
        labels = {
            "pending": "Waiting for the customer",
            "approved": "Approved",
            "declined": "Declined",
        }

        # Orders per day: weekdays busy, Saturdays half, Sundays nearly closed, and the group
        # growing over the five years. Internal orders come from the lot plan.
        internal_by_day: dict[int, list[Any]] = {}
        for planned in self.units:
            if planned.recon and planned.recon[0] < self.days:
                internal_by_day.setdefault(planned.recon[0], []).append(planned)
        internal_count = sum(len(units) for units in internal_by_day.values())
        customer_orders = max(1, self.size["repair_orders"] - internal_count)
        weights = []
        for day in range(self.days):
            weekday = (self.first_day + datetime.timedelta(days=day)).weekday()
            weights.append(
                (0.1 if weekday == 6 else 0.5 if weekday == 5 else 1.0)
                * (1 + 0.6 * day / self.days)
            )
        total_weight = sum(weights)
        cumulative = 0.0
        assigned = 0
        customer_vehicles = self.customer_vehicle_count
        v_owner, v_created, v_last = self.v_owner, self.v_created, self.v_last_order
        v_odo, v_odo_ts, v_miles = self.v_odo, self.v_odo_ts, self.v_miles
        self.v_odo_first = list(v_odo)
        until = self.until_ts
        orders_done = 0
        started = time.monotonic()
        dt = self.dt
        part_price, part_cost, part_taxable = self.part_price, self.part_cost, self.part_taxable
        parts_info = self.parts
        customer_details = self.customer_details

        def next_number(location: int, series: str, year: int) -> int:
            number = self.sequences.get((location, series, year), 0) + 1
            self.sequences[location, series, year] = number
            return number

        self.feed_clocks: dict[Any, datetime.datetime] = {}

        def feed_time(feed: Any, ts: float, row_id: int) -> datetime.datetime:
            """The row's time in its partner feed (repairs.FeedClock): unique per feed, in the
            order rows appeared. Ten-second steps of the event time plus the row's id in
            microseconds: two rows of one feed never share it (fewer than ten million rows)."""
            value = dt(ts // 10 * 10 + row_id / 1_000_000)
            if feed not in self.feed_clocks or value > self.feed_clocks[feed]:
                self.feed_clocks[feed] = value
            return value

        def emit_events(
            order_id: int,
            reached: Iterable[tuple[str, float]],
            advisor: Any,
            notes: dict[str, str],
        ) -> None:
            previous = ""
            for step_status, step_ts in reached:
                ids["event"] += 1
                rows["event"].append(
                    (
                        ids["event"],
                        order_id,
                        previous,
                        step_status,
                        dt(step_ts),
                        advisor,
                        notes.get(step_status, ""),
                    )
                )
                previous = step_status

        def flush() -> None:
            for name, table in tables.items():
                self.writer.write(table, rows[name])
                rows[name] = []

        for day in range(self.days):
            cumulative += weights[day]
            count = round(cumulative * customer_orders / total_weight) - assigned
            assigned += count
            opening = self.day_ts(day, 7.5 * HOUR)
            starts = sorted(opening + rng.random() * 10 * HOUR for _ in range(count))
            batch: list[tuple[float, Any]] = [(ts, None) for ts in starts]  # unit or None
            for unit in internal_by_day.get(day, ()):
                batch.append((opening + rng.random() * 8 * HOUR, unit))
            batch.sort(key=lambda item: item[0])
            for t0, unit in batch:
                ids["order"] += 1
                order_id = ids["order"]
                internal = unit is not None
                location = self.pick_shop(where)
                prefix = self.prefix[location]
                advisors = self.advisors_at[location]
                technicians = self.technicians_at[location]
                rates = self.rates_of[location]
                advisor = advisors[0] if rng.random() < 0.3 else rng.choice(advisors)
                if internal:
                    vehicle = unit.vehicle
                    customer = None
                    unit.internal_order = order_id
                else:
                    for _attempt in range(6):
                        vehicle = rng.randint(1, customer_vehicles)
                        if v_created[vehicle] <= t0:
                            break
                    else:
                        vehicle = rng.choice(self.old_vehicles)
                    customer = v_owner[vehicle]
                # Odometer: the vehicle's own mileage per second since the last reading.
                odometer = int(v_odo[vehicle] + (t0 - v_odo_ts[vehicle]) * v_miles[vehicle])
                v_odo[vehicle], v_odo_ts[vehicle] = odometer, t0

                # The order's plan, then how far it got by `until`.
                roll = rng.random()
                if internal:
                    plan = "closed"
                elif roll < 0.03:
                    plan = "canceled"
                elif roll < 0.045:
                    plan = "invoiced"  # never fully paid (yet)
                else:
                    plan = "paid"
                t_approve = t0 + (
                    rng.uniform(600, 7200)
                    if roll > 0.3 or internal
                    else rng.uniform(2 * HOUR, 30 * HOUR)
                    if roll > 0.05
                    else rng.uniform(2 * DAY, 10 * DAY)
                )
                job_count = (
                    1
                    if internal and rng.random() < 0.3
                    else rng.choice((1, 1, 1, 1, 1, 2, 2, 2, 3, 4))
                )
                chosen: list[Any] = []
                while len(chosen) < job_count:
                    template = bisect.bisect_left(
                        template_weights, rng.random() * template_weights[-1]
                    )
                    if template not in chosen:
                        chosen.append(template)
                hours_total = 0.0
                for template in chosen:
                    for _operation, hours in templates[template][4]:
                        hours_total += float(hours)
                t_start = t_approve + rng.uniform(600, 4 * HOUR)
                # Some cars wait overnight, and one in ten waits days (parts on order).
                wait = rng.random()
                t_complete = (
                    t_start
                    + hours_total * HOUR * rng.uniform(1.1, 2.5)
                    + (
                        rng.uniform(DAY, 7 * DAY)
                        if wait < 0.1
                        else rng.uniform(0, 20 * HOUR)
                        if wait < 0.5
                        else 0
                    )
                )
                if internal:
                    t_complete = max(t_complete, self.day_ts(unit.recon[1], 15 * HOUR))
                t_invoice = t_complete + rng.uniform(600, 3 * HOUR)
                t_paid = t_invoice + (
                    rng.uniform(60, 1800) if rng.random() < 0.85 else rng.uniform(DAY, 30 * DAY)
                )
                if plan == "canceled":
                    canceled_after_approval = rng.random() < 0.3
                    t_cancel = (t_approve if canceled_after_approval else t0) + rng.uniform(
                        HOUR, 3 * DAY
                    )
                    steps = [("estimate", t0)]
                    if canceled_after_approval:
                        steps.append(("approved", t_approve))
                    steps.append(("canceled", t_cancel))
                elif internal:
                    steps = [
                        ("estimate", t0),
                        ("approved", t_approve),
                        ("in_progress", t_start),
                        ("completed", t_complete),
                        ("closed", t_complete + HOUR),
                    ]
                else:
                    steps = [
                        ("estimate", t0),
                        ("approved", t_approve),
                        ("in_progress", t_start),
                        ("completed", t_complete),
                        ("invoiced", t_invoice),
                    ]
                    if plan == "paid":
                        steps.append(("paid", t_paid))
                reached = [step for step in steps if step[1] <= until]
                status, status_ts = reached[-1]
                reached_names = {name for name, _ts in reached}
                approved = "approved" in reached_names
                started_work = "in_progress" in reached_names
                completed = "completed" in reached_names

                if customer is not None:
                    name = customer_details[customer][0]
                else:
                    name = self.advisor_names[advisor]
                comeback = None
                last = v_last[vehicle]
                if (
                    not internal
                    and last is not None
                    and last[1] > t0 - 45 * DAY
                    and last[2]
                    and rng.random() < 0.1
                ):
                    comeback = last[0]
                v_last[vehicle] = (order_id, t0, plan != "canceled")
                discount = Decimal("0.00")
                if not internal and rng.random() < 0.08:
                    discount = Decimal("10.00") if rng.random() < 0.3 else Decimal("5.00")
                order_year = self.local_year(t0)
                number = repair_order_number(
                    order_year, next_number(location, "repair_order", order_year), prefix
                )
                rows["order"].append(
                    (
                        order_id,
                        number,
                        location,
                        status,
                        customer,
                        vehicle,
                        None,
                        odometer,
                        advisor,
                        dt(t0 + rng.uniform(2 * HOUR, 30 * HOUR)) if rng.random() < 0.8 else None,
                        internal,
                        comeback,
                        discount,
                        True,
                        "",
                        dt(t0),
                        dt(status_ts),
                    )
                )
                notes = {"canceled": "Customer chose another shop"} if plan == "canceled" else {}
                # Jobs, labor, parts; what counts toward the bill.
                labor_items, part_items, snapshot_jobs, declined_jobs = [], [], [], []
                labor_rate = (
                    rate_of_year.get(self.local_year(t0), rate_of_year[min(rate_of_year)])
                    + self.labor_delta[location]
                )
                work_ts = t_start
                recorded: int | None
                for position, template in enumerate(chosen, start=1):
                    title, complaint, cause, correction, labor, part_specs = templates[template]
                    ids["job"] += 1
                    job_id = ids["job"]
                    if internal:
                        decision = "approved"
                        method, by, at, recorded = "internal", name, dt(t0), advisor
                    elif approved:
                        decision = (
                            "declined"
                            if (position == job_count > 1 and rng.random() < 0.2)
                            else "approved"
                        )
                        method = AUTH_METHODS[rng.randrange(len(AUTH_METHODS))]
                        by = name
                        at = dt(max(t0, t_approve - rng.uniform(0, 900)))
                        recorded = None if method == "online" else advisor
                    else:
                        decision, method, by, at, recorded = "pending", "", "", None, None
                    done = completed and decision == "approved"
                    rows["job"].append(
                        (
                            job_id,
                            order_id,
                            position,
                            title,
                            complaint,
                            cause if done else "",
                            correction if done else "",
                            None,
                            decision,
                            method,
                            by,
                            at,
                            recorded,
                        )
                    )
                    counted = decision != "declined"
                    issued = started_work and decision == "approved"
                    technician = technicians[rng.randrange(len(technicians))]
                    job_labor, job_parts = [], []
                    for operation, hours in labor:
                        ids["labor"] += 1
                        rows["labor"].append(
                            (ids["labor"], job_id, operation, hours, labor_rate, technician)
                        )
                        if internal:
                            unit.recon_cost += money(hours * labor_rate)
                        if counted:
                            labor_items.append(LaborItem(hours, labor_rate))
                        job_labor.append((operation, hours))
                    for kind, low, high in part_specs:
                        part = self.pick_part(rng, kind)
                        quantity = low if low == high else rng.randint(low, high)
                        price, cost, taxable = part_price[part], part_cost[part], part_taxable[part]
                        ids["part"] += 1
                        line_id = ids["part"]
                        rows["part"].append(
                            (
                                line_id,
                                job_id,
                                part,
                                quantity,
                                price,
                                cost,
                                taxable,
                                quantity if issued else 0,
                            )
                        )
                        if issued:
                            self.movement_ids += 1
                            rows["movement"].append(
                                (
                                    self.movement_ids,
                                    part,
                                    location,
                                    "issue",
                                    -quantity,
                                    cost,
                                    "",
                                    f"repairs.partline:{line_id}",
                                    advisor,
                                    dt(t_start),
                                )
                            )
                            quarter = self.demand[int((t_start - self.start_ts) // (91 * DAY))]
                            quarter[location, part] = quarter.get((location, part), 0) + quantity
                        if counted:
                            part_items.append(PartItem(quantity, price, taxable))
                        if internal:
                            unit.recon_cost += quantity * cost
                        job_parts.append((part, quantity, price, taxable))
                    if done:
                        ids["time"] += 1
                        clocked = (
                            float(sum(hours for _op, hours in labor)) * HOUR * rng.uniform(0.6, 1.3)
                        )
                        begin = min(work_ts, t_complete - clocked - 60)
                        begin = max(begin, t_start)
                        rows["time"].append(
                            (
                                ids["time"],
                                technician,
                                job_id,
                                location,
                                dt(begin),
                                dt(min(begin + clocked, t_complete)),
                            )
                        )
                        work_ts = begin + clocked + 300
                    if decision == "declined":
                        declined_jobs.append({"title": title, "complaint": complaint})
                    elif "invoiced" in reached_names:
                        snapshot_jobs.append(
                            self._snapshot_job(
                                job_id,
                                position,
                                title,
                                complaint,
                                cause,
                                correction,
                                decision,
                                labels[decision],
                                job_labor,
                                labor_rate,
                                self.tech_names[technician],
                                job_parts,
                                parts_info,
                            )
                        )

                if "invoiced" not in reached_names:
                    emit_events(order_id, reached, advisor, notes)
                    orders_done += 1
                    if len(rows["order"]) >= CHUNK_ORDERS:
                        flush()
                        self._log_rate(orders_done, started)
                    continue

                # The invoice, from the counted lines, numbered in the year it was issued.
                totals = compute_totals(
                    labor_items, part_items, rates, discount_percent=discount, hazardous_waste=True
                )
                year = self.local_year(t_invoice)
                sequence = next_number(location, "invoice", year)
                ids["invoice"] += 1
                invoice_id = ids["invoice"]
                invoice_no = invoice_number(year, sequence, prefix)
                vin, make, model, model_year, _c, _e, plate, _country = self.v_info[vehicle]
                # Only customers' orders are invoiced: customer is set here.
                display, address, phone, email, tax_id = customer_details[customer]  # type: ignore[index]
                snapshot = {
                    "shop": headers[location],
                    "customer": {
                        "name": display,
                        "address": address,
                        "phone": phone,
                        "email": email,
                        "tax_id": tax_id,
                    },
                    "vehicle": {
                        "vin": vin,
                        "description": f"{model_year} {make} {model}",
                        "plate": plate,
                        "odometer_in": odometer,
                    },
                    "repair_order": {
                        "number": number,
                        "opened_at": datetime.datetime.fromtimestamp(t0, self.tz).isoformat(),
                        "advisor": self.advisor_names[advisor],
                        "internal": False,
                        "discount_percent": str(discount),
                    },
                    "jobs": snapshot_jobs,
                    "recommendations": declined_jobs,
                    "rates": rates_dicts[location],
                    "totals": {name: str(getattr(totals, name)) for name in TOTALS},
                }
                rows["invoice"].append(
                    (
                        invoice_id,
                        order_id,
                        customer,
                        location,
                        invoice_no,
                        year,
                        sequence,
                        dt(t_invoice),
                        advisor,
                        totals.labor,
                        totals.parts,
                        totals.discount,
                        totals.fees,
                        totals.tax,
                        totals.total,
                        snapshot,
                        feed_time("invoice", t_invoice, invoice_id),
                    )
                )
                notes["invoiced"] = f"invoice {invoice_no}"

                # Payments (and now and then a credit note), never more than is owed.
                owed = totals.total
                if plan == "paid" and rng.random() < 0.004 and owed > Decimal("20.00"):
                    credit = (owed / 10).quantize(Decimal("0.01"))
                    credit_ts = t_invoice + rng.uniform(HOUR, 2 * DAY)
                    if credit_ts < t_paid and credit_ts <= until:
                        credit_year = self.local_year(credit_ts)
                        credit_seq = next_number(location, "credit_note", credit_year)
                        ids["credit"] += 1
                        rows["credit"].append(
                            (
                                ids["credit"],
                                invoice_id,
                                location,
                                credit_note_number(credit_year, credit_seq, prefix),
                                credit_year,
                                credit_seq,
                                credit,
                                "Goodwill: waiting time",
                                dt(credit_ts),
                                advisor,
                                feed_time("creditnote", credit_ts, ids["credit"]),
                            )
                        )
                        owed -= credit
                method = PAYMENT_METHODS[rng.randrange(len(PAYMENT_METHODS))]
                payments = []
                if plan == "paid":
                    if status == "paid" and rng.random() < 0.1 and owed > Decimal("1.00"):
                        first = (owed / 2).quantize(Decimal("0.01"))
                        payments = [(first, (t_invoice + t_paid) / 2), (owed - first, t_paid)]
                    elif status == "paid":
                        payments = [(owed, t_paid)]
                elif plan == "invoiced" and rng.random() < 0.5 and owed > Decimal("1.00"):
                    payments = [((owed / 2).quantize(Decimal("0.01")), t_paid)]
                for amount, paid_ts in payments:
                    if paid_ts > until:
                        continue
                    ids["payment"] += 1
                    reference = (
                        f"{method.upper()}-{rng.randint(100000, 999999)}"
                        if method in ("card", "check", "transfer")
                        else ""
                    )
                    rows["payment"].append(
                        (
                            ids["payment"],
                            invoice_id,
                            amount,
                            method,
                            reference,
                            dt(paid_ts),
                            advisor,
                            feed_time("payment", paid_ts, ids["payment"]),
                        )
                    )
                if status == "paid":
                    notes["paid"] = f"paid by {method.replace('_', ' ')}"
                emit_events(order_id, reached, advisor, notes)
                orders_done += 1
                if len(rows["order"]) >= CHUNK_ORDERS:
                    flush()
                    self._log_rate(orders_done, started)
        flush()
        self._log_rate(orders_done, started)

        from repairs.models import DocumentSequence

        counters = Table(DocumentSequence, ["location", "series", "year", "last_number"])
        self.writer.write(
            counters,
            [
                (location, series, year, last)
                for (location, series, year), last in sorted(self.sequences.items())
            ],
        )
        feed_clock = _model("repairs.FeedClock")
        if feed_clock is not None:
            # Each feed's clock starts after its latest row, as repairs migration 0002 leaves it.
            self.writer.write(
                Table(feed_clock, ["feed", "last_at"]),
                [(f"repairs.{feed}", last) for feed, last in sorted(self.feed_clocks.items())],
            )

    def _log_rate(self, done: int, started: float) -> None:
        """The verbose log's line on how many repair orders are written, and how fast."""
        elapsed = time.monotonic() - started
        self.log(f"  {done:,} repair orders ({done / max(elapsed, 0.001):,.0f}/s)")

    @staticmethod
    def _snapshot_job(
        job_id: Any,
        position: Any,
        title: Any,
        complaint: Any,
        cause: Any,
        correction: Any,
        decision: Any,
        label: Any,
        labor: Any,
        rate: Any,
        technician_name: Any,
        parts: Any,
        parts_info: Any,
    ) -> dict[str, Any]:
        from core.money import money

        return {
            "id": job_id,
            "position": position,
            "title": title,
            "complaint": complaint,
            "cause": cause,
            "correction": correction,
            "authorization": decision,
            "authorization_label": label,
            "labor": [
                {
                    "operation": operation,
                    "hours": str(hours),
                    "rate": str(rate),
                    "amount": str(money(hours * rate)),
                    "technician": technician_name,
                }
                for operation, hours in labor
            ],
            "parts": [
                {
                    "sku": parts_info[part][0],
                    "description": parts_info[part][1],
                    "quantity": quantity,
                    "price": str(price),
                    "amount": str(money(quantity * price)),
                    "taxable": taxable,
                }
                for part, quantity, price, taxable in parts
            ],
        }

    # -- appointments --------------------------------------------------------------------------
    def appointments(self) -> None:
        from repairs.models import Appointment

        rng = self.rng("appointments")
        table = Table(
            Appointment,
            [
                "id",
                "location",
                "date",
                "time",
                "customer",
                "vehicle",
                "concern",
                "advisor",
                "status",
                "created_at",
            ],
        )
        concerns = [job[1] for job in JOBS]
        rows = []
        # One booking per slot (a day and a quarter hour from 7:00 to 16:45), as
        # repairs.services.check_appointment requires: as many days ahead as the bookings need.
        count = self.size["appointments"]
        days = max(14, -(-count // 40))
        slots = rng.sample(range(days * 40), count)
        where = self.rng("appointment locations")
        for pk, slot in enumerate(slots, start=1):
            vehicle = rng.choice(self.old_vehicles)
            day = self.today + datetime.timedelta(days=slot // 40)
            location = self.pick_shop(where)
            rows.append(
                (
                    pk,
                    location,
                    day,
                    datetime.time(7 + slot % 40 // 4, slot % 4 * 15),
                    self.v_owner[vehicle],
                    vehicle,
                    rng.choice(concerns),
                    rng.choice(self.advisors_at[location]),
                    "scheduled",
                    self.dt(self.until_ts - rng.uniform(0, 20 * DAY)),
                )
            )
        self.writer.write(table, rows)

    # -- purchasing: each quarter's demand arrives before the quarter; parts with their stock --
    def purchasing(self) -> None:
        from inventory import models as im

        rng = self.rng("purchasing")
        tables = {
            "supplier": Table(
                im.Supplier, ["id", "name", "account_number", "phone", "email", "notes"]
            ),
            "order": Table(
                im.PurchaseOrder,
                [
                    "id",
                    "supplier",
                    "location",
                    "status",
                    "supplier_reference",
                    "expected_on",
                    "notes",
                    "created_by",
                    "created_at",
                    "ordered_at",
                    "ordered_by",
                    "received_at",
                    "cancelled_at",
                    "cancel_reason",
                    "updated_at",
                ],
            ),
            "line": Table(
                im.PurchaseOrderLine,
                ["id", "order", "part", "quantity_ordered", "quantity_received", "unit_cost"],
            ),
            "receipt": Table(
                im.PurchaseReceipt,
                ["id", "order", "received_at", "received_by", "packing_slip", "notes"],
            ),
            "receipt_line": Table(
                im.PurchaseReceiptLine,
                ["id", "receipt", "order_line", "quantity", "unit_cost", "movement"],
            ),
            "movement": Table(
                im.StockMovement,
                [
                    "id",
                    "part",
                    "location",
                    "kind",
                    "quantity",
                    "unit_cost",
                    "reason",
                    "reference",
                    "user",
                    "created_at",
                ],
            ),
            "part": Table(
                im.Part,
                [
                    "id",
                    "sku",
                    "description",
                    "brand",
                    "category",
                    "unit_cost",
                    "price_override",
                    "taxable",
                    "bin_location",
                    "reorder_point",
                    "reorder_quantity",
                    "on_hand",
                    "supplier",
                    "active",
                    "created_at",
                    "updated_at",
                ],
            ),
        }
        suppliers = self.size["suppliers"]
        self.writer.write(
            tables["supplier"],
            [
                (
                    pk,
                    f"{COMPANY_WORDS[pk % len(COMPANY_WORDS)]} Parts Supply #{pk}",
                    f"ACC-{pk:04d}",
                    f"(800) 555-{pk:04d}",
                    f"orders{pk}@supplier.example",
                    "",
                )
                for pk in range(1, suppliers + 1)
            ],
        )
        # Opening stock at each shop: what is left on its shelf at the end (some parts low,
        # some out). The lot keeps no parts.
        opening: dict[tuple[int, int], int] = {}
        for location in self.shop_ids:
            for pk in range(1, len(self.parts)):
                value = rng.choice(SAFETY_STOCK) + self.parts[pk][8]
                if rng.random() > 0.1 and value:
                    opening[location, pk] = value
        rows: dict[str, list[Any]] = {name: [] for name in tables}
        order_id = line_id = receipt_id = receipt_line_id = 0
        manager = self.manager
        for quarter, demand in enumerate(self.demand):
            wanted = dict(demand)
            if quarter == 0:
                for key, value in opening.items():
                    wanted[key] = wanted.get(key, 0) + value
            if not wanted:
                continue
            arrive = self.start_ts + quarter * 91 * DAY - 2 * DAY + rng.uniform(0, 8 * HOUR)
            if arrive > self.until_ts:
                continue
            # One order per shop and supplier, received into that shop.
            by_supplier: dict[Any, list[Any]] = {}
            for (location, part), quantity in sorted(wanted.items()):
                key = (location, self.parts[part][10])
                by_supplier.setdefault(key, []).append((part, quantity))
            for (location, supplier), lines in sorted(by_supplier.items()):
                order_id += 1
                receipt_id += 1
                ordered = arrive - rng.uniform(3 * DAY, 6 * DAY)
                rows["order"].append(
                    (
                        order_id,
                        supplier,
                        location,
                        "received",
                        f"SO-{order_id:06d}",
                        self.local_date(arrive),
                        f"Stock for quarter {quarter + 1}.",
                        manager,
                        self.dt(ordered - DAY),
                        self.dt(ordered),
                        manager,
                        self.dt(arrive),
                        None,
                        "",
                        self.dt(arrive),
                    )
                )
                rows["receipt"].append(
                    (receipt_id, order_id, self.dt(arrive), manager, f"PS-{receipt_id:06d}", "")
                )
                for part, quantity in lines:
                    line_id += 1
                    receipt_line_id += 1
                    self.movement_ids += 1
                    cost = self.part_cost[part]
                    rows["line"].append((line_id, order_id, part, quantity, quantity, cost))
                    rows["movement"].append(
                        (
                            self.movement_ids,
                            part,
                            location,
                            "receipt",
                            quantity,
                            cost,
                            "",
                            f"inventory.purchasereceipt:{receipt_id}",
                            manager,
                            self.dt(arrive),
                        )
                    )
                    rows["receipt_line"].append(
                        (receipt_line_id, receipt_id, line_id, quantity, cost, self.movement_ids)
                    )
            if len(rows["line"]) > 50_000:
                for name in ("order", "line", "receipt", "movement", "receipt_line"):
                    self.writer.write(tables[name], rows[name])
                    rows[name] = []
        for name in ("order", "line", "receipt", "movement", "receipt_line"):
            self.writer.write(tables[name], rows[name])
        created = self.dt(self.start_ts - 400 * DAY)
        updated = self.dt(self.until_ts - DAY)
        part_rows = []
        stock_rows = []
        for pk in range(1, len(self.parts)):
            (
                sku,
                description,
                brand,
                category,
                cost,
                override,
                taxable,
                bin_location,
                point,
                quantity,
                supplier,
            ) = self.parts[pk]
            part_rows.append(
                (
                    pk,
                    sku,
                    description,
                    brand,
                    category,
                    cost,
                    override,
                    taxable,
                    bin_location,
                    point,
                    quantity,
                    sum(opening.get((location, pk), 0) for location in self.shop_ids),
                    supplier,
                    rng.random() > 0.02,
                    created,
                    updated,
                )
            )
            # Its stock at each shop: what the shop's ledger leaves (receipts less issues).
            for location in self.shop_ids:
                stock_rows.append(
                    (pk, location, opening.get((location, pk), 0), cost, point, quantity, "")
                )
        self.writer.write(tables["part"], part_rows)
        self.writer.write(
            Table(
                im.PartStock,
                [
                    "part",
                    "location",
                    "on_hand",
                    "average_cost",
                    "reorder_point",
                    "reorder_quantity",
                    "bin",
                ],
            ),
            stock_rows,
        )

    # -- the car lot and its sales (when the lot's models exist) -------------------------------
    def lot_and_sales(self) -> None:
        if _model("inventory.StockUnit") is None or _model("sales.Deal") is None:
            self.log("  the lot's models are not installed: no stock units, leads or deals")
            return
        LotWriter(self).write()


def _accumulate(values: Iterable[int]) -> Iterator[int]:
    total = 0
    for value in values:
        total += value
        yield total


# --------------------------------------------------------------------------------------------
# The car lot
# --------------------------------------------------------------------------------------------

AUCTIONS = ["Manheim Central", "ADESA Springfield", "IAA Midwest", "America's Auto Auction"]
DEALERS = ["Prairie Motors", "Lakeside Ford", "Capitol Toyota", "Summit Chevrolet"]
LENDERS = [
    "Ally Financial",
    "Capital One Auto",
    "Chase Auto",
    "Prairie Credit Union",
    "Westlake Financial",
]
LOST_REASONS = [
    "Bought elsewhere",
    "Could not get financing",
    "Stopped answering",
    "Price too high",
    "Car sold to someone else",
]
ADDONS = [
    ("service_contract", "Service contract 36 months", "1495.00", "600.00", False),
    ("gap", "GAP insurance", "695.00", "250.00", False),
    ("maintenance", "Maintenance plan 2 years", "499.00", "180.00", False),
    ("accessory", "All-weather floor mats", "189.00", "60.00", True),
]
HOUSE_PLAN = ("House plan", "25.00", "150.00")


class LotWriter:
    """Stock units, their costs, leads, deals (with trade-ins, add-ons, payments and
    commissions) from the lot plan, with the figures sales.calculations gives."""

    def __init__(self, generator: Generator) -> None:
        self.g = generator
        self.rng = generator.rng("sales")
        # (deal, traded unit, allowance, payoff, ACV, buyer, when)
        self.pending_trades: list[Any] = []
        # Leads a marketplace posted through the API remember it (when the model has it).
        from sales.models import Lead

        names = {field.name for field in Lead._meta.concrete_fields}
        self.partner_fields = [name for name in ("partner", "message") if name in names]
        self.marketplace = getattr(generator, "marketplace", None)

    def write(self) -> None:
        from inventory.models import StockUnit, StockUnitCost
        from sales import models as sm

        g = self.g
        plan, _ = sm.CommissionPlan.objects.get_or_create(
            salesperson=None,
            defaults={
                "name": HOUSE_PLAN[0],
                "rate": Decimal(HOUSE_PLAN[1]),
                "minimum": Decimal(HOUSE_PLAN[2]),
            },
        )
        self.plan = plan
        tables = {
            "unit": Table(
                StockUnit,
                [
                    "id",
                    "location",
                    "stock_number",
                    "vehicle",
                    "status",
                    "source",
                    "acquired_from",
                    "acquired_on",
                    "acquisition_cost",
                    "asking_price",
                    "internet_price",
                    "title_status",
                    "available_on",
                    "disposed_on",
                    "wholesale_price",
                    "notes",
                    "created_at",
                    "updated_at",
                ],
            ),
            "cost": Table(
                StockUnitCost,
                [
                    "id",
                    "unit",
                    "kind",
                    "description",
                    "vendor",
                    "receipt_number",
                    "receipt",
                    "amount",
                    "incurred_on",
                    "recorded_by",
                    "created_at",
                ],
            ),
            "lead": Table(
                sm.Lead,
                [
                    "id",
                    "customer",
                    "source",
                    "source_reference",
                    "stock_unit",
                    "status",
                    "salesperson",
                    "next_follow_up",
                    "lost_reason",
                    "notes",
                    "created_at",
                    "updated_at",
                    *self.partner_fields,
                ],
            ),
            "deal": Table(
                sm.Deal,
                [
                    "id",
                    "stock_unit",
                    "buyer",
                    "co_buyer",
                    "salesperson",
                    "lead",
                    "status",
                    "sale_price",
                    "documentation_fee",
                    "registration_fee",
                    "sales_tax_rate",
                    "trade_in_reduces_tax",
                    "down_payment",
                    "lender",
                    "apr",
                    "term_months",
                    "finance_reserve",
                    "sales_tax",
                    "total_price",
                    "amount_financed",
                    "monthly_payment",
                    "unit_cost",
                    "front_gross",
                    "back_gross",
                    "signed_at",
                    "delivered_at",
                    "closed_at",
                    "close_reason",
                    "notes",
                    "created_at",
                    "updated_at",
                ],
            ),
            "trade": Table(
                sm.TradeIn,
                [
                    "id",
                    "deal",
                    "vehicle",
                    "allowance",
                    "payoff",
                    "payoff_lender",
                    "actual_cash_value",
                    "odometer",
                    "stock_unit",
                    "previous_owner",
                ],
            ),
            "addon": Table(
                sm.DealAddon, ["id", "deal", "kind", "description", "price", "cost", "taxable"]
            ),
            "payment": Table(
                sm.DealPayment,
                ["id", "deal", "amount", "method", "reference", "received_at", "received_by"],
            ),
            "commission": Table(
                sm.Commission,
                [
                    "id",
                    "deal",
                    "salesperson",
                    "kind",
                    "plan_name",
                    "gross",
                    "rate",
                    "minimum",
                    "amount",
                    "recorded_at",
                ],
            ),
        }
        self.rows: dict[str, list[Any]] = {name: [] for name in tables}
        self.ids = dict.fromkeys(tables, 0)
        units = g.units
        traded = {unit.trade_in_of: unit for unit in units if unit.trade_in_of is not None}
        # Costs first: a unit's price depends on them, and a trade-in's cost is its ACV.
        self.cost_of = {}
        for unit in units:
            self.cost_of[unit.index] = self._acquisition_cost(unit)
        self.deal_of: dict[int, int] = {}  # unit index -> id of its delivered deal
        for unit in units:
            self._unit_rows(unit)
        for unit in units:
            self._deals(unit, traded.get(unit.index))
        self._trade_ins(units)
        self._leads()
        for name, table in tables.items():
            g.writer.write(table, self.rows[name])

    # -- units ---------------------------------------------------------------------------------
    def _acquisition_cost(self, unit: _Unit) -> Decimal:
        return Decimal(self.rng.randint(40, 350) * 100)

    def _unit_rows(self, unit: _Unit) -> None:
        g, rng = self.g, self.rng
        pk = unit.index + 1
        acquired_ts = g.day_ts(unit.acquired_day, 10 * HOUR)
        cost = self.cost_of[unit.index]
        asking = (cost * Decimal(rng.uniform(1.15, 1.35)) / 100).quantize(Decimal("1")) * 100 - 1
        unit.asking = asking
        gone = unit.status in ("sold", "wholesaled")
        if unit.source == "trade_in":
            # A trade-in names the unit whose deal took it, and that unit its buyer.
            seller = g.customer_details[self.g.units[unit.trade_in_of].buyer][0]  # type: ignore[index]
            stock_number = f"T{pk:06d}"
        else:
            seller = rng.choice(
                AUCTIONS
                if unit.source == "auction"
                else DEALERS
                if unit.source == "wholesale"
                else ["Private seller"]
            )
            stock_number = f"L{pk:06d}"
        title = (
            "transferred" if unit.status == "sold" else rng.choice(["received"] * 4 + ["missing"])
        )
        # A unit gone has its disposed_day (and a wholesaled one below too).
        disposed = g.day_ts(unit.disposed_day, 16 * HOUR) if gone else None  # type: ignore[arg-type]
        # The front line: the first day on sale, for units that got there.
        on_sale = unit.status in ("available", "reserved", "sold") or (
            unit.status == "wholesaled" and unit.available_day < unit.disposed_day  # type: ignore[operator]
        )
        available = g.local_date(g.day_ts(unit.available_day, 9 * HOUR)) if on_sale else None
        wholesale = (
            (cost * Decimal(rng.uniform(0.9, 1.05))).quantize(Decimal("0.01"))
            if unit.status == "wholesaled"
            else None
        )
        self.rows["unit"].append(
            (
                pk,
                g.lot_ids[pk % 3 == 0 and len(g.lot_ids) > 1],  # a third on the second lot
                stock_number,
                unit.vehicle,
                unit.status,
                unit.source,
                seller,
                g.local_date(acquired_ts),
                cost,
                asking,
                asking - 500 if rng.random() < 0.3 else None,
                title,
                available,
                g.local_date(disposed) if disposed else None,
                wholesale,
                "",
                g.dt(acquired_ts),
                g.dt(disposed or acquired_ts),
            )
        )
        other = Decimal("0.00")
        if unit.source in ("auction", "wholesale"):
            for kind, description, low, high in (
                ("transport", "Transport to the lot", 150, 450),
                ("auction_fee", "Buyer fee", 200, 600),
            ):
                amount = Decimal(rng.randint(low, high))
                other += amount
                self.ids["cost"] += 1
                self.rows["cost"].append(
                    (
                        self.ids["cost"],
                        pk,
                        kind,
                        description,
                        seller,
                        f"R-{pk}-{kind[:3]}",
                        "",
                        amount,
                        g.local_date(acquired_ts),
                        g.manager,
                        g.dt(acquired_ts),
                    )
                )
        self.ids["cost"] += 1
        detailing = Decimal(rng.randint(120, 260))
        other += detailing
        self.rows["cost"].append(
            (
                self.ids["cost"],
                pk,
                "detailing",
                "Full detail",
                "Shine Detailing",
                "",
                "",
                detailing,
                g.local_date(acquired_ts + DAY),
                g.manager,
                g.dt(acquired_ts + DAY),
            )
        )
        unit.total_cost = cost + other + unit.recon_cost

    # -- deals ---------------------------------------------------------------------------------
    def _deals(self, unit: _Unit, trade_unit: _Unit | None) -> None:
        g, rng = self.g, self.rng
        if unit.canceled_deal_day is not None:
            day = unit.canceled_deal_day
            was_signed = rng.random() < 0.4
            self._deal(
                unit,
                "canceled",
                created_day=day,
                signed_day=day if was_signed else None,
                closed_day=min(day + rng.randint(0, 5), g.days - 1),
                buyer=None,
                trade_unit=None,
            )
        if unit.deal_days is not None:
            created, signed, delivered = unit.deal_days
            status = "delivered" if delivered is not None else "signed"
            deal_id = self._deal(
                unit,
                status,
                created_day=created,
                signed_day=signed,
                delivered_day=delivered,
                buyer=unit.buyer,
                trade_unit=trade_unit,
            )
            if status == "delivered":
                self.deal_of[unit.index] = deal_id
        if unit.draft_deal_day is not None:
            self._deal(unit, "draft", created_day=unit.draft_deal_day, buyer=None, trade_unit=None)

    def _deal(
        self,
        unit: _Unit,
        status: str,
        *,
        created_day: int,
        signed_day: int | None = None,
        delivered_day: int | None = None,
        closed_day: int | None = None,
        buyer: int | None,
        trade_unit: _Unit | None,
    ) -> int:
        from sales import calculations

        g, rng = self.g, self.rng
        self.ids["deal"] += 1
        deal_id = self.ids["deal"]
        buyer = buyer or rng.choice(g.person_ids)
        salesperson = rng.choice(g.salespeople)
        price = unit.asking - Decimal(rng.choice((0, 0, 250, 500, 1000)))
        financed = rng.random() < 0.6
        lender = rng.choice(LENDERS) if financed else ""
        apr = (
            Decimal(rng.choice(("3.900", "5.490", "6.990", "8.900", "11.900")))
            if financed
            else None
        )
        term = rng.choice((36, 48, 60, 72)) if financed else None
        reserve = Decimal(rng.choice((0, 250, 400, 600))) if financed else Decimal("0.00")
        trades = []
        if trade_unit is not None:
            acv = self.cost_of[trade_unit.index]
            allowance = (acv * Decimal(rng.uniform(1.0, 1.1))).quantize(Decimal("1"))
            payoff = Decimal(rng.choice((0, 0, 0, 2500, 6000)))
            trades.append((trade_unit, allowance, payoff, acv))
        addons = [ADDONS[index] for index in range(len(ADDONS)) if rng.random() < 0.25]
        figures = calculations.deal_figures(
            sale_price=price,
            documentation_fee=g.shop.documentation_fee,
            registration_fee=g.shop.registration_fee,
            tax_rate=g.shop.sales_tax_rate,
            trade_reduces_tax=g.shop.trade_in_reduces_sales_tax,
            trades=[calculations.TradeFigures(a, p, v) for _u, a, p, v in trades],
            addons=[
                calculations.AddonFigures(Decimal(pr), Decimal(c), t) for _k, _d, pr, c, t in addons
            ],
            down_payment=Decimal(rng.choice((0, 1000, 2000, 3000))) if financed else 0,
            financed=financed,
            apr=apr,
            term_months=term,
            finance_reserve=reserve,
            unit_cost=unit.total_cost,
        )
        if financed and figures.balance <= 0:
            financed, lender, apr, term, reserve = False, "", None, None, Decimal("0.00")
            figures = calculations.deal_figures(
                sale_price=price,
                documentation_fee=g.shop.documentation_fee,
                registration_fee=g.shop.registration_fee,
                tax_rate=g.shop.sales_tax_rate,
                trade_reduces_tax=g.shop.trade_in_reduces_sales_tax,
                trades=[calculations.TradeFigures(a, p, v) for _u, a, p, v in trades],
                addons=[
                    calculations.AddonFigures(Decimal(pr), Decimal(c), t)
                    for _k, _d, pr, c, t in addons
                ],
                unit_cost=unit.total_cost,
            )
        created = g.day_ts(created_day, 11 * HOUR + rng.uniform(0, 5 * HOUR))
        signed = g.day_ts(signed_day, 15 * HOUR) if signed_day is not None else None
        signed = max(signed, created + 600) if signed else None
        delivered = g.day_ts(delivered_day, 17 * HOUR) if delivered_day is not None else None
        # A delivered deal was signed first.
        delivered = max(delivered, signed + 600) if delivered else None  # type: ignore[operator]
        closed = g.day_ts(closed_day, 18 * HOUR) if closed_day is not None else None
        closed = max(closed, (signed or created) + 600) if closed else None
        frozen = signed is not None  # the figures the buyer signed on stay, even if canceled
        lead = (
            self._won_lead(buyer, unit, created, salesperson)
            if status == "delivered" and rng.random() < 0.6
            else None
        )
        self.rows["deal"].append(
            (
                deal_id,
                unit.index + 1,
                buyer,
                None,
                salesperson,
                lead,
                status,
                price,
                g.shop.documentation_fee,
                g.shop.registration_fee,
                g.shop.sales_tax_rate,
                g.shop.trade_in_reduces_sales_tax,
                figures.down_payment,
                lender,
                apr,
                term,
                reserve,
                figures.sales_tax if frozen else None,
                figures.total_price if frozen else None,
                figures.amount_financed if frozen else None,
                figures.monthly_payment if frozen else None,
                figures.unit_cost if delivered else None,
                figures.front_gross if delivered else None,
                figures.back_gross if delivered else None,
                g.dt(signed) if signed else None,
                g.dt(delivered) if delivered else None,
                g.dt(closed) if closed else None,
                "Buyer changed their mind" if status == "canceled" else "",
                "",
                g.dt(created),
                g.dt(delivered or closed or signed or created),
            )
        )
        for kind, description, addon_price, addon_cost, taxable in addons:
            self.ids["addon"] += 1
            self.rows["addon"].append(
                (
                    self.ids["addon"],
                    deal_id,
                    kind,
                    description,
                    Decimal(addon_price),
                    Decimal(addon_cost),
                    taxable,
                )
            )
        for trade_unit_, allowance, payoff, acv in trades:
            self.pending_trades.append(
                (deal_id, trade_unit_, allowance, payoff, acv, buyer, delivered)
            )
        if delivered:
            if figures.cash_due > 0:
                self.ids["payment"] += 1
                self.rows["payment"].append(
                    (
                        self.ids["payment"],
                        deal_id,
                        figures.cash_due,
                        rng.choice(("check", "transfer", "card")),
                        f"D{deal_id}",
                        g.dt(signed),  # type: ignore[arg-type]  # paid: signed
                        salesperson,
                    )
                )
            gross = figures.total_gross
            self.ids["commission"] += 1
            self.rows["commission"].append(
                (
                    self.ids["commission"],
                    deal_id,
                    salesperson,
                    "earned",
                    self.plan.name,
                    gross,
                    self.plan.rate,
                    self.plan.minimum,
                    calculations.commission(gross, self.plan.rate, self.plan.minimum),
                    g.dt(delivered),
                )
            )
        return deal_id

    def _trade_ins(self, units: list[_Unit]) -> None:
        g, rng = self.g, self.rng
        for deal_id, unit, allowance, payoff, acv, buyer, _delivered in self.pending_trades:
            self.ids["trade"] += 1
            self.rows["trade"].append(
                (
                    self.ids["trade"],
                    deal_id,
                    unit.vehicle,
                    allowance,
                    payoff,
                    rng.choice(LENDERS) if payoff else "",
                    acv,
                    g.v_odo[unit.vehicle],
                    unit.index + 1,
                    buyer,
                )
            )
        self.pending_trades = []

    # -- leads ---------------------------------------------------------------------------------
    def _won_lead(self, buyer: int, unit: _Unit, before: float, salesperson: int) -> int:
        g, rng = self.g, self.rng
        self.ids["lead"] += 1
        created = before - rng.uniform(DAY, 20 * DAY)
        source = rng.choice(("walk_in", "phone", "website", "marketplace"))
        self.rows["lead"].append(
            (
                self.ids["lead"],
                buyer,
                source,
                f"MKT-{rng.randint(100000, 999999)}" if source == "marketplace" else "",
                unit.index + 1,
                "won",
                salesperson,
                None,
                "",
                "",
                g.dt(created),
                g.dt(before),
                *self._posted_by(source),
            )
        )
        return self.ids["lead"]

    def _posted_by(self, source: str) -> list[Any]:
        values = {
            "partner": self.marketplace.pk
            if source == "marketplace" and self.marketplace
            else None,
            "message": "Is this car still available?" if source == "marketplace" else "",
        }
        return [values[name] for name in self.partner_fields]

    def _leads(self) -> None:
        g, rng = self.g, self.rng
        wanted = g.size["leads"] - self.ids["lead"]
        units = g.units
        for _ in range(max(wanted, 0)):
            self.ids["lead"] += 1
            day = rng.randrange(g.days)
            created = g.day_ts(day, 9 * HOUR + rng.uniform(0, 9 * HOUR))
            unit = None
            for _attempt in range(4):
                candidate = units[rng.randrange(len(units))]
                end = candidate.disposed_day if candidate.disposed_day is not None else g.days
                if candidate.acquired_day <= day < end:
                    unit = candidate
                    break
            age = g.days - day
            if age > 45:
                status, follow_up = "lost", None
            else:
                status = rng.choice(("new", "contacted", "appointment", "negotiating", "lost"))
                follow_up = (
                    None
                    if status == "lost"
                    else g.today + datetime.timedelta(days=rng.randint(0, 10))
                )
            source = rng.choice(("walk_in", "phone", "website", "marketplace", "marketplace"))
            self.rows["lead"].append(
                (
                    self.ids["lead"],
                    rng.randint(1, g.size["customers"]),
                    source,
                    f"MKT-{rng.randint(100000, 999999)}" if source == "marketplace" else "",
                    unit.index + 1 if unit else None,
                    status,
                    rng.choice(g.salespeople),
                    follow_up,
                    rng.choice(LOST_REASONS) if status == "lost" else "",
                    "",
                    g.dt(created),
                    g.dt(min(created + rng.uniform(0, 10 * DAY), g.until_ts)),
                    *self._posted_by(source),
                )
            )
