"""Refill-date arithmetic against the worked rules of the sources (pump.md sections 1.3, 3.2 and 6)."""

from fractions import Fraction

from openidds.drugs import Status
from openidds.programmer import SourcedFigure, Stability, forecast, plan_fill
from openidds.pump import Continuous, PatientBolus, PumpSpec, Stopped, Therapy

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
