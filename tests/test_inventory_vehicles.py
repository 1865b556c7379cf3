"""Vehicles: entering them (VIN checked and decoded), the odometer rule, finding them."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import SERVICE_ADVISOR
from inventory import services
from inventory.exceptions import InvalidVin, InventoryError
from inventory.models import Vehicle
from tests.helpers.builders.inventory import (
    admin_form_data,
    make_customer,
    make_staff,
    make_vehicle,
)

pytestmark = pytest.mark.django_db

HONDA = "1HGCM82633A004352"
TODAY = timezone.localdate


@pytest.fixture
def advisor_client(client):
    advisor = make_staff("advisor", SERVICE_ADVISOR)
    client.force_login(advisor)
    client.user = advisor
    return client


# -- entering a vehicle -----------------------------------------------------------------------
def test_a_new_vehicle_gets_maker_model_year_and_country_from_its_vin():
    vehicle = services.create_vehicle(HONDA.lower(), model="Accord")
    vehicle.refresh_from_db()
    assert (vehicle.vin, vehicle.make, vehicle.model_year, vehicle.country) == (
        HONDA,
        "Honda",
        2003,
        "United States",
    )
    assert vehicle.model == "Accord"


def test_make_and_model_year_typed_in_are_kept():
    vehicle = services.create_vehicle(HONDA, make="Honda Motor", model_year=2004)
    assert (vehicle.make, vehicle.model_year) == ("Honda Motor", 2004)


def test_a_bad_vin_is_refused_with_the_message_for_the_vin_field_and_nothing_saved():
    with pytest.raises(InvalidVin) as caught:
        services.create_vehicle("1HGCM82643A004352")
    assert caught.value.field == "vin"
    assert "check digit (position 9) is 4" in caught.value.message
    assert not Vehicle.objects.exists()


def test_the_same_vin_cannot_be_entered_twice():
    first = make_vehicle(HONDA)
    with pytest.raises(InventoryError, match="already on file"):
        services.create_vehicle(HONDA.lower())
    assert list(Vehicle.objects.all()) == [first]


def test_the_plate_is_stored_in_capitals():
    assert make_vehicle(HONDA, plate=" abc123 ").plate == "ABC123"


# -- odometer ---------------------------------------------------------------------------------
def test_readings_going_up_are_recorded_and_the_vehicle_shows_the_latest():
    vehicle = make_vehicle()
    services.record_odometer(vehicle, 50_000, TODAY() - timedelta(days=100))
    services.record_odometer(vehicle, 54_200, TODAY())
    vehicle.refresh_from_db()
    assert (vehicle.odometer, vehicle.odometer_read_on) == (54_200, TODAY())


def test_a_lower_reading_without_a_note_is_refused_and_not_recorded():
    vehicle = make_vehicle()
    services.record_odometer(vehicle, 50_000, date(2024, 3, 1))
    with pytest.raises(InventoryError) as caught:
        services.record_odometer(vehicle, 49_000, date(2024, 6, 1))
    assert caught.value.field == "note"
    assert caught.value.message.startswith(
        "The odometer read 50,000 on 2024-03-01; a lower reading needs a note"
    )
    assert vehicle.readings.count() == 1
    vehicle.refresh_from_db()
    assert vehicle.odometer == 50_000


def test_a_lower_reading_with_a_note_is_recorded_and_becomes_the_current_one():
    vehicle = make_vehicle()
    user = make_staff("advisor")
    services.record_odometer(vehicle, 50_000, date(2024, 3, 1))
    reading = services.record_odometer(
        vehicle, 120, date(2024, 6, 1), note="Instrument cluster replaced", user=user
    )
    assert (reading.note, reading.recorded_by) == ("Instrument cluster replaced", user)
    vehicle.refresh_from_db()
    assert vehicle.odometer == 120


def test_a_backdated_reading_higher_than_a_later_one_needs_a_note():
    vehicle = make_vehicle()
    services.record_odometer(vehicle, 60_000, date(2024, 6, 1))
    with pytest.raises(InventoryError, match=r"A later reading is lower \(60,000 on 2024-06-01\)"):
        services.record_odometer(vehicle, 61_000, date(2024, 1, 1))
    services.record_odometer(vehicle, 55_000, date(2024, 1, 1))  # fits between: fine
    vehicle.refresh_from_db()
    assert (vehicle.odometer, vehicle.odometer_read_on) == (60_000, date(2024, 6, 1))


def test_the_same_reading_again_is_fine():
    vehicle = make_vehicle()
    services.record_odometer(vehicle, 50_000, date(2024, 3, 1))
    services.record_odometer(vehicle, 50_000, date(2024, 3, 2))
    assert vehicle.readings.count() == 2


def test_a_reading_dated_in_the_future_is_refused():
    vehicle = make_vehicle()
    with pytest.raises(InventoryError, match="cannot be dated in the future"):
        services.record_odometer(vehicle, 10, TODAY() + timedelta(days=1))


# -- the admin form ---------------------------------------------------------------------------
def test_an_advisor_adds_a_vehicle_and_the_admin_decodes_the_vin(advisor_client):
    owner = make_customer()
    page = advisor_client.get(reverse("admin:inventory_vehicle_add"))
    data = admin_form_data(page) | {
        "vin": HONDA.lower(),
        "model": "Accord",
        "owner": owner.pk,
        "plate": "abc 123",
    }
    response = advisor_client.post(reverse("admin:inventory_vehicle_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    vehicle = Vehicle.objects.get()
    assert (vehicle.vin, vehicle.make, vehicle.model_year, vehicle.owner) == (
        HONDA,
        "Honda",
        2003,
        owner,
    )


def test_a_bad_vin_in_the_admin_shows_the_message_on_the_field_and_changes_nothing(advisor_client):
    vehicle = make_vehicle(HONDA, model="Accord", color="Blue")
    url = reverse("admin:inventory_vehicle_change", args=[vehicle.pk])
    data = admin_form_data(advisor_client.get(url)) | {"vin": "1HGCM82633A0O4352", "color": "Red"}
    response = advisor_client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["vin"] == [
        "A VIN never contains the letter O (position 13); it is usually 0."
    ]
    assert "it is usually 0." in response.text
    vehicle.refresh_from_db()
    assert (vehicle.vin, vehicle.color) == (HONDA, "Blue")


def test_a_vin_already_on_file_is_refused_on_the_field(advisor_client):
    make_vehicle(HONDA)
    page = advisor_client.get(reverse("admin:inventory_vehicle_add"))
    response = advisor_client.post(
        reverse("admin:inventory_vehicle_add"), admin_form_data(page) | {"vin": HONDA.lower()}
    )
    assert response.status_code == 200
    assert "already exists" in response.context["adminform"].form.errors["vin"][0]
    assert Vehicle.objects.count() == 1


def test_a_reading_added_on_the_vehicle_page_goes_through_the_odometer_rule(advisor_client):
    vehicle = make_vehicle()
    services.record_odometer(vehicle, 50_000, date(2024, 3, 1))
    url = reverse("admin:inventory_vehicle_change", args=[vehicle.pk])
    data = admin_form_data(advisor_client.get(url))
    extra = f"readings-{data['readings-INITIAL_FORMS']}"
    data |= {f"{extra}-read_on": "2024-06-01", f"{extra}-reading": "40000"}

    refused = advisor_client.post(url, data)
    assert refused.status_code == 200
    assert "a lower reading needs a note" in refused.text
    assert vehicle.readings.count() == 1

    data[f"{extra}-note"] = "Cluster replaced at the dealer"
    accepted = advisor_client.post(url, data)
    assert accepted.status_code == 302
    reading = vehicle.readings.get(reading=40_000)
    assert reading.recorded_by == advisor_client.user
    vehicle.refresh_from_db()
    assert vehicle.odometer == 40_000


# -- finding vehicles -------------------------------------------------------------------------
@pytest.fixture
def fleet():
    garcia = make_customer("Garcia", "Maria", phone="(217) 555-0123")
    lee = make_customer("Lee", "Wei", phone="(312) 555-0999")
    return {
        "honda": make_vehicle("1HGCM82633A004352", owner=garcia, plate="ABC123"),
        "chevy": make_vehicle("1G1YY22G965104377", owner=lee, plate="XYZ987"),
        "vw": make_vehicle("3VWFE21C04M000001"),
        "ford": make_vehicle("JH4KA7561PC008269", plate="GRC 1906"),
        "bmw": make_vehicle("WVWZZZ1JZXW000001", plate="KT-4471"),
    }


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("1HGCM82633A004352", {"honda"}),
        ("004352", {"honda"}),  # last 6, as read off a key tag
        ("3a004352", {"honda"}),  # last 8, any case
        ("5104377", {"chevy"}),
        ("1G1YY", {"chevy"}),  # the start
        ("xyz987", {"chevy"}),  # plate
        ("grc 1906", {"ford"}),  # a plate with a space, as it is written on the car
        ("KT-4471", {"bmw"}),  # and with a dash
        ("garcia", {"honda"}),  # owner's name
        ("555-0999", {"chevy"}),  # owner's phone
        ("Lee 5104377", {"chevy"}),  # every word must match
        ("nothing-like-it", set()),
    ],
)
def test_vehicles_are_found_by_vin_its_tail_plate_and_owner(fleet, term, expected):
    found = set(Vehicle.objects.search(term))
    assert found == {fleet[name] for name in expected}


def test_the_vin_tail_search_is_a_prefix_search_on_the_reversed_vin(fleet):
    sql = str(Vehicle.objects.search("004352").query)
    assert '"vin_reversed" LIKE 253400%' in sql.replace("::text", "").replace("'", "")


def test_the_admin_list_finds_a_vehicle_by_the_last_six_of_its_vin(advisor_client, fleet):
    response = advisor_client.get(reverse("admin:inventory_vehicle_changelist"), {"q": "004352"})
    assert list(response.context["cl"].result_list) == [fleet["honda"]]


def test_autocomplete_offers_vehicles_by_vin_tail(advisor_client, fleet):
    # Repair orders pick their vehicle with an autocomplete that runs this admin's search.
    response = advisor_client.get(
        reverse("admin:autocomplete"),
        {
            "term": "104377",
            "app_label": "inventory",
            "model_name": "odometerreading",
            "field_name": "vehicle",
        },
    )
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(fleet["chevy"].pk)]
