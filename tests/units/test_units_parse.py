"""Parsing and formatting of quantities: accepted forms and every refusal names field, value and expectation."""

from fractions import Fraction

import pytest

from openidds.errors import OpenIDDSError
from openidds.units import (
    CONCENTRATION,
    MASS,
    MASS_RATE,
    TIME,
    VOLUME,
    VOLUME_RATE,
    Quantity,
    UnitsError,
    format_quantity,
    parse_quantity,
    parse_unit,
)


@pytest.mark.parametrize(
    ("text", "value", "unit", "dimension"),
    [
        ("40 mg/day", Fraction(40), "mg/day", MASS_RATE),
        ("25 mcg/h", Fraction(25), "mcg/h", MASS_RATE),
        ("0.5 mg/mL", Fraction(1, 2), "mg/mL", CONCENTRATION),
        ("19.2 mcg/day", Fraction(96, 5), "mcg/day", MASS_RATE),
        ("0.048 mL/day", Fraction(6, 125), "mL/day", VOLUME_RATE),
        ("20 mL", Fraction(20), "mL", VOLUME),
        ("90 day", Fraction(90), "day", TIME),
        ("1/3 mg", Fraction(1, 3), "mg", MASS),
        ("15mg", Fraction(15), "mg", MASS),
        ("2 mg per day", Fraction(2), "mg/day", MASS_RATE),
        ("10 ml/h", Fraction(10), "mL/h", VOLUME_RATE),
        ("0.1 mcg/hr", Fraction(1, 10), "mcg/h", MASS_RATE),
        ("5 mg/24 h", Fraction(5), "mg/day", MASS_RATE),
    ],
)
def test_accepted_forms(text: str, value: Fraction, unit: str, dimension: object) -> None:
    quantity = parse_quantity(text)
    assert quantity.value == value
    assert str(quantity.unit) == unit
    assert quantity.dimension == dimension


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("15", "a number followed by a unit"),
        ("15 µg", "mcg (µg is easily misread as mg)"),
        ("15 ug", "mcg (ug is an error-prone abbreviation)"),
        ("2 cc", "mL (cc is an error-prone abbreviation)"),
        ("0.5 %", "0.5 % w/v = 5 mg/mL"),
        (".5 mg", "a leading zero"),
        ("1,5 mg", "no commas"),
        ("15 MG", "'mg', not 'MG' (units are case-sensitive)"),
        ("15 Mcg", "'mcg', not 'Mcg'"),
        ("10 mg/kg/day", "weight-based doses are not supported"),
        ("10 grains", "a known unit"),
        ("1e3 mg", "a known unit"),
        ("5 mg/mg", "a ratio of different kinds"),
        ("1.2.3 mg", "a plain decimal number"),
        ("2.5 µL", "2.5 µL = 0.0025 mL"),
    ],
)
def test_refusals_name_field_value_and_expectation(text: str, fragment: str) -> None:
    with pytest.raises(UnitsError) as caught:
        parse_quantity(text, field="dose")
    error = caught.value
    assert isinstance(error, OpenIDDSError)
    assert error.field == "dose"
    assert error.value == text
    assert fragment in error.expected
    assert str(error).startswith(f"dose={text!r}: expected ")


@pytest.mark.parametrize(
    ("text", "expect", "fragment"),
    [
        ("40 mg", MASS_RATE, "a dose needs its time base, e.g. '40 mg/day'"),
        ("25 mg", CONCENTRATION, "a concentration needs its volume"),
        ("0.5 mL", VOLUME_RATE, "a rate needs its time base"),
        ("40 mg/day", MASS, "a mass (e.g. mg, mcg), not a mass rate"),
        ("2 mg/mL", (MASS, MASS_RATE), "a mass (e.g. mg, mcg) or mass rate"),
    ],
)
def test_wrong_dimension_is_refused_with_what_was_expected(text: str, expect: object, fragment: str) -> None:
    with pytest.raises(UnitsError) as caught:
        parse_quantity(text, expect, field="rate")  # type: ignore[arg-type]
    assert caught.value.field == "rate"
    assert caught.value.value == text
    assert fragment in caught.value.expected


def test_mg_and_mcg_are_distinct_units_never_guessed() -> None:
    assert parse_quantity("1 mg") == parse_quantity("1000 mcg")
    assert parse_quantity("1 mg") != parse_quantity("1 mcg")
    assert parse_quantity("1 mg/mL") == parse_quantity("1000 mcg/mL")


def test_per_hour_and_per_day_are_distinct() -> None:
    assert parse_quantity("0.8 mcg/h") == parse_quantity("19.2 mcg/day")
    assert parse_quantity("1 mcg/h") != parse_quantity("1 mcg/day")


def test_parse_unit_refuses_empty_and_non_text() -> None:
    with pytest.raises(UnitsError):
        parse_unit("")
    with pytest.raises(UnitsError):
        parse_unit("mg/")
    with pytest.raises(UnitsError) as caught:
        parse_quantity(40, field="dose")  # type: ignore[arg-type]
    assert caught.value.field == "dose"


def test_exact_and_rounded_formatting() -> None:
    assert format_quantity(Quantity("2.40", "mg/day")) == "2.4 mg/day"
    assert format_quantity(Quantity(Fraction(1, 3), "mg")) == "1/3 mg"
    assert format_quantity(Quantity(Fraction(1, 3), "mg"), places=3) == "≈0.333 mg"
    assert format_quantity(Quantity("0.25", "mg"), places=3) == "0.25 mg"
    assert format_quantity(Quantity("-0.05", "mL"), places=1) == "≈-0.1 mL"
    assert format_quantity(Quantity("1", "mg"), unit="mcg") == "1000 mcg"
    assert format_quantity(Quantity("120", "mg/day"), places=2, unit="mg/h") == "5 mg/h"
