"""The demo lot: seed_demo leaves stock units and deals in every status, reconditioning
orders from the shop, and leads."""

import io

import pytest
from django.core.management import call_command

from inventory.models import StockUnit
from sales import services
from sales.models import Commission, Deal, Lead


@pytest.mark.django_db
def test_demo_lot_has_every_unit_and_deal_status_and_leads():
    out = io.StringIO()
    call_command("seed_demo", "--seed", "3", stdout=out)

    assert "sales: " in out.getvalue()
    assert set(StockUnit.objects.values_list("status", flat=True)) == set(StockUnit.Status)
    assert set(Deal.objects.values_list("status", flat=True)) == set(Deal.Status)
    assert Lead.objects.filter(status__in=Lead.OPEN, next_follow_up__isnull=False).exists()
    assert Commission.objects.filter(kind=Commission.Kind.CHARGEBACK).exists()
    assert StockUnit.objects.filter(photos__is_main=True).exists()
    reconditioned = services.with_cost_totals(StockUnit.objects.all()).filter(reconditioning__gt=0)
    assert reconditioned.filter(status=StockUnit.Status.RECONDITIONING).exists()
    assert reconditioned.filter(status=StockUnit.Status.SOLD).exists()
    # Money after a deal fell through: the canceled deposit refunded, the unwound price held.
    canceled = Deal.objects.get(status=Deal.Status.CANCELED)
    unwound = Deal.objects.get(status=Deal.Status.UNWOUND)
    assert services.refunds_made(canceled) == services.payments_received(canceled) > 0
    assert services.money_held(unwound) > 0
