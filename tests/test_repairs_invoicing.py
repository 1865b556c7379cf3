"""Invoices: a frozen snapshot, sequential gapless numbers per year (also when several advisors
invoice at the same moment), never edited, corrected by credit notes with their own numbers."""

from decimal import Decimal as D

import pytest
from django.utils import timezone

from repairs import services
from repairs.exceptions import InvoiceIsFinal, RepairError
from repairs.models import CreditNote, Invoice, RepairOrder
from tests.helpers.barrier import raised, run_together
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_order,
    make_part,
    set_rates,
    take_to,
)


def _completed_order(labor=("1.0", "100.00")):
    order = make_order()
    add_job_with_lines(order, labor=[labor])
    return take_to(order, "completed")


@pytest.fixture
def rates(db):
    return set_rates(
        parts_tax_rate="8",
        labor_tax_rate="0",
        shop_supplies_rate="10",
        shop_supplies_cap="25",
        hazardous_waste_fee="3.50",
    )


@pytest.mark.django_db
def test_invoicing_freezes_lines_customer_vehicle_and_totals(rates):
    part = make_part("BP-1", price="45.99")
    order = make_order()
    add_job_with_lines(order, labor=[("1.5", "100.00")], parts=[(part, 1, None)])
    invoice = services.invoice_repair_order(take_to(order, "completed"))
    # 150.00 labor + 45.99 parts + 15.00 supplies + 3.50 waste + 3.68 tax (8 % of 45.99)
    assert invoice.total == D("218.17")
    assert (invoice.labor_total, invoice.parts_total, invoice.fees_total, invoice.tax_total) == (
        D("150.00"),
        D("45.99"),
        D("18.50"),
        D("3.68"),
    )
    snapshot = invoice.snapshot
    assert snapshot["customer"]["name"] == "Garcia, Maria"
    assert snapshot["vehicle"]["vin"] == order.vehicle.vin
    assert snapshot["jobs"][0]["parts"][0] == {
        "sku": "BP-1",
        "description": "Part BP-1",
        "quantity": 1,
        "price": "45.99",
        "amount": "45.99",
        "taxable": True,
    }
    # Later changes of prices, rates or the customer do not touch the invoice.
    set_rates(parts_tax_rate="20")
    order.customer.last_name = "Changed"
    order.customer.save()
    invoice.refresh_from_db()
    assert invoice.snapshot["customer"]["name"] == "Garcia, Maria"
    assert invoice.total == D("218.17")


@pytest.mark.django_db
def test_invoice_numbers_are_sequential_per_year(rates):
    year = timezone.localdate().year
    numbers = [services.invoice_repair_order(_completed_order()).number for _ in range(3)]
    assert numbers == [f"{year}-000001", f"{year}-000002", f"{year}-000003"]


@pytest.mark.django_db
def test_a_refused_invoice_does_not_use_up_a_number(rates):
    first = services.invoice_repair_order(_completed_order())
    with pytest.raises(RepairError):
        services.invoice_repair_order(RepairOrder.objects.get(pk=first.repair_order_id))
    second = services.invoice_repair_order(_completed_order())
    assert second.sequence == first.sequence + 1


@pytest.mark.django_db
def test_an_invoice_is_never_edited_nor_deleted(rates):
    invoice = services.invoice_repair_order(_completed_order())
    invoice.total = D("1.00")
    with pytest.raises(InvoiceIsFinal, match="credit note"):
        invoice.save()
    with pytest.raises(InvoiceIsFinal):
        invoice.delete()
    assert Invoice.objects.get(pk=invoice.pk).total == D("113.50")


@pytest.mark.django_db
def test_a_credit_note_reduces_the_balance_with_its_own_number(rates):
    invoice = services.invoice_repair_order(_completed_order())  # 113.50
    year = timezone.localdate().year
    note = services.issue_credit_note(invoice, "13.50", "Labor time overstated")
    assert note.number == f"CN-{year}-00001"
    assert services.invoice_balance(invoice) == D("100.00")
    second = services.issue_credit_note(invoice, "10", "Goodwill")
    assert second.number == f"CN-{year}-00002"
    with pytest.raises(RepairError, match=r"credited 90\.00 at most"):
        services.issue_credit_note(invoice, "90.01", "Too much")
    assert CreditNote.objects.count() == 2
    invoice.refresh_from_db()
    assert invoice.total == D("113.50")


@pytest.mark.django_db
def test_a_credit_note_for_the_whole_balance_settles_the_order(rates):
    invoice = services.invoice_repair_order(_completed_order())
    services.record_payment(invoice, "13.50", "cash")
    services.issue_credit_note(invoice, "100.00", "Warranty")
    assert RepairOrder.objects.get(pk=invoice.repair_order_id).status == "paid"


@pytest.mark.django_db
def test_a_credit_note_needs_a_reason(rates):
    invoice = services.invoice_repair_order(_completed_order())
    with pytest.raises(RepairError, match="needs a reason"):
        services.issue_credit_note(invoice, "5", "  ")
    assert not CreditNote.objects.exists()


@pytest.mark.django_db
def test_an_invoice_for_nothing_is_paid_at_once(rates):
    invoice = services.invoice_repair_order(_completed_order(labor=("1.0", "0.00")))
    assert invoice.total == D("3.50")  # the waste fee still applies
    order = make_order(hazardous_waste=False)
    add_job_with_lines(order, labor=[("1.0", "0.00")])
    free = services.invoice_repair_order(take_to(order, "completed"))
    assert free.total == D("0.00")
    order.refresh_from_db()
    assert order.status == "paid"


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_invoicing_gives_numbers_one_to_n_without_gap_or_duplicate():
    set_rates(hazardous_waste_fee="3.50")
    orders = [_completed_order() for _ in range(8)]
    errors = raised(
        run_together(*[lambda o=o: services.invoice_repair_order(o) for o in orders], timeout=60)
    )
    assert errors == []
    year = timezone.localdate().year
    sequences = sorted(Invoice.objects.filter(year=year).values_list("sequence", flat=True))
    assert sequences == list(range(1, 9))
    assert Invoice.objects.values("number").distinct().count() == 8
    assert set(RepairOrder.objects.values_list("status", flat=True)) == {"invoiced"}


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_the_same_order_invoiced_twice_at_once_gets_one_invoice():
    set_rates(hazardous_waste_fee="3.50")
    order = _completed_order()
    errors = raised(run_together(*[lambda: services.invoice_repair_order(order)] * 2, timeout=60))
    assert len(errors) == 1 and isinstance(errors[0], RepairError)
    assert Invoice.objects.count() == 1
    assert Invoice.objects.get().sequence == 1
