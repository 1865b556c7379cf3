"""The large data set's generator (seed_demo --scale large), run at a tiny fraction: it loads
the shape it promises, keeps the rules the services keep, and gives the same data for a seed."""

import datetime
import io
import itertools
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F, Max, Sum
from django.utils import timezone

from accounts.models import Customer, Location, Partner, ShopSettings, User, phone_digits
from carshop.ops.testenv.large_data import FULL_SIZE, Generator, sizes
from core.money import money
from inventory.models import Part, PartStock, PurchaseOrder, StockMovement, StockUnit, Vehicle
from inventory.vin import validate_vin
from repairs.documents import load_order, order_totals
from repairs.models import (
    Appointment,
    CreditNote,
    DocumentSequence,
    Invoice,
    Job,
    PartLine,
    Payment,
    RepairOrder,
    RepairOrderEvent,
    TimeEntry,
)
from repairs.numbers import (
    credit_note_number,
    invoice_number,
    location_prefix,
    repair_order_number,
)
from repairs.totals import Rates
from sales.models import Deal, TradeIn

FRACTION = 0.0005
UNTIL = datetime.datetime(2026, 6, 30, 21, 0, tzinfo=datetime.UTC)


@pytest.fixture
def generated(db):
    summary = Generator(fraction=FRACTION, seed=11, until=UNTIL).run()
    return summary


def test_the_generator_loads_each_table_in_proportion_to_the_full_size(generated):
    expected = sizes(FRACTION)
    assert expected["repair_orders"] == round(FULL_SIZE["repair_orders"] * FRACTION)
    assert Customer.objects.count() == expected["customers"]
    assert Vehicle.objects.count() == expected["vehicles"]
    assert Part.objects.count() == expected["parts"]
    assert RepairOrder.objects.count() == expected["repair_orders"]
    jobs_per_order = Job.objects.count() / RepairOrder.objects.count()
    assert 1.2 < jobs_per_order < 2.5
    assert generated["rows"]["repairs.RepairOrder"] == expected["repair_orders"]
    first = RepairOrder.objects.earliest("opened_at").opened_at
    last = RepairOrder.objects.latest("opened_at").opened_at
    assert (last - first).days > 4 * 365  # five years of orders
    assert last < UNTIL


def test_generated_vehicles_have_valid_vins_and_their_reversed_vin(generated):
    for vin, reversed_vin in Vehicle.objects.values_list("vin", "vin_reversed"):
        assert validate_vin(vin) == vin
        assert reversed_vin == vin[::-1]


def test_generated_customers_are_searchable_by_their_phone_digits(generated):
    for customer in Customer.objects.all()[:50]:
        assert customer.phone_digits == phone_digits(customer.phone, customer.phone_other)
        assert customer.display_name == customer.compose_display_name()


def test_stock_on_hand_is_the_sum_of_the_ledger_and_never_went_below_zero(generated):
    ledger = dict(
        StockMovement.objects.values("part")
        .annotate(total=Sum("quantity"))
        .values_list("part", "total")
    )
    for part in Part.objects.all():
        assert part.on_hand == ledger.get(part.pk, 0) >= 0
    # Each location's stock is its own ledger's sum, and never went below zero there.
    at_location = {
        (part, location): total
        for part, location, total in StockMovement.objects.values("part", "location")
        .annotate(total=Sum("quantity"))
        .values_list("part", "location", "total")
    }
    stocks = {
        (part, location): on_hand
        for part, location, on_hand in PartStock.objects.values_list("part", "location", "on_hand")
    }
    assert set(at_location) <= set(stocks)
    for key, on_hand in stocks.items():
        assert on_hand == at_location.get(key, 0) >= 0, key
    assert len({location for _part, location in at_location}) == 4  # the four shops
    running = defaultdict(int)
    for part_id, location_id, quantity in StockMovement.objects.order_by(
        "created_at", "id"
    ).values_list("part", "location", "quantity"):
        running[part_id, location_id] += quantity
        assert running[part_id, location_id] >= 0


def test_every_issued_part_line_has_its_issue_movement(generated):
    movements = Counter(
        StockMovement.objects.filter(kind="issue").values_list("reference", flat=True)
    )
    issued = PartLine.objects.filter(issued_quantity__gt=0)
    assert issued.exists()
    for line in issued:
        assert movements[line.stock_reference] == 1
    assert sum(movements.values()) == issued.count()
    assert not PartLine.objects.filter(issued_quantity__gt=0, job__authorization="declined")


def test_numbers_are_gapless_per_location_series_and_year_and_match_the_counters(generated):
    prefixes = {location.pk: location_prefix(location) for location in Location.objects.all()}
    counted = {}
    for model, series, write in (
        (Invoice, "invoice", invoice_number),
        (RepairOrder, "repair_order", repair_order_number),
        (CreditNote, "credit_note", credit_note_number),
    ):
        by_year = defaultdict(list)
        if model is RepairOrder:
            for location, number in RepairOrder.objects.values_list("location", "number"):
                _head, year, sequence = number.rsplit("-", 2)
                assert number == write(year, int(sequence), prefixes[location])
                by_year[location, int(year)].append(int(sequence))
        else:
            for location, year, sequence, number in model.objects.values_list(
                "location", "year", "sequence", "number"
            ):
                assert number == write(year, sequence, prefixes[location])
                by_year[location, year].append(sequence)
        if model is not CreditNote:
            assert {location for location, _year in by_year} == set(prefixes) - {
                Location.objects.get(code="lot").pk
            }
        for (location, year), numbers in by_year.items():
            assert sorted(numbers) == list(range(1, len(numbers) + 1))
            counted[location, series, year] = len(numbers)
    assert counted == {
        (row.location_id, row.series, row.year): row.last_number
        for row in DocumentSequence.objects.all()
    }
    assert RepairOrder.objects.filter(number__startswith="EAST-RO-").exists()
    assert RepairOrder.objects.filter(number__startswith="RO-").exists()


def test_the_group_has_five_locations_and_each_shop_has_its_share_of_the_orders(generated):
    locations = {location.code: location for location in Location.objects.all()}
    assert len(locations) == 5
    kinds = sorted(location.kind for location in locations.values())
    assert kinds == ["both", "lot", "shop", "shop", "shop"]
    assert Location.default().kind == "both"
    assert len({ShopSettings.of(location).name for location in locations.values()}) == 5
    orders = Counter(RepairOrder.objects.values_list("location", flat=True))
    total = sum(orders.values())
    shops = [location.pk for location in locations.values() if location.is_shop]
    assert sorted(orders) == sorted(shops)
    assert all(orders[shop] > 0.1 * total for shop in shops)
    assert not RepairOrder.objects.filter(location=locations["lot"])
    # What belongs to an order is at its location; a payment follows its invoice.
    assert not Invoice.objects.exclude(location=F("repair_order__location"))
    assert not CreditNote.objects.exclude(location=F("invoice__location"))
    assert not TimeEntry.objects.exclude(location=F("job__repair_order__location"))
    assert Payment.objects.exists()
    assert set(Appointment.objects.values_list("location", flat=True)) <= set(shops)
    assert set(PurchaseOrder.objects.values_list("location", flat=True)) == set(shops)
    lots = {location.pk for location in locations.values() if location.is_lot}
    assert set(StockUnit.objects.values_list("location", flat=True)) == lots


def test_the_staff_on_an_order_work_at_its_location(generated):
    home = dict(User.objects.values_list("pk", "home_location"))
    for order in RepairOrder.objects.prefetch_related("jobs__labor_lines", "jobs__time_entries"):
        assert home[order.advisor_id] == order.location_id
        for job in order.jobs.all():
            for line in job.labor_lines.all():
                assert home[line.technician_id] == order.location_id
            for entry in job.time_entries.all():
                assert home[entry.technician_id] == order.location_id
    manager = User.objects.get(username="manager")
    assert manager.has_perm("accounts.work_at_all_locations")
    # The benchmarks' partners read every location's rows.
    for partner in Partner.objects.filter(slug__startswith="bench-"):
        assert partner.locations.count() == 5


def test_invoices_carry_the_totals_of_their_counted_lines_and_payments_settle_them(generated):
    rates = {
        location.pk: Rates.from_settings(ShopSettings.of(location))
        for location in Location.objects.all()
    }
    invoices = Invoice.objects.with_balance().select_related("repair_order")
    assert invoices.count() > 0.8 * RepairOrder.objects.count()
    for invoice in invoices[:60]:
        totals = order_totals(load_order(invoice.repair_order_id), rates[invoice.location_id])
        assert invoice.total == totals.total
        assert invoice.snapshot["totals"]["total"] == str(totals.total)
        assert invoice.snapshot["repair_order"]["number"] == invoice.repair_order.number
    for invoice in invoices:
        status = invoice.repair_order.status
        balance = money(invoice.balance_amount)  # SQLite sums in floating point
        assert balance >= 0
        assert (balance == 0) == (status == "paid"), invoice.number
    assert Payment.objects.aggregate(total=Sum("amount"))["total"] > Decimal("0")


def test_orders_move_through_the_workflow_in_time_order(generated):
    assert set(RepairOrder.objects.values_list("status", flat=True)) >= {
        "paid",
        "canceled",
        "closed",
    }
    for order in RepairOrder.objects.prefetch_related("events")[:200]:
        events = list(order.events.all())
        assert events[0].to_status == "estimate" and events[0].at == order.opened_at
        assert events[-1].to_status == order.status
        assert [e.at for e in events] == sorted(e.at for e in events)
        assert all(
            event.from_status == previous.to_status
            for previous, event in itertools.pairwise(events)
        )
    assert RepairOrder.objects.filter(internal=True, customer__isnull=True).exists()
    assert RepairOrderEvent.objects.filter(to_status="invoiced", note__startswith="invoice ")


def test_every_deal_sells_its_stock_unit_once(generated):
    deal_model = Deal
    delivered = Counter(
        deal_model.objects.filter(status="delivered").values_list("stock_unit", flat=True)
    )
    assert delivered and max(delivered.values()) == 1
    unit_model = StockUnit
    for unit in unit_model.objects.filter(pk__in=delivered).select_related("vehicle"):
        assert unit.status == "sold" and unit.disposed_on is not None
        buyer = deal_model.objects.get(stock_unit=unit, status="delivered").buyer_id
        assert unit.vehicle.owner_id == buyer
    for unit in unit_model.objects.filter(status="reserved"):
        assert deal_model.objects.filter(stock_unit=unit, status="signed").count() == 1
    assert (
        not deal_model.objects.filter(status__in=["signed", "delivered"])
        .exclude(stock_unit__status__in=["reserved", "sold"])
        .exists()
    )


def test_delivered_deals_keep_the_figures_the_lot_services_compute(generated):
    from sales import services

    deals = (
        Deal.objects.filter(status="delivered")
        .select_related("stock_unit")
        .prefetch_related("trade_ins", "addons")
    )
    assert deals.exists()
    for deal in deals[:25]:
        assert services.unit_costs(deal.stock_unit).total == deal.unit_cost
        result = services.figures(deal, unit_cost=deal.unit_cost)
        assert (result.front_gross, result.back_gross, result.total_price) == (
            deal.front_gross,
            deal.back_gross,
            deal.total_price,
        )
        assert services.payments_received(deal) >= result.cash_due
        assert deal.commissions.get().amount > 0
    for trade in TradeIn.objects.select_related("stock_unit", "deal"):
        assert trade.stock_unit.source == "trade_in"
        assert trade.stock_unit.acquisition_cost == trade.actual_cash_value
        assert trade.stock_unit.acquired_on == timezone.localdate(trade.deal.delivered_at)


def _collected_rows(seed):
    generator = Generator(fraction=0.0002, seed=seed, until=UNTIL)
    collected = defaultdict(list)
    generator.writer.write = lambda table, rows: collected[table.model._meta.label].extend(rows)
    generator.writer.drain = lambda: None
    generator.staff_and_settings()
    generator.plan_lot()
    generator.customers()
    generator.plan_vehicles()
    generator.plan_parts()
    generator.repair_orders()
    return collected


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    first, again, other = _collected_rows(5), _collected_rows(5), _collected_rows(6)
    assert first == again
    assert first["repairs.RepairOrder"] != other["repairs.RepairOrder"]


@pytest.mark.django_db
def test_the_large_scale_refuses_a_database_that_has_data(generated):
    with pytest.raises(CommandError, match="empty"):
        call_command(
            "seed_demo",
            "--scale",
            "large",
            "--fraction",
            "0.001",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--scale", "large", "--fraction", "0"], "more than 0"),
        (["--scale", "large", "--fraction", "2"], "at most 1"),
        (["--scale", "large", "--until", "yesterday"], "ISO 8601"),
        (["--scale", "huge"], "'large'"),
        (["--fraction", "0.5"], "go with --scale large"),
    ],
)
def test_bad_large_scale_options_are_refused_with_a_reason(arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("seed_demo", *arguments, stdout=io.StringIO(), stderr=io.StringIO())
    assert not Customer.objects.exists()


def test_rows_saved_after_the_load_get_new_ids(generated):
    from inventory import services as inventory_services
    from sales.models import DealAddon

    customer = Customer.objects.create(first_name="New", last_name="Customer")
    assert customer.pk == Customer.objects.order_by("-pk").values_list("pk", flat=True)[0]
    part = Part.objects.order_by("pk").first()
    movement = inventory_services.adjust_stock(part, 1, reason="count")
    assert (
        movement.pk
        > StockMovement.objects.exclude(pk=movement.pk)
        .order_by("-pk")
        .values_list("pk", flat=True)[0]
    )
    deal = Deal.objects.order_by("pk").first()
    addon = DealAddon.objects.create(deal=deal, kind="accessory", price=Decimal("10.00"))
    assert addon.pk > DealAddon.objects.exclude(pk=addon.pk).aggregate(last=Max("pk"))["last"]
