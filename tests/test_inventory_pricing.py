"""Selling prices of parts: the markup matrix by cost band, the manager's bands, overrides."""

from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.urls import reverse

from accounts.roles import MANAGER, SERVICE_ADVISOR
from inventory import pricing
from inventory.models import MarkupRule, Part
from tests.helpers.builders.inventory import make_part, make_staff

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.mark.parametrize(
    ("cost", "price"),
    [
        ("4.00", "10.00"),  # up to 5: x 2.5
        ("5.00", "12.50"),  # a band includes its upper bound
        ("5.01", "11.27"),  # next band: x 2.25, rounded to the cent
        ("80.00", "132.00"),  # up to 100: x 1.65
        ("2000.00", "2600.00"),  # above the last band: its multiplier (x 1.3)
        ("0.00", "0.00"),
    ],
)
def test_without_bands_the_default_matrix_prices_by_cost_band(cost, price):
    assert pricing.markup_price(D(cost)) == D(price)


def test_the_managers_bands_replace_the_default_matrix():
    MarkupRule.objects.create(up_to=D("10.00"), multiplier=D("3.000"))
    MarkupRule.objects.create(up_to=D("100.00"), multiplier=D("1.500"))
    assert pricing.markup_price(D("8.00")) == D("24.00")
    assert pricing.markup_price(D("50.00")) == D("75.00")
    assert pricing.markup_price(D("500.00")) == D("750.00")


def test_a_part_sells_at_its_marked_up_average_cost():
    part = make_part(unit_cost="20.00")
    assert part.selling_price == D("40.00")
    part.unit_cost = D("30.00")
    assert part.selling_price == D("54.00")  # 25-50 band: x 1.8


def test_a_price_override_wins_over_the_matrix():
    part = make_part(unit_cost="20.00", price_override=D("35.50"))
    assert part.selling_price == D("35.50")


def test_a_page_of_parts_reads_the_matrix_once(django_assert_num_queries):
    for index in range(5):
        make_part(f"P-{index}", unit_cost=f"{index + 1}.00")
    parts = list(Part.objects.all())
    with django_assert_num_queries(1), pricing.matrix_snapshot():
        prices = [part.selling_price for part in parts]
    assert prices == [D("2.50"), D("5.00"), D("7.50"), D("10.00"), D("12.50")]


def test_a_multiplier_below_one_is_refused_by_the_database():
    with pytest.raises(IntegrityError):
        MarkupRule.objects.create(up_to=D("10.00"), multiplier=D("0.900"))


def test_a_manager_edits_a_band_in_the_admin_and_prices_follow(client):
    rule = MarkupRule.objects.create(up_to=D("50.00"), multiplier=D("2.000"))
    part = make_part(unit_cost="20.00")
    client.force_login(make_staff("manager", MANAGER))
    response = client.post(
        reverse("admin:inventory_markuprule_change", args=[rule.pk]),
        {"up_to": "50.00", "multiplier": "2.500"},
    )
    assert response.status_code == 302
    assert Part.objects.get(pk=part.pk).selling_price == D("50.00")


def test_the_admin_refuses_a_multiplier_below_one_with_a_message(client):
    client.force_login(make_staff("manager", MANAGER))
    response = client.post(
        reverse("admin:inventory_markuprule_add"), {"up_to": "50.00", "multiplier": "0.800"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["multiplier"] == [
        "Ensure this value is greater than or equal to 1."
    ]
    assert not MarkupRule.objects.exists()


def test_an_advisor_may_read_the_bands_but_not_change_them(client):
    rule = MarkupRule.objects.create(up_to=D("50.00"), multiplier=D("2.000"))
    client.force_login(make_staff("advisor", SERVICE_ADVISOR))
    url = reverse("admin:inventory_markuprule_change", args=[rule.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"up_to": "50.00", "multiplier": "9.000"}).status_code == 403
    rule.refresh_from_db()
    assert rule.multiplier == D("2.000")
