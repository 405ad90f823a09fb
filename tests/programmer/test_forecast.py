"""Refill-date arithmetic against the worked rules of the sources (pump.md sections 1.3, 3.2 and 6)."""

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openidds.drugs import Status
from openidds.programmer import SourcedFigure, Stability, drawn_down_s, forecast, plan_fill
from openidds.programmer.forecast import HORIZON_DAYS, _first_reach
from openidds.pump import (
    Continuous,
    Flex,
    FlexStep,
    PatientBolus,
    Periodic,
    Pump,
    PumpSpec,
    SetTherapy,
    Stopped,
    Therapy,
)
from openidds.pump.alarms import AlarmKind
from openidds.pump.programs import program_volume
from openidds.pump.ticks import TICKS_PER_ML

DAY = 86_400
NONE = Stability(None, (), False)
EXACT = SourcedFigure(Fraction(0), Status.VERIFIED, "test: no margin")


def ticks(ml: str) -> int:
    return int(Fraction(ml) * 10**6 * DAY)


def test_golden_aneskey_monthly_refill():
    """pump.md section 3.2 (aneskey [V]): a 20 mL pump at 0.5 mL/day is refilled about monthly. Full
    (20 mL with the residual) down to a 2 mL threshold at exactly 0.5 mL/day: the alarm sounds on day 36."""
    fc = forecast(PumpSpec(), Therapy(Continuous("0.5"), {"morphine": "20"}), ticks("20"), 0, stability=NONE,
                  accuracy=EXACT)
    assert fc.alarm_s == 36 * DAY and fc.volume_due_s == 36 * DAY


def test_golden_prometra_rule_every_bolus_counted():
    """REFILL-DATE-1, pump.md section 1.3 (Prometra PTC [V]): the refill date is when the reservoir reaches
    3.0 mL if every allotted bolus is used. 20 mL, 0.5 mL/day and 4 x 0.05 mL a day: after 24 whole days
    17 - 16.8 = 0.2 mL is left above 3 mL; day 25's boluses, counted at its start, use it up at once."""
    spec = PumpSpec(low_reservoir_ml=3)
    therapy = Therapy(Continuous("0.5"), {"morphine": "20"}, PatientBolus("0.05", 600, 3600, 4))
    fc = forecast(spec, therapy, ticks("20"), 0, stability=NONE, accuracy=EXACT)
    assert fc.volume_due_s == 24 * DAY + 1
    assert fc.worst_ml_per_day == Fraction(7, 10)


def test_accuracy_margin_brings_date_forward():
    """The 14.5 % [R] margin: 18 mL usable at 0.5 x 1.145 mL/day lasts 31.44 days."""
    margin = SourcedFigure(Fraction("14.5"), Status.UNVERIFIED, "test")
    fc = forecast(PumpSpec(), Therapy(Continuous("0.5"), {"morphine": "20"}), ticks("20"), 0, stability=NONE,
                  accuracy=margin)
    expected = Fraction(18) / (Fraction(1, 2) * Fraction("1.145")) * DAY
    assert fc.volume_due_s == -(-expected.numerator // expected.denominator)
    assert fc.relies_on_unverified


def test_due_is_earlier_of_volume_and_stability():
    stab = Stability(10 * DAY, ("test: 10 days",), False)
    fc = forecast(PumpSpec(), Therapy(Continuous("0.5"), {"morphine": "20"}), ticks("20"), 0, stability=stab,
                  accuracy=EXACT)
    assert fc.due_s == 10 * DAY and fc.limited_by == "stability"
    stopped = forecast(PumpSpec(), Therapy(Stopped(), {"morphine": "20"}), ticks("20"), 0, stability=NONE,
                       accuracy=EXACT)
    assert stopped.volume_due_s is None and stopped.due_s is None


def test_fill_plan_for_target():
    """A 30-day target at 0.5 mL/day needs 15 mL above the 2 mL threshold, less the 1.4 mL residual: 15.6 mL."""
    plan = plan_fill(PumpSpec(), Therapy(Continuous("0.5"), {"morphine": "20"}), 0, stability=NONE, accuracy=EXACT,
                     target_days=30)
    assert plan.volume_ml == Fraction("15.6")
    assert plan.forecast.volume_due_s == 30 * DAY
    short = plan_fill(PumpSpec(), Therapy(Continuous("0.5"), {"morphine": "20"}), 0,
                      stability=Stability(20 * DAY, ("x",), False), accuracy=EXACT, target_days=30)
    assert short.volume_ml == Fraction("10.6") and "stability date" in short.reasons[0]


def _first_reach_by_days(program, start_s: int, available: int, factor: Fraction, bolus_ticks: int) -> int | None:
    """The refill date as its definition reads: day after day, then second by second (bisection) within the
    day, in exact fractions; the reference the forecast's integer stepping must equal."""
    def used(day: int, seconds: int) -> int:
        basal = program_volume(program, start_s, start_s + day * DAY + seconds, 0)
        return math.ceil(basal * factor) + bolus_ticks * (day + (1 if seconds else 0))

    if available <= 0:
        return start_s
    for day in range(HORIZON_DAYS):
        if used(day, DAY) >= available:
            lo, hi = 0, DAY
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if used(day, mid) >= available else (mid, hi)
            return start_s + day * DAY + hi
    return None


programs = st.one_of(
    st.integers(0, 5000).map(lambda n: Continuous(Fraction(n, 1000))),
    st.lists(st.tuples(st.integers(0, 23), st.integers(0, 3000), st.sampled_from([(), ("mon",), ("sat", "sun")])),
             min_size=1, max_size=4, unique_by=lambda step: step[0])
    .map(lambda steps: Flex(tuple(FlexStep(f"{h:02d}:00", Fraction(r, 1000), d) for h, r, d in steps))),
    st.tuples(st.integers(1, 200), st.integers(1, 24)).map(
        lambda p: Periodic(Fraction(p[0], 1000), 600, p[1] * 3600)),
)


@settings(max_examples=150, deadline=None)
@given(program=programs, start_s=st.integers(0, 14 * DAY), available=st.integers(-5, 40 * TICKS_PER_ML),
       accuracy=st.integers(-50, 300), bolus_ticks=st.sampled_from([0, 1, TICKS_PER_ML // 10]))
def test_the_refill_date_equals_its_day_by_day_definition(program, start_s, available, accuracy, bolus_ticks):
    factor = 1 + Fraction(accuracy, 20) / 100
    assert _first_reach(program, 0, start_s, available, factor, bolus_ticks) == \
        _first_reach_by_days(program, start_s, available, factor, bolus_ticks)


@settings(max_examples=400, deadline=None)
@given(rate=st.integers(0, 5000), start_s=st.integers(0, 14 * DAY), available=st.integers(-5, 40 * TICKS_PER_ML),
       accuracy=st.integers(-50, 300), bolus_ticks=st.one_of(st.sampled_from([0, 1]), st.integers(0, TICKS_PER_ML)))
def test_a_continuous_programs_refill_date_is_solved_as_the_definition_reads(rate, start_s, available, accuracy,
                                                                             bolus_ticks):
    program = Continuous(Fraction(rate, 1000))
    factor = 1 + Fraction(accuracy, 20) / 100
    assert _first_reach(program, 0, start_s, available, factor, bolus_ticks) == \
        _first_reach_by_days(program, start_s, available, factor, bolus_ticks)


@pytest.mark.parametrize("steps", [None, (FlexStep("00:00", "0.2"), FlexStep("08:00", "0.5", ("sat", "sun")),
                                          FlexStep("20:00", "0.2", ("sat", "sun")))])
def test_a_pump_left_alone_alarms_and_runs_empty_when_drawn_down_s_says(programmed: Pump, steps) -> None:
    """The live pump, left alone on its program from day 2, raises its low-reservoir alarm and stops empty at the
    seconds the programmer's one model of "when it runs down" gives (the cohorts' time to empty asks it too)."""
    at_s = 2 * DAY
    if steps is not None:
        therapy = programmed.therapy
        assert therapy is not None
        programmed.execute(at_s, SetTherapy(Therapy(Flex(steps), therapy.max_mg_per_24h)))
    programmed.advance(at_s)
    program, spec = programmed.therapy.program, programmed.spec
    estimate = programmed.reservoir_estimated_ticks
    low_s = drawn_down_s(program, spec.clock_origin_s_of_week, at_s, estimate - spec.low_reservoir_ticks)
    empty_s = drawn_down_s(program, spec.clock_origin_s_of_week, at_s, estimate - spec.residual_ticks)
    assert low_s is not None and empty_s is not None and at_s < low_s < empty_s
    programmed.advance(empty_s + DAY)
    raised = {a.kind: a.at_s for a in programmed.alarms}
    assert (raised[AlarmKind.LOW_RESERVOIR], raised[AlarmKind.EMPTY_RESERVOIR]) == (low_s, empty_s)
