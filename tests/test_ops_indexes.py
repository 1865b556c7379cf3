"""analyze_indexes, optimize_indexes and create_indexes on the real test database: a declared
index dropped is reported and built again, a duplicate is reported and never dropped."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import Customer
from inventory.models import Vehicle
from tests.helpers.commands import run_refused


def run_json(name, *args):
    out, _error = run_refused(name, *args, "--format", "json")
    return json.loads(out)


def index_names(table):
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


def model_index(model, name):
    return next(index for index in model._meta.indexes if index.name == name)


def drop_index(sql_name):
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(sql_name)}")


def restore(model, name):
    """The test database is reused between runs: put a declared index back however a test
    ends."""
    drop_invalid = (
        connection.vendor == "postgresql"
        and name in index_names(model._meta.db_table)
        and not _valid(name)
    )
    if drop_invalid:
        drop_index(name)
    if name not in index_names(model._meta.db_table):
        with connection.schema_editor() as editor:
            editor.add_index(model, model_index(model, name))


def _valid(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass", [name])
        row = cursor.fetchone()
    return bool(row and row[0])


@pytest.fixture
def plate_index_dropped(transactional_db):
    """inventory.Vehicle's declared vehicle_plate_idx removed with the schema editor."""
    with connection.schema_editor() as editor:
        editor.remove_index(Vehicle, model_index(Vehicle, "vehicle_plate_idx"))
    assert "vehicle_plate_idx" not in index_names("inventory_vehicle")
    yield
    restore(Vehicle, "vehicle_plate_idx")


def test_a_dropped_declared_index_is_reported_and_built_again(plate_index_dropped):
    out, error = run_refused("analyze_indexes")
    assert "declared indexes" in out and "vehicle_plate_idx on inventory_vehicle" in out
    assert error.startswith(f"indexes of {connection.vendor} ")
    assert "FAIL declared indexes: 1 of " in error and "missing: vehicle_plate_idx" in error
    data = run_json("analyze_indexes")["data"]
    [missing] = data["missing"]
    assert (missing["name"], missing["table"], missing["source"]) == (
        "vehicle_plate_idx",
        "inventory_vehicle",
        "inventory.Vehicle Meta.indexes",
    )

    dry, error = run_refused("optimize_indexes", "--dry-run")
    assert error is None
    assert "1 to do" in dry and "would run: CREATE INDEX" in dry
    assert "vehicle_plate_idx" not in index_names("inventory_vehicle")  # nothing changed

    report = run_json("optimize_indexes")
    [action] = report["actions"]
    assert action["status"] == "done"
    if connection.vendor == "postgresql":
        assert action["statements"][0].startswith(
            'CREATE INDEX CONCURRENTLY "vehicle_plate_idx" ON "inventory_vehicle"'
        )
        assert _valid("vehicle_plate_idx")
    assert "vehicle_plate_idx" in index_names("inventory_vehicle")
    assert run_json("analyze_indexes")["data"]["missing"] == []
    assert run_json("create_indexes")["actions"] == []  # nothing left to create


def test_create_indexes_builds_a_dropped_field_index(transactional_db):
    name = next(
        item
        for item in index_names("accounts_customer")
        if item.startswith("accounts_customer_phone_") and not item.endswith("_like")
    )
    drop_index(name)
    try:
        dry = run_json("create_indexes", "--dry-run")
        assert [action["index"] for action in dry["actions"]] == [name]
        assert name not in index_names("accounts_customer")
        out, error = run_refused("create_indexes")
        assert error is None and f"DONE  {name} on accounts_customer (field index" in out
        assert name in index_names("accounts_customer")
    finally:
        if name not in index_names("accounts_customer"):
            with connection.schema_editor() as editor:
                for statement in editor._field_indexes_sql(
                    Customer, Customer._meta.get_field("phone")
                ):
                    if "_like" not in str(statement):
                        editor.execute(statement)


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_index_is_reported_and_never_dropped():
    with connection.cursor() as cursor:
        cursor.execute('CREATE INDEX "dup_vehicle_plate" ON "inventory_vehicle" ("plate")')
    try:
        data = run_json("analyze_indexes")["data"]
        [row] = [row for row in data["duplicates"] if row["index"] == "dup_vehicle_plate"]
        assert row["duplicate_of"] == "vehicle_plate_idx"
        assert row["reason"] == "same definition as"
        assert row["declared"] is None
        assert row["drop"].startswith("DROP INDEX ") and '"dup_vehicle_plate"' in row["drop"]

        out, error = run_refused("optimize_indexes")
        assert error is None
        assert "nothing to do" in out
        assert "DROP INDEX" in out and '"dup_vehicle_plate"' in out  # suggested, for review
        assert "dup_vehicle_plate" in index_names("inventory_vehicle")
        run_refused("create_indexes")
        assert "dup_vehicle_plate" in index_names("inventory_vehicle")
    finally:
        drop_index("dup_vehicle_plate")


@pytest.mark.django_db(transaction=True)
def test_an_index_whose_columns_lead_another_is_a_duplicate():
    with connection.cursor() as cursor:
        cursor.execute('CREATE INDEX "vehicle_make_only" ON "inventory_vehicle" ("make")')
    try:
        data = run_json("analyze_indexes")["data"]
        [row] = [row for row in data["duplicates"] if row["index"] == "vehicle_make_only"]
        assert (row["duplicate_of"], row["reason"]) == ("vehicle_make_model_idx", "columns lead")
    finally:
        drop_index("vehicle_make_only")


@pytest.mark.postgresql
def test_an_invalid_leftover_is_dropped_and_the_index_built_again(transactional_db):
    """A failed CREATE INDEX CONCURRENTLY leaves an INVALID index of the declared name."""
    index = model_index(Customer, "customer_updated_idx")
    with connection.schema_editor() as editor:
        editor.remove_index(Customer, index)
    Customer.objects.create(first_name="Ada", last_name="One")
    Customer.objects.create(first_name="Ada", last_name="Two")
    try:
        with connection.cursor() as cursor, pytest.raises(Exception, match="could not create"):
            cursor.execute(
                'CREATE UNIQUE INDEX CONCURRENTLY "customer_updated_idx" '
                'ON "accounts_customer" ("first_name")'
            )
        assert not _valid("customer_updated_idx")
        data = run_json("analyze_indexes")["data"]
        assert [item["name"] for item in data["invalid"]] == ["customer_updated_idx"]

        report = run_json("create_indexes")
        [action] = report["actions"]
        assert action["statements"][0] == 'DROP INDEX CONCURRENTLY IF EXISTS "customer_updated_idx"'
        assert action["status"] == "done"
        assert _valid("customer_updated_idx")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_indexdef('customer_updated_idx'::regclass)")
            assert "(updated_at)" in cursor.fetchone()[0]
    finally:
        restore(Customer, "customer_updated_idx")


@pytest.mark.postgresql
def test_a_dropped_trigram_index_of_a_migration_is_built_again(transactional_db):
    drop_index("vehicle_make_trgm")
    try:
        data = run_json("analyze_indexes")["data"]
        [missing] = data["missing"]
        assert (missing["name"], missing["kind"], missing["source"]) == (
            "vehicle_make_trgm",
            "trigram",
            "migration inventory.0004_search_trigram_indexes",
        )
        report = run_json("create_indexes")
        assert report["actions"][0]["statements"] == [
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS vehicle_make_trgm ON inventory_vehicle "
            'USING gin ((UPPER("make")) gin_trgm_ops)'
        ]
        assert _valid("vehicle_make_trgm")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS vehicle_make_trgm ON inventory_vehicle "
                'USING gin ((UPPER("make")) gin_trgm_ops)'
            )


@pytest.mark.postgresql
@pytest.mark.django_db
def test_creating_concurrently_inside_a_transaction_is_refused_and_changes_nothing():
    with pytest.raises(CommandError) as error:
        call_command("create_indexes", stdout=io.StringIO())
    assert str(error.value) == (
        "CREATE INDEX CONCURRENTLY cannot run inside a transaction; run the command on its own"
    )


@pytest.mark.postgresql
@pytest.mark.django_db
def test_postgresql_reports_usage_figures_and_says_when_bloat_is_not_measured():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pgstattuple'")
        has_pgstattuple = cursor.fetchone() is not None
    data = run_json("analyze_indexes", "--min-rows", "0")["data"]
    assert isinstance(data["unused"], list) and isinstance(data["sequential_scans"], list)
    assert all(not row["drop"].startswith("DROP INDEX IF") for row in data["unused"])
    assert data["bloat"]["measured"] is has_pgstattuple
    if not has_pgstattuple:
        assert "pgstattuple extension is not installed" in data["bloat"]["note"]


@pytest.mark.sqlite
@pytest.mark.django_db
def test_sqlite_says_what_it_does_not_measure():
    out, error = run_refused("analyze_indexes")
    assert error is None
    assert "SQLite keeps no index usage figures" in out
    assert "SQLite keeps no index bloat" in out


@pytest.mark.django_db
def test_a_negative_min_rows_is_refused():
    with pytest.raises(CommandError, match="--min-rows must be 0 or more, got -1"):
        call_command("analyze_indexes", "--min-rows", "-1", stdout=io.StringIO())
