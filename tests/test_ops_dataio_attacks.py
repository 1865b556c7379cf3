"""export and import against the input an operator really has: a spreadsheet saved as Latin-1,
a column named twice, an id twice, "yes" in a yes/no column, 12,50 in a price, a JSON header
edited by hand, a full disk, a table another session holds locked. Each is named with its file,
line and reason, and nothing is written (on SQLite and on PostgreSQL)."""

import csv
import datetime
import gzip
import io
import json
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone

from accounts.models import Customer
from carshop.ops.data import postgres_csv, read_only, transfer
from inventory.models import Part, Vehicle
from tests.helpers.builders.inventory import make_customer, make_part, make_vehicle
from tests.helpers.commands import run

HEADER = "first_name,last_name,kind,email\n"


def fails(command, *args):
    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command(command, *args, stdout=out, stderr=io.StringIO())
    return str(error.value), out.getvalue().splitlines()


def customers():
    return list(Customer.objects.order_by("pk").values())


def test_a_file_that_stops_being_utf8_after_the_first_rows_names_its_line(db, tmp_path):
    # On PostgreSQL the file goes through COPY in chunks: a bad byte past the first chunk
    # made the driver's own error escape as a traceback.
    path = tmp_path / "customers.csv"
    good = "".join(f"Ann{n},Lee,person,ann{n}@example.com\n" for n in range(3000))
    path.write_bytes(
        (HEADER + good).encode() + "Jos\xe9,M\xfcller,person,j@x.com\n".encode("latin-1")
    )
    before = customers()
    message, _ = fails("import", "--format=csv", f"--input={path}")
    assert message == (
        f"{path} is not UTF-8 text: line 3002 has the byte E9 (save the file as UTF-8)"
    )
    assert customers() == before


def test_a_column_named_twice_is_refused(db, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("first_name,last_name,first_name,kind\nAnn,Lee,Bo,person\n")
    message, _ = fails("import", "--format=csv", f"--input={path}")
    assert message == "customers.csv: the column first_name is named twice"
    assert not Customer.objects.exists()


def test_an_id_given_twice_in_the_file_is_a_bad_row_not_a_silent_overwrite(db, tmp_path):
    customer = make_customer()
    before = customers()
    path = tmp_path / "customers.csv"
    path.write_text(
        "id,first_name,last_name,kind\n"
        f"{customer.pk},Ann,Lee,person\n"
        f"{customer.pk},Bob,Day,person\n"
    )
    message, out = fails("import", "--format=csv", f"--input={path}")
    assert message == f"1 bad row in {path}; nothing was imported"
    assert out == [f"customers.csv line 3: id {customer.pk} is also on line 2"]
    assert customers() == before


@pytest.mark.parametrize("value", ["abc", "1.5"])
def test_an_id_that_is_no_whole_number_is_named_and_updates_nothing(db, tmp_path, value):
    # "1.5" used to update the row with id 1 on SQLite; "abc" was named
    # "[<class 'decimal.ConversionSyntax'>]".
    make_customer()
    before = customers()
    path = tmp_path / "customers.csv"
    path.write_text(f"id,first_name,last_name,kind\n{value},Ann,Lee,person\n")
    _, out = fails("import", "--format=csv", f"--input={path}")
    assert out == [f"customers.csv line 2: id: {value!r} is not an id"]
    assert customers() == before


def test_a_number_that_does_not_read_is_named_with_its_column(db, tmp_path):
    path = tmp_path / "parts.csv"
    path.write_text(
        "sku,description,unit_cost,reorder_point\n"
        'SKU-1,Filter,"12,50",1\n'
        "SKU-2,Filter,12.3.4,1\n"
        "SKU-3,Filter,3.00,2.5\n"
    )
    _, out = fails("import", "--format=csv", f"--input={path}")
    assert out == [
        "parts.csv line 2: unit_cost: '12,50' is not a number",
        "parts.csv line 3: unit_cost: '12.3.4' is not a number",
        "parts.csv line 4: reorder_point: '2.5' is not a whole number",
    ]
    assert not Part.objects.exists()


@pytest.mark.parametrize("value", ["yes", "maybe", "Y"])
def test_a_yes_no_column_refuses_what_it_does_not_know(db, tmp_path, value):
    # django-import-export reads anything but 1/true as false: "yes" withdrew the consent.
    path = tmp_path / "customers.csv"
    path.write_text(f"first_name,last_name,kind,consent_reminders\nAnn,Lee,person,{value}\n")
    _, out = fails("import", "--format=csv", f"--input={path}")
    assert out == [
        f"customers.csv line 2: consent_reminders: {value!r} is not 1 or 0 (true or false)"
    ]
    assert not Customer.objects.exists()


def test_yes_no_values_an_export_writes_still_import(db, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(
        "first_name,last_name,kind,consent_reminders\nAnn,Lee,person,1\nBo,Day,person,0\n"
        "Cy,Fox,person,true\n"
    )
    run("import", "--format=csv", f"--input={path}")
    assert list(Customer.objects.order_by("pk").values_list("consent_reminders", flat=True)) == [
        True,
        False,
        True,
    ]


def _export(tmp_path):
    make_customer()
    path = tmp_path / "all.json"
    run("export", "--format=json", "--tables=customers", f"--output={path}")
    return path


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (('"version": 1', '"version": "1"'), "version '1' is not a number"),
        (('"migrations": [', '"migrations": [5, '), "migrations is not a list of"),
        (('"models": [', '"models": 7, "x": ['), "models is not a list of model names"),
    ],
)
def test_a_json_header_edited_by_hand_is_refused_without_a_traceback(db, tmp_path, edit, reason):
    path = _export(tmp_path)
    path.write_text(path.read_text().replace(*edit, 1))
    Customer.objects.all().delete()
    message, _ = fails("import", "--format=json", f"--input={path}")
    assert message.startswith(f"{path} has a damaged header: ")
    assert reason in message
    assert not Customer.objects.exists()


def test_a_json_row_of_a_model_the_header_does_not_list_is_a_bad_row(db, tmp_path):
    # It was skipped without a word: a row of the file silently not restored.
    path = _export(tmp_path)
    lines = path.read_text().splitlines()
    row = {"model": "inventory.vehicle", "pk": 1, "fields": {"vin": "1HGCM82633A004352"}}
    lines.insert(1, json.dumps(row) + ",")
    path.write_text("\n".join(lines) + "\n")
    Customer.objects.all().delete()
    message, out = fails("import", "--format=json", f"--input={path}")
    assert message == f"1 bad row in {path}; nothing was imported"
    assert (
        "line 2: a row of inventory.vehicle, which the file's header does not list: the file "
        "was edited or is damaged"
    ) in out
    assert not Customer.objects.exists()


def test_an_export_to_a_full_disk_says_so_and_leaves_no_file(db, tmp_path, monkeypatch):
    make_customer()
    real_open = open

    class FullDisk(io.BytesIO):
        def write(self, data):
            raise OSError(28, "No space left on device")

    def opener(path, mode="r", *args, **kwargs):
        if str(path).endswith(".partial"):
            real_open(path, mode, *args, **kwargs).close()  # the file exists, as on a disk
            return FullDisk() if "b" in mode else io.TextIOWrapper(FullDisk())
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", opener)
    target = tmp_path / "all.json"
    message, _ = fails("export", "--format=json", f"--output={target}")
    assert message == f"cannot write {target}: No space left on device; nothing was written there"
    message, _ = fails("export", "--format=csv", f"--output={tmp_path / 'csv'}")
    assert message.startswith(f"cannot write {tmp_path / 'csv'}/")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_an_import_into_a_table_another_session_holds_locked_stops_with_a_message(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(transfer, "LOCK_WAIT_SECONDS", 1)
    path = tmp_path / "customers.csv"
    path.write_text(HEADER + "Ann,Lee,person,ann@example.com\n")
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("LOCK TABLE accounts_customer IN ACCESS EXCLUSIVE MODE")
                locked.set()
                release.wait(30)
                cursor.execute("ROLLBACK")
        finally:
            other.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        message, _ = fails("import", "--format=csv", f"--input={path}")
    finally:
        release.set()
        holder.join()
    assert message == (
        "the table customers (accounts_customer) is locked by another session: waited 1 s; "
        "nothing was imported. Try again when that session is done (pg_locks shows who holds it)"
    )
    assert not Customer.objects.exists()
    assert connection.vendor == "postgresql"


@pytest.mark.parametrize("value", ["0", "-7"])
def test_an_id_below_1_is_refused_by_the_csv_import(db, tmp_path, value):
    path = tmp_path / "customers.csv"
    path.write_text(f"id,first_name,last_name,kind\n{value},Ann,Lee,person\n")
    _, out = fails("import", "--format=csv", f"--input={path}")
    assert out == [f"customers.csv line 2: id: {value!r} is not an id"]
    assert not Customer.objects.exists()


def test_a_compressed_json_export_is_named_as_such(db, tmp_path):
    path = _export(tmp_path)
    packed = tmp_path / "all.json.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    message, _ = fails("import", "--format=json", f"--input={packed}")
    assert message == f"{packed} is compressed (gzip): uncompress it first (gunzip {packed})"


# --- read-only CSV columns ---------------------------------------------------------------------

CHANGED = "read-only; it is set by Carshop — leave the exported value or remove the column"


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _write_rows(path, rows, columns=None):
    columns = columns or list(rows[0])
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _customers_export(tmp_path):
    for number in range(3):
        make_customer(last_name=f"Driver{number}", city="Springfield")
    # A time on a whole second: written without microseconds by the export.
    Customer.objects.filter(last_name="Driver2").update(
        created_at=datetime.datetime(2026, 3, 1, 9, 30, tzinfo=datetime.UTC)
    )
    path = tmp_path / "customers.csv"
    run("export", "--format=csv", "--tables=customers", f"--output={path}")
    return path


def test_an_edited_or_garbled_read_only_column_is_refused_and_nothing_changes(db, tmp_path):
    # created_at and display_name were skipped without a word: the operator believed the
    # customer's name and date had changed.
    path = _customers_export(tmp_path)
    rows = _rows(path)
    rows[0]["display_name"] = "Someone Else"
    rows[0]["city"] = "Shelbyville"  # an importable column beside it
    rows[2]["created_at"] = "yesterday"
    rows[1]["updated_at"] = ""
    _write_rows(path, rows)
    before = customers()
    message, out = fails("import", "--format=csv", f"--input={path}")
    assert message == f"3 bad rows in {path}; nothing was imported"
    assert out == [
        f"customers.csv line 2: display_name: {CHANGED}",
        f"customers.csv line 3: updated_at: {CHANGED}",
        f"customers.csv line 4: created_at: {CHANGED}",
    ]
    assert customers() == before


def test_a_read_only_value_on_a_new_row_gets_carshops_own_and_the_import_says_so(db, tmp_path):
    """A new row's read-only cells (an export loaded into another database, every row new) are
    not used: the row gets Carshop's own values, and a note names the columns and the rows."""
    path = tmp_path / "customers.csv"
    path.write_text(
        "id,first_name,last_name,kind,created_at,display_name\n"
        "40,Ann,Lee,person,2020-01-01T00:00:00+00:00,\n"  # an id no row has: a new row
        ",Bo,Day,person,,\n"  # empty: nothing to leave out
        ",Cy,Fox,person, ,Cy the Fox\n"
    )
    before = timezone.now()
    out = run("import", "--format=csv", f"--input={path}")
    assert (
        "note: customers.csv: display_name, created_at are set by Carshop on a new row; the "
        "file's values on 2 new rows were not used"
    ) in out
    rows = Customer.objects.order_by("last_name").values_list("display_name", "created_at")
    assert [name for name, _ in rows] == ["Day, Bo", "Fox, Cy", "Lee, Ann"]
    assert all(created >= before for _, created in rows)


def test_an_unchanged_export_loads_back_and_a_file_without_read_only_columns_imports(db, tmp_path):
    path = _customers_export(tmp_path)
    vehicle = make_vehicle(
        owner=Customer.objects.first(), odometer=12345, odometer_read_on=datetime.date(2026, 5, 1)
    )
    make_part(on_hand=3)
    folder = tmp_path / "all"
    run("export", "--format=csv", "--tables=customers,cars,parts", f"--output={folder}")
    before = customers()
    out = run("import", "--format=csv", f"--input={folder}")
    assert "customers                0 new, 0 updated, 3 unchanged" in out
    assert "vehicles                 0 new, 0 updated, 1 unchanged" in out
    assert "parts                    0 new, 0 updated, 1 unchanged" in out
    assert customers() == before

    rows = _rows(path)
    rows[0]["city"] = "Shelbyville"
    kept = [c for c in rows[0] if c not in ("created_at", "updated_at", "display_name")]
    _write_rows(path, rows, [c for c in kept if c != "phone_digits"])
    out = run("import", "--format=csv", f"--input={path}")
    assert "customers                0 new, 1 updated, 2 unchanged" in out
    assert Customer.objects.get(pk=rows[0]["id"]).city == "Shelbyville"
    vehicle.refresh_from_db()
    assert vehicle.odometer == 12345


def test_an_edited_odometer_or_stock_on_hand_is_refused(db, tmp_path):
    make_vehicle(owner=make_customer(), odometer=12345)
    make_part(on_hand=3)
    folder = tmp_path / "all"
    run("export", "--format=csv", "--tables=cars,parts", f"--output={folder}")
    for name, column, value in (("vehicles", "odometer", "99"), ("parts", "on_hand", "10")):
        rows = _rows(folder / f"{name}.csv")
        rows[0][column] = value
        _write_rows(folder / f"{name}.csv", rows)
    _, out = fails("import", "--format=csv", f"--input={folder}")
    assert sorted(out) == [
        f"parts.csv line 2: on_hand: {CHANGED}",
        f"vehicles.csv line 2: odometer: {CHANGED}",
    ]
    assert Vehicle.objects.get().odometer == 12345
    assert Part.objects.get().on_hand == 3


@pytest.mark.postgresql
def test_read_only_columns_are_compared_in_sql_on_postgresql(db, tmp_path, monkeypatch):
    # The bulk path compares the staged rows with the table in one query; the export's own
    # rendering judges only the rows that query names, not every row of an unchanged file
    # (here the one time on a whole second, which the query writes with microseconds).
    path = _customers_export(tmp_path)
    rendered = []
    real = read_only.as_exported
    monkeypatch.setattr(
        read_only, "as_exported", lambda *args: rendered.append(args) or real(*args)
    )
    out = run("import", "--format=csv", f"--input={path}")
    assert "customers                0 new, 0 updated, 3 unchanged" in out
    assert {args[2].last_name for args in rendered} == {"Driver2"}
    rows = _rows(path)
    rows[1]["created_at"] = "2026-03-01T09:30:00+00:00"
    _write_rows(path, rows)
    _, out = fails("import", "--format=csv", f"--input={path}")
    assert out == [f"customers.csv line 3: created_at: {CHANGED}"]


def test_an_id_twice_in_a_json_file_is_named_with_both_lines_on_every_database(db, tmp_path):
    # It was the database's own text ("UNIQUE constraint failed: accounts_customer.id" on
    # SQLite, "duplicate key value violates unique constraint ..." on PostgreSQL).
    make_customer(last_name="Able")
    make_customer(last_name="Baker")
    path = tmp_path / "all.json"
    run("export", "--format=json", "--tables=customers", f"--output={path}")
    lines = path.read_text().splitlines()
    first = json.loads(lines[1].rstrip(","))
    again = {**first, "fields": {**first["fields"], "last_name": "Other"}}
    lines.insert(2, json.dumps(again) + ",")
    counts = json.loads(lines[-1][len('"counts": ') : -1])
    counts["accounts.customer"] += 1
    lines[-1] = f'"counts": {json.dumps(counts)}}}'
    path.write_text("\n".join(lines) + "\n")
    Customer.objects.all().delete()
    message, out = fails("import", "--format=json", f"--input={path}")
    assert message == f"1 bad row in {path}; nothing was imported"
    assert [line for line in out if not line.startswith("note: ")] == [
        f"line 3: accounts.customer: id {first['pk']} is also on line 2"
    ]
    assert not Customer.objects.exists()


def _sequence(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        (name,) = cursor.fetchone()
        cursor.execute(f"SELECT last_value, is_called FROM {name}")  # noqa: S608
        return cursor.fetchone()


@pytest.mark.postgresql
@pytest.mark.parametrize("bad_line", [3, 8])
def test_a_refused_csv_file_leaves_the_id_sequence_as_it_was(db, tmp_path, monkeypatch, bad_line):
    # Into an empty table the ids of rows without id were taken from the sequence (nextval,
    # which no rollback undoes) before the rows were judged: a refused file moved it on.
    monkeypatch.setattr(postgres_csv, "BATCH", 2)  # the bad row in the first or a later batch
    rows = [f"Ann{n},Lee,person,ann{n}@example.com\n" for n in range(8)]
    rows[bad_line - 2] = "Bo,Day,robot,bo@example.com\n"
    path = tmp_path / "customers.csv"
    path.write_text(HEADER + "".join(rows))
    before = _sequence("accounts_customer")
    _, out = fails("import", "--format=csv", f"--input={path}")
    assert out == [f"customers.csv line {bad_line}: kind: Value 'robot' is not a valid choice."]
    assert _sequence("accounts_customer") == before
    assert not Customer.objects.exists()

    # A good file still gets the ids nextval would have given, and the sequence moves past them.
    path.write_text(HEADER + "".join(f"Cy{n},Fox,person,\n" for n in range(3)))
    run("import", "--format=csv", f"--input={path}")
    last, called = before
    first = last + 1 if called else last
    assert list(Customer.objects.order_by("pk").values_list("pk", flat=True)) == [
        first,
        first + 1,
        first + 2,
    ]
    assert make_customer(last_name="Later").pk == first + 3


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_customer_added_while_a_csv_file_loads_into_the_empty_table_gets_the_next_id(
    tmp_path, monkeypatch
):
    # The file's rows get the sequence's next values without taking them: another session's
    # insert waits for the import instead of taking one of those ids (without the wait, one of
    # the two sessions fails).
    path = tmp_path / "customers.csv"
    path.write_text(HEADER + "".join(f"Ann{n},Lee,person,\n" for n in range(5)))
    counted, added = threading.Event(), {}
    real = postgres_csv._next_keys

    def next_keys(*args):
        keys = real(*args)
        counted.set()
        time.sleep(1)  # the other session's insert is under way meanwhile
        return keys

    monkeypatch.setattr(postgres_csv, "_next_keys", next_keys)

    def add_customer():
        try:
            assert counted.wait(30)
            added["pk"] = Customer.objects.create(first_name="Bo", last_name="Day").pk
        except Exception as exc:  # reported below
            added["error"] = exc
        finally:
            connections.close_all()

    other = threading.Thread(target=add_customer)
    other.start()
    run("import", "--format=csv", f"--input={path}")
    other.join(30)
    assert "error" not in added, added
    imported = list(
        Customer.objects.exclude(pk=added["pk"]).order_by("pk").values_list("pk", flat=True)
    )
    assert len(imported) == 5
    assert added["pk"] > max(imported)
