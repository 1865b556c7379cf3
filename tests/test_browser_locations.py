"""An advisor of two shops at the desk: picks the second shop in the header's chooser, sees only
its repair orders, and opens a new order there with that shop already chosen."""

import pytest

from accounts.models import Location, ShopSettings
from tests.helpers.builders.repairs import make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_advisor_of_two_shops_works_at_the_one_chosen_in_the_header(people, advisor):
    main = Location.default()
    east = Location.objects.create(code="east", name="East Shop", kind=Location.Kind.SHOP)
    ShopSettings.of(east)
    advisor.locations.add(east)
    at_main = make_order(location=main)
    at_east = make_order(location=east)

    desk = people.open(phone=False)
    desk.log_in("advisor")
    page = desk.page
    desk.go("/admin/repairs/repairorder/")
    listed = desk.text("#result_list").split()
    assert at_main.number in listed and at_east.number not in listed  # home first

    page.select_option("#location-chooser-select", label="East Shop")
    page.locator(".location-chooser button[type=submit]").click()
    page.wait_for_load_state()
    assert page.url.endswith("/admin/repairs/repairorder/")  # back on the list
    listed = desk.text("#result_list").split()
    assert at_east.number in listed
    assert at_main.number not in listed

    desk.go("/admin/repairs/repairorder/add/")
    assert page.input_value("#id_location") == str(east.pk)
    options = page.locator("#id_location option").all_inner_texts()
    assert "East Shop" in options
    assert page.locator("#location-chooser-select").input_value() == str(east.pk)
