"""A deal's figures as its terms are typed, before saving (the deal page's figures address):
the service's own calculation on the unsaved form, for who may write the deal up only, with a
clear message for bad input. And the sale price that starts at the unit's asking price."""

from decimal import Decimal

import pytest

from accounts import roles
from sales import services
from sales.models import Deal
from tests.helpers.admin import deal_inlines, inline_management, visible_text
from tests.helpers.builders.lot import (
    delivered_deal,
    make_customer,
    make_deal,
    make_unit,
    make_vehicle,
)

D = Decimal
LIST = "/admin/sales/deal/"
FIGURES = f"{LIST}figures/"
pytestmark = pytest.mark.django_db


def terms(unit, buyer, salesperson, trade_vehicle=None, **fields):
    """The add page's form as a salesperson fills it: a unit, fees, a down payment and, with
    `trade_vehicle`, one trade-in."""
    data = {
        "stock_unit": unit.pk,
        "buyer": buyer.pk,
        "salesperson": salesperson.pk,
        "sale_price": "15500.00",
        "documentation_fee": "199.00",
        "registration_fee": "85.00",
        "down_payment": "1000.00",
        "lender": "",
        "finance_reserve": "0",
        **deal_inlines(),
    }
    if trade_vehicle is not None:
        data.update(inline_management("trade_ins", total=1))
        data.update(
            {
                "trade_ins-0-vehicle": trade_vehicle.pk,
                "trade_ins-0-allowance": "4000.00",
                "trade_ins-0-payoff": "1500.00",
                "trade_ins-0-actual_cash_value": "3600.00",
                "trade_ins-0-odometer": "88000",
            }
        )
    data.update(fields)
    return data


def test_the_figures_as_typed_are_the_figures_the_saved_deal_has(salesperson, login):
    unit = make_unit(cost="11000.00", asking="16000.00")
    buyer = make_customer()
    data = terms(unit, buyer, salesperson, make_vehicle(owner=buyer, make="Ford"))
    client = login(salesperson)

    answer = client.post(FIGURES, data)

    assert answer.status_code == 200
    typed = answer.json()["figures"]
    assert Deal.objects.count() == 0  # nothing saved
    # 15,500 less the 4,000 allowance taxed at 6.25 %: 718.75; 15,500 + 284 fees + tax.
    assert typed["sales_tax"] == "718.75"
    assert typed["total_price"] == "16502.75"
    assert typed["net_trade"] == "2500.00"
    assert typed["front_gross"] == "4100.00"  # 15,500 - 11,000 - 400 over-allowance
    assert "Total price" in answer.json()["html"] and "16,502.75" in answer.json()["html"]

    assert client.post(f"{LIST}add/", data).status_code == 302
    saved = services.figures(Deal.objects.get())
    assert {name: f"{getattr(saved, name):.2f}" for name in typed if typed[name]} == {
        name: value for name, value in typed.items() if value
    }


def test_a_draft_figures_follow_the_changed_terms_without_saving_them(salesperson, login):
    deal = make_deal(
        salesperson=salesperson,
        sale_price=D("15000.00"),
        addons=[{"kind": "warranty", "price": D("1200"), "cost": D("400"), "taxable": False}],
    )
    data = {
        **terms(deal.stock_unit, deal.buyer, salesperson),
        **deal_inlines(deal),
        "sale_price": "14000.00",
        "down_payment": "0",
    }
    addon = deal.addons.get()
    data.update(
        {
            "addons-0-id": addon.pk,
            "addons-0-deal": deal.pk,
            "addons-0-kind": "warranty",
            "addons-0-price": "1500.00",
            "addons-0-cost": "400.00",
        }
    )
    answer = login(salesperson).post(f"{LIST}{deal.pk}/figures/", data).json()
    assert answer["figures"]["sale_price"] == "14000.00"
    assert answer["figures"]["addons"] == "1500.00"
    assert answer["figures"]["back_gross"] == "1100.00"
    deal.refresh_from_db()
    assert deal.sale_price == D("15000.00") and deal.addons.get().price == D("1200.00")


def test_a_blank_sale_price_is_the_unit_asking_price(salesperson, login):
    unit = make_unit(asking="17900.00", internet_price=D("17500.00"))
    buyer = make_customer()
    client = login(salesperson)
    data = terms(unit, buyer, salesperson, sale_price="", down_payment="0")
    answer = client.post(FIGURES, data).json()
    assert answer["sale_price"] == "17900.00"
    assert answer["figures"]["sale_price"] == "17900.00"
    assert client.post(f"{LIST}add/", data).status_code == 302
    assert Deal.objects.get().sale_price == D("17900.00")
    # The service does the same when no price is given.
    other = services.create_deal(
        stock_unit=make_unit(asking="9900.00"), buyer=buyer, salesperson=salesperson
    )
    assert other.sale_price == D("9900.00")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sale_price", "abc", "Sale price: Enter a number."),
        ("sale_price", "-5", "Sale price: Ensure this value is greater than or equal to 0"),
        ("sale_price", "99999999", "Sale price: "),
        ("down_payment", "90000", "Down payment: A down payment of 90,000.00 is more than"),
        ("lender", "First Bank", "APR %: A financed deal needs the APR."),
        ("trade_ins-0-allowance", "x", "Trade-in 1, allowance: Enter a number."),
    ],
)
def test_bad_terms_get_a_clear_message_and_change_nothing(
    salesperson, login, field, value, message
):
    buyer = make_customer()
    data = terms(make_unit(), buyer, salesperson, make_vehicle(owner=buyer), **{field: value})
    answer = login(salesperson).post(FIGURES, data)
    assert answer.status_code == 200
    body = answer.json()
    assert "figures" not in body
    assert any(error.startswith(message) for error in body["errors"]), body["errors"]
    assert Deal.objects.count() == 0


def test_what_saving_checks_but_the_figures_do_not_need_is_left_to_saving(salesperson, login):
    """No buyer chosen yet, a trade-in whose vehicle is not chosen: the figures still show."""
    data = terms(make_unit(), make_customer(), salesperson, make_vehicle())
    data["buyer"] = data["trade_ins-0-vehicle"] = ""
    body = login(salesperson).post(FIGURES, data).json()
    assert body["figures"]["trade_allowance"] == "4000.00"


def test_no_unit_yet_says_to_choose_one(salesperson, login):
    data = terms(make_unit(), make_customer(), salesperson, stock_unit="")
    body = login(salesperson).post(FIGURES, data).json()
    assert body == {"errors": ["Choose a stock unit to see the figures."]}


def test_a_signed_deal_figures_are_not_recomputed(salesperson, login):
    deal = delivered_deal(salesperson=salesperson)
    data = {**terms(deal.stock_unit, deal.buyer, salesperson), **deal_inlines(deal)}
    body = login(salesperson).post(f"{LIST}{deal.pk}/figures/", data).json()
    assert body == {"errors": [f"{deal.number} is delivered: its figures are set."]}


def test_the_figures_are_asked_with_a_post(salesperson, login):
    answer = login(salesperson).get(FIGURES)
    assert answer.status_code == 405
    assert answer.json() == {"errors": ["The figures are asked with the deal's form."]}


@pytest.mark.parametrize("role", [roles.SERVICE_ADVISOR, roles.TECHNICIAN, roles.OPERATIONS])
def test_roles_that_do_not_write_deals_up_are_refused_the_figures(
    role, make_user, salesperson, login
):
    deal = make_deal(salesperson=salesperson)
    data = {**terms(deal.stock_unit, deal.buyer, salesperson), **deal_inlines(deal)}
    client = login(make_user("someone", role))
    for url in (FIGURES, f"{LIST}{deal.pk}/figures/"):
        response = client.post(url, data)
        assert response.status_code == 403
        assert b"15,500" not in response.content and b"sales_tax" not in response.content


def test_a_visitor_not_logged_in_is_sent_to_log_in(client, salesperson):
    deal = make_deal(salesperson=salesperson)
    data = terms(deal.stock_unit, deal.buyer, salesperson)
    response = client.post(FIGURES, data)
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("who", ["salesperson", "other salesperson", "manager"])
def test_who_may_change_the_draft_gets_its_figures(who, make_user, salesperson, manager, login):
    deal = make_deal(salesperson=salesperson)
    user = {
        "salesperson": salesperson,
        "other salesperson": make_user("jordan", roles.SALESPERSON),
        "manager": manager,
    }[who]
    data = {**terms(deal.stock_unit, deal.buyer, salesperson), **deal_inlines(deal)}
    response = login(user).post(f"{LIST}{deal.pk}/figures/", data)
    assert response.status_code == 200 and response.json()["figures"]["sale_price"] == "15500.00"


def test_an_unknown_deal_is_not_found(salesperson, login):
    response = login(salesperson).post(f"{LIST}999999/figures/", {})
    assert response.status_code == 404


def test_the_deal_pages_carry_the_figures_script_and_address(salesperson, login):
    deal = make_deal(salesperson=salesperson)
    client = login(salesperson)
    add = client.get(f"{LIST}add/").content.decode()
    assert "sales/admin/deal_figures.js" in add and f'data-url="{FIGURES}"' in add
    change = client.get(f"{LIST}{deal.pk}/change/").content.decode()
    assert f'data-url="{LIST}{deal.pk}/figures/"' in change
    assert "Starts at the unit's asking price." in add


@pytest.mark.parametrize("costs", [1, 30])
def test_the_figures_queries_do_not_grow_with_the_unit_costs(
    costs, salesperson, login, django_assert_max_num_queries
):
    unit = make_unit(other_costs=[("transport", "10.00")] * costs)
    buyer = make_customer()
    data = terms(unit, buyer, salesperson, make_vehicle(owner=buyer))
    with django_assert_max_num_queries(62):
        body = login(salesperson).post(FIGURES, data).json()
    assert body["figures"]["unit_cost"] == f"{10000 + 10 * costs}.00"  # cost and transport


def test_the_buyers_order_prints_the_whole_address(salesperson, login):
    buyer = make_customer(
        "Grace",
        "Hopper",
        address_line="12 Navy Yard Rd",
        city="",
        region="VA",
        postal_code="22202",
    )
    co_buyer = make_customer(
        "Ada",
        "King",
        address_line="1 Ockham Ln",
        city="Arlington",
        region="VA",
        postal_code="22201",
    )
    deal = make_deal(salesperson=salesperson, buyer=buyer, co_buyer=co_buyer)
    page = visible_text(login(salesperson).get(f"{LIST}{deal.pk}/buyers-order/").content.decode())
    assert "12 Navy Yard Rd" in page and "VA 22202" in page
    assert "1 Ockham Ln" in page and "Arlington, VA 22201" in page
