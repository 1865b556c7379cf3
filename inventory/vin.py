"""VIN validation and offline decoding (ISO 3779; check digit per 49 CFR 565 for North America)."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError

_FORBIDDEN = {"I", "O", "Q"}
_VALUES = {
    **{str(d): d for d in range(10)},
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# World manufacturer identifiers starting 1-5 are North American: the check digit is mandatory.
_NORTH_AMERICA = set("12345")


def normalize_vin(value):
    return "".join((value or "").split()).upper()


def check_digit(vin):
    total = sum(_VALUES[char] * weight for char, weight in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def validate_vin(value):
    """Raise ValidationError with a message naming what is wrong; return the normalized VIN."""
    vin = normalize_vin(value)
    if len(vin) != 17:
        raise ValidationError(
            f"A VIN has 17 characters; this one has {len(vin)}.", code="vin_length"
        )
    for position, char in enumerate(vin, start=1):
        if char in _FORBIDDEN:
            raise ValidationError(
                f"A VIN never contains the letter {char} (position {position}); "
                f"it is usually {'1' if char == 'I' else '0'}.",
                code="vin_forbidden_letter",
            )
        if char not in _VALUES:
            raise ValidationError(
                f"A VIN has only letters and digits; {char!r} at position {position} is not one.",
                code="vin_character",
            )
    if vin[0] in _NORTH_AMERICA:
        expected = check_digit(vin)
        if vin[8] != expected:
            raise ValidationError(
                f"The check digit (position 9) is {vin[8]} but the other characters give "
                f"{expected}: a character was probably mistyped.",
                code="vin_check_digit",
            )
    return vin


@dataclass(frozen=True)
class DecodedVin:
    make: str
    model_year: int | None
    country: str


def decode_vin(vin):
    """Maker, model year and country from the VIN alone (no network)."""
    from vininfo import Vin

    try:
        decoded = Vin(vin)
        years = decoded.years
    except Exception:
        return DecodedVin(make="", model_year=None, country="")
    # The year code repeats every 30 years; take the most recent one not in the future.
    from django.utils import timezone

    this_year = timezone.now().year + 1
    candidates = [year for year in years if year <= this_year]
    make = decoded.manufacturer or ""
    return DecodedVin(
        make="" if make.startswith("Unknown") else make,
        model_year=max(candidates) if candidates else None,
        country=decoded.country or "",
    )
