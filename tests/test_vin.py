"""VINs: what is accepted, what is refused with a message naming the fault, and decoding."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inventory.vin import check_digit, decode_vin, validate_vin
from tests.helpers.builders.inventory import VALID_VINS


def refusal(vin):
    with pytest.raises(ValidationError) as caught:
        validate_vin(vin)
    return caught.value.messages[0]


@pytest.mark.parametrize("vin", VALID_VINS)
def test_real_vins_are_accepted(vin):
    assert validate_vin(vin) == vin


def test_a_vin_is_normalized_to_upper_case_without_spaces():
    assert validate_vin(" 1hgcm8 2633a004352 ") == "1HGCM82633A004352"


def test_the_check_digit_is_computed_as_49_cfr_565_says():
    assert check_digit("1HGCM82633A004352") == "3"
    assert check_digit("1M8GDM9AXKP042788") == "X"  # remainder 10 is written X


def test_a_vin_with_x_as_check_digit_is_accepted():
    assert validate_vin("1M8GDM9AXKP042788") == "1M8GDM9AXKP042788"


def test_a_wrong_check_digit_is_refused_naming_both_digits():
    message = refusal("1HGCM82643A004352")  # position 9 typed 4 instead of 3
    assert message == (
        "The check digit (position 9) is 4 but the other characters give 3: "
        "a character was probably mistyped."
    )


def test_a_mistyped_character_elsewhere_is_caught_by_the_check_digit():
    assert "check digit (position 9) is 3" in refusal("1HGCM82633A004353")


def test_the_check_digit_is_not_required_outside_north_america():
    assert validate_vin("WBA3A5C51CF256651") == "WBA3A5C51CF256651"


@pytest.mark.parametrize(
    ("vin", "letter", "position", "usual"),
    [
        ("1HGCM82633A0O4352", "O", 13, "0"),
        ("1HGCM8I633A004352", "I", 7, "1"),
        ("QHGCM82633A004352", "Q", 1, "0"),
    ],
)
def test_i_o_and_q_are_refused_naming_the_letter_and_its_position(vin, letter, position, usual):
    assert refusal(vin) == (
        f"A VIN never contains the letter {letter} (position {position}); it is usually {usual}."
    )


@pytest.mark.parametrize(
    ("vin", "length"), [("1HGCM82633A00435", 16), ("1HGCM82633A0043521", 18), ("", 0)]
)
def test_a_vin_of_the_wrong_length_is_refused_with_its_length(vin, length):
    assert refusal(vin) == f"A VIN has 17 characters; this one has {length}."


def test_punctuation_is_refused_naming_the_character():
    assert refusal("1HGCM82633A00435*") == (
        "A VIN has only letters and digits; '*' at position 17 is not one."
    )


def test_seventeen_ones_pass_the_check_digit_but_are_refused_as_a_placeholder():
    assert check_digit("11111111111111111") == "1"
    assert refusal("11111111111111111") == (
        "11111111111111111 is a placeholder, not a VIN: type the VIN from the windshield or "
        "the title."
    )


def test_a_north_american_model_year_code_of_zero_is_refused():
    assert refusal("1HGCM82630A004352") == (
        "Position 10 is the model year and is never 0 in a North American VIN."
    )


@pytest.mark.parametrize(
    ("vin", "make", "year", "country"),
    [
        ("1HGCM82633A004352", "Honda", 2003, "United States"),
        ("1FTFW1ET5DFC10312", "Ford", 2013, "United States"),
        ("5YJ3E1EA7KF317000", "Tesla", 2019, "United States"),
        ("JH4KA7561PC008269", "Acura", 1993, "Japan"),
        ("WBA3A5C51CF256651", "BMW", 2012, "Germany"),
    ],
)
def test_decoding_gives_maker_model_year_and_country_offline(vin, make, year, country):
    decoded = decode_vin(vin)
    assert (decoded.make, decoded.model_year, decoded.country) == (make, year, country)


def test_position_7_tells_the_1990s_from_the_2020s():
    # Year code P is 1993 or 2023: a digit in position 7 means the earlier cycle.
    assert decode_vin("JH4KA7561PC008269").model_year == 1993
    assert decode_vin("1FTFW1ET5DFC10312").model_year == 2013  # letter E: the later cycle


def test_the_newest_model_year_is_next_year_on_the_shops_calendar(monkeypatch):
    # 03:00 UTC on January 1st, 2026 is still December 31st, 2025 in New York: model year 2027
    # (code V, else 1997) is not out yet there; only the UTC calendar has reached 2026.
    evening = datetime.datetime(2026, 1, 1, 3, 0, tzinfo=datetime.UTC)
    monkeypatch.setattr(timezone, "now", lambda: evening)
    with timezone.override("America/New_York"):
        assert decode_vin("1FTFW1ET7VFC10312").model_year == 1997
    with timezone.override("UTC"):
        assert decode_vin("1FTFW1ET7VFC10312").model_year == 2027


def test_an_unknown_manufacturer_decodes_to_no_make():
    decoded = decode_vin("11111111111111111")
    assert decoded.make == ""
