"""Exact arithmetic: conversions within a dimension, refusals across dimensions."""

from decimal import Decimal
from fractions import Fraction

import pytest

from openidds.units import CONCENTRATION, MASS, MASS_RATE, VOLUME_RATE, Quantity, UnitsError, parse_unit


def test_values_are_exact_and_floats_are_refused() -> None:
    assert Quantity("0.1", "mg").value == Fraction(1, 10)
    assert Quantity(Decimal("0.1"), "mg").value == Fraction(1, 10)
    with pytest.raises(UnitsError) as caught:
        Quantity(0.1, "mg")  # type: ignore[arg-type]
    assert "not a float" in caught.value.expected
    with pytest.raises(UnitsError):
        Quantity(True, "mg")  # type: ignore[arg-type]
    with pytest.raises(UnitsError):
        Quantity(Decimal("NaN"), "mg")


def test_conversion_within_a_dimension_is_exact() -> None:
    assert Quantity("0.8", "mcg/h").to("mcg/day").value == Fraction(96, 5)
    assert Quantity(1, "g").magnitude("mcg") == 1_000_000
    assert Quantity(2, "L").magnitude("mL") == 2000
    assert Quantity(1, "week").magnitude("h") == 168
    third = Quantity(1, "mg/day").to("mcg/h")
    assert third.value == Fraction(125, 3)
    assert third.to("mg/day").value == 1


def test_conversion_across_dimensions_is_refused() -> None:
    with pytest.raises(UnitsError) as caught:
        Quantity(40, "mg").to("mg/day")
    assert caught.value.field == "to"
    assert "same dimension" in caught.value.expected


def test_addition_keeps_the_left_unit_and_refuses_mixed_dimensions() -> None:
    total = Quantity(1, "mg/day") + Quantity(500, "mcg/day")
    assert total.value == Fraction(3, 2) and str(total.unit) == "mg/day"
    assert (Quantity(1, "mg") - Quantity(1, "mg")).value == 0
    assert (-Quantity(1, "mg")).value == -1
    with pytest.raises(UnitsError):
        Quantity(1, "mg") + Quantity(1, "mg/day")
    with pytest.raises(UnitsError):
        Quantity(1, "mg") - Quantity(1, "mL")
    with pytest.raises(UnitsError):
        Quantity(1, "mg") + 1  # type: ignore[operator]


def test_products_and_quotients_give_the_right_dimension() -> None:
    volume_rate = Quantity(10, "mg/day") / Quantity(25, "mg/mL")
    assert isinstance(volume_rate, Quantity) and volume_rate.dimension == VOLUME_RATE
    assert volume_rate == Quantity("0.4", "mL/day")
    delivered = Quantity("0.4", "mL/day") * Quantity(10, "mcg/mL")
    assert isinstance(delivered, Quantity) and delivered.dimension == MASS_RATE
    assert delivered == Quantity(4, "mcg/day")
    mass = Quantity(2, "mg/h") * Quantity(1, "day")
    assert mass == Quantity(48, "mg") and mass.dimension == MASS
    concentration = Quantity(500, "mg") / Quantity(20, "mL")
    assert isinstance(concentration, Quantity) and concentration.dimension == CONCENTRATION
    assert Quantity(1, "mg") / Quantity(250, "mcg") == 4
    assert Quantity(3, "mg") * 2 == Quantity(6, "mg") == 2 * Quantity(3, "mg")
    assert Quantity(3, "mg") / 2 == Quantity("1.5", "mg")


def test_unsupported_products_and_zero_divisors_are_refused() -> None:
    with pytest.raises(UnitsError):
        Quantity(1, "mg") * Quantity(1, "mg")
    with pytest.raises(UnitsError):
        Quantity(1, "mg") / 0
    with pytest.raises(UnitsError) as caught:
        Quantity(1, "mg") / Quantity(0, "mL")
    assert caught.value.field == "divisor"


def test_comparison_is_by_amount_and_refused_across_dimensions() -> None:
    assert Quantity(999, "mcg") < Quantity(1, "mg") <= Quantity(1000, "mcg")
    assert Quantity(2, "mg") > Quantity(1999, "mcg") and Quantity(2, "mg") >= Quantity(2, "mg")
    assert Quantity(1, "mg") != Quantity(1, "mg/day")
    assert hash(Quantity(1, "mg")) == hash(Quantity(1000, "mcg"))
    with pytest.raises(UnitsError):
        _ = Quantity(1, "mg") < Quantity(1, "mg/day")
    with pytest.raises(UnitsError):
        _ = Quantity(1, "mg") < 2  # type: ignore[operator]


def test_repr_and_unit_factor() -> None:
    assert repr(Quantity("2.5", "mg/mL")) == "Quantity('2.5 mg/mL')"
    assert parse_unit("mg/day").factor == Fraction(1000, 1440)
