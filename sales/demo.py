"""Demo data for the lot: stock units in every status with costs and photos, commission plans,
leads, and deals in every status (with trade-ins, add-ons and financing).

Runs after the inventory and repairs demos; everything goes through the services, so the demo
only holds states users can reach.
"""

import io
from datetime import timedelta
from decimal import Decimal

from auditlog.context import disable_auditlog
from django.core.files.base import ContentFile
from django.utils import timezone

from inventory.lot_services import acquire_unit, move_unit, set_main_photo, wholesale_unit
from inventory.models import StockUnit, StockUnitCost, StockUnitPhoto, Vehicle
from inventory.vin import check_digit
from sales import services
from sales.models import CommissionPlan, DealAddon, Lead, TradeIn

D = Decimal
# (world manufacturer id + model code, make, model, trims, price band)
CARS = [
    ("1HGCV1F3", "Honda", "Accord", ("LX", "Sport", "EX-L"), (14000, 24000)),
    ("2T1BURHE", "Toyota", "Corolla", ("L", "LE", "SE"), (11000, 19000)),
    ("1FA6P8TH", "Ford", "Mustang", ("EcoBoost", "GT"), (18000, 32000)),
    ("1G1ZD5ST", "Chevrolet", "Malibu", ("LS", "LT"), (10000, 17000)),
    ("5YJ3E1EA", "Tesla", "Model 3", ("Standard Range", "Long Range"), (24000, 36000)),
    ("1N4BL4BV", "Nissan", "Altima", ("S", "SV", "SR"), (10000, 18000)),
    ("3GNAXKEV", "Chevrolet", "Equinox", ("LS", "LT", "Premier"), (13000, 23000)),
    ("4S4BTAFC", "Subaru", "Outback", ("Base", "Premium", "Limited"), (16000, 27000)),
]
COLORS = ["White", "Black", "Silver", "Gray", "Blue", "Red"]
# Model year letter at position 10.
YEAR_CODES = {
    2015: "F",
    2016: "G",
    2017: "H",
    2018: "J",
    2019: "K",
    2020: "L",
    2021: "M",
    2022: "N",
}
LENDERS = ["Prairie Credit Union", "First Federal Auto", "Capital Motor Finance"]


def _vehicle(rng, owner=None):
    code, make, model, trims, band = rng.choice(CARS)
    year = rng.choice(list(YEAR_CODES))
    while True:
        body = f"{code}0{YEAR_CODES[year]}{rng.choice('ABCDEFGH')}{rng.randint(0, 999999):06d}"
        vin = body[:8] + check_digit(body) + body[9:]
        if not Vehicle.objects.filter(vin=vin).exists():
            break
    vehicle = Vehicle.objects.create(
        vin=vin,
        make=make,
        model=model,
        model_year=year,
        trim=rng.choice(trims),
        color=rng.choice(COLORS),
        owner=owner,
    )
    return vehicle, band


def _money(rng, low, high, step=50):
    return D(rng.randrange(low, high, step))


def _photo(rng, label):
    from PIL import Image, ImageDraw

    color = tuple(rng.randint(60, 200) for _ in range(3))
    image = Image.new("RGB", (320, 200), color)
    ImageDraw.Draw(image).text((12, 12), label, fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return ContentFile(buffer.getvalue(), name=f"{label.replace(' ', '-').lower()}.jpg")


def _front_line_day(unit):
    """The day a demo unit went on sale: a few days after it was bought (never after today)."""
    return min(unit.acquired_on + timedelta(days=2 + unit.pk % 5), timezone.localdate())


def _unit(rng, number, days_ago, source=StockUnit.Source.AUCTION, vehicle=None):
    if vehicle is None:
        vehicle, (low, high) = _vehicle(rng)
    else:
        low, high = 9000, 22000
    cost = _money(rng, low, high)
    unit = StockUnit(
        stock_number=f"L{number:04d}",
        vehicle=vehicle,
        source=source,
        acquired_from=rng.choice(
            [
                "Manheim Springfield",
                "ADESA Riverton",
                "Private seller",
                "Greenway Motors (wholesale)",
            ]
        ),
        acquired_on=timezone.localdate() - timedelta(days=days_ago),
        acquisition_cost=cost,
        asking_price=(cost * D("1.28")).quantize(D("1")) - 5,
        title_status=rng.choice(
            [
                StockUnit.TitleStatus.RECEIVED,
                StockUnit.TitleStatus.RECEIVED,
                StockUnit.TitleStatus.MISSING,
            ]
        ),
    )
    unit.internet_price = unit.asking_price - 300
    acquire_unit(unit)
    StockUnitCost.objects.create(
        unit=unit,
        kind=StockUnitCost.Kind.TRANSPORT,
        vendor="Midwest Car Haulers",
        amount=_money(rng, 150, 450, 25),
        receipt_number=f"MCH-{rng.randint(1000, 9999)}",
    )
    if unit.source == StockUnit.Source.AUCTION:
        StockUnitCost.objects.create(
            unit=unit,
            kind=StockUnitCost.Kind.AUCTION_FEE,
            vendor=unit.acquired_from,
            amount=_money(rng, 200, 600, 25),
        )
    if rng.random() < 0.6:
        StockUnitCost.objects.create(
            unit=unit,
            kind=StockUnitCost.Kind.DETAILING,
            vendor="Shine Bros Detailing",
            amount=D("149.00"),
        )
    return unit


def _photos(rng, unit):
    photos = [
        StockUnitPhoto.objects.create(
            unit=unit, image=_photo(rng, f"{unit} {side}"), caption=side.title(), position=index
        )
        for index, side in enumerate(("front", "side", "interior"), start=1)
    ]
    set_main_photo(photos[0])


RECON_JOBS = [
    # title, [(operation, hours)], [(sku, quantity)]
    ("Safety inspection", [("Multi-point inspection for resale", "1.0")], []),
    ("Detail and paint touch-up", [("Full detail", "2.5"), ("Touch up chips", "1.2")], []),
    (
        "Front brakes",
        [("Replace front pads and rotors", "1.8")],
        [("BP-F-1210", 1), ("BR-F-5521", 2)],
    ),
    (
        "Wipers and cabin filter",
        [("Replace wipers and cabin filter", "0.4")],
        [("WB-22", 2), ("CAF-118", 1)],
    ),
]


def _reconditioning(rng, units, context, *, close):
    """Internal repair orders on the units' vehicles, through the shop's own services: closed at
    cost on the units in `close`, still being worked on for the others."""
    from inventory.models import Part
    from repairs import services as shop

    advisor = context["users"].get("advisor")
    parts = {
        part.sku: part
        for part in Part.objects.filter(
            sku__in=[sku for _, _, lines in RECON_JOBS for sku, _ in lines]
        )
    }
    orders = []
    for unit in units:
        order = shop.create_repair_order(
            unit.vehicle, advisor=advisor, user=advisor, notes=f"Reconditioning {unit.stock_number}"
        ).repair_order
        for title, labor, lines in rng.sample(RECON_JOBS, 2):
            job = shop.add_job(order, title=title, complaint="Ready it for sale", user=advisor)
            for operation, hours in labor:
                shop.add_labor_line(job, operation=operation, hours_sold=D(hours), user=advisor)
            for sku, quantity in lines:
                part = parts.get(sku)
                if part is not None and part.on_hand >= quantity * 3:
                    shop.add_part_line(job, part, quantity, user=advisor)
                    part.refresh_from_db()
        shop.approve_repair_order(order, user=advisor)
        shop.start_work(order, user=advisor)
        if unit in close:
            shop.complete_work(order, user=advisor)
            shop.close_internal_order(order, user=advisor)
        orders.append(order)
    return orders


def _lot_vehicles(context):
    """The business's own cars from the inventory demo that are not on the lot yet, and which
    of them the shop is reconditioning (open internal orders) or has reconditioned."""
    own = [
        v
        for v in context.get("vehicles") or []
        if v.owner_id is None and not v.stock_units.filter(status__in=StockUnit.IN_STOCK).exists()
    ]
    from repairs.models import RepairOrder

    internal = [order.pk for order in context.get("internal_repair_orders") or []]
    in_shop = set(
        RepairOrder.objects.filter(pk__in=internal).open().values_list("vehicle_id", flat=True)
    )
    return own, in_shop


def seed(rng, scale, context):
    # Demo rows need no audit trail of their own making; writing it would triple the time.
    with disable_auditlog():
        return _seed(rng, scale, context)


def _seed(rng, scale, context):
    users = context["users"]
    pat, jordan = users["sales"], users["sales2"]
    customers = list(context["customers"])
    rng.shuffle(customers)
    people = iter(customers * 2)

    CommissionPlan.objects.get_or_create(
        salesperson=None, defaults={"name": "House plan", "rate": D("20"), "minimum": D("250")}
    )
    CommissionPlan.objects.get_or_create(
        salesperson=jordan,
        defaults={
            "name": "Closer (front gross)",
            "rate": D("25"),
            "basis": CommissionPlan.Basis.FRONT,
            "minimum": D("200"),
        },
    )

    number = StockUnit.objects.count() + 1
    units = []
    for _ in range(scale):
        # Days in stock spread from new arrivals to units well past the aging threshold.
        for days in (2, 4, 9, 15, 22, 31, 38, 47, 55, 66, 74, 88, 97, 121, 140, 160, 180, 200):
            units.append(_unit(rng, number, days))
            number += 1
    plan = iter(units)
    status_of = {}

    def take(status, count):
        chosen = [next(plan) for _ in range(count)]
        for unit in chosen:
            status_of[unit.pk] = status
        return chosen

    take("acquired", 2)
    recon = take("reconditioning", 3)
    available = take("available", 5)
    to_reserve = take("reserved", 2)
    to_sell = take("sold", 3)
    to_wholesale = take("wholesaled", 1)
    to_unwind = take("unwound", 1)
    to_cancel = take("canceled", 1)
    rest = list(plan)

    for unit in recon:
        move_unit(unit, StockUnit.Status.RECONDITIONING)
    for unit in [*available, *to_reserve, *to_sell, *to_wholesale, *to_unwind, *to_cancel, *rest]:
        move_unit(unit, StockUnit.Status.AVAILABLE, on=_front_line_day(unit))
    for unit in available[:4] + to_reserve + to_sell[:1]:
        _photos(rng, unit)
    for unit in to_wholesale:
        wholesale_unit(unit, unit.acquisition_cost - 400)
    recon_orders = _reconditioning(
        rng, recon + available[:2] + to_sell[:2], context, close=available[:2] + to_sell[:2]
    )

    # The business's own cars from the inventory demo join the lot; the ones the shop is
    # working on (internal orders of the repairs demo) are in reconditioning.
    own, in_shop = _lot_vehicles(context)
    for vehicle in own:
        unit = _unit(
            rng,
            number,
            rng.choice((6, 12, 19, 27)),
            source=rng.choice([StockUnit.Source.PRIVATE, StockUnit.Source.WHOLESALE]),
            vehicle=vehicle,
        )
        number += 1
        units.append(unit)
        move_unit(
            unit,
            StockUnit.Status.RECONDITIONING
            if vehicle.pk in in_shop
            else StockUnit.Status.AVAILABLE,
            on=_front_line_day(unit),
        )
        rest.append(unit)

    def deal(unit, salesperson, *, trade=None, finance=False, addons=(), negative=False):
        buyer = next(people)
        price = unit.internet_price or unit.asking_price
        fields = {"sale_price": price - _money(rng, 0, 800, 100)}
        if finance:
            fields.update(
                lender=rng.choice(LENDERS),
                apr=rng.choice([D("4.9"), D("6.9"), D("8.49"), D("0")]),
                term_months=rng.choice([48, 60, 72]),
                down_payment=D("2000"),
                finance_reserve=_money(rng, 150, 600, 50),
            )
        lead = Lead.objects.create(
            customer=buyer,
            source=rng.choice(Lead.Source.values),
            stock_unit=unit,
            salesperson=salesperson,
            status=Lead.Status.NEGOTIATING,
        )
        created = services.create_deal(
            stock_unit=unit, buyer=buyer, salesperson=salesperson, lead=lead, **fields
        )
        if trade:
            vehicle, (low, _) = _vehicle(rng, owner=buyer)
            acv = _money(rng, low // 3, low // 2)
            payoff = acv + 2500 if negative else (D("0") if rng.random() < 0.5 else acv / 2)
            TradeIn.objects.create(
                deal=created,
                vehicle=vehicle,
                allowance=acv + 500,
                payoff=payoff.quantize(D("1")),
                actual_cash_value=acv,
                payoff_lender="Prairie Credit Union" if payoff else "",
            )
        for kind, price, cost, taxable in addons:
            DealAddon.objects.create(
                deal=created, kind=kind, price=D(price), cost=D(cost), taxable=taxable
            )
        return created

    def paid(created):
        due = services.figures(created, unit_cost=0).cash_due
        if due > 0:
            services.record_payment(
                created,
                amount=due,
                method=rng.choice(["check", "card", "transfer"]),
                reference="demo",
            )
        return created

    contract = ("service_contract", "1895.00", "780.00", False)
    gap = ("gap", "795.00", "310.00", False)
    mats = ("accessory", "189.00", "60.00", True)
    deals = []
    # Drafts on units still available (a quote each).
    deals.append(deal(available[0], pat, finance=True, addons=[contract]))
    deals.append(deal(available[1], jordan))
    # Signed: the units are reserved.
    for unit, person in zip(to_reserve, (pat, jordan), strict=True):
        signed = deal(unit, person, finance=True, addons=[gap])
        services.sign_deal(signed)
        deals.append(signed)
    # Delivered: cash, financed with a trade-in, financed with negative equity.
    sold_specs = [
        {},
        {"trade": True, "finance": True, "addons": [contract, mats]},
        {"trade": True, "finance": True, "negative": True, "addons": [gap]},
    ]
    for unit, person, spec in zip(to_sell, (pat, jordan, pat), sold_specs, strict=True):
        sold = deal(unit, person, **spec)
        services.sign_deal(sold)
        services.deliver_deal(paid(sold))
        deals.append(sold)
    # Unwound after delivery (financing fell through), and canceled before delivery.
    unwound = deal(to_unwind[0], jordan, trade=True, finance=True)
    services.sign_deal(unwound)
    services.deliver_deal(paid(unwound))
    services.unwind_deal(unwound, reason="Lender declined the contract after delivery")
    deals.append(unwound)
    # The canceled deal's deposit is given back; the unwound one's money is still held (its
    # page shows what is owed back).
    canceled = deal(to_cancel[0], pat)
    services.sign_deal(canceled)
    services.record_payment(canceled, amount=D("500.00"), method="card", reference="deposit")
    services.cancel_deal(canceled, reason="Buyer found a cheaper car elsewhere")
    services.record_refund(
        canceled, amount=D("500.00"), method="card", reference="deposit returned"
    )
    deals.append(canceled)

    # Leads that have not become deals yet, with follow-ups due, overdue and unplanned.
    today = timezone.localdate()
    lead_count = 0
    for index in range(12 * scale):
        status = rng.choice(
            [
                Lead.Status.NEW,
                Lead.Status.CONTACTED,
                Lead.Status.APPOINTMENT,
                Lead.Status.NEGOTIATING,
                Lead.Status.LOST,
            ]
        )
        Lead.objects.create(
            customer=next(people),
            source=rng.choice(Lead.Source.values),
            source_reference=f"MP-{rng.randint(10000, 99999)}" if index % 3 == 0 else "",
            stock_unit=rng.choice(available + rest) if rng.random() < 0.8 else None,
            status=status,
            salesperson=rng.choice([pat, jordan, None]),
            next_follow_up=(
                None if status == Lead.Status.LOST else today + timedelta(days=rng.randint(-6, 10))
            ),
            lost_reason="Bought elsewhere" if status == Lead.Status.LOST else "",
        )
        lead_count += 1

    context["stock_units"] = units
    context["deals"] = deals
    statuses = sorted(set(StockUnit.objects.values_list("status", flat=True)))
    return (
        f"{len(units)} stock units and their trade-ins ({', '.join(statuses)}), "
        f"{len(recon_orders)} reconditioning orders, {len(deals)} deals, "
        f"{lead_count + len(deals)} leads"
    )
