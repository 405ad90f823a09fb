"""Property-based tests of the units package."""

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from openidds.units import Quantity, format_quantity, parse_quantity, parse_unit

UNITS = ["mg", "mcg", "g", "mL", "L", "min", "h", "day", "week", "mg/mL", "mcg/mL", "mg/day", "mcg/h",
         "mcg/day", "mg/h", "mL/day", "mL/h", "mL/min", "L/day"]
values = st.fractions(max_denominator=10**6).filter(lambda f: abs(f) < 10**9)
units = st.sampled_from(UNITS)


@given(values, units)
def test_parse_of_format_is_identity(value: Fraction, unit: str) -> None:
    quantity = Quantity(value, unit)
    back = parse_quantity(format_quantity(quantity))
    assert back == quantity
    assert back.value == quantity.value and back.unit == quantity.unit


@given(values, units, units)
def test_conversion_round_trip_is_exact(value: Fraction, unit: str, other: str) -> None:
    quantity = Quantity(value, unit)
    if parse_unit(other).dimension == quantity.dimension:
        assert quantity.to(other).to(unit).value == value
        assert quantity.to(other) == quantity


@given(values, values, units)
def test_addition_is_exact_and_invertible(a: Fraction, b: Fraction, unit: str) -> None:
    qa, qb = Quantity(a, unit), Quantity(b, unit)
    assert (qa + qb) - qb == qa
    assert qa + qb == qb + qa


@given(values, st.integers(min_value=0, max_value=6))
def test_rounded_format_marks_inexact_values(value: Fraction, places: int) -> None:
    text = format_quantity(Quantity(value, "mg"), places=places)
    number = text.removesuffix(" mg")
    shown = Fraction(number.removeprefix("≈"))
    assert abs(shown - value) <= Fraction(1, 2 * 10**places)
    assert number.startswith("≈") == (shown != value)


def test_rounding_is_done_once_on_the_exact_value() -> None:
    """185.4950… is 185 to whole milligrams: a division to a few digits first would give 185.50, then 186."""
    assert format_quantity(Quantity(Fraction(486739, 2624), "mg"), places=0) == "≈185 mg"
    assert format_quantity(Quantity(Fraction(96797, 934), "mg"), places=5) == "≈103.63704 mg"
