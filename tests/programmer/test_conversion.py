"""Doses in drug units to pump volumes: exact, with the rounding to the 1 nL step reported (PROG-ROUND-1)."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openidds.programmer import ProgrammerError, convert
from openidds.units import Quantity


def test_golden_demo_start_dose():
    """Demo worked example: 300 mg/day OME at 100:1 is 3 mg/day; morphine 10 mg/mL gives 0.3 mL/day."""
    c = convert("dose", "morphine", Quantity("3", "mg/day"), Quantity("10", "mg/mL"), per_day=True)
    assert c.pump_ml == Fraction(3, 10) and not c.rounded
    assert c.delivered == Quantity("3", "mg/day")
    assert "(exact)" in c.describe()


def test_golden_ziconotide_minimum_flow():
    """pump.md section 1.1 [V]: the 0.048 mL/day minimum flow at 25 mcg/mL is 1.2 mcg/day."""
    c = convert("dose", "ziconotide", Quantity("1.2", "mcg/day"), Quantity("25", "mcg/mL"), per_day=True)
    assert c.pump_ml == Fraction(48, 1000) and not c.rounded


def test_rounding_is_reported_and_down():
    """PROG-ROUND-1: 3 mg/day at 7 mg/mL is 0.428571428... mL/day; the pump gets 0.428571 mL/day and the
    conversion says how much less it delivers."""
    c = convert("dose", "morphine", Quantity("3", "mg/day"), Quantity("7", "mg/mL"), per_day=True)
    assert c.rounded
    assert c.pump_text == "0.428571"
    assert c.delivered == Quantity("2.999997", "mg/day")
    text = c.describe()
    assert "rounded down to 0.428571 mL/day" in text and "less than entered" in text


@given(st.integers(1, 10**7), st.integers(1, 10**6))
def test_rounding_never_adds_drug(dose_mcg_per_day, conc_mcg_per_ml):
    """PROG-ROUND-1: the programmed volume is within 1 nL below the exact quotient, never above it."""
    c = convert("dose", "d", Quantity(dose_mcg_per_day, "mcg/day"), Quantity(conc_mcg_per_ml, "mcg/mL"), per_day=True)
    assert c.pump_ml <= c.exact_ml < c.pump_ml + Fraction(1, 10**6)
    assert c.delivered <= c.entered
    assert c.rounded == (c.exact_ml != c.pump_ml)


def test_below_resolution_refused():
    with pytest.raises(ProgrammerError, match="1 nL"):
        convert("dose", "morphine", Quantity("0.000001", "mg/day"), Quantity("25", "mg/mL"), per_day=True)
