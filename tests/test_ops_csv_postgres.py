"""The CSV import on PostgreSQL (carshop/ops/data/postgres_csv.py) against the row-by-row import
through django-import-export: the same bad rows named with the same line and reason, nothing
written, and the same rows, values and audit entries when the file is good."""

import io

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import Customer, User
from carshop.ops.data import postgres_csv
from inventory.models import Vehicle
from tests.helpers.builders.inventory import VALID_VINS, make_customer, make_vehicle

pytestmark = pytest.mark.postgresql


def _import(path, *args, bulk=True, monkeypatch=None):
    """(ok, lines printed); the row-by-row import when bulk is False."""
    out = io.StringIO()
    with monkeypatch.context() as patch:
        if not bulk:
            patch.setattr(postgres_csv, "supports", lambda table, resource: False)
        try:
            call_command("import", "--format=csv", f"--input={path}", *args, stdout=out)
            ok = True
        except CommandError:
            ok = False
    return ok, out.getvalue().splitlines()


def _vehicles():
    fields = ["id", "vin", "vin_reversed", "make", "model", "model_year", "plate", "owner_id"]
    return list(Vehicle.objects.order_by("pk").values(*fields))


def test_every_kind_of_bad_row_is_named_as_the_row_by_row_import_names_it(
    db, tmp_path, monkeypatch
):
    owner = make_customer()
    taken = make_vehicle(vin=VALID_VINS[2])
    path = tmp_path / "cars.csv"
    path.write_text(
        "vin,make,model,model_year,plate,owner\n"
        f"{VALID_VINS[0]},Honda,Accord,2003,abc1,{owner.pk}\n"  # good
        "1HGCM82633A004353,Honda,Accord,,,\n"  # VIN check digit (the field's validator)
        f",Ford,Focus,,,{owner.pk}\n"  # required value missing
        f"{VALID_VINS[1]},Ford,Focus,,,987654\n"  # no such customer
        f"{VALID_VINS[3]},Ford,Focus,,,x12\n"  # not an id
        f"{VALID_VINS[4]},Ford,Focus,nineteen,,\n"  # not a number
        f"{VALID_VINS[4].lower()},{'M' * 61},Focus,,,\n"  # too long
        f"{VALID_VINS[0]},Honda,Civic,,,\n"  # the VIN of line 2 again
        f"{VALID_VINS[2]},Honda,Civic,,,\n"  # the VIN of a vehicle in the table
        "only,three,values\n"  # the wrong number of values
    )
    before = _vehicles()
    ok, bulk = _import(path, "--tables=cars", monkeypatch=monkeypatch)
    assert not ok
    assert _vehicles() == before
    ok, row_by_row = _import(path, "--tables=cars", bulk=False, monkeypatch=monkeypatch)
    assert not ok
    assert _vehicles() == before
    assert sorted(bulk) == sorted(row_by_row)
    lines = [f"cars.csv line {n}" for n in (11, *range(3, 11))]
    assert [line.split(":")[0] for line in bulk] == lines
    assert "cars.csv line 5: owner: no customer with id 987654" in bulk
    assert taken.vin == VALID_VINS[2]


def test_a_unique_value_taken_twice_in_the_file_or_in_the_table(db, tmp_path, monkeypatch):
    make_vehicle(vin=VALID_VINS[2])
    path = tmp_path / "cars.csv"
    path.write_text(
        f"vin,make\n{VALID_VINS[0]},Honda\n{VALID_VINS[0].lower()},Honda\n{VALID_VINS[2]},Ford\n"
    )
    ok, bulk = _import(path, "--tables=cars", monkeypatch=monkeypatch)
    assert not ok
    assert bulk == [
        "cars.csv line 3: vin: Vehicle with this VIN already exists.",
        "cars.csv line 4: vin: Vehicle with this VIN already exists.",
    ]
    assert Vehicle.objects.count() == 1


def test_a_choice_outside_the_field_s_choices(db, tmp_path, monkeypatch):
    path = tmp_path / "customers.csv"
    path.write_text("kind,last_name\nperson,Able\nrobot,Baker\n")
    ok, bulk = _import(path, monkeypatch=monkeypatch)
    assert not ok
    ok, row_by_row = _import(path, bulk=False, monkeypatch=monkeypatch)
    message = "customers.csv line 3: kind: Value 'robot' is not a valid choice."
    assert bulk == row_by_row == [message]
    assert not Customer.objects.exists()


def _state():
    vehicles = _vehicles()
    entries = list(
        LogEntry.objects.get_for_model(Vehicle)
        .order_by("object_id", "action")
        .values_list("object_id", "action", "object_repr", "changes", "actor__username")
    )
    for entry in entries:  # times are those of the run
        for key in ("created_at",):
            entry[3].pop(key, None)
    return vehicles, entries


def test_both_paths_give_the_same_rows_and_audit_entries(db, tmp_path, monkeypatch):
    monkeypatch.setenv("CARSHOP_OPERATOR", "ops")
    monkeypatch.setattr(postgres_csv, "BATCH", 2)  # several batches, as a large file has
    User.objects.create(username="ops")
    owner = make_customer()
    kept = make_vehicle(vin=VALID_VINS[3], make="Acura", model="Legend")
    changed = make_vehicle(vin=VALID_VINS[4], make="VW", model="Golf")
    path = tmp_path / "cars.csv"
    path.write_text(
        "id,vin,make,model,model_year,plate,owner\n"
        f",{VALID_VINS[0].lower()},,Accord,,ab 12,{owner.pk}\n"  # make filled from the VIN
        f",{VALID_VINS[1]},Chevrolet,Corvette,2006,,\n"
        f"{kept.pk},{kept.vin},{kept.make},{kept.model},{kept.model_year or ''},{kept.plate},"
        f"{kept.owner_id or ''}\n"  # unchanged
        f"{changed.pk},{VALID_VINS[4]},Volkswagen,Golf,1999,XY-1,{owner.pk}\n"  # updated
        f"900,{VALID_VINS[2]},Volkswagen,Jetta,,,\n"  # an id no row has: a new row with it
    )
    results = []
    for bulk in (False, True):
        ok, out = _import(path, "--tables=cars", bulk=bulk, monkeypatch=monkeypatch)
        assert ok, out
        assert "  vehicles                 3 new, 1 updated, 1 unchanged" in out
        results.append(_state())
        # back to the state before the import, with the sequence where it was
        Vehicle.objects.exclude(pk__in=[kept.pk, changed.pk]).delete()
        Vehicle.objects.filter(pk=changed.pk).update(
            make=changed.make,
            model=changed.model,
            model_year=changed.model_year,
            plate=changed.plate,
            owner=changed.owner_id,
        )
        LogEntry.objects.get_for_model(Vehicle).exclude(
            action=LogEntry.Action.CREATE, object_id__in=[kept.pk, changed.pk]
        ).delete()
    row_by_row, bulk = results
    # New rows without id take the sequence's next ids, which differ between the runs (the
    # first one's sequence reset moves it past the file's id 900): matched by VIN.
    first_ids = {row["vin"]: row["id"] for row in row_by_row[0]}
    renumber = {row["id"]: first_ids[row["vin"]] for row in bulk[0]}

    def same(state, mapping):
        rows = [{**row, "id": mapping.get(row["id"], row["id"])} for row in state[0]]
        entries = sorted(
            (mapping.get(obj, obj), action, text, changes, actor)
            for obj, action, text, changes, actor in state[1]
        )
        for index, entry in enumerate(entries):
            changes = dict(entry[3])
            changes.pop("id", None)
            entries[index] = (*entry[:3], changes, entry[4])
        return sorted(rows, key=lambda row: row["id"]), entries

    assert same(bulk, renumber) == same(row_by_row, {})
    assert {row["vin"] for row in bulk[0]} >= {VALID_VINS[0], VALID_VINS[2]}
    assert {entry[4] for entry in bulk[1] if entry[0] not in (kept.pk, changed.pk)} == {"ops"}


def test_a_foreign_key_is_matched_as_a_number(db, tmp_path, monkeypatch):
    """The key is compared as a number (through the parent's index): leading zeros name the
    same customer, a number too large for a key names none, and nothing is written then."""
    owner = make_customer()
    path = tmp_path / "cars.csv"
    path.write_text(
        "id,vin,make,owner\n"
        f"7,{VALID_VINS[0]},Honda,{owner.pk:05d}\n"
        f"8,{VALID_VINS[1]},Ford,123456789012345678901\n"
    )
    ok, bulk = _import(path, "--tables=cars", monkeypatch=monkeypatch)
    assert not ok
    assert bulk == ["cars.csv line 3: owner: no customer with id 123456789012345678901"]
    assert not Vehicle.objects.exists()
    path.write_text(f"id,vin,make,owner\n7,{VALID_VINS[0]},Honda,{owner.pk:05d}\n")
    ok, out = _import(path, "--tables=cars", monkeypatch=monkeypatch)
    assert ok, out
    assert list(Vehicle.objects.values_list("pk", "owner_id")) == [(7, owner.pk)]


def _fresh_state():
    """The vehicles and their audit entries, with what differs between two runs (the time of
    the run) left out."""
    vehicles = _vehicles()
    entries = list(
        LogEntry.objects.get_for_model(Vehicle)
        .order_by("object_id", "action")
        .values_list("object_id", "action", "object_repr", "changes", "actor__username")
    )
    for entry in entries:
        entry[3].pop("created_at", None)
    return vehicles, entries


def _spy_on_streaming(monkeypatch):
    """The outcomes of the COPY straight to an empty table: "written" or the exception's name."""
    outcomes = []
    original = postgres_csv._write_new

    def spy(*args, **kwargs):
        try:
            original(*args, **kwargs)
        except Exception as exc:
            outcomes.append(type(exc).__name__)
            raise
        outcomes.append("written")

    monkeypatch.setattr(postgres_csv, "_write_new", spy)
    return outcomes


def test_an_empty_table_is_written_as_the_row_by_row_import_writes_it(db, tmp_path, monkeypatch):
    """Into an empty table the rows go straight to the table by COPY, batch by batch: the same
    rows, ids and audit entries as the row-by-row import, and no query per row."""
    monkeypatch.setenv("CARSHOP_OPERATOR", "ops")
    monkeypatch.setattr(postgres_csv, "BATCH", 2)
    User.objects.create(username="ops")
    owner = make_customer()
    path = tmp_path / "cars.csv"
    path.write_text(
        "id,vin,make,model,model_year,plate,owner\n"
        f"40,{VALID_VINS[0].lower()},,Accord,,ab 12,{owner.pk}\n"
        f",{VALID_VINS[1]},Chevrolet,Corvette,2006,,\n"
        f"41,{VALID_VINS[2]},Volkswagen,Jetta,,,{owner.pk:03d}\n"
        f",{VALID_VINS[3]},Acura,Legend,1991,XY-1,\n"
        f",{VALID_VINS[4]},Volkswagen,Golf,,,\n"
    )
    outcomes = _spy_on_streaming(monkeypatch)
    results = []
    for bulk in (False, True):
        with connection.cursor() as cursor:  # each run from the same sequence
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('inventory_vehicle', 'id'), 1, false)"
            )
        ok, out = _import(path, "--tables=cars", bulk=bulk, monkeypatch=monkeypatch)
        assert ok, out
        assert "  vehicles                 5 new, 0 updated, 0 unchanged" in out
        results.append(_fresh_state())
        Vehicle.objects.all().delete()
        LogEntry.objects.get_for_model(Vehicle).delete()
    row_by_row, bulk = results
    assert outcomes == ["written"]
    assert bulk == row_by_row
    assert [(row["id"], row["vin"]) for row in bulk[0]] == [
        (1, VALID_VINS[1]),
        (2, VALID_VINS[3]),
        (3, VALID_VINS[4]),
        (40, VALID_VINS[0]),
        (41, VALID_VINS[2]),
    ]
    assert {entry[4] for entry in bulk[1]} == {"ops"}


def test_an_empty_table_is_written_without_a_query_per_row(
    db, tmp_path, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(postgres_csv, "BATCH", 50)
    path = tmp_path / "cars.csv"
    path.write_text("vin,make\n" + "".join(f"{vin},Honda\n" for vin in VALID_VINS[:5]))
    with django_assert_max_num_queries(40):
        ok, out = _import(path, "--tables=cars", monkeypatch=monkeypatch)
    assert ok, out
    assert Vehicle.objects.count() == 5


def test_a_value_twice_in_a_file_for_an_empty_table(db, tmp_path, monkeypatch):
    path = tmp_path / "cars.csv"
    path.write_text(
        f"vin,make\n{VALID_VINS[0]},Honda\n{VALID_VINS[1]},Ford\n{VALID_VINS[0].lower()},Honda\n"
        f"{VALID_VINS[1]},Kia\n{VALID_VINS[2]},Kia\n"
    )
    ok, bulk = _import(path, "--tables=cars", monkeypatch=monkeypatch)
    assert not ok
    ok, row_by_row = _import(path, "--tables=cars", bulk=False, monkeypatch=monkeypatch)
    assert not ok
    assert bulk == [
        "cars.csv line 4: vin: Vehicle with this VIN already exists.",
        "cars.csv line 5: vin: Vehicle with this VIN already exists.",
    ]
    assert sorted(row_by_row) == sorted(bulk)
    assert not Vehicle.objects.exists()
    assert not LogEntry.objects.get_for_model(Vehicle).exists()


def test_model_code_that_queries_keeps_the_import_in_bulk(db, tmp_path, monkeypatch):
    """A model whose own code (here its text) reads the database cannot run while the rows
    stream to the table: the table is read again and written the other way, the same rows."""
    owner = make_customer()

    def text(vehicle):
        return f"{vehicle.vin} of {Customer.objects.filter(pk=vehicle.owner_id).count()}"

    monkeypatch.setattr(Vehicle, "__str__", text)
    outcomes = _spy_on_streaming(monkeypatch)
    path = tmp_path / "cars.csv"
    path.write_text(f"vin,make,owner\n{VALID_VINS[0]},Honda,{owner.pk}\n{VALID_VINS[1]},Ford,\n")
    ok, out = _import(path, "--tables=cars", monkeypatch=monkeypatch)
    assert ok, out
    assert outcomes == ["_Queried"]
    assert sorted(Vehicle.objects.values_list("vin", flat=True)) == sorted(VALID_VINS[:2])
    texts = set(LogEntry.objects.get_for_model(Vehicle).values_list("object_repr", flat=True))
    assert texts == {f"{VALID_VINS[0]} of 1", f"{VALID_VINS[1]} of 0"}


@pytest.mark.parametrize("filled", [False, True], ids=["empty table", "table with rows"])
def test_a_nul_character_in_a_cell_is_named_with_its_line(db, tmp_path, monkeypatch, filled):
    """PostgreSQL's text holds no NUL: the row is named, as any bad row, and nothing is written."""
    if filled:
        make_vehicle(vin=VALID_VINS[2])
    path = tmp_path / "cars.csv"
    path.write_text(
        f"vin,make,model\n{VALID_VINS[0]},Honda,Accord\n{VALID_VINS[1]},Ford,Fo\x00cus\n"
    )
    before = _vehicles()
    ok, printed = _import(path, "--tables=cars", monkeypatch=monkeypatch)
    assert not ok
    assert printed == [
        "cars.csv line 3: a value holds a NUL character (code 0), which no field can store"
    ]
    assert _vehicles() == before
