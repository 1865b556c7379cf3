"""Demo data for inventory: customers' vehicles and the lot's own, suppliers, a stocked parts
room received through purchase orders, and orders in every status. The second shop (East Side
Service, when the accounts demo made it) gets its own stock: an order received there, parts
transferred from Main Street Auto (one transfer received, one in transit) and its own reorder
levels for a few parts."""

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import Location
from inventory import services, transfer_services
from inventory.models import MarkupRule, Part, PartStock, PurchaseOrder, Supplier
from inventory.pricing import DEFAULT_MATRIX
from inventory.vin import check_digit

VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 1980, 1981, ... repeating every 30 years

# (world manufacturer identifier, models); North American ones carry a check digit.
NORTH_AMERICAN = [
    ("1HG", ["Accord", "Civic"]),
    ("1FT", ["F-150", "F-250"]),
    ("2T1", ["Corolla", "Matrix"]),
    ("3VW", ["Jetta", "Golf"]),
    ("5YJ", ["Model 3", "Model Y"]),
    ("1G1", ["Malibu", "Cruze", "Camaro"]),
]
EUROPEAN = [
    ("WVW", ["Golf", "Passat"]),
    ("WBA", ["320i", "530i"]),
    ("VF1", ["Clio", "Megane"]),
    ("SAL", ["Discovery"]),
]
COLORS = ["White", "Black", "Silver", "Grey", "Blue", "Red", "Green"]
ENGINES = ["1.5L I4", "2.0L I4", "2.5L I4", "3.5L V6", "5.0L V8", "Electric"]

SUPPLIERS = [
    ("Main Street NAPA", "NAPA-4471", "(217) 555-0142"),
    ("WorldPac Springfield", "WP-88120", "(217) 555-0177"),
    ("Dealer Parts Direct", "DPD-1203", "(800) 555-0199"),
    ("Central Tire & Battery", "CTB-309", "(217) 555-0163"),
]
# category, descriptions, brands, cost range (dollars)
CATALOG = [
    (
        "Filters",
        ["Oil filter", "Engine air filter", "Cabin air filter", "Fuel filter"],
        ["Wix", "Fram", "Mann"],
        (4, 28),
    ),
    (
        "Brakes",
        ["Front brake pads", "Rear brake pads", "Front rotor", "Rear rotor", "Brake caliper"],
        ["Akebono", "Wagner", "Bosch"],
        (25, 160),
    ),
    ("Ignition", ["Spark plug", "Ignition coil"], ["NGK", "Denso", "Champion"], (6, 75)),
    (
        "Fluids",
        ["Synthetic oil 5W-30 (qt)", "ATF (qt)", "Coolant (gal)", "Brake fluid"],
        ["Mobil 1", "Valvoline", "Prestone"],
        (5, 30),
    ),
    (
        "Electrical",
        ["Battery group 24F", "Alternator", "Starter", "Headlight bulb"],
        ["Interstate", "Bosch", "Sylvania"],
        (12, 320),
    ),
    ("Wipers", ["Wiper blade 22in", "Wiper blade 18in"], ["Bosch", "Rain-X"], (6, 22)),
    (
        "Suspension",
        ["Front strut", "Sway bar link", "Control arm", "Wheel bearing"],
        ["Monroe", "Moog", "KYB"],
        (18, 210),
    ),
    (
        "Belts & hoses",
        ["Serpentine belt", "Timing belt kit", "Upper radiator hose"],
        ["Gates", "Dayco"],
        (15, 180),
    ),
]


def make_vin(rng, wmi, year, used):
    """A VIN for `wmi` and model `year`, with a correct check digit for North America."""
    while True:
        vds = [rng.choice(VIN_ALPHABET) for _ in range(5)]
        # 49 CFR 565: position 7 is a letter from model year 2010 on, a digit before.
        vds[3] = rng.choice("ABCDEFGHJKLMNPRSTVWXYZ" if year >= 2010 else "123456789")
        year_code = YEAR_CODES[(year - 1980) % 30]
        plant = rng.choice("ABCDEFGHJKLMNPRSTVWXYZ123456789")
        serial = f"{rng.randint(0, 999999):06d}"
        vin = f"{wmi}{''.join(vds)}0{year_code}{plant}{serial}"
        if wmi[0] in "12345":
            vin = vin[:8] + check_digit(vin) + vin[9:]
        else:
            vin = vin[:8] + rng.choice(VIN_ALPHABET) + vin[9:]
        if vin not in used:
            used.add(vin)
            return vin


def seed(rng, scale, context):
    users = context.get("users", {})
    advisor, manager = users.get("advisor"), users.get("manager")
    customers = list(context.get("customers", []))

    for up_to, multiplier in DEFAULT_MATRIX:
        MarkupRule.objects.get_or_create(up_to=up_to, defaults={"multiplier": multiplier})

    vehicles = _vehicles(rng, scale, customers, advisor)
    suppliers = [
        Supplier.objects.get_or_create(
            name=name,
            defaults={
                "account_number": account,
                "phone": phone,
                "email": f"orders@{name.split()[0].lower()}.example",
            },
        )[0]
        for name, account, phone in SUPPLIERS
    ]
    parts = _parts(rng, scale, suppliers)
    orders = _stock_the_parts_room(rng, parts, suppliers, manager or advisor)
    east = (context.get("locations") or {}).get("east")
    if east is not None:
        # Its own generator, a copy of this one: the default location's data stays as it was.
        east_rng = random.Random()  # noqa: S311 - demo data, not a secret
        east_rng.setstate(rng.getstate())
        orders += _stock_the_second_shop(east_rng, parts, suppliers, east, users)

    context["vehicles"] = vehicles
    context["parts"] = parts
    context["suppliers"] = suppliers
    low = Part.objects.low_stock().count()
    return (
        f"{len(vehicles)} vehicles, {len(suppliers)} suppliers, {len(parts)} parts "
        f"({low} low on stock), {len(orders)} purchase orders"
    )


def _vehicles(rng, scale, customers, advisor):
    used, vehicles = set(), []
    today = timezone.localdate()
    for index in range(40 * scale):
        wmi, models = rng.choice(NORTH_AMERICAN if index % 5 else EUROPEAN)
        year = rng.randint(2004, today.year - 1)
        # One in eight belongs to the business (trade-ins, lot cars).
        owner = rng.choice(customers) if customers and index % 8 else None
        vehicle = services.create_vehicle(
            make_vin(rng, wmi, year, used),
            model=rng.choice(models),
            model_year=year,
            color=rng.choice(COLORS),
            engine=rng.choice(ENGINES),
            owner=owner,
            plate=""
            if owner is None
            else f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}"
            f"{rng.randint(100, 999)}{rng.randint(1000, 9999)}",
        )
        reading = rng.randint(7_000, 15_000) * max(1, today.year - year)
        read_on = today - timedelta(days=rng.randint(400, 900))
        for _ in range(rng.randint(1, 3)):
            services.record_odometer(vehicle, reading, read_on, user=advisor)
            reading += rng.randint(3_000, 15_000)
            read_on += timedelta(days=rng.randint(90, 200))
            if read_on > today:
                break
        vehicles.append(vehicle)
    return vehicles


def _parts(rng, scale, suppliers):
    parts = []
    for index in range(150 * scale):
        category, descriptions, brands, (low, high) = CATALOG[index % len(CATALOG)]
        brand = rng.choice(brands)
        cost = Decimal(rng.randint(low * 100, high * 100)) / 100
        reorder_point = rng.choice([0, 2, 2, 4, 6, 10])
        parts.append(
            Part.objects.create(
                sku=f"{category[:3].upper()}-{brand[:3].upper()}-{index + 1:05d}",
                description=f"{rng.choice(descriptions)} ({brand})",
                brand=brand,
                category=category,
                unit_cost=cost,
                price_override=(cost * 2).quantize(Decimal("0.01")) if index % 25 == 0 else None,
                taxable=category != "Fluids" or index % 2 == 0,
                bin_location=f"{chr(65 + index % 6)}-{index % 12 + 1:02d}",
                reorder_point=reorder_point,
                reorder_quantity=max(reorder_point * 2, 4) if reorder_point else 0,
                supplier=suppliers[index % len(suppliers)],
            )
        )
    return parts


def _stock_the_parts_room(rng, parts, suppliers, user):
    """Receive the opening stock through purchase orders, then leave orders in every status."""
    orders = []
    by_supplier = {supplier.pk: [] for supplier in suppliers}
    for part in parts:
        by_supplier[part.supplier_id].append(part)
    for supplier in suppliers:
        items = by_supplier[supplier.pk]
        if not items:
            continue
        # A fifth of the parts arrive short, so the low-stock list has something on it.
        lines = [
            (
                part,
                part.reorder_point + rng.randint(1, 8) if index % 5 else max(part.reorder_point, 1),
                part.unit_cost,
            )
            for index, part in enumerate(items)
        ]
        order = services.create_purchase_order(supplier, lines, user=user, notes="Opening stock.")
        services.place_purchase_order(order, user=user, supplier_reference=f"OS-{order.pk}")
        services.receive_purchase_order(order, user=user, packing_slip=f"PS-{order.pk}01")
        orders.append(order)

    for part in parts[:: max(1, len(parts) // 6)][:6]:
        if part.on_hand > 1:
            services.adjust_stock(part, -1, reason="Cycle count: one short on the shelf", user=user)

    first, second, third, fourth = (by_supplier[s.pk] for s in suppliers[:4])
    draft = services.create_purchase_order(
        suppliers[0],
        [(p, 5) for p in first[:3]],
        user=user,
        notes="Filters for the spring special.",
    )
    ordered = services.create_purchase_order(suppliers[1], [(p, 4) for p in second[:4]], user=user)
    services.place_purchase_order(ordered, user=user, supplier_reference="WP-55012")
    partial = services.create_purchase_order(suppliers[2], [(p, 6) for p in third[:3]], user=user)
    services.place_purchase_order(partial, user=user)
    lines = list(partial.lines.order_by("id"))
    services.receive_purchase_order(
        partial, {lines[0].pk: 6, lines[1].pk: 2}, user=user, packing_slip="DPD-77881"
    )
    cancelled = services.create_purchase_order(
        suppliers[3], [(p, 2) for p in fourth[:2]], user=user
    )
    services.cancel_purchase_order(cancelled, user=user, reason="Found them cheaper locally.")
    orders += [draft, ordered, partial, cancelled]
    return [PurchaseOrder.objects.get(pk=order.pk) for order in orders]


def _stock_the_second_shop(rng, parts, suppliers, east, users):
    """East Side Service: a third of the catalogue received on its own order, a few parts sent
    over from the default location (received), a few more on the way, and its own reorder
    levels for some parts. Returns its purchase orders."""
    manager = users.get("manager")
    receiver = users.get("eastadvisor") or manager
    stocked = parts[::3]
    lines = [(part, rng.randint(2, 8), part.unit_cost) for part in stocked[:20]]
    order = services.create_purchase_order(
        suppliers[0], lines, user=manager, notes="East Side Service opening stock.", location=east
    )
    services.place_purchase_order(order, user=manager, supplier_reference=f"OS-E-{order.pk}")
    services.receive_purchase_order(order, user=receiver, packing_slip=f"PS-E-{order.pk}01")
    ordered = services.create_purchase_order(
        suppliers[1], [(part, 4) for part in stocked[20:23]], user=manager, location=east
    )
    services.place_purchase_order(ordered, user=manager, supplier_reference="WP-55090")

    home = Location.default()
    # Parts the default location has plenty of (its figures, read from the database).
    plenty = set(
        PartStock.objects.filter(location=home, part__in=parts[1::3], on_hand__gte=6).values_list(
            "part_id", flat=True
        )
    )
    spare = [part for part in parts[1::3] if part.pk in plenty]
    if len(spare) >= 6:
        sent = transfer_services.create_transfer(
            home,
            east,
            [(part, 2) for part in spare[:4]],
            user=manager,
            notes="Parts for the east shop's first week.",
        )
        transfer_services.send_transfer(sent, user=manager)
        transfer_services.receive_transfer(sent, user=receiver)
        on_the_way = transfer_services.create_transfer(
            home, east, [(part, 1) for part in spare[4:6]], user=manager
        )
        transfer_services.send_transfer(on_the_way, user=manager)

    for part in stocked[:5]:
        PartStock.objects.filter(part=part, location=east).update(
            reorder_point=3, reorder_quantity=6, bin=f"E-{part.pk % 9 + 1:02d}"
        )
    return [PurchaseOrder.objects.get(pk=order.pk), PurchaseOrder.objects.get(pk=ordered.pk)]
