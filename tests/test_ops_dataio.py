"""export and import: a whole-database JSON export that loads back into an empty, migrated
database identically (also on PostgreSQL, where sequences must be reset), per-table CSV through
the import-export resources, and imports that report every bad row and write nothing then."""

import csv
import datetime
import importlib
import io
import json
from decimal import Decimal

import pytest
from auditlog.context import disable_auditlog
from auditlog.models import LogEntry
from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import connection, transaction

from accounts import services as account_services
from accounts.models import Customer, PartnerKey, User, WebhookSubscription
from carshop.ops.backups import testing
from carshop.ops.data import tables
from carshop.ops.testenv.large_data import Generator
from inventory.models import MarkupRule, Vehicle
from tests.helpers.builders.inventory import VALID_VINS, make_customer, make_vehicle
from tests.helpers.commands import run

UNTIL = datetime.datetime(2026, 6, 30, 21, 0, tzinfo=datetime.UTC)


def fails(command, *args):
    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command(command, *args, stdout=out, stderr=io.StringIO())
    return str(error.value), out.getvalue()


def every_model():
    return [table.model for table in tables.TABLES]


def snapshot():
    """Every row of every table, and every many-to-many link, by table."""
    data = {}
    for model in every_model():
        data[model._meta.label] = list(model._base_manager.order_by("pk").values())
        for field in model._meta.many_to_many:
            through = field.remote_field.through
            pairs = through.objects.values_list(
                f"{field.m2m_field_name()}_id", f"{field.m2m_reverse_field_name()}_id"
            )
            data[f"{model._meta.label}.{field.name}"] = sorted(pairs)
    return data


def empty_database():
    """What `migrate` leaves: every table emptied with its sequence reset (as `flush` does),
    then the rows migrations make (roles, the system user, shop settings, the inspection
    checklists and message templates)."""
    names = set()
    for model in every_model():
        names.add(model._meta.db_table)
        for field in model._meta.many_to_many:
            names.add(field.remote_field.through._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # rows loaded by COPY just now
        for sql in connection.ops.sql_flush(
            no_style(), sorted(names), reset_sequences=True, allow_cascade=True
        ):
            cursor.execute(sql)
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    migration = importlib.import_module("accounts.migrations.0002_roles_system_user_shop_settings")
    migration.forwards(django_apps, None)
    # The rows later migrations seed: the canned inspection checklists, the message templates
    # (through their historical models, which the audit log does not follow).
    with disable_auditlog():
        importlib.import_module("repairs.migrations.0010_inspection_checklists").add_checklists(
            django_apps, None
        )
        importlib.import_module("messaging.migrations.0002_default_templates").seed(
            django_apps, None
        )


@pytest.fixture
def shop(db):
    """A small, realistic shop: the benchmark generator's data (customers, vehicles, parts and
    their ledger, repair orders with invoices and payments, the car lot and deals) and a partner
    with an API key and a webhook subscription."""
    Generator(fraction=0.0005, seed=9, until=UNTIL).run()
    partner = account_services.create_partner(
        "Fleet Co", slug="fleet-co", customers=Customer.objects.all()[:3]
    )
    account_services.issue_key(partner, name="nightly sync", scopes=["repairs:read"])
    WebhookSubscription.objects.create(
        partner=partner,
        url="https://fleet.example/hook",
        events=["repair_order.updated"],
        secret="s3cret-signing",
    )


def test_every_carshop_model_has_a_table():
    models = {
        model
        for app in tables.CARSHOP_APPS
        for model in django_apps.get_app_config(app).get_models()
    }
    missing = sorted(model._meta.label for model in models if tables.for_model(model) is None)
    assert missing == []


def test_unknown_table_name_lists_the_valid_ones(db, tmp_path):
    message, _ = fails(
        "export", "--format=json", "--tables=cars,bogus", f"--output={tmp_path / 'x.json'}"
    )
    assert message.startswith("unknown table 'bogus'; tables: ")
    assert "customers" in message and "vehicles (cars)" in message and "sales (deals)" in message
    assert not (tmp_path / "x.json").exists()


@pytest.mark.django_db
def test_json_round_trip_into_an_empty_database_is_identical(shop, tmp_path):
    before = snapshot()
    assert len(before["repairs.Invoice"]) > 0 and len(before["sales.Deal"]) > 0
    assert len(before["auth.Group.permissions"]) > 0 and before["accounts.Partner.customers"]
    path = tmp_path / "all.json"
    run("export", "--format=json", "--include-secrets", f"--output={path}")

    empty_database()
    assert not Customer.objects.exists()
    out = run("import", "--format=json", f"--input={path}")

    assert snapshot() == before
    rows = sum(len(rows) for label, rows in before.items() if label.count(".") == 1)
    assert f"imported {rows} rows from {path}" in out
    # Sequences follow the imported ids: new rows get fresh ones.
    newest = Customer.objects.order_by("-pk").first().pk
    assert make_customer(last_name="New").pk > newest
    vehicles = before["inventory.Vehicle"]
    assert make_vehicle(vin=VALID_VINS[1]).pk > max(row["id"] for row in vehicles)


def _export_lines(path):
    """The file's header (without its time), its rows in order, and its footer."""
    lines = path.read_text().splitlines()
    header = json.loads(lines[0].removesuffix(', "objects": [') + "}")
    header.pop("created_at")
    return header, lines[1:-2], lines[-2:]


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_json_export_read_by_parallel_workers_holds_the_same_rows_and_loads_back(shop, tmp_path):
    """On PostgreSQL a large table's export is read by parallel workers (--workers, 2 by
    default): the file holds the same rows as one read by the export's connection alone,
    possibly in another order, and loads back identically."""
    from carshop.ops.data.postgres import export_sql, read_in_parallel

    before = snapshot()
    with connection.cursor() as cursor:  # every table counts as large (the test's are tiny)
        cursor.execute("SET min_parallel_table_scan_size = 0")

    def plan():
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + export_sql(Vehicle, (), "default"))
            return "\n".join(row[0] for row in cursor.fetchall())

    read_in_parallel(2, "default")
    assert "Parallel Seq Scan" in plan() and "Workers Planned: 2" in plan()
    read_in_parallel(0, "default")
    assert "Parallel" not in plan()

    alone, parallel = tmp_path / "alone.json", tmp_path / "parallel.json"
    run("export", "--format=json", "--include-secrets", "--workers=0", f"--output={alone}")
    out = run("export", "--format=json", "--include-secrets", f"--output={parallel}")
    assert "Parallel" in plan()  # the default
    header, rows, footer = _export_lines(parallel)
    alone_header, alone_rows, alone_footer = _export_lines(alone)
    assert (header, footer) == (alone_header, alone_footer)
    assert sorted(row.rstrip(",") for row in rows) == sorted(row.rstrip(",") for row in alone_rows)
    assert len(rows) == sum(len(r) for label, r in before.items() if label.count(".") == 1)
    assert f"exported {len(rows)} rows" in out

    empty_database()
    run("import", "--format=json", f"--input={parallel}")
    assert snapshot() == before


def test_export_refuses_a_negative_number_of_workers(db, tmp_path):
    message, _ = fails(
        "export", "--format=json", "--workers=-1", f"--output={tmp_path / 'all.json'}"
    )
    assert message == "--workers: 0 or more"
    assert not (tmp_path / "all.json").exists()


@pytest.mark.django_db
def test_json_export_is_one_row_a_line_with_a_footer_and_a_cut_file_is_refused(shop, tmp_path):
    path = tmp_path / "all.json"
    run("export", "--format=json", f"--output={path}")
    document = json.loads(path.read_text())  # one JSON document
    assert document["format"] == "carshop-export" and document["whole_database"] is True
    assert document["counts"]["repairs.repairorder"] == len(
        [row for row in document["objects"] if row["model"] == "repairs.repairorder"]
    )
    lines = path.read_text().splitlines()
    assert len(lines) == len(document["objects"]) + 3

    cut = tmp_path / "cut.json"
    cut.write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    empty_database()
    message, out = fails("import", "--format=json", f"--input={cut}")
    assert "the file ends before its footer: it is incomplete" in out
    assert message.endswith("nothing was imported")
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_json_export_leaves_secrets_out_unless_asked(shop, tmp_path):
    hashes = list(User.objects.exclude(password="").values_list("password", flat=True))
    key_hash = PartnerKey.objects.get().hashed_key
    path = tmp_path / "all.json"
    run("export", "--format=json", f"--output={path}")
    text = path.read_text()
    assert key_hash not in text and "s3cret-signing" not in text
    assert all(
        "password" not in row["fields"] for row in _rows(path) if row["model"] == "accounts.user"
    )
    assert not any(value in text for value in hashes)

    empty_database()
    out = run("import", "--format=json", f"--input={path}")
    assert "note: the file has no password hashes" in out
    assert User.objects.count() > 1
    assert not any(user.has_usable_password() for user in User.objects.all())
    assert PartnerKey.objects.get().hashed_key != key_hash
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret != "s3cret-signing" and not subscription.is_active


def _rows(path):
    return [json.loads(line.rstrip(",")) for line in path.read_text().splitlines()[1:-2]]


def _write(path, header_line, rows, footer_lines):
    path.write_text(
        "\n".join([header_line, ",\n".join(json.dumps(row) for row in rows), *footer_lines]) + "\n"
    )


@pytest.mark.django_db
def test_json_import_reports_each_bad_row_with_its_line_and_writes_nothing(shop, tmp_path):
    path = tmp_path / "all.json"
    run("export", "--format=json", "--include-secrets", f"--output={path}")
    lines = path.read_text().splitlines()
    rows = _rows(path)
    vehicles = [index for index, row in enumerate(rows) if row["model"] == "inventory.vehicle"]
    bad_vin, missing, unknown_owner = vehicles[0], vehicles[1], vehicles[2]
    rows[bad_vin]["fields"]["vin"] = "1HGCM82633A004353"  # check digit broken
    del rows[missing]["fields"]["vin"]  # a required field missing
    rows[unknown_owner]["fields"]["owner"] = 987654  # no such customer
    broken = tmp_path / "broken.json"
    _write(broken, lines[0], rows, lines[-2:])

    empty_database()
    message, out = fails("import", "--format=json", f"--input={broken}")
    assert message == f"3 bad rows in {broken}; nothing was imported"
    reported = out.splitlines()
    assert reported[1].startswith(
        f"line {bad_vin + 2}: inventory.vehicle {rows[bad_vin]['pk']}: vin: The check digit"
    )
    assert reported[2].startswith(
        f"line {missing + 2}: inventory.vehicle "
        f"{rows[missing]['pk']}: vin: This field cannot be blank."
    )
    assert reported[3] == (
        f"line {unknown_owner + 2}: inventory.vehicle "
        f"{rows[unknown_owner]['pk']}: owner: no customer with id 987654"
    )
    # The rows that point to the vehicle that could not be loaded are counted, not listed.
    assert reported[0].startswith("note: ") and reported[0].endswith(
        "more rows refer to the bad rows below"
    )
    assert len(reported) == 4
    assert not Customer.objects.exists() and not Vehicle.objects.exists()


@pytest.mark.django_db
def test_json_dry_run_checks_every_row_and_writes_nothing(shop, tmp_path):
    path = tmp_path / "all.json"
    run("export", "--format=json", f"--output={path}")
    empty_database()
    out = run("import", "--format=json", f"--input={path}", "--dry-run")
    assert out.strip().endswith("rows are good; dry run, nothing written")
    assert not Customer.objects.exists() and not Vehicle.objects.exists()
    assert User.objects.get().username == "system"


@pytest.mark.django_db
def test_json_import_refuses_a_database_with_data_unless_the_tables_asked_for_are_empty(
    shop, tmp_path
):
    path = tmp_path / "all.json"
    run("export", "--format=json", f"--output={path}")
    customers = Customer.objects.count()
    message, _ = fails("import", "--format=json", f"--input={path}")
    assert message.startswith("the database is not empty (") and "users has " in message
    assert "\n" not in message and Customer.objects.count() == customers
    message, _ = fails("import", "--format=json", "--tables=customers", f"--input={path}")
    assert message.startswith(f"the database is not empty (customers has {customers} rows)")

    rules = list(MarkupRule.objects.order_by("pk").values())
    MarkupRule.objects.all().delete()
    out = run("import", "--format=json", "--tables=markup", f"--input={path}")
    assert "markup_rules" in out and list(MarkupRule.objects.order_by("pk").values()) == rules


# --- CSV -----------------------------------------------------------------------------------------


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_round_trip_of_a_table_keeps_every_row(db, tmp_path, monkeypatch):
    for number in range(5):
        make_customer(
            last_name=f"Driver{number}",
            first_name="Sam",
            email=f"s{number}@x.example",
            city="Springfield",
            consent_reminders=bool(number % 2),
            notes="line one\nline two, with a comma",
        )
    make_customer(
        kind=Customer.Kind.COMPANY, company_name="Fleet, Inc.", first_name="", last_name=""
    )
    fields = [
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
    ]
    before = list(Customer.objects.order_by("pk").values(*fields))
    path = tmp_path / "customers.csv"
    out = run("export", "--format=csv", "--tables=customers", f"--output={path}")
    assert f"exported 6 rows of 1 tables to {path} (without secrets" in out
    assert len(_read_csv(path)) == 6

    Customer.objects.all().delete()
    if connection.vendor == "postgresql":  # a new database's sequence starts at 1
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_by_name_sql(
                no_style(), [{"table": "accounts_customer", "column": "id"}]
            ):
                cursor.execute(sql)
    monkeypatch.setenv("CARSHOP_OPERATOR", "ops")
    operator = User.objects.create(username="ops")
    # Into another database every row is new: the columns Carshop sets itself get its own
    # values, and the import says so.
    out = run("import", "--format=csv", f"--input={path}")
    assert (
        "note: customers.csv: display_name, phone_digits, created_at, updated_at are set by "
        "Carshop on a new row; the file's values on 6 new rows were not used"
    ) in out
    assert "customers                6 new, 0 updated, 0 unchanged" in out
    assert list(Customer.objects.order_by("pk").values(*fields)) == before
    assert make_customer(last_name="Later").pk > before[-1]["id"]
    entries = LogEntry.objects.get_for_model(Customer).filter(action=LogEntry.Action.CREATE)
    assert entries.filter(actor=operator).count() == 6


def test_csv_import_updates_changed_rows_only_credited_to_the_operator(db, tmp_path, monkeypatch):
    first = make_customer(last_name="Able", city="Springfield")
    make_customer(last_name="Baker", city="Springfield")
    path = tmp_path / "people.csv"
    run("export", "--format=csv", "--tables=customers", f"--output={path}")
    rows = _read_csv(path)
    rows[0]["city"] = "Shelbyville"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    monkeypatch.setenv("CARSHOP_OPERATOR", "ops")
    operator = User.objects.create(username="ops")
    out = run("import", "--format=csv", "--tables=customers", f"--input={path}")
    assert "0 new, 1 updated, 1 unchanged" in out
    first.refresh_from_db()
    assert first.city == "Shelbyville"
    entry = LogEntry.objects.get_for_object(first).latest("timestamp")
    assert entry.actor == operator and entry.changes_dict["city"] == ["Springfield", "Shelbyville"]


def test_csv_import_reports_bad_rows_with_line_and_reason_and_writes_nothing(db, tmp_path):
    owner = make_customer()
    path = tmp_path / "cars.csv"
    path.write_text(
        "vin,make,model,owner\n"
        f"{VALID_VINS[0]},Honda,Accord,{owner.pk}\n"
        "1HGCM82633A004353,Honda,Accord,\n"  # check digit broken
        f",Ford,Focus,{owner.pk}\n"  # the VIN missing
        f"{VALID_VINS[1]},Ford,Focus,987654\n"  # no such customer
    )
    message, out = fails("import", "--format=csv", "--tables=cars", f"--input={path}")
    assert message == f"3 bad rows in {path}; nothing was imported"
    assert out.splitlines() == [
        "cars.csv line 3: vin: The check digit (position 9) is 3 but the other characters give "
        "5: a character was probably mistyped.",
        "cars.csv line 4: vin: This field cannot be blank. A VIN has 17 characters; this one "
        "has 0.",
        "cars.csv line 5: owner: no customer with id 987654",
    ]
    assert not Vehicle.objects.exists()


def test_csv_dry_run_writes_nothing(db, tmp_path):
    owner = make_customer()
    path = tmp_path / "cars.csv"
    path.write_text(f"vin,make,model,owner\n{VALID_VINS[0]},Honda,Accord,{owner.pk}\n")
    out = run("import", "--format=csv", "--tables=cars", f"--input={path}", "--dry-run")
    assert out.splitlines() == [
        "  vehicles                 1 new, 0 updated, 0 unchanged",
        "1 rows are good; dry run, nothing written",
    ]
    assert not Vehicle.objects.exists()


def test_csv_import_refuses_tables_only_workflows_write(db, tmp_path):
    path = tmp_path / "invoices.csv"
    path.write_text("id,number\n1,2026-0001\n")
    message, _ = fails("import", "--format=csv", f"--input={path}")
    assert message.startswith("invoices cannot be imported from CSV")


def test_csv_export_of_several_tables_writes_one_file_each(db, tmp_path):
    make_vehicle(owner=make_customer())
    out = run("export", "--format=csv", "--tables=cars,customers", f"--output={tmp_path / 'x'}")
    assert sorted(path.name for path in (tmp_path / "x").iterdir()) == [
        "customers.csv",
        "vehicles.csv",
    ]
    assert "exported 2 rows of 2 tables" in out
    assert _read_csv(tmp_path / "x" / "vehicles.csv")[0]["vin"] == VALID_VINS[0]


@pytest.mark.django_db
def test_json_import_names_a_bad_row_of_every_kind_and_writes_nothing(shop, tmp_path):
    """On PostgreSQL the rows go through COPY: a bad value the Python checks see (a choice, a
    length, decimal places), one only the database sees (an impossible date, a duplicate id)
    and one only clean() sees are each named with the line and the model's own reason."""
    path = tmp_path / "all.json"
    run("export", "--format=json", "--include-secrets", f"--output={path}")
    lines = path.read_text().splitlines()
    rows = _rows(path)
    customers = [i for i, row in enumerate(rows) if row["model"] == "accounts.customer"]
    payments = [i for i, row in enumerate(rows) if row["model"] == "repairs.payment"]
    rows[customers[0]]["fields"]["kind"] = "robot"
    rows[customers[1]]["fields"]["last_name"] = "x" * 81
    rows[customers[2]]["fields"].update(kind="company", company_name="  ")
    rows[payments[0]]["fields"]["amount"] = "12.345"
    rows[payments[1]]["fields"]["received_at"] = "2026-02-30T10:00:00Z"
    duplicate = customers[3] + 1
    rows.insert(duplicate, dict(rows[customers[3]]))  # the same id twice
    shift = lambda index: index + (1 if index >= duplicate else 0)  # noqa: E731
    broken = tmp_path / "broken.json"
    counts = json.loads(lines[-1][len('"counts": ') : -1])
    counts["accounts.customer"] += 1
    _write(broken, lines[0], rows, [lines[-2], f'"counts": {json.dumps(counts)}}}'])

    empty_database()
    message, out = fails("import", "--format=json", f"--input={broken}")
    reported = [line for line in out.splitlines() if not line.startswith("note: ")]
    expected = [
        (customers[0], "kind: Value 'robot' is not a valid choice."),
        (customers[1], "last_name: Ensure this value has at most 80 characters (it has 81)."),
        (customers[2], "company_name: A company needs a company name."),
        (
            duplicate,
            f"accounts.customer: id {rows[duplicate]['pk']} is also on line {duplicate + 1}",
        ),
        (shift(payments[0]), "amount: Ensure that there are no more than 2 decimal places."),
        (shift(payments[1]), "but it is an invalid date/time"),
    ]
    assert len(reported) == len(expected), out
    for line, (index, reason) in zip(reported, expected, strict=True):
        assert line.startswith(f"line {index + 2}: "), (line, index)
        assert reason in line, (line, reason)
    assert message == f"{len(expected)} bad rows in {broken}; nothing was imported"
    assert not Customer.objects.exists() and not Vehicle.objects.exists()
    assert User.objects.get().username == "system"


def _schema():
    """Indexes and constraints of the database (PostgreSQL): an import drops some for the load
    and must leave them as they were whatever happens."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace UNION ALL "
            "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2"
        )
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_a_killed_import_leaves_the_database_untouched_and_a_whole_one_restores_every_checksum(
    tmp_path,
):
    """Export, empty the database, kill the import once every row is written and once just
    before it commits: every table's checksum (and on PostgreSQL the indexes and constraints)
    as before. Then a whole import brings every table back to its original checksum (the
    many-to-many link tables to their rows: a link's own id is not exported, the pairs are
    compared by test_json_round_trip_into_an_empty_database_is_identical)."""
    Generator(fraction=0.0005, seed=9, until=UNTIL).run()
    names, links = set(), set()
    for model in every_model():
        names.add(model._meta.db_table)
        for field in model._meta.many_to_many:
            links.add(field.remote_field.through._meta.db_table)

    def tables_now():
        found = testing.checksums()
        return {name: found[name] for name in names} | {name: found[name]["rows"] for name in links}

    original = tables_now()
    assert original["repairs_invoice"]["rows"] > 0, original["repairs_invoice"]
    path = tmp_path / "all.json"
    run("export", "--format=json", "--include-secrets", f"--output={path}")
    with transaction.atomic():  # SQLite checks its foreign keys at the commit
        empty_database()
    empty, schema = testing.checksums(), _schema()

    for point in ("import-loaded", "import-checked"):
        testing.kill_at(point, "import", "--format=json", f"--input={path}")
        assert testing.checksums() == empty, f"killed at {point}: the database changed"
        assert _schema() == schema, f"killed at {point}: indexes or constraints changed"

    result = testing.manage("import", "--format=json", f"--input={path}")
    assert result.returncode == 0, result.stderr
    assert tables_now() == original
    assert _schema() == schema


@pytest.mark.django_db
def test_json_round_trip_keeps_a_group_of_locations_and_what_belongs_to_each(shop, tmp_path):
    """A group: a second shop with its own settings and stock, staff and a partner tied to
    locations, parts transferred between the shops, a unit moved to another lot, messages."""
    from accounts.models import Location, Partner, ShopSettings
    from inventory import lot_services, services, transfer_services
    from inventory.models import Part, PartStock, StockTransfer, StockUnit, StockUnitMove
    from messaging.models import Message, MessageTemplate
    from tests.helpers.builders.lot import make_unit

    main = Location.default()
    east = Location.objects.create(code="south", name="South Side", kind=Location.Kind.SHOP)
    lot = Location.objects.create(code="lot2", name="Route 9 Lot", kind=Location.Kind.LOT)
    settings = ShopSettings.of(east)
    settings.labor_rate, settings.address = Decimal("135.00"), "2 East Ave"
    settings.save()
    user = User.objects.create_user("eastdesk", home_location=east)
    user.locations.set([main])
    Partner.objects.get(slug="fleet-co").locations.set([main, east])
    parts = [p for p in Part.objects.order_by("pk") if services.on_hand_at(p, main) >= 2][:2]
    sent = transfer_services.create_transfer(main, east, [(parts[0], 1), (parts[1], 2)])
    transfer_services.receive_transfer(transfer_services.send_transfer(sent))
    on_the_way = transfer_services.create_transfer(main, east, [(parts[0], 1)])
    transfer_services.send_transfer(on_the_way)
    unit = StockUnit.objects.filter(status__in=StockUnit.IN_STOCK).order_by("pk").first()
    unit = unit or make_unit(stock_number="G00001")
    lot_services.move_to_lot(unit, lot, note="more room")
    MessageTemplate.objects.create(
        location=east, kind="car_ready", channel="sms", body="Your car is ready at East Side."
    )

    before = snapshot()
    assert {row["code"] for row in before["accounts.Location"]} >= {"south", "lot2"}
    assert len(before["accounts.ShopSettings"]) >= 2
    assert any(row["location_id"] == east.pk for row in before["inventory.PartStock"])
    assert len(before["inventory.StockTransfer"]) == 2 and before["inventory.StockTransferLine"]
    assert len(before["inventory.StockUnitMove"]) == 1
    assert before["accounts.User.locations"] and before["accounts.Partner.locations"]
    assert before["messaging.MessageTemplate"] and "messaging.Message" in before
    path = tmp_path / "group.json"
    run("export", "--format=json", "--include-secrets", f"--output={path}")
    header = json.loads(path.read_text().split(', "objects": [')[0] + "}")
    assert any(app == "messaging" for app, _name in header["migrations"])

    empty_database()
    assert not Location.objects.filter(code="south").exists()
    run("import", "--format=json", f"--input={path}")

    assert snapshot() == before
    assert ShopSettings.of(east).labor_rate == settings.labor_rate
    assert User.objects.get(username="eastdesk").home_location == east
    assert StockTransfer.objects.get(pk=on_the_way.pk).status == "in_transit"
    assert StockUnitMove.objects.get().to_location == lot
    assert PartStock.objects.get(part=parts[1], location=east).on_hand == 2
    assert Message.objects.count() == len(before["messaging.Message"])
    assert MessageTemplate.objects.get(location=east).kind == "car_ready"


NUL = "a value holds a NUL character (code 0), which no field can store"


@pytest.mark.django_db
def test_a_nul_character_is_named_with_its_line_in_a_json_or_csv_import(shop, tmp_path):
    """No database field stores it (PostgreSQL refuses it; SQLite would keep a value no copy into
    PostgreSQL takes): the row is named, as any bad row, and nothing is written."""
    path = tmp_path / "all.json"
    run("export", "--format=json", "--include-secrets", f"--output={path}")
    lines = path.read_text().splitlines()
    rows = _rows(path)
    vehicle = next(i for i, row in enumerate(rows) if row["model"] == "inventory.vehicle")
    rows[vehicle]["fields"]["model"] = "Ac\x00cord"
    broken = tmp_path / "broken.json"
    _write(broken, lines[0], rows, lines[-2:])
    empty_database()
    message, out = fails("import", "--format=json", f"--input={broken}")
    assert message == f"1 bad row in {broken}; nothing was imported"
    assert (
        f"line {vehicle + 2}: inventory.vehicle {rows[vehicle]['pk']}: model: {NUL}"
        in out.splitlines()
    )
    assert not Vehicle.objects.exists()

    owner = make_customer()
    cars = tmp_path / "cars.csv"
    cars.write_text(
        f"vin,make,model,owner\n{VALID_VINS[0]},Honda,Accord,{owner.pk}\n"
        f"{VALID_VINS[1]},Ford,Fo\x00cus,{owner.pk}\n"
    )
    message, out = fails("import", "--format=csv", "--tables=cars", f"--input={cars}")
    assert message == f"1 bad row in {cars}; nothing was imported"
    assert out.splitlines() == [f"cars.csv line 3: {NUL}"]
    assert not Vehicle.objects.exists()
