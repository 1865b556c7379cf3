"""Booking an appointment in a real browser: after choosing the customer, the vehicle picker
offers only that customer's vehicles."""

import pytest

from tests.helpers.builders.repairs import make_customer, make_vehicle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _pick(page, field, text):
    page.click(f"#id_{field} + .select2 .select2-selection")
    page.fill(".select2-search__field", text)
    option = page.locator(".select2-results__option", has_text=text).first
    option.wait_for()
    option.click()


def test_the_vehicle_picker_offers_the_chosen_customers_vehicles_only(people, advisor, live_server):
    dana = make_customer("Lee", "Dana", phone="(217) 555-0100")
    maria = make_customer()
    danas = make_vehicle(owner=dana, make="Mazda", model="Miata")
    make_vehicle(owner=maria, make="Ford", model="Focus")

    person = people.open().log_in("advisor")
    person.go("/admin/repairs/appointment/add/")
    page = person.page
    _pick(page, "customer", "Lee")
    page.click("#id_vehicle + .select2 .select2-selection")
    offered = page.locator(".select2-results__option", has_text=danas.vin)
    offered.wait_for()
    options = page.locator(".select2-results__option").all_inner_texts()
    assert len(options) == 1 and danas.vin in options[0]
    assert not any("Focus" in option for option in options)
