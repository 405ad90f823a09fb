"""Exact units: PUMP-CONSERVE-1 rests on integers, so every conversion is exact or refused."""

from decimal import Decimal
from fractions import Fraction

import pytest

from openidds.errors import OpenIDDSError
from openidds.pump.ticks import (
    MASS_TICKS_PER_MG,
    TICKS_PER_ML,
    decimal_text,
    mass_ticks,
    ng_per_ml,
    number_text,
    rate_ticks_per_s,
    volume_ticks,
)


def test_a_rate_in_nl_per_day_is_ticks_per_second():
    assert rate_ticks_per_s("rate", "0.048") == 48_000
    assert rate_ticks_per_s("rate", "0.048") * 86_400 == volume_ticks("v", "0.048")


@pytest.mark.parametrize("value", ["0.3", Decimal("0.3"), Fraction(3, 10), " 0.3 "])
def test_equal_numbers_in_any_exact_form_give_the_same_ticks(value):
    assert volume_ticks("volume_ml", value) == 3 * TICKS_PER_ML // 10


def test_values_finer_than_a_nanolitre_are_refused_not_rounded():
    with pytest.raises(OpenIDDSError) as error:
        volume_ticks("volume_ml", "0.0000001")
    assert error.value.field == "volume_ml" and "0.000001 mL" in error.value.expected


@pytest.mark.parametrize("bad", [
    "abc", "", float("nan"), True, None, "1e400x", ".5", "1e-1", 0.3, "1,5", Decimal("NaN")])
def test_non_numbers_are_refused_with_the_field_named(bad):
    """The pump reads numbers by the units package's rule: no naked decimal point, exponent, comma or float."""
    with pytest.raises(OpenIDDSError, match="rate"):
        rate_ticks_per_s("rate", bad)


def test_a_number_is_logged_as_its_exact_decimal_whatever_form_it_came_in():
    assert [number_text(v) for v in ("0.50", Decimal("0.5"), Fraction(1, 2), "+0.5")] == ["0.5"] * 4


def test_limits_are_checked_and_named():
    with pytest.raises(OpenIDDSError, match="between 0 and 2"):
        volume_ticks("dose_ml", "2.5", hi=2)
    with pytest.raises(OpenIDDSError, match="above 0 mg/mL"):
        ng_per_ml("conc", 0)


def test_mass_and_concentration_units():
    assert ng_per_ml("c", "25") == 25_000_000
    assert volume_ticks("v", 1) * ng_per_ml("c", 1) == MASS_TICKS_PER_MG
    assert mass_ticks("m", "19.2") == 192 * MASS_TICKS_PER_MG // 10


def test_decimal_text_rounds_half_even_for_display_only():
    assert decimal_text(Fraction(1, 3), 3) == "0.333"
    assert decimal_text(Fraction(5, 2000), 2) == "0.00"
