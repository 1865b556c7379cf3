"""The bounds' migrations on a database with data: they go back and forth, keep every row, and
stop with the ids of rows outside a bound instead of a bare constraint error."""

import datetime
from decimal import Decimal as D

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.roles import SALESPERSON
from inventory import services as inventory_services
from inventory.models import Vehicle
from repairs.choices import AppointmentStatus
from repairs.models import PartLine
from sales.models import Deal
from tests.helpers.builders.lot import make_deal
from tests.helpers.builders.repairs import add_job_with_lines, make_order, make_part, make_staff

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("inventory", "0004_search_trigram_indexes"),
    ("repairs", "0003_payment_reference_trigram"),
    ("sales", "0004_deal_refund"),
]
AFTER = [
    ("inventory", "0005_sane_bounds"),
    ("repairs", "0004_sane_bounds_and_time_corrections"),
    ("sales", "0005_sane_bounds"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


# Raw SQL: between the migrations the models do not match the tables. The table is the model's
# own name, quoted; only values are parameters.
TABLE = connection.ops.quote_name(PartLine._meta.db_table)


def _set_quantity(value, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET quantity = %s WHERE id = %s", [value, pk])  # noqa: S608


def _quantity(pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT quantity FROM {TABLE} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_the_bounds_migrate_back_and_forth_with_data_and_name_rows_out_of_bounds(monkeypatch):
    # Going back that far also goes back over the locations (their rows are dropped, guarded).
    monkeypatch.setenv("CARSHOP_ALLOW_DATA_LOSS", "1")
    order = make_order()
    job = add_job_with_lines(
        order, labor=[("1", "100.00")], parts=[(make_part("BP-1", price="20.00"), 2, None)]
    )
    inventory_services.record_odometer(order.vehicle, 120_000, timezone.localdate())
    deal = make_deal(salesperson=make_staff("sally", SALESPERSON), sale_price=D("15000.00"))
    line = PartLine.objects.get(job=job)
    try:
        _migrate(BEFORE)
        # Back before the bounds: every row is still there, and nothing stops an absurd value.
        assert PartLine.objects.filter(pk=line.pk).exists()
        _set_quantity(1_000_000_000, line.pk)

        with pytest.raises(
            ValueError,
            match=f"repairs.partline rows break "
            f"partline_quantity_bounded .*ids {line.pk}\\. "
            "Correct them",
        ):
            _migrate(AFTER)
        # The refusal changed nothing: the row is as it was.
        assert _quantity(line.pk) == 1_000_000_000

        _set_quantity(2, line.pk)

        # Two scheduled bookings of one slot, from before the rule: named, not merged.
        # The appointment model as it was at BEFORE (the table has no location column yet).
        executor = MigrationExecutor(connection)
        then = executor.loader.project_state(BEFORE).apps.get_model("repairs", "Appointment")
        first, second = (
            then.objects.create(
                date=timezone.localdate(),
                time=datetime.time(9, 0),
                customer_id=order.customer_id,
                vehicle_id=order.vehicle_id,
                concern="Brakes",
            )
            for _ in range(2)
        )
        with pytest.raises(
            ValueError,
            match=f"repairs.appointment rows break "
            f"appointment_one_per_slot .*ids {first.pk}, "
            rf"{second.pk}\. Correct them",
        ):
            _migrate(AFTER)
        then.objects.filter(pk=second.pk).update(status=AppointmentStatus.CANCELED)
        _migrate(AFTER)
    finally:
        _migrate(_latest())
    assert PartLine.objects.get(pk=line.pk).quantity == 2
    assert Vehicle.objects.get(pk=order.vehicle_id).odometer == 120_000
    assert Deal.objects.get(pk=deal.pk).sale_price == D("15000.00")
