"""Fixtures for the pump tests."""

import pytest
from tests.pump.builders import filled_pump

from openidds.pump import PatientBolus, Pump


@pytest.fixture
def pump() -> Pump:
    """Morphine 10 mg/mL, 18 mL, 0.3 mL/day, limit 8 mg/24 h, boluses of 0.03 mL (lockout 2 h, 4 a day)."""
    return filled_pump(bolus=PatientBolus("0.03", 600, 7200, 4))
