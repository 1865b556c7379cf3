"""Parts stock per location: the ledger and average cost at each location, transfers between
locations (sent, in transit, received, cancelled), purchase orders received into a location,
reorder points per location, stock units moved between lots, and who sees what."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from accounts import roles
from accounts.models import Location
from inventory import lot_services, services, transfer_services
from inventory.exceptions import InsufficientStock, InvalidTransition, StockUnitError
from inventory.models import (
    Part,
    PartStock,
    PurchaseOrder,
    StockMovement,
    StockTransfer,
    StockUnit,
    StockUnitMove,
)
from tests.helpers.barrier import answers, run_together
from tests.helpers.builders.inventory import make_part, make_staff, make_supplier

D = Decimal


@pytest.fixture
def group(db):
    main = Location.default()
    north = Location.objects.create(code="north", name="North Shop", kind=Location.Kind.SHOP)
    lot = Location.objects.create(code="lot", name="Route 9 Lot", kind=Location.Kind.LOT)
    return main, north, lot


def stock(part, location):
    return PartStock.objects.get(part=part, location=location)


def assert_ledger_consistent(part, *locations):
    part.refresh_from_db()
    assert services.ledger_balance(part) == part.on_hand
    for location in locations:
        assert services.ledger_balance(part, location=location) == services.on_hand_at(
            part, location
        )
    assert part.on_hand == sum(row.on_hand for row in part.stocks.all())


# -- one location: the figures of before -------------------------------------------------------
@pytest.mark.django_db
def test_a_single_location_keeps_the_figures_it_had():
    part = make_part("FLT-1", on_hand=10, unit_cost="4.00")
    services.receive_part(part, 5, D("5.00"))
    assert part.unit_cost == D("4.33") and part.on_hand == 15
    row = stock(part, Location.default())
    assert (row.on_hand, row.average_cost) == (15, D("4.33"))
    movement = services.issue_part(part, 3)
    assert movement.unit_cost == D("4.33") and movement.location == Location.default()
    with pytest.raises(InsufficientStock, match=r"^Only 12 of FLT-1 in stock; cannot take 13\.$"):
        services.issue_part(part, 13)
    assert_ledger_consistent(part, Location.default())


# -- transfers: a worked example ---------------------------------------------------------------
@pytest.mark.django_db
def test_ledger_and_average_cost_stay_exact_across_a_transfer(group):
    """Main receives 10 at 4.00 and 5 at 5.00: 15 at (40 + 25) / 15 = 4.33. North receives 4 at
    6.00. Main sends 6 to North at its 4.33: Main keeps 9 at 4.33; North has 10 at
    (4 x 6.00 + 6 x 4.33) / 10 = 49.98 / 10 = 5.00. The part's group average is
    (9 x 4.33 + 10 x 5.00) / 19 = 88.97 / 19 = 4.68."""
    main, north, _ = group
    part = make_part("PAD-1", on_hand=10, unit_cost="4.00")
    services.receive_part(part, 5, D("5.00"), location=main)
    services.receive_part(part, 4, D("6.00"), location=north)
    assert stock(part, main).average_cost == D("4.33")
    assert stock(part, north).average_cost == D("6.00")

    transfer = transfer_services.create_transfer(main, north, [(part, 6)])
    transfer_services.send_transfer(transfer)
    assert transfer.status == StockTransfer.Status.IN_TRANSIT
    out = StockMovement.objects.get(kind="transfer_out")
    assert (out.location, out.quantity, out.unit_cost) == (main, -6, D("4.33"))
    assert (stock(part, main).on_hand, stock(part, north).on_hand) == (9, 4)
    part.refresh_from_db()
    assert part.on_hand == 13  # six are on the road

    transfer_services.receive_transfer(transfer)
    arrived = StockMovement.objects.get(kind="transfer_in")
    assert (arrived.location, arrived.quantity, arrived.unit_cost) == (north, 6, D("4.33"))
    assert (stock(part, main).on_hand, stock(part, main).average_cost) == (9, D("4.33"))
    assert (stock(part, north).on_hand, stock(part, north).average_cost) == (10, D("5.00"))
    part.refresh_from_db()
    assert (part.on_hand, part.unit_cost) == (19, D("4.68"))

    issued = services.issue_part(part, 2, location=north)
    assert issued.unit_cost == D("5.00")
    assert_ledger_consistent(part, main, north)

    with pytest.raises(InvalidTransition, match="only a transfer in transit can be received"):
        transfer_services.receive_transfer(transfer)


@pytest.mark.django_db
def test_cancelling_a_transfer_in_transit_puts_the_parts_back_at_the_source(group):
    main, north, _ = group
    part = make_part("PAD-2", on_hand=5, unit_cost="8.00")
    transfer = transfer_services.create_transfer(main, north, [(part, 3)])
    transfer_services.send_transfer(transfer)
    transfer_services.cancel_transfer(transfer, reason="Wrong part")
    assert transfer.status == StockTransfer.Status.CANCELED
    assert (stock(part, main).on_hand, stock(part, main).average_cost) == (5, D("8.00"))
    assert not PartStock.objects.filter(part=part, location=north, on_hand__gt=0).exists()
    assert_ledger_consistent(part, main, north)


@pytest.mark.django_db
def test_a_location_never_goes_below_zero(group):
    main, north, _ = group
    part = make_part("PAD-3", on_hand=2)
    services.receive_part(part, 10, D("10.00"), location=north)
    transfer = transfer_services.create_transfer(main, north, [(part, 3)])
    with pytest.raises(InsufficientStock, match=r"Only 2 of PAD-3 in stock at .*; cannot take 3\."):
        transfer_services.send_transfer(transfer)
    transfer.refresh_from_db()
    assert transfer.status == StockTransfer.Status.DRAFT
    with pytest.raises(InsufficientStock, match="Only 2 of PAD-3 in stock at"):
        services.issue_part(part, 3, location=main)  # twelve in the group, two here
    assert not StockMovement.objects.filter(kind="transfer_out").exists()
    assert_ledger_consistent(part, main, north)


@pytest.mark.django_db
def test_the_database_refuses_a_negative_stock_at_a_location(group):
    part = make_part("PAD-4", on_hand=1)
    with pytest.raises(IntegrityError):
        PartStock.objects.filter(part=part).update(on_hand=-1)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_transfers_sending_the_last_units_at_once_one_wins_one_is_refused():
    main = Location.default()
    north = Location.objects.create(code="north", name="North Shop", kind=Location.Kind.SHOP)
    lot = Location.objects.create(code="east", name="East Shop", kind=Location.Kind.SHOP)
    part = make_part("ALT-9", on_hand=2, unit_cost="50.00")
    first = transfer_services.create_transfer(main, north, [(part, 2)])
    second = transfer_services.create_transfer(main, lot, [(part, 2)])

    def send(transfer):
        def run():
            transfer_services.send_transfer(StockTransfer.objects.get(pk=transfer.pk))
            return "sent"

        return run

    outcomes = answers(run_together(send(first), send(second), catch=InsufficientStock))
    assert sorted(outcomes) == [
        "Only 0 of ALT-9 in stock at Main; cannot take 2.".replace("Main", main.name),
        "sent",
    ]
    statuses = sorted(StockTransfer.objects.values_list("status", flat=True))
    assert statuses == ["draft", "in_transit"]
    assert StockMovement.objects.filter(kind="transfer_out").count() == 1
    assert services.on_hand_at(part, main) == 0
    assert_ledger_consistent(part, main, north, lot)


# -- purchase orders and reorder points per location ------------------------------------------
@pytest.mark.django_db
def test_a_purchase_order_is_received_into_its_location(group):
    main, north, _ = group
    part = make_part("OIL-1", on_hand=3, unit_cost="2.00")
    order = services.create_purchase_order(make_supplier(), [(part, 4, D("3.00"))], location=north)
    services.place_purchase_order(order)
    services.receive_purchase_order(order)
    assert services.on_hand_at(part, north) == 4
    assert services.on_hand_at(part, main) == 3
    assert stock(part, north).average_cost == D("3.00")
    assert StockMovement.objects.get(kind="receipt", location=north).quantity == 4
    default_order = services.create_purchase_order(make_supplier("Other"), [(part, 1)])
    assert default_order.location == main


@pytest.mark.django_db
def test_reorder_points_are_kept_per_location(group):
    main, north, _ = group
    napa = make_supplier()
    part = make_part("WIP-1", on_hand=5, reorder_point=2, reorder_quantity=10, supplier=napa)
    services.receive_part(part, 3, D("10.00"), location=north)
    north_stock = stock(part, north)
    north_stock.reorder_point, north_stock.reorder_quantity = 4, 6
    north_stock.save()
    assert list(Part.objects.low_stock_at(main)) == []  # 5 on hand, point 2
    assert list(Part.objects.low_stock_at(north)) == [part]  # 3 on hand, its own point 4
    result = services.reorder_parts([part], location=north)
    (order,) = result.orders
    assert order.location == north
    assert order.lines.get().quantity_ordered == 6
    again = services.reorder_parts([Part.objects.get(pk=part.pk)], location=north)
    assert again.skipped and "already on" in again.skipped[0][1]
    elsewhere = services.reorder_parts([Part.objects.get(pk=part.pk)], location=main)
    assert elsewhere.orders[0].lines.get().quantity_ordered == 10


# -- stock units between lots ------------------------------------------------------------------
def make_unit(**fields):
    from tests.helpers.builders.inventory import make_vehicle
    from tests.helpers.builders.repairs import valid_vin

    fields.setdefault("source", StockUnit.Source.AUCTION)
    fields.setdefault("acquisition_cost", D("9000"))
    return lot_services.acquire_unit(StockUnit(vehicle=make_vehicle(valid_vin()), **fields))


@pytest.mark.django_db
def test_a_unit_moves_between_lots_and_the_move_is_kept(group, make_user):
    main, north, lot = group
    unit = make_unit()
    assert unit.location == main  # the default location is a shop and a lot
    manager = make_user("gm", roles.MANAGER)
    move = lot_services.move_to_lot(unit, lot, manager, note="Front line space")
    unit.refresh_from_db()
    assert unit.location == lot
    assert (move.from_location, move.to_location, move.moved_by) == (main, lot, manager)
    assert StockUnitMove.objects.filter(unit=unit).count() == 1
    from auditlog.models import LogEntry

    assert LogEntry.objects.get_for_object(unit).filter(changes__icontains="location").exists()
    with pytest.raises(StockUnitError, match="is not a car lot"):
        lot_services.move_to_lot(unit, north, manager)
    with pytest.raises(StockUnitError, match="already"):
        lot_services.move_to_lot(unit, lot, manager)
    with pytest.raises(StockUnitError, match="not a car lot"):
        make_unit(location=north)


# -- who sees what ------------------------------------------------------------------------------
@pytest.fixture
def two_shops(group, make_user):
    main, north, lot = group
    part = make_part("SEE-1", on_hand=4)
    services.receive_part(part, 7, D("10.00"), location=north)
    mine = transfer_services.create_transfer(north, lot, [(part, 1)])
    east = Location.objects.create(code="east", name="East Shop", kind=Location.Kind.SHOP)
    theirs = transfer_services.create_transfer(main, east, [(part, 1)])
    unit_here = make_unit(location=lot)
    unit_there = make_unit(location=main)
    return {
        "part": part,
        "mine": mine,
        "theirs": theirs,
        "unit_here": unit_here,
        "unit_there": unit_there,
        "north": north,
        "main": main,
        "lot": lot,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("role", [roles.MANAGER, roles.SERVICE_ADVISOR, roles.SALESPERSON])
def test_a_user_of_one_location_neither_sees_nor_changes_another_locations_stock(
    client, role, two_shops
):
    north, main, lot = two_shops["north"], two_shops["main"], two_shops["lot"]
    user = make_staff(f"user-{role}", role, home_location=north)
    user.locations.add(lot)
    client.force_login(user)
    theirs, mine = two_shops["theirs"], two_shops["mine"]
    part = two_shops["part"]

    if user.has_perm("inventory.view_stocktransfer"):
        page = client.get(reverse("admin:inventory_stocktransfer_changelist")).content.decode()
        assert mine.number in page and theirs.number not in page
        assert client.get(
            reverse("admin:inventory_stocktransfer_change", args=[theirs.pk])
        ).status_code in (302, 404)
        sent = client.post(reverse("admin:inventory_stocktransfer_send", args=[theirs.pk]))
        assert sent.status_code == 404
        theirs.refresh_from_db()
        assert theirs.status == StockTransfer.Status.DRAFT
    if user.has_perm("inventory.view_partstock"):
        page = client.get(
            reverse("admin:inventory_partstock_changelist") + "?all="
        ).content.decode()
        there = stock(part, main)
        assert client.get(
            reverse("admin:inventory_partstock_change", args=[there.pk])
        ).status_code in (302, 404)
        assert f"/partstock/{there.pk}/" not in page
    if user.has_perm("inventory.view_stockmovement"):
        page = client.get(reverse("admin:inventory_stockmovement_changelist")).content.decode()
        main_movement = StockMovement.objects.filter(location=main).first()
        assert f"/stockmovement/{main_movement.pk}/" not in page
    if user.has_perm("inventory.view_stockunit"):
        there = two_shops["unit_there"]
        assert client.get(
            reverse("admin:inventory_stockunit_change", args=[there.pk])
        ).status_code in (302, 404)
        page = client.get(reverse("admin:inventory_stockunit_changelist")).content.decode()
        assert there.stock_number not in page


# -- migration ---------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_migration_puts_existing_stock_at_the_default_location_and_goes_back(monkeypatch):
    # Going back drops the stock rows: the operator confirms (core.migration_operations).
    monkeypatch.setenv("CARSHOP_ALLOW_DATA_LOSS", "1")
    part = make_part("MIG-1", on_hand=7, unit_cost="3.50")
    order = services.create_purchase_order(make_supplier(), [(part, 2)])
    unit = make_unit()
    executor = MigrationExecutor(connection)
    executor.migrate([("inventory", "0008_stock_number_series")])
    with connection.cursor() as cursor:
        cursor.execute("SELECT on_hand, unit_cost FROM inventory_part WHERE id = %s", [part.pk])
        assert cursor.fetchone()[0] == 7
        tables = connection.introspection.table_names(cursor)
        assert "inventory_partstock" not in tables
        # What an install holds before it has locations: stock and an order, no location.
        cursor.execute("UPDATE inventory_part SET on_hand = 9 WHERE id = %s", [part.pk])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    # Every app to its latest migration: going back took later apps' migrations with it.
    executor.migrate(executor.loader.graph.leaf_nodes())
    default = Location.default()
    row = PartStock.objects.get(part=part)
    assert (row.location, row.on_hand, row.average_cost) == (default, 9, D("3.50"))
    assert set(StockMovement.objects.values_list("location", flat=True)) == {default.pk}
    assert PurchaseOrder.objects.get(pk=order.pk).location == default
    assert StockUnit.objects.get(pk=unit.pk).location == default
    # The default that filled the existing rows is not kept in the database: a row written
    # without a location (outside the models) is refused, not put at the first location.
    for table in ("inventory_stockmovement", "inventory_purchaseorder", "inventory_stockunit"):
        with connection.cursor() as cursor:
            described = connection.introspection.get_table_description(cursor, table)
        column = next(c for c in described if c.name == "location_id")
        assert not column.null_ok
        assert column.default is None


# -- the API -----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_partners_read_parts_on_hand_only_at_their_locations(group):
    from tests.helpers.api import key_client, partner_with_key

    main, north, _ = group
    part = make_part("API-1", on_hand=3, unit_cost="7.00")
    services.receive_part(part, 5, D("7.00"), location=north)
    partner, _key, plain = partner_with_key("Fleet", scopes=["parts:read"])
    partner.locations.set([north])
    client = key_client(plain)

    rows = client.get("/api/v1/parts-stock/").json()["results"]
    assert [(row["sku"], row["location"], row["on_hand"]) for row in rows] == [
        ("API-1", north.pk, 5)
    ]
    assert "average_cost" not in rows[0] and "unit_cost" not in rows[0]
    assert client.get(f"/api/v1/parts-stock/?location={north.pk}").json()["results"]
    assert client.get(f"/api/v1/parts-stock/?location={main.pk}").json()["results"] == []
    theirs = stock(part, main)
    assert client.get(f"/api/v1/parts-stock/{theirs.pk}/").status_code == 404

    _other, _key, listings = partner_with_key("Cars", scopes=["listings:read"])
    assert key_client(listings).get("/api/v1/parts-stock/").status_code == 403


@pytest.mark.django_db
def test_a_partner_pages_through_the_parts_stock_in_sku_order(group):
    from tests.helpers.api import key_client, partner_with_key

    _main, north, _ = group
    for sku in ("PG-3", "PG-1", "PG-2"):
        services.receive_part(make_part(sku, unit_cost="2.00"), 1, D("2.00"), location=north)
    partner, _key, plain = partner_with_key("Pager", scopes=["parts:read"])
    partner.locations.set([north])
    client = key_client(plain)
    seen, url = [], "/api/v1/parts-stock/?page_size=1"
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.content[:300]
        seen += [row["sku"] for row in page.json()["results"]]
        url = page.json()["next"]
    assert seen == ["PG-1", "PG-2", "PG-3"]


@pytest.mark.django_db
def test_the_schema_documents_the_location_filter():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    parameters = schema["paths"]["/api/v1/parts-stock/"]["get"]["parameters"]
    assert any(p["name"] == "location" for p in parameters)
    listing = schema["paths"]["/api/v1/listings/"]["get"]["parameters"]
    assert any(p["name"] == "location" for p in listing)


# -- pages -------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_single_location_install_shows_no_location_field(client, make_user):
    make_part("ONE-1", on_hand=2)
    client.force_login(make_user("gm", roles.MANAGER))
    page = client.get(reverse("admin:inventory_purchaseorder_add")).content.decode()
    assert 'name="location"' not in page
    parts = client.get(reverse("admin:inventory_part_changelist")).content.decode()
    assert "on hand here" not in parts and "group on hand" not in parts
    movements = client.get(reverse("admin:inventory_stockmovement_changelist")).content.decode()
    assert "column-location" not in movements
    units = client.get(reverse("admin:inventory_stockunit_add")).content.decode()
    assert 'name="location"' not in units


@pytest.mark.django_db
def test_the_transfer_and_stock_lists_cost_the_same_queries_with_1_or_6_rows(
    client, group, make_user
):
    from django.test.utils import CaptureQueriesContext

    main, north, _ = group
    client.force_login(make_user("gm", roles.MANAGER))
    urls = (
        reverse("admin:inventory_stocktransfer_changelist"),
        reverse("admin:inventory_partstock_changelist"),
        reverse("admin:inventory_part_changelist"),
        reverse("admin:inventory_stockmovement_changelist"),
    )

    def counts():
        found = []
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            found.append(len(queries))
        return found

    part = make_part("Q-0", on_hand=3)
    transfer_services.create_transfer(main, north, [(part, 1)])
    client.get(urls[0])  # the location count is cached, as on a running install
    few = counts()
    for index in range(1, 6):
        part = make_part(f"Q-{index}", on_hand=3)
        transfer_services.send_transfer(transfer_services.create_transfer(main, north, [(part, 1)]))
    assert counts() == few
    assert max(few) <= 17
