"""Deals in the admin: the list, writing one up, its steps, the buyer's order, and who sees
which commissions."""

from decimal import Decimal

import pytest

from accounts import roles
from inventory.models import StockUnit
from sales import services
from sales.models import Commission, CommissionPlan, Deal, DealPayment
from tests.helpers.admin import deal_inlines, inline_management
from tests.helpers.builders.lot import (
    bulk_delivered_deals,
    delivered_deal,
    make_customer,
    make_deal,
    make_unit,
    make_vehicle,
)

D = Decimal
LIST = "/admin/sales/deal/"
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["", "?status=delivered&q=Buyer"])
def test_deal_list_queries_do_not_grow_with_rows(
    salesperson, login, query, django_assert_max_num_queries
):
    client = login(salesperson)
    delivered_deal(salesperson=salesperson)
    # 9: the number of locations is read once a minute (deals are kept to the user's lots).
    with django_assert_max_num_queries(9):
        assert client.get(LIST + query).status_code == 200
    bulk_delivered_deals(49, salesperson=salesperson)
    with django_assert_max_num_queries(9):
        response = client.get(LIST + query)
    assert response.content.count(b'class="field-number_column"') == 50


@pytest.mark.parametrize("term", ["number", "Lovelace", "stock", "vin"])
def test_search_finds_deals_by_number_buyer_stock_number_or_vin(salesperson, login, term):
    wanted = make_deal(
        salesperson=salesperson,
        buyer=make_customer("Ada", "Lovelace"),
        unit=make_unit(stock_number="WANT-1"),
    )
    make_deal(
        salesperson=salesperson,
        buyer=make_customer("Bob", "Other"),
        unit=make_unit(stock_number="OTHER-1"),
    )
    term = {"number": wanted.number, "stock": "WANT-1", "vin": wanted.stock_unit.vehicle.vin}.get(
        term, term
    )
    page = login(salesperson).get(LIST, {"q": term}).content.decode()
    assert "Lovelace, Ada" in page
    assert "Other, Bob" not in page


def test_a_searched_lists_rows_lead_back_to_the_search(salesperson, login):
    deal = make_deal(salesperson=salesperson, buyer=make_customer("Ada", "Lovelace"))
    client = login(salesperson)
    page = client.get(LIST, {"q": "lovelace", "status__exact": "draft"}).content.decode()
    change = f"/admin/sales/deal/{deal.pk}/change/"
    back = "_changelist_filters=q%3Dlovelace%26status__exact%3Ddraft"
    assert f'href="{change}?{back}"' in page
    saved = client.post(
        f"{change}?{back}",
        {
            "stock_unit": deal.stock_unit_id,
            "buyer": deal.buyer_id,
            "salesperson": salesperson.pk,
            "sale_price": "15000.00",
            "documentation_fee": "0",
            "registration_fee": "0",
            "down_payment": "0",
            "finance_reserve": "0",
            **deal_inlines(deal),
        },
    )
    assert saved.status_code == 302
    assert saved.url == f"{LIST}?q=lovelace&status__exact=draft"


def test_a_surname_finds_the_deals_of_buyers_and_co_buyers_not_other_customers(
    salesperson, login, django_assert_max_num_queries
):
    buyer = make_customer("Ann", "Miller")
    co_buyer = make_customer("Cy", "Miller")
    for first in ("Never", "Bought", "Here"):
        make_customer(first, "Miller")  # in the customer book, on no deal

    def cosigned(co_buyer, buyer_first, stock_number):
        deal = make_deal(
            salesperson=salesperson,
            buyer=make_customer(buyer_first, "Other"),
            unit=make_unit(stock_number=stock_number),
        )
        Deal.objects.filter(pk=deal.pk).update(co_buyer=co_buyer)
        return deal

    bought = make_deal(salesperson=salesperson, buyer=buyer, unit=make_unit(stock_number="M-1"))
    shared = cosigned(co_buyer, "Dee", "M-2")
    make_deal(
        salesperson=salesperson,
        buyer=make_customer("Eve", "Else"),
        unit=make_unit(stock_number="M-3"),
    )
    # Buyer of one deal and co-buyer of another: both deals, each once.
    both = make_customer("Fay", "Miller")
    hers = make_deal(salesperson=salesperson, buyer=both, unit=make_unit(stock_number="M-4"))
    signed = cosigned(both, "Gil", "M-5")
    client = login(salesperson)
    with django_assert_max_num_queries(8):
        response = client.get(LIST, {"q": "miller"})
    found = [deal.pk for deal in response.context["cl"].result_list]
    assert sorted(found) == sorted([bought.pk, shared.pk, hers.pk, signed.pk])
    assert response.context["cl"].result_count == 4


def test_list_filters_by_salesperson(salesperson, make_user, login):
    jordan = make_user("jordan", roles.SALESPERSON)
    make_deal(salesperson=salesperson, buyer=make_customer("Mine", "Deal"))
    make_deal(salesperson=jordan, buyer=make_customer("Theirs", "Deal"))
    page = login(salesperson).get(LIST, {"salesperson__id__exact": jordan.pk}).content.decode()
    assert "Deal, Theirs" in page and "Deal, Mine" not in page


def test_writing_up_a_deal_takes_the_shop_fees_and_tax(salesperson, login):
    unit = make_unit(stock_number="NEW-1")
    buyer = make_customer()
    client = login(salesperson)
    form = client.get(f"{LIST}add/").content.decode()
    assert 'value="199.00"' in form and 'value="85.00"' in form
    data = {
        "stock_unit": unit.pk,
        "buyer": buyer.pk,
        "salesperson": salesperson.pk,
        "sale_price": "13995.00",
        "documentation_fee": "199.00",
        "registration_fee": "85.00",
        "down_payment": "0",
        "finance_reserve": "0",
        **deal_inlines(),
    }
    response = client.post(f"{LIST}add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    deal = Deal.objects.get()
    assert (deal.status, deal.sales_tax_rate, deal.trade_in_reduces_tax) == (
        Deal.Status.DRAFT,
        D("6.250"),
        True,
    )


def test_writing_up_a_sold_unit_is_refused_in_the_form(salesperson, login):
    sold = delivered_deal(salesperson=salesperson).stock_unit
    data = {
        "stock_unit": sold.pk,
        "buyer": make_customer().pk,
        "salesperson": salesperson.pk,
        "sale_price": "1.00",
        "documentation_fee": "0",
        "registration_fee": "0",
        "down_payment": "0",
        "finance_reserve": "0",
        **deal_inlines(),
    }
    response = login(salesperson).post(f"{LIST}add/", data)
    assert f"Stock unit {sold.stock_number} is sold; it is not for sale." in (
        response.content.decode()
    )
    assert Deal.objects.count() == 1


def test_signing_from_the_deal_page_confirms_then_reserves(salesperson, login):
    deal = make_deal(salesperson=salesperson)
    client = login(salesperson)
    page = client.get(f"{LIST}{deal.pk}/change/").content.decode()
    assert f"{LIST}{deal.pk}/step/sign/" in page and "/step/unwind/" not in page
    confirm = client.get(f"{LIST}{deal.pk}/step/sign/")
    assert b"the stock unit is reserved" in confirm.content
    assert Deal.objects.get(pk=deal.pk).status == Deal.Status.DRAFT
    response = client.post(f"{LIST}{deal.pk}/step/sign/", {"apply": "yes"}, follow=True)
    assert f"{deal.number} is now signed." in response.content.decode()
    assert StockUnit.objects.get(pk=deal.stock_unit_id).status == StockUnit.Status.RESERVED


def test_a_refused_step_shows_the_reason_and_changes_nothing(salesperson, make_user, login):
    unit = make_unit()
    first = make_deal(unit=unit, salesperson=make_user("jordan", roles.SALESPERSON))
    services.sign_deal(first)
    mine = make_deal(unit=unit, salesperson=salesperson, buyer=make_customer("Bo", "Other"))
    response = login(salesperson).post(f"{LIST}{mine.pk}/step/sign/", {"apply": "yes"}, follow=True)
    assert f"is already reserved by {first.number} (jordan)" in response.content.decode()
    assert Deal.objects.get(pk=mine.pk).status == Deal.Status.DRAFT


def test_cancel_action_asks_why_and_needs_an_answer(salesperson, login):
    deal = make_deal(salesperson=salesperson)
    services.sign_deal(deal)
    client = login(salesperson)
    blank = client.post(
        LIST, {"action": "cancel", "_selected_action": [deal.pk], "apply": "yes", "reason": ""}
    )
    assert b"This field is required." in blank.content
    assert Deal.objects.get(pk=deal.pk).status == Deal.Status.SIGNED
    client.post(
        LIST,
        {
            "action": "cancel",
            "_selected_action": [deal.pk],
            "apply": "yes",
            "reason": "Bank said no",
        },
    )
    deal.refresh_from_db()
    assert (deal.status, deal.close_reason) == (Deal.Status.CANCELED, "Bank said no")


def test_only_managers_unwind_deals(salesperson, manager, login, client):
    deal = delivered_deal(salesperson=salesperson)
    as_sales = login(salesperson)
    assert b'value="unwind"' not in as_sales.get(LIST).content
    assert as_sales.post(f"{LIST}{deal.pk}/step/unwind/", {"reason": "x"}).status_code == 403
    client.logout()
    as_manager = login(manager)
    assert b'value="unwind"' in as_manager.get(LIST).content
    as_manager.post(f"{LIST}{deal.pk}/step/unwind/", {"apply": "yes", "reason": "Lemon"})
    assert Deal.objects.get(pk=deal.pk).status == Deal.Status.UNWOUND


def test_a_signed_deals_terms_cannot_be_edited(salesperson, login):
    deal = make_deal(salesperson=salesperson, sale_price=D("15000"))
    services.sign_deal(deal)
    data = {"sale_price": "1.00", "notes": "Customer wants floor mats", **deal_inlines(deal)}
    response = login(salesperson).post(f"{LIST}{deal.pk}/change/", data)
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.sale_price == D("15000.00")
    assert deal.notes == "Customer wants floor mats"


def test_payment_added_on_the_deal_page_is_recorded_by_whoever_took_it(salesperson, login):
    deal = make_deal(salesperson=salesperson)
    data = {
        "sale_price": "15000.00",
        "documentation_fee": "199.00",
        "registration_fee": "85.00",
        "down_payment": "0",
        "finance_reserve": "0",
        "stock_unit": deal.stock_unit_id,
        "buyer": deal.buyer_id,
        "salesperson": salesperson.pk,
        **deal_inlines(deal),
        **inline_management("payments", total=1),
        "payments-0-received_at_0": "2026-03-01",
        "payments-0-received_at_1": "10:00",
        "payments-0-amount": "500.00",
        "payments-0-method": "card",
        "payments-0-reference": "deposit",
    }
    response = login(salesperson).post(f"{LIST}{deal.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    payment = DealPayment.objects.get()
    assert (payment.amount, payment.received_by) == (D("500.00"), salesperson)


def test_buyers_order_prints_the_deal(salesperson, login):
    buyer = make_customer("Ada", "Lovelace", address_line="1 Engine Way")
    trade_car = make_vehicle(owner=buyer, make="Ford", model="Focus")
    deal = make_deal(
        salesperson=salesperson,
        buyer=buyer,
        sale_price=D("20000"),
        lender="Credit Union",
        apr=D("6"),
        term_months=60,
        down_payment=D("1534"),
    )
    page = login(salesperson).get(f"{LIST}{deal.pk}/buyers-order/").content.decode()
    assert "Buyer's order" in page and deal.number in page
    assert "Lovelace, Ada" in page and deal.stock_unit.vehicle.vin in page
    assert "21,534.00" in page  # 20,000 + 284 fees + 1,250 tax
    assert "20,000.00" in page and "386.66" in page  # amount financed and monthly payment
    assert "@page" in page  # print stylesheet
    deal.trade_ins.create(
        vehicle=trade_car, allowance=D("3000"), payoff=D("5500"), actual_cash_value=D("2800")
    )
    page = login(salesperson).get(f"{LIST}{deal.pk}/buyers-order/").content.decode()
    assert "negative equity of 2,500.00" in page


def test_salespeople_see_their_own_commissions_and_managers_see_all(
    salesperson, make_user, manager, login, client
):
    CommissionPlan.objects.create(name="House", rate=D("20"), minimum=D("250"))
    jordan = make_user("jordan", roles.SALESPERSON)
    mine = delivered_deal(salesperson=salesperson, buyer=make_customer("Mine", "Buyer"))
    theirs = delivered_deal(salesperson=jordan, buyer=make_customer("Theirs", "Buyer"))
    assert Commission.objects.count() == 2

    as_sales = login(salesperson)
    listing = as_sales.get("/admin/sales/commission/").content.decode()
    assert mine.number in listing and theirs.number not in listing
    other_page = as_sales.get(f"{LIST}{theirs.pk}/change/").content.decode()
    assert "Commissions" in other_page and "House" not in other_page
    theirs_commission = Commission.objects.get(deal=theirs)
    assert (
        as_sales.get(f"/admin/sales/commission/{theirs_commission.pk}/change/").status_code == 302
    )  # not found for them: back to the list

    client.logout()
    listing = login(manager).get("/admin/sales/commission/").content.decode()
    assert mine.number in listing and theirs.number in listing


def test_a_salesperson_sees_the_cost_and_gross_of_their_own_deals_only(
    salesperson, make_user, manager, login, client
):
    """A commission is a share of the gross: another salesperson's gross tells their pay."""
    jordan = make_user("jordan", roles.SALESPERSON)
    mine = delivered_deal(salesperson=salesperson, buyer=make_customer("Mine", "Buyer"))
    theirs = delivered_deal(salesperson=jordan, buyer=make_customer("Theirs", "Buyer"))
    theirs_gross = f"{theirs.total_gross:,.2f}"
    mine_gross = f"{mine.total_gross:,.2f}"

    as_sales = login(salesperson)
    listing = as_sales.get(LIST).content.decode()
    rows = {
        deal.number: listing[listing.index(deal.number) :].split("</tr>")[0]
        for deal in (mine, theirs)
    }
    assert f'class="field-gross_column">{mine_gross}<' in rows[mine.number]
    assert 'class="field-gross_column">—<' in rows[theirs.number]
    theirs_page = as_sales.get(f"{LIST}{theirs.pk}/change/").content.decode()
    assert theirs.number in theirs_page and "Sale price" in theirs_page
    for hidden in ("Front gross", "Back gross", "Total gross", "Unit total cost"):
        assert f"<th>{hidden}" not in theirs_page and f">{hidden}<" not in theirs_page, hidden
    mine_page = as_sales.get(f"{LIST}{mine.pk}/change/").content.decode()
    assert "Front gross" in mine_page and mine_gross in mine_page

    client.logout()
    as_manager = login(manager)
    listing = as_manager.get(LIST).content.decode()
    assert f'class="field-gross_column">{theirs_gross}<' in listing
    assert "Front gross" in as_manager.get(f"{LIST}{theirs.pk}/change/").content.decode()


def test_commission_list_queries_do_not_grow_with_rows(
    manager, salesperson, login, django_assert_max_num_queries
):
    CommissionPlan.objects.create(name="House", rate=D("20"), minimum=D("250"))
    client = login(manager)
    delivered_deal(salesperson=salesperson)
    with django_assert_max_num_queries(9):
        assert client.get("/admin/sales/commission/").status_code == 200
    bulk_delivered_deals(49, salesperson=salesperson)
    with django_assert_max_num_queries(9):
        assert client.get("/admin/sales/commission/").status_code == 200


def test_commission_plans_are_for_managers(salesperson, manager, login, client):
    assert login(salesperson).get("/admin/sales/commissionplan/").status_code == 403
    client.logout()
    assert login(manager).get("/admin/sales/commissionplan/").status_code == 200


@pytest.mark.parametrize("who", ["technician", "advisor"])
def test_the_shop_staff_do_not_open_deals(request, who, login):
    user = request.getfixturevalue(who)
    assert login(user).get(LIST).status_code == 403


def test_salespeople_cannot_delete_deals(salesperson, login):
    deal = make_deal(salesperson=salesperson)
    assert login(salesperson).post(f"{LIST}{deal.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Deal.objects.filter(pk=deal.pk).exists()


def test_signing_in_the_admin_is_in_the_audit_log_with_who_did_it(salesperson, login):
    from auditlog.models import LogEntry

    deal = make_deal(salesperson=salesperson)
    login(salesperson).post(f"{LIST}{deal.pk}/step/sign/", {"apply": "yes"})
    entries = LogEntry.objects.get_for_object(deal).filter(actor=salesperson)
    assert any(entry.changes_dict.get("status") == ["draft", "signed"] for entry in entries)
    unit_entries = LogEntry.objects.get_for_object(deal.stock_unit).filter(actor=salesperson)
    assert any(
        entry.changes_dict.get("status") == ["available", "reserved"] for entry in unit_entries
    )
