"""Building blocks for the lot and deal tests: vehicles with valid VINs, stock units, deals.

Everything goes through the real services, so the tests start from states users can reach.
"""

import itertools
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import Customer
from inventory.lot_services import acquire_unit, move_unit
from inventory.models import StockUnit, StockUnitCost, Vehicle
from inventory.vin import check_digit
from sales import services
from sales.models import DealAddon, TradeIn

_serial = itertools.count(1)


def valid_vin(serial):
    """A North American VIN with a correct check digit (position 9)."""
    vin = f"1HGCM8260KA{serial:06d}"
    return vin[:8] + check_digit(vin) + vin[9:]


def make_vehicle(owner=None, **fields):
    serial = next(_serial)
    defaults = {"make": "Honda", "model": "Accord", "model_year": 2019, "color": "Blue"}
    return Vehicle.objects.create(vin=valid_vin(serial), owner=owner, **{**defaults, **fields})


def make_customer(first="Ada", last="Buyer", **fields):
    return Customer.objects.create(first_name=first, last_name=last, **fields)


def make_unit(
    *,
    status=StockUnit.Status.AVAILABLE,
    cost="10000.00",
    asking="14000.00",
    days_ago=10,
    vehicle=None,
    stock_number=None,
    other_costs=(),
    **fields,
):
    """A stock unit acquired `days_ago`, moved on to `status` (acquired, reconditioning or
    available) through the services."""
    serial = next(_serial)
    unit = StockUnit(
        stock_number=stock_number or f"S{serial:05d}",
        vehicle=vehicle or make_vehicle(),
        source=fields.pop("source", StockUnit.Source.AUCTION),
        acquired_on=timezone.localdate() - timedelta(days=days_ago),
        acquisition_cost=Decimal(cost),
        asking_price=Decimal(asking) if asking else None,
        **fields,
    )
    acquire_unit(unit)
    for kind, amount in other_costs:
        StockUnitCost.objects.create(unit=unit, kind=kind, amount=Decimal(amount))
    if status in (StockUnit.Status.RECONDITIONING, StockUnit.Status.AVAILABLE):
        move_unit(unit, status)
    return unit


def make_deal(*, unit=None, buyer=None, salesperson, trades=(), addons=(), **fields):
    """A draft deal. trades: dicts of TradeIn fields (vehicle made for the buyer if missing);
    addons: dicts of DealAddon fields."""
    unit = unit or make_unit()
    buyer = buyer or make_customer()
    fields.setdefault("sale_price", Decimal("15000.00"))
    deal = services.create_deal(stock_unit=unit, buyer=buyer, salesperson=salesperson, **fields)
    for trade in trades:
        trade = dict(trade)
        trade.setdefault("vehicle", make_vehicle(owner=buyer, make="Ford", model="Focus"))
        TradeIn.objects.create(deal=deal, **trade)
    for addon in addons:
        DealAddon.objects.create(deal=deal, **addon)
    return deal


def pay_in_full(deal):
    """Record what the buyer owes in money, so the deal can be delivered."""
    due = services.figures(deal, unit_cost=0).cash_due - services.payments_received(deal)
    if due > 0:
        services.record_payment(deal, amount=due, method="check", reference="test")
    return deal


def delivered_deal(**kwargs):
    deal = make_deal(**kwargs)
    services.sign_deal(deal)
    pay_in_full(deal)
    return services.deliver_deal(deal)


def bulk_units(
    count, *, status=StockUnit.Status.AVAILABLE, days_ago=10, photo=None, other_cost=None
):
    """Many stock units at once (for list pages), written directly: a unit, its vehicle, one
    other cost and a main photo (an already-stored image name) each."""
    first = next(_serial)
    for _ in range(count):
        next(_serial)
    vehicles = Vehicle.objects.bulk_create(
        Vehicle(
            vin=valid_vin(first + i),
            vin_reversed=valid_vin(first + i)[::-1],
            make="Toyota",
            model="Corolla",
            model_year=2018,
        )
        for i in range(count)
    )
    gone = status in StockUnit.GONE
    today = timezone.localdate()
    units = StockUnit.objects.bulk_create(
        StockUnit(
            stock_number=f"B{first + i:06d}",
            vehicle=vehicle,
            status=status,
            source=StockUnit.Source.AUCTION,
            acquisition_cost=Decimal("9000"),
            asking_price=Decimal("12000"),
            acquired_on=today - timedelta(days=days_ago),
            disposed_on=today if gone else None,
        )
        for i, vehicle in enumerate(vehicles)
    )
    if other_cost:
        StockUnitCost.objects.bulk_create(
            StockUnitCost(unit=unit, kind=StockUnitCost.Kind.TRANSPORT, amount=Decimal(other_cost))
            for unit in units
        )
    if photo:
        from inventory.models import StockUnitPhoto

        StockUnitPhoto.objects.bulk_create(
            StockUnitPhoto(unit=unit, image=photo, is_main=True) for unit in units
        )
    return units


def bulk_delivered_deals(count, *, salesperson):
    """Many delivered deals at once (for list pages), written directly with their figures."""
    from sales.models import Commission, Deal

    units = bulk_units(count, status=StockUnit.Status.SOLD, days_ago=20)
    buyers = Customer.objects.bulk_create(
        Customer(first_name=f"Bulk{i}", last_name="Buyer", display_name=f"Buyer, Bulk{i}")
        for i in range(count)
    )
    now = timezone.now()
    deals = Deal.objects.bulk_create(
        Deal(
            stock_unit=unit,
            buyer=buyer,
            salesperson=salesperson,
            status=Deal.Status.DELIVERED,
            sale_price=Decimal("12000"),
            documentation_fee=Decimal("199"),
            registration_fee=Decimal("85"),
            sales_tax_rate=Decimal("6.25"),
            trade_in_reduces_tax=True,
            sales_tax=Decimal("750"),
            total_price=Decimal("13034"),
            amount_financed=Decimal("0"),
            unit_cost=Decimal("9000"),
            front_gross=Decimal("3000"),
            back_gross=Decimal("0"),
            signed_at=now,
            delivered_at=now,
        )
        for unit, buyer in zip(units, buyers, strict=True)
    )
    Commission.objects.bulk_create(
        Commission(
            deal=deal,
            salesperson=salesperson,
            plan_name="House",
            gross=Decimal("3000"),
            rate=Decimal("20"),
            minimum=Decimal("250"),
            amount=Decimal("600"),
            recorded_at=now,
        )
        for deal in deals
    )
    return deals
