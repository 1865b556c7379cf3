"""Deals and commissions in a group: a deal belongs to the lot its stock unit stands on. A user of
one lot neither sees nor changes another lot's deals and commissions, and cannot sell a unit of
a lot they do not work at, through the admin's pages or a forced POST."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts import roles
from accounts.models import Location, ShopSettings
from sales.models import CommissionPlan, Deal
from tests.helpers.builders.inventory import make_staff
from tests.helpers.builders.lot import (
    bulk_delivered_deals,
    delivered_deal,
    make_customer,
    make_deal,
    make_unit,
)


@pytest.fixture
def two_lots(db):
    main = Location.default()
    lot = Location.objects.create(code="lot", name="Route 9 Lot", kind=Location.Kind.LOT)
    ShopSettings.of(lot)
    CommissionPlan.objects.create(name="House", rate=Decimal("25.00"), minimum=Decimal("100.00"))
    seller = make_staff("seller", roles.SALESPERSON)
    here = delivered_deal(unit=make_unit(location=lot), salesperson=seller)
    there = delivered_deal(unit=make_unit(location=main), salesperson=seller)
    return {"main": main, "lot": lot, "seller": seller, "here": here, "there": there}


@pytest.mark.django_db
@pytest.mark.parametrize("role", [roles.MANAGER, roles.SALESPERSON])
def test_a_user_of_one_lot_sees_only_its_deals_and_commissions(client, role, two_lots):
    user = make_staff(f"user-{role}", role, home_location=two_lots["lot"])
    client.force_login(user)
    here, there = two_lots["here"], two_lots["there"]

    page = client.get(reverse("admin:sales_deal_changelist")).content.decode()
    assert f"/sales/deal/{here.pk}/change/" in page
    assert f"/sales/deal/{there.pk}/change/" not in page
    assert client.get(reverse("admin:sales_deal_change", args=[there.pk])).status_code in (
        302,
        404,
    )
    assert client.get(reverse("admin:sales_deal_change", args=[here.pk])).status_code == 200

    if user.has_perm("sales.view_all_commissions"):
        page = client.get(reverse("admin:sales_commission_changelist")).content.decode()
        assert f"/sales/deal/{here.pk}/change/" in page
        assert f"/sales/deal/{there.pk}/change/" not in page


@pytest.mark.django_db
def test_a_manager_of_the_group_sees_every_lots_deals(client, two_lots):
    manager = make_staff("boss", roles.MANAGER, home_location=two_lots["lot"])
    manager.locations.add(two_lots["main"])
    client.force_login(manager)
    page = client.get(reverse("admin:sales_deal_changelist")).content.decode()
    assert f"/sales/deal/{two_lots['here'].pk}/change/" in page  # the home lot at first
    assert f"/sales/deal/{two_lots['there'].pk}/change/" not in page

    client.post(reverse("choose-location"), {"location": "all"})
    page = client.get(reverse("admin:sales_deal_changelist")).content.decode()
    for deal in (two_lots["here"], two_lots["there"]):
        assert f"/sales/deal/{deal.pk}/change/" in page


@pytest.mark.django_db
def test_a_forced_post_cannot_sell_a_unit_of_another_lot(client, two_lots):
    manager = make_staff("boss", roles.MANAGER, home_location=two_lots["lot"])
    client.force_login(manager)
    other_lots_unit = make_unit(location=two_lots["main"])
    buyer = make_customer()
    before = Deal.objects.count()

    response = client.post(
        reverse("admin:sales_deal_add"),
        {
            "stock_unit": other_lots_unit.pk,
            "buyer": buyer.pk,
            "salesperson": two_lots["seller"].pk,
            "sale_price": "15000.00",
        },
    )

    assert response.status_code == 200  # the form again, with the refusal
    assert "Select a valid choice" in response.content.decode()
    assert Deal.objects.count() == before


@pytest.mark.django_db
def test_a_single_lot_sells_as_before(client):
    manager = make_staff("boss", roles.MANAGER)
    seller = make_staff("seller", roles.SALESPERSON)
    deal = make_deal(salesperson=seller)
    client.force_login(manager)
    page = client.get(reverse("admin:sales_deal_changelist")).content.decode()
    assert f"/sales/deal/{deal.pk}/change/" in page


@pytest.mark.django_db
@pytest.mark.parametrize("chosen", ["all", "lot"])
def test_a_groups_deal_list_queries_do_not_grow_with_rows(
    client, two_lots, chosen, django_assert_max_num_queries
):
    manager = make_staff("boss", roles.MANAGER, home_location=two_lots["lot"])
    manager.locations.add(two_lots["main"])
    client.force_login(manager)
    choice = "all" if chosen == "all" else str(two_lots["lot"].pk)
    client.post(reverse("choose-location"), {"location": choice})
    url = reverse("admin:sales_deal_changelist")
    client.get(url)  # the number of locations, read once a minute
    # Session, user and permissions (one query on PostgreSQL), salespeople filter, count, the
    # add button's stock number series, rows, the header's locations; PostgreSQL estimates a
    # location's rows first (EXPLAIN) and counts them only when they are few, as here.
    with django_assert_max_num_queries(9):
        assert client.get(url).status_code == 200
    bulk_delivered_deals(30, salesperson=two_lots["seller"])  # at the main lot
    with django_assert_max_num_queries(9):
        page = client.get(url).content.decode()
    assert f"/sales/deal/{two_lots['here'].pk}/change/" in page
    shown_there = f"/sales/deal/{two_lots['there'].pk}/change/" in page
    assert shown_there == (chosen == "all")


@pytest.mark.django_db
def test_a_search_does_not_find_another_lots_deal(client, two_lots):
    user = make_staff("lotty", roles.SALESPERSON, home_location=two_lots["lot"])
    client.force_login(user)
    here, there = two_lots["here"], two_lots["there"]
    url = reverse("admin:sales_deal_changelist")
    for deal in (here, there):
        deal.refresh_from_db()
        terms = (deal.number, deal.stock_unit.stock_number, deal.stock_unit.vehicle.vin[-6:])
        for term in terms:
            found = {row.pk for row in client.get(url, {"q": term}).context["cl"].result_list}
            assert found == ({deal.pk} if deal == here else set()), term


@pytest.mark.django_db
def test_another_lots_deal_cannot_be_moved_on_by_a_forced_post(client, two_lots):
    user = make_staff("lotty", roles.MANAGER, home_location=two_lots["lot"])
    client.force_login(user)
    theirs = make_deal(unit=make_unit(location=two_lots["main"]), salesperson=two_lots["seller"])
    ours = make_deal(unit=make_unit(location=two_lots["lot"]), salesperson=two_lots["seller"])

    step = client.post(
        reverse("admin:sales_deal_step", args=[theirs.pk, "cancel"]), {"reason": "no"}
    )
    assert step.status_code == 404
    other_unit = make_unit(location=two_lots["main"])
    changed = client.post(
        reverse("admin:sales_deal_change", args=[ours.pk]),
        {
            "stock_unit": other_unit.pk,
            "buyer": ours.buyer_id,
            "salesperson": ours.salesperson_id,
            "sale_price": "15000.00",
            "documentation_fee": "0",
            "registration_fee": "0",
            "down_payment": "0",
            "finance_reserve": "0",
        },
    )
    assert changed.status_code == 200
    assert "Select a valid choice" in changed.content.decode()
    theirs.refresh_from_db()
    ours.refresh_from_db()
    assert theirs.status == Deal.Status.DRAFT
    assert ours.stock_unit_id != other_unit.pk
