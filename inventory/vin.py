"""VIN validation and offline decoding (ISO 3779; check digit per 49 CFR 565 for North America)."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError

_FORBIDDEN = {"I", "O", "Q"}
_VALUES = {
    **{str(d): d for d in range(10)},
    "A": 1,
    "B": 2,
    "C": 3,
    "D": 4,
    "E": 5,
    "F": 6,
    "G": 7,
    "H": 8,
    "J": 1,
    "K": 2,
    "L": 3,
    "M": 4,
    "N": 5,
    "P": 7,
    "R": 9,
    "S": 2,
    "T": 3,
    "U": 4,
    "V": 5,
    "W": 6,
    "X": 7,
    "Y": 8,
    "Z": 9,
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# World manufacturer identifiers starting 1-5 are North American: the check digit is mandatory.
_NORTH_AMERICA = set("12345")
# 49 CFR 565.15: position 10 codes the model year and never uses U, Z or 0.
_NOT_A_YEAR = {"U", "Z", "0"}


def normalize_vin(value):
    return "".join((value or "").split()).upper()


def is_north_american(vin):
    return bool(vin) and vin[0] in _NORTH_AMERICA


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
    if len(set(vin)) == 1:
        # 17 ones passes the check digit: it is what people type when they do not have the VIN.
        raise ValidationError(
            f"{vin} is a placeholder, not a VIN: type the VIN from the windshield or the title.",
            code="vin_placeholder",
        )
    if is_north_american(vin):
        if vin[9] in _NOT_A_YEAR:
            raise ValidationError(
                f"Position 10 is the model year and is never {vin[9]} in a North American VIN.",
                code="vin_model_year",
            )
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


def _model_year(vin, years, this_year):
    """Pick the model year among the 30-year cycles the year code allows.

    VINs built to 49 CFR 565 (every North American one, and imports that carry a valid check
    digit) have a letter in position 7 from model year 2010 on, a digit before.
    """
    candidates = sorted(year for year in years if year <= this_year)
    if not candidates:
        return None
    if len(candidates) > 1 and (is_north_american(vin) or vin[8] == check_digit(vin)):
        modern = vin[6].isalpha()
        chosen = [year for year in candidates if (year >= 2010) == modern]
        if chosen:
            return chosen[-1]
    return candidates[-1]


def decode_vin(vin):
    """Maker, model year and country from the VIN alone (no network)."""
    from django.utils import timezone
    from vininfo import Vin
    from vininfo.common import UnsupportedBrand

    try:
        decoded = Vin(vin)
        years = decoded.years
        assembler = decoded.assembler
        make = "" if isinstance(assembler, UnsupportedBrand) else assembler.manufacturer or ""
        country = decoded.country or ""
    except Exception:  # vininfo refuses what it cannot parse; the VIN was validated already
        return DecodedVin(make="", model_year=None, country="")
    if make.startswith(("Unknown", "Unsupported")):
        make = ""
    return DecodedVin(
        make=make,
        model_year=_model_year(vin, years, timezone.localdate().year + 1),
        country=country,
    )
