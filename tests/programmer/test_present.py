"""What the programmer reads off a pump as it is (present doses, forecast, kept bolus), and the clinician's
priming and bridge boluses sent through a session."""

from fractions import Fraction

import pytest

from openidds.drugs import default_library
from openidds.programmer import (
    Discrepancy,
    Policy,
    ProgrammerError,
    ProgrammingSession,
    SessionRefused,
    State,
    plan_bolus,
    present_bolus_order,
    present_doses,
    present_forecast,
)
from openidds.pump import BolusKind, Catheter, Pump, PumpSpec, ReviseCatheter
from openidds.units import Quantity

from .conftest import DAY, fill, program, start_order


def test_present_forecast_is_the_sessions_own(programmed):
    """One forecast of the present fill: what `program show` prints is what a session reviews as 'before'."""
    at_s = 5 * DAY
    shown = present_forecast(programmed, at_s, Policy(), default_library())
    review = ProgrammingSession(programmed, at_s, "Dr B").edit(start_order("3.3 mg/day"))
    assert shown == review.old_forecast
    assert shown.due_s is not None and shown.stability.due_s is not None


def test_present_doses_and_the_kept_bolus_in_drug_units(programmed):
    ((drug, figures),) = present_doses(programmed, default_library())
    assert drug == "morphine" and figures.daily == Quantity(3, "mg/day") and figures.bolus == Quantity(
        Fraction(3, 10), "mg")
    kept = present_bolus_order(programmed, "morphine", default_library())
    assert kept is not None and kept.amount == Quantity(Fraction(3, 10), "mg")
    assert (kept.duration_s, kept.lockout_s, kept.max_per_24h) == (600, 7200, 4)
    empty = Pump(PumpSpec())
    assert present_doses(empty, default_library()) == ()
    assert present_bolus_order(empty, "morphine", default_library()) is None


def test_bolus_plans_by_kind(programmed):
    priming = plan_bolus(programmed, BolusKind.PRIMING)
    assert priming.kind is BolusKind.PRIMING and priming.feasible
    with pytest.raises(ProgrammerError, match="priming bolus, perhaps"):
        plan_bolus(programmed, BolusKind.BRIDGE)
    with pytest.raises(ProgrammerError, match="priming or bridge"):
        plan_bolus(programmed, BolusKind.PATIENT)


def test_a_priming_bolus_is_sent_and_logged_by_the_session(programmed):
    programmed.execute(2 * DAY, ReviseCatheter(Catheter(60, "0.2", "T8")))
    session = ProgrammingSession(programmed, 2 * DAY + 600, "Dr B")
    plan = plan_bolus(programmed, BolusKind.PRIMING)
    session.transmit_bolus(plan)
    assert session.state is State.TRANSMITTED and session.sent == plan.command()
    assert [e.kind for e in session.log] == ["opened", "transmitted"]
    assert any(e.kind == "bolus_started" and e.t_s == 2 * DAY + 600 for e in programmed.log)
    with pytest.raises(ProgrammerError, match="session"):
        session.transmit_bolus(plan)


def test_an_infeasible_bolus_is_refused_and_logged():
    pump = Pump(PumpSpec())
    fill(pump)
    program(pump, 3600, start_order())
    session = ProgrammingSession(pump, 2 * DAY, "Dr B")
    plan = plan_bolus(pump, BolusKind.PRIMING)
    infeasible = type(plan)(plan.kind, plan.volume_ml, 0, False, ("too slow for one bolus",), ())
    with pytest.raises(SessionRefused, match="too slow for one bolus"):
        session.transmit_bolus(infeasible)
    assert session.log[-1].kind == "refused" and session.sent is None


@pytest.mark.parametrize(("withdrawn", "words"), [
    ("9", ("under-delivery", "catheter")),
    ("1", ("over-delivery", "leak")),
    ("5.5", None),
])
def test_a_flagged_discrepancy_says_what_it_suggests(withdrawn, words):
    item = Discrepancy(0, Fraction(5), Fraction(withdrawn), Fraction(10), Fraction(1), "floor")
    if words is None:
        assert item.suggests is None and "within" in item.describe()
    else:
        assert all(w in item.suggests for w in words) and item.suggests in item.describe()
        assert item.to_dict()["suggests"] == item.suggests
