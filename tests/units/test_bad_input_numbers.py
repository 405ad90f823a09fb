"""Numbers too large or too fine to be a quantity are refused before any arithmetic (no hang, no memory blow-up)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from openidds.units import UnitsError, exact, parse_quantity


@pytest.mark.parametrize("value", [Decimal("1e10000"), Decimal("1e100000000"), Decimal("1e-100000000"),
                                   Decimal("-1e31"), "9" * 100, "0." + "0" * 70 + "1", 10**61,
                                   Fraction(1, 10**61)])
def test_a_number_past_thirty_digits_is_refused(value: object) -> None:
    with pytest.raises(UnitsError, match="at most 30 digits"):
        exact(value, "volume_ml")


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_nan_and_infinity_are_refused(value: Decimal) -> None:
    with pytest.raises(UnitsError, match="a finite number"):
        exact(value)


def test_the_refusal_shows_a_long_value_shortened() -> None:
    with pytest.raises(UnitsError) as caught:
        exact("1" * 5000)
    assert "(5000 characters)" in str(caught.value) and len(str(caught.value)) < 200


@pytest.mark.parametrize("value", [Decimal("0E+100000"), Decimal("123456789012345678901234567890.5"), 2**70,
                                   "0.000001"])
def test_numbers_within_thirty_digits_are_read(value: object) -> None:
    assert exact(value) == Fraction(value)


def test_a_quantity_with_a_huge_number_is_refused() -> None:
    with pytest.raises(UnitsError, match="at most 30 digits"):
        parse_quantity("1" * 80 + " mg/day")


def test_a_large_value_is_rounded_without_a_decimal_context_error() -> None:
    from openidds.pump.ticks import decimal_text
    from openidds.units._number import format_rounded

    value = Fraction(10**29) + Fraction(1, 3)
    assert format_rounded(value, 2) == "≈" + "1" + "0" * 29 + ".33"
    assert decimal_text(Fraction(10**40, 7), 3).endswith(".571") and len(decimal_text(Fraction(10**40, 7), 3)) == 44
