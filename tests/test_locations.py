"""Locations of the group: who may work where, the header's chooser, the default location a
single-shop install keeps, and partners linked to locations."""

import pytest
from django.urls import reverse

from accounts import roles
from accounts.locations import allowed_location_ids, selected_location_ids
from accounts.models import Location, ShopSettings
from accounts.services import create_partner

pytestmark = pytest.mark.django_db


@pytest.fixture
def group():
    main = Location.default()
    north = Location.objects.create(code="north", name="North Shop", kind=Location.Kind.SHOP)
    lot = Location.objects.create(code="lot", name="Route 9 Lot", kind=Location.Kind.LOT)
    return main, north, lot


def test_the_default_location_holds_the_settings():
    main = Location.default()
    assert Location.objects.count() == 1
    assert ShopSettings.current().location == main
    assert ShopSettings.objects.count() == 1


def test_staff_work_at_their_home_and_the_locations_they_are_allowed(make_user, group):
    main, north, lot = group
    advisor = make_user("advisor", roles.SERVICE_ADVISOR)
    assert allowed_location_ids(advisor) == {main.pk}  # no home set: the default location

    floater = make_user("floater", roles.SERVICE_ADVISOR)
    floater.home_location = north
    floater.save()
    floater.locations.add(lot)
    assert allowed_location_ids(floater) == {north.pk, lot.pk}

    boss = make_user("boss", superuser=True)
    assert allowed_location_ids(boss) == {main.pk, north.pk, lot.pk}


def test_the_group_permission_opens_every_location(make_user, group):
    from django.contrib.auth.models import Permission

    manager = make_user("gm", roles.MANAGER)
    manager.user_permissions.add(Permission.objects.get(codename="work_at_all_locations"))
    manager = type(manager).objects.get(pk=manager.pk)
    assert allowed_location_ids(manager) == {loc.pk for loc in group}


def test_inactive_or_anonymous_users_work_nowhere(make_user, group):
    from django.contrib.auth.models import AnonymousUser

    gone = make_user("gone", roles.MANAGER)
    gone.is_active = False
    assert allowed_location_ids(gone) == frozenset()
    assert allowed_location_ids(AnonymousUser()) == frozenset()


def test_a_single_shop_shows_no_location_chooser(client, manager):
    client.force_login(manager)
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    assert b"location-chooser" not in page.content


def test_the_chooser_offers_only_allowed_locations_and_remembers_the_choice(
    client, make_user, group
):
    main, north, lot = group
    advisor = make_user("floater", roles.SERVICE_ADVISOR)
    advisor.home_location = north
    advisor.save()
    advisor.locations.add(main)
    client.force_login(advisor)

    page = client.get(reverse("admin:index")).content.decode()
    assert "location-chooser" in page
    assert "North Shop" in page and main.name in page
    assert "Route 9 Lot" not in page

    answer = client.post(reverse("choose-location"), {"location": main.pk, "next": "/admin/"})
    assert answer.status_code == 302 and answer["Location"] == "/admin/"
    assert client.session["carshop_location"] == main.pk

    # A location the user does not work at is refused, and the choice stays.
    for value in (lot.pk, "999999", "x' OR 1=1", ""):
        answer = client.post(reverse("choose-location"), {"location": value}, follow=True)
        assert answer.status_code == 200
        assert "You do not work at that location" in answer.content.decode()
        assert client.session["carshop_location"] == main.pk

    client.post(reverse("choose-location"), {"location": "all"})
    assert client.session["carshop_location"] == "all"


def test_the_chooser_ignores_an_outside_next_address(client, manager, group):
    client.force_login(manager)
    answer = client.post(
        reverse("choose-location"), {"location": "all", "next": "https://evil.example/"}
    )
    assert answer["Location"] == reverse("admin:index")


def test_the_chooser_refuses_get_and_anonymous(client, manager):
    assert client.post(reverse("choose-location"), {"location": "all"}).status_code == 302
    assert "carshop_location" not in client.session
    client.force_login(manager)
    assert client.get(reverse("choose-location")).status_code == 405


def test_selection_falls_back_to_home_when_the_stored_choice_is_no_longer_allowed(
    rf, make_user, group
):
    _main, north, lot = group
    user = make_user("moved", roles.SERVICE_ADVISOR)
    user.home_location = north
    user.save()
    request = rf.get("/")
    request.user = user
    request.session = {"carshop_location": lot.pk}
    assert selected_location_ids(request) == {north.pk}


def test_the_location_list_shows_only_allowed_locations(client, make_user, group):
    _main, north, lot = group
    manager = make_user("shopmanager", roles.MANAGER)
    manager.home_location = north
    manager.save()
    client.force_login(manager)
    page = client.get(reverse("admin:accounts_location_changelist")).content.decode()
    assert "North Shop" in page
    assert "Route 9 Lot" not in page
    assert client.get(reverse("admin:accounts_location_change", args=[lot.pk])).status_code == 302
    settings_page = client.get(reverse("admin:accounts_shopsettings_changelist")).content.decode()
    assert "Route 9 Lot" not in settings_page


def test_a_new_location_gets_its_settings(client, manager):
    client.force_login(manager)
    answer = client.post(
        reverse("admin:accounts_location_add"),
        {"name": "East", "code": "east", "kind": "shop", "hours": "", "is_active": "on"},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    east = Location.objects.get(code="east")
    assert ShopSettings.objects.get(location=east).name == "East"


def test_bad_location_input_is_refused_and_changes_nothing(client, manager):
    client.force_login(manager)
    before = Location.objects.count()
    for data in (
        {"name": "", "code": "x", "kind": "shop"},
        {"name": "Y", "code": "has space", "kind": "shop"},
        {"name": "Z", "code": "z", "kind": "warehouse"},
        {"name": Location.default().name, "code": "dup", "kind": "shop"},
    ):
        answer = client.post(reverse("admin:accounts_location_add"), data)
        assert answer.status_code == 200
        assert "errornote" in answer.content.decode()
    assert Location.objects.count() == before


def test_only_a_superuser_sets_someone_s_locations(client, make_user, group):
    _main, _north, _lot = group
    ops = make_user("ops", roles.OPERATIONS)
    clerk = make_user("clerk", roles.SERVICE_ADVISOR)
    client.force_login(ops)
    page = client.get(reverse("admin:accounts_user_change", args=[clerk.pk])).content.decode()
    assert 'name="locations"' not in page and 'name="home_location"' not in page


def test_partners_of_a_single_shop_see_it_and_a_group_chooses(group):
    # group() made three locations: a new partner is linked to none until chosen.
    partner = create_partner("Fleet One")
    assert list(partner.locations.all()) == []
    partner = create_partner("Fleet Two", locations=[group[1]])
    assert list(partner.locations.all()) == [group[1]]


def test_a_single_shop_partner_is_linked_to_the_shop():
    partner = create_partner("Marketplace")
    assert list(partner.locations.all()) == [Location.default()]


def test_a_single_shop_page_asks_nothing_about_locations(client, operator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(operator)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("admin:accounts_customer_changelist")).status_code == 200
    tables = ('"accounts_location"', '"accounts_user_locations"')
    asked = [q["sql"] for q in queries.captured_queries if any(t in q["sql"] for t in tables)]
    assert asked == []


def test_a_new_allowed_location_shows_on_the_next_page(client, make_user, group):
    _main, north, _lot = group
    advisor = make_user("mover", roles.SERVICE_ADVISOR)
    client.force_login(advisor)
    assert "location-chooser" not in client.get(reverse("admin:index")).content.decode()
    advisor.locations.add(north)  # a superuser allows another shop
    page = client.get(reverse("admin:index")).content.decode()
    assert "location-chooser" in page and "North Shop" in page
    advisor.locations.remove(north)
    assert "location-chooser" not in client.get(reverse("admin:index")).content.decode()
