"""Refunds: the buyer's money given back once a deal is canceled or unwound, never more than was
received, recorded by a manager, shown on the deal's page."""

from decimal import Decimal

import pytest

from sales import services
from sales.models import Deal, DealRefund
from tests.helpers.admin import deal_inlines
from tests.helpers.barrier import run_together
from tests.helpers.builders.lot import delivered_deal, make_deal

D = Decimal
pytestmark = pytest.mark.django_db


def canceled_with_deposit(salesperson, deposit="500.00"):
    deal = make_deal(salesperson=salesperson)
    services.sign_deal(deal)
    services.record_payment(deal, amount=D(deposit), method="card", reference="deposit")
    return services.cancel_deal(deal, reason="Financing refused")


def test_a_canceled_deal_gives_back_what_it_received_in_parts(salesperson, manager):
    deal = canceled_with_deposit(salesperson)
    services.record_refund(deal, amount=D("200.00"), method="card", user=manager)
    services.record_refund(deal, amount=D("300.00"), method="check", reference="1042")
    assert services.money_held(deal) == D("0.00")
    assert [r.amount for r in deal.refunds.all()] == [D("200.00"), D("300.00")]
    assert deal.refunds.first().refunded_by == manager


def test_a_refund_over_what_is_held_is_refused_and_nothing_is_recorded(salesperson):
    deal = canceled_with_deposit(salesperson)
    services.record_refund(deal, amount=D("450.00"), method="card")
    with pytest.raises(services.DealError) as refused:
        services.record_refund(deal, amount=D("50.01"), method="card")
    assert str(refused.value) == (
        f"{deal.number} holds 50.00 of the buyer's money (500.00 received, 450.00 refunded): "
        "a refund of 50.01 is more than that."
    )
    assert deal.refunds.count() == 1


@pytest.mark.parametrize("amount", ["0", "-10.00"])
def test_a_refund_is_more_than_zero(salesperson, amount):
    deal = canceled_with_deposit(salesperson)
    with pytest.raises(services.DealError, match="more than zero"):
        services.record_refund(deal, amount=D(amount), method="cash")
    assert not DealRefund.objects.exists()


def test_an_open_or_delivered_deal_refunds_nothing(salesperson):
    open_deal = make_deal(salesperson=salesperson)
    services.record_payment(open_deal, amount=D("100.00"), method="cash")
    sold = delivered_deal(salesperson=salesperson)
    for deal in (open_deal, sold):
        with pytest.raises(services.DealError, match="once a deal is canceled or unwound"):
            services.record_refund(deal, amount=D("10.00"), method="cash")
    assert not DealRefund.objects.exists()


def test_an_unwound_deal_can_give_the_price_back(salesperson):
    deal = delivered_deal(salesperson=salesperson)
    paid = services.payments_received(deal)
    services.unwind_deal(deal, reason="Buyer's remorse within the return window")
    services.record_refund(deal, amount=paid, method="transfer")
    assert services.money_held(deal) == 0


def test_the_database_refuses_a_refund_of_zero(salesperson):
    from django.db import IntegrityError, transaction

    deal = canceled_with_deposit(salesperson)
    with pytest.raises(IntegrityError), transaction.atomic():
        DealRefund.objects.create(
            deal=deal, amount=D("0"), method="cash", refunded_at=deal.closed_at
        )


# -- the admin -------------------------------------------------------------------------------


def _refund_post(deal, **refund):
    data = {"notes": "", **deal_inlines(deal)}
    data.update(
        {
            "refunds-TOTAL_FORMS": "1",
            "refunds-INITIAL_FORMS": "0",
            "refunds-MIN_NUM_FORMS": "0",
            "refunds-MAX_NUM_FORMS": "1000",
            "refunds-0-refunded_at_0": "2026-11-29",
            "refunds-0-refunded_at_1": "10:00:00",
            "refunds-0-method": "card",
            "refunds-0-reference": "",
            **{f"refunds-0-{k}": v for k, v in refund.items()},
        }
    )
    return data


def test_canceling_in_the_admin_reminds_of_the_money_held(salesperson, login):
    deal = make_deal(salesperson=salesperson)
    services.record_payment(deal, amount=D("750.00"), method="cash")
    client = login(salesperson)
    response = client.post(
        f"/admin/sales/deal/{deal.pk}/step/cancel/", {"reason": "Buyer walked"}, follow=True
    )
    messages = [str(m) for m in response.context["messages"]]
    assert (
        f"{deal.number} holds 750.00 of the buyer's money: record the refund under "
        "Refunds." in messages
    )


def test_a_manager_records_a_refund_on_the_deal_page(salesperson, manager, login):
    deal = canceled_with_deposit(salesperson)
    client = login(manager)
    page = client.get(f"/admin/sales/deal/{deal.pk}/change/").content.decode()
    assert "Held for the buyer" in page
    assert 'name="refunds-MAX_NUM_FORMS" value="1000"' in page
    response = client.post(
        f"/admin/sales/deal/{deal.pk}/change/", _refund_post(deal, amount="500.00")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    refund = DealRefund.objects.get()
    assert (refund.amount, refund.refunded_by) == (D("500.00"), manager)


def test_the_admin_refuses_a_refund_over_the_money_held(salesperson, manager, login):
    deal = canceled_with_deposit(salesperson, deposit="100.00")
    response = login(manager).post(
        f"/admin/sales/deal/{deal.pk}/change/", _refund_post(deal, amount="100.01"), follow=True
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("a refund of 100.01 is more than that" in m for m in messages)
    assert not DealRefund.objects.exists()


def test_a_salesperson_sees_refunds_but_cannot_record_one(salesperson, login):
    deal = canceled_with_deposit(salesperson)
    client = login(salesperson)
    page = client.get(f"/admin/sales/deal/{deal.pk}/change/").content.decode()
    assert "Held for the buyer" in page
    assert 'name="refunds-MAX_NUM_FORMS" value="0"' in page  # no row can be added
    client.post(f"/admin/sales/deal/{deal.pk}/change/", _refund_post(deal, amount="500.00"))
    assert not DealRefund.objects.exists()


# -- at the same moment ----------------------------------------------------------------------


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_refunds_at_once_never_give_back_more_than_was_received(salesperson):
    deal = canceled_with_deposit(salesperson, deposit="500.00")
    outcomes = run_together(
        *[
            lambda: services.record_refund(
                Deal.objects.get(pk=deal.pk), amount=D("300.00"), method="card"
            )
            for _ in range(2)
        ]
    )
    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"]
    assert services.money_held(deal) == D("200.00")
