"""Priming and bridge boluses from the catheter and tubing volumes, run on a real pump."""

from fractions import Fraction

from openidds.programmer import MIXING_WARNING, bridge_bolus, priming_bolus
from openidds.pump import (
    BolusKind,
    Catheter,
    Continuous,
    Pump,
    PumpSpec,
    Refill,
    ReviseCatheter,
    SetTherapy,
    Solution,
    Therapy,
)

DAY = 86_400


def test_golden_priming_demo():
    """BOLUS-PRIME-1: the pump demo's priming bolus: catheter 0.16 mL + tubing 0.25 mL = 0.41 mL, at the
    24 mL/day maximum in 25 whole minutes; the label's mixing warning is attached."""
    spec = PumpSpec()
    plan = priming_bolus(spec, spec.catheter)
    assert plan.volume_ml == Fraction(41, 100) and plan.duration_s == 25 * 60
    assert plan.kind is BolusKind.PRIMING and plan.warnings == (MIXING_WARNING,)
    assert plan.rate_ml_per_day <= 24


def test_priming_fills_the_path_on_a_pump():
    """BOLUS-PRIME-1: after a catheter revision nothing reaches the CSF during priming; right after it the
    basal program delivers drug to the CSF."""
    pump = Pump(PumpSpec())
    pump.execute(0, Refill(Solution.of({"morphine": "10"}), "18.6"))
    new = Catheter(length_cm=60, volume_ml="0.12", tip_level="T8")
    pump.execute(60, ReviseCatheter(new))
    plan = priming_bolus(pump.spec, pump.catheter)
    assert plan.volume_ml == Fraction(37, 100)
    pump.execute(120, plan.command())
    pump.advance(120 + plan.duration_s)
    assert pump.drug_locations()["csf"] == {}
    pump.execute(120 + plan.duration_s, SetTherapy(Therapy(Continuous("0.3"), {"morphine": "5"})))
    pump.advance(120 + plan.duration_s + 3600)
    assert pump.drug_locations()["csf"]["morphine"] > 0


def test_bridge_keeps_new_dose_on_a_pump():
    """BOLUS-BRIDGE-1: from 1 mg/mL at 3 mg/day to 10 mg/mL at 3 mg/day. The bridge pushes exactly the
    path's old solution into the CSF, never faster than the new daily dose."""
    pump = Pump(PumpSpec())
    old, new = Solution.of({"morphine": "1"}), Solution.of({"morphine": "10"})
    pump.execute(0, Refill(old, "18.6"))
    pump.execute(60, priming_bolus(pump.spec, pump.catheter).command())
    pump.execute(3600, SetTherapy(Therapy(Continuous("3"), {"morphine": "10"})))
    therapy = Therapy(Continuous("0.3"), {"morphine": "10"})
    pump.execute(DAY, Refill(new, "18", therapy=therapy))
    plan = bridge_bolus(pump.spec, pump.catheter, old, new, therapy, "morphine")
    assert plan.feasible and plan.volume_ml == Fraction(41, 100)
    assert plan.duration_s == 60 * 197  # 0.41 mL at 3 mL/day is 196.8 min, rounded up
    path_mass = pump.drug_locations()["path"]["morphine"]
    csf_before = pump.drug_locations()["csf"]["morphine"]
    pump.execute(DAY, plan.command())
    pump.advance(DAY + plan.duration_s)
    gained = pump.drug_locations()["csf"]["morphine"] - csf_before
    assert gained == path_mass
    mg_per_day = Fraction(gained, 86_400 * 10**12) * DAY / plan.duration_s
    assert mg_per_day <= 3
    assert "2.5" not in plan.warnings[0] and "0.1 x the new morphine dose" in plan.warnings[0]


def test_bridge_too_long_is_reported_not_clamped():
    """BOLUS-BRIDGE-1: a bridge longer than the pump's longest bolus is reported infeasible with the
    reason, and the warning says what the patient gets without it."""
    spec = PumpSpec()
    plan = bridge_bolus(spec, spec.catheter, Solution.of({"morphine": "10"}), Solution.of({"morphine": "25"}),
                        Therapy(Continuous("0.12"), {"morphine": "10"}), "morphine")
    assert not plan.feasible and plan.duration_s == 118_080
    assert "not possible as one bolus" in plan.reasons[-1]
    assert "0.4 x the new morphine dose" in plan.warnings[0]
