"""Payments: partial payments add up, more than the balance is refused, the order is paid when
the balance reaches zero — also with two payments arriving at the same moment."""

from decimal import Decimal as D

import pytest

from repairs import services
from repairs.exceptions import InvoiceIsFinal, RepairError
from repairs.models import Payment, RepairOrder
from tests.helpers.barrier import raised, run_together
from tests.helpers.builders.repairs import add_job_with_lines, make_order, set_rates, take_to


def _invoice(total_labor="100.00"):
    set_rates(
        parts_tax_rate="0", labor_tax_rate="0", shop_supplies_rate="0", hazardous_waste_fee="0"
    )
    order = make_order()
    add_job_with_lines(order, labor=[("1", total_labor)])
    return services.invoice_repair_order(take_to(order, "completed"))


def _status(invoice):
    return RepairOrder.objects.get(pk=invoice.repair_order_id).status


@pytest.mark.django_db
def test_a_partial_then_a_full_payment_makes_the_order_paid():
    invoice = _invoice()
    services.record_payment(invoice, "40.00", "cash")
    assert services.invoice_balance(invoice) == D("60.00")
    assert _status(invoice) == "invoiced"
    services.record_payment(invoice, D("60.00"), "card", reference="slip 0042")
    assert services.invoice_balance(invoice) == D("0.00")
    assert _status(invoice) == "paid"
    events = RepairOrder.objects.get(pk=invoice.repair_order_id).events.all()
    assert events.last().note == "paid by Card"


@pytest.mark.django_db
def test_paying_more_than_the_balance_is_refused_and_nothing_is_recorded():
    invoice = _invoice()
    services.record_payment(invoice, "30", "check")
    with pytest.raises(RepairError) as refused:
        services.record_payment(invoice, "70.01", "cash")
    assert str(refused.value) == (
        f"A payment of 70.01 is more than the balance of 70.00 on invoice {invoice.number}."
    )
    assert Payment.objects.count() == 1
    assert _status(invoice) == "invoiced"


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["0", "-5", "abc"])
def test_a_payment_is_a_positive_amount(amount):
    invoice = _invoice()
    with pytest.raises(RepairError):
        services.record_payment(invoice, amount, "cash")
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_a_paid_order_takes_no_more_payments_and_payments_are_never_edited():
    invoice = _invoice()
    payment = services.record_payment(invoice, "100", "on_account")
    with pytest.raises(RepairError, match="payments are taken on invoiced orders"):
        services.record_payment(invoice, "1", "cash")
    payment.amount = D("1")
    with pytest.raises(InvoiceIsFinal):
        payment.save()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_payments_of_the_whole_balance_at_once_are_taken_only_once():
    invoice = _invoice()

    def pay():
        services.record_payment(invoice, "100.00", "card")

    refused = raised(run_together(pay, pay, catch=RepairError, timeout=60))
    assert len(refused) == 1
    assert Payment.objects.count() == 1
    assert services.invoice_balance(invoice) == D("0.00")
    assert _status(invoice) == "paid"
