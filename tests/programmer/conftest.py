"""Shared set-ups for the programmer tests: a real pump, filled and programmed through a session."""

import pytest

from openidds.programmer import BolusOrder, ContinuousDose, ProgrammingSession, TherapyOrder, priming_bolus
from openidds.pump import Pump, PumpSpec, Refill, Solution

DAY = 86_400


def fill(pump: Pump, at_s: int = 0, mg_per_ml: str = "10", volume_ml: str = "18.6") -> None:
    """Implant fill and priming bolus, as in the pump demo."""
    pump.execute(at_s, Refill(Solution.of({"morphine": mg_per_ml}), volume_ml))
    pump.execute(at_s + 60, priming_bolus(pump.spec, pump.catheter).command())


def start_order(dose: str = "3 mg/day", bolus: str | None = "0.3 mg") -> TherapyOrder:
    patient = None if bolus is None else BolusOrder(bolus, 600, 7200, 4)
    return TherapyOrder("morphine", ContinuousDose(dose), patient)


def program(pump: Pump, at_s: int, order: TherapyOrder, who: str = "Dr B") -> ProgrammingSession:
    """A whole session: edit, confirm every soft finding, confirm, transmit."""
    session = ProgrammingSession(pump, at_s, "RN A")
    review = session.edit(order)
    for finding in review.soft:
        session.override(finding.id, who, "test: reviewed")
    session.confirm(who)
    session.transmit()
    return session


@pytest.fixture
def programmed() -> Pump:
    """A 20 mL pump with morphine 10 mg/mL at 3 mg/day and 4 boluses of 0.3 mg a day (demo day 1)."""
    pump = Pump(PumpSpec())
    fill(pump)
    program(pump, 3600, start_order())
    return pump
