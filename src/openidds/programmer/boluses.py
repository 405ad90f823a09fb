"""Priming and bridge boluses, calculated from the catheter and pump-tubing volumes.

Priming (after implant or a catheter revision): the unprimed path (catheter + pump tubing) is filled
with the solution at the pump's maximum rate; the duration is computed, not edited (the label's mixing
warning applies). Bridge (after a concentration change): the old solution still fills the path, and the
bridge bolus pushes it out at the rate that gives the *new* daily dose at the *old* concentration, so the
patient gets the prescribed dose while the old solution clears; without it the patient would get the old
concentration at the new rate for as long as the path takes to clear. Both are derived here (the exact
SynchroMed programmer formula is not published in any accessible manual).
"""

import math
from dataclasses import dataclass
from fractions import Fraction

from openidds.programmer.conversion import plain_decimal
from openidds.programmer.errors import ProgrammerError
from openidds.programmer.history import fill_history
from openidds.pump import BolusKind, Catheter, Pump, PumpSpec, Solution, StartBolus, Therapy, max_daily_volume
from openidds.pump.ticks import SECONDS_PER_DAY, decimal_text, ticks_to_ml, volume_ticks

MIXING_WARNING = (
    "Label warning (SynchroMed II reference guide [V]): at "
    "priming-bolus rates the drug mixes with the fluid in the catheter and with CSF; the patient can receive "
    "drug before the bolus ends, then a period of reduced concentration follows: risk of overdose, underdose "
    "or withdrawal. Monitor the patient through the bolus and the hours after it.")

MAX_BOLUS_S = SECONDS_PER_DAY


@dataclass(frozen=True, slots=True)
class BolusPlan:
    """A computed bolus: volume (whole nL), duration, rate, whether the pump can give it, and why."""

    kind: BolusKind
    volume_ml: Fraction
    duration_s: int
    feasible: bool
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def rate_ml_per_day(self) -> Fraction:
        return self.volume_ml * SECONDS_PER_DAY / self.duration_s if self.duration_s else Fraction(0)

    def command(self) -> StartBolus:
        return StartBolus(self.kind, plain_decimal(self.volume_ml), self.duration_s)

    def to_dict(self) -> dict:
        return {"kind": self.kind.value, "volume_ml": plain_decimal(self.volume_ml), "duration_s": self.duration_s,
                "rate_ml_per_day": decimal_text(self.rate_ml_per_day, 6), "feasible": self.feasible,
                "reasons": list(self.reasons), "warnings": list(self.warnings)}


def path_ticks(spec: PumpSpec, catheter: Catheter) -> int:
    """Catheter plus pump tubing, in volume ticks."""
    return (volume_ticks("catheter.volume_ml", catheter.volume_ml)
            + volume_ticks("tubing_volume_ml", spec.model.tubing_volume_ml))


def priming_bolus(spec: PumpSpec, catheter: Catheter) -> BolusPlan:
    """The priming bolus for an unprimed ``catheter`` (after implant or revision) on this pump."""
    path = path_ticks(spec, catheter)
    duration = max(60, 60 * math.ceil(Fraction(path, spec.max_rate) / 60))
    reasons = (f"catheter {catheter.volume_ml} mL ({catheter.length_cm} cm) + pump tubing "
               f"{spec.model.tubing_volume_ml} mL = {plain_decimal(ticks_to_ml(path))} mL",
               f"at the pump's maximum rate {spec.model.max_rate_ml_per_day} mL/day, rounded up to whole minutes: "
               f"{duration // 60} min",
               f"{_tag(spec, 'tubing_volume_ml')}; {_tag(spec, 'max_rate_ml_per_day')}")
    return BolusPlan(BolusKind.PRIMING, ticks_to_ml(path), duration, True, reasons, (MIXING_WARNING,))


def bridge_bolus(spec: PumpSpec, catheter: Catheter, old: Solution, new: Solution, therapy: Therapy,
                 drug: str) -> BolusPlan:
    """The bridge bolus after changing from ``old`` to ``new`` with ``therapy`` programmed; ``drug`` is the
    drug whose dose the bridge keeps."""
    path = path_ticks(spec, catheter)
    volume = ticks_to_ml(path)
    old_ng, new_ng = dict(old.ng_per_ml).get(drug), dict(new.ng_per_ml).get(drug)
    daily = max_daily_volume(therapy.program, spec.clock_origin_s_of_week)
    if old_ng is None or new_ng is None or daily == 0:
        why = f"{drug} must be in both solutions and the new program must deliver it"
        return BolusPlan(BolusKind.BRIDGE, volume, 0, False, (why,), ())
    rate = Fraction(daily * new_ng, old_ng * SECONDS_PER_DAY)
    duration = 60 * math.ceil(path / rate / 60)
    ratio = Fraction(old_ng, new_ng)
    clear_s = math.ceil(path * SECONDS_PER_DAY / daily)
    reasons = [f"path {plain_decimal(volume)} mL holds the old solution ({old.describe()})",
               f"new daily {drug} dose at the old concentration: {decimal_text(rate / 10**6, 6)} "
               f"mL/day, so {plain_decimal(volume)} mL takes {duration // 60} min "
               "(rounded up: never above the new dose)"]
    warnings = [f"without a bridge the patient gets {float(ratio):g} x the new {drug} dose for "
                f"{clear_s / 3600:.1f} h while the old solution clears"]
    others = [d for d in new.drugs if d != drug and d in old.drugs
              and Fraction(dict(old.ng_per_ml)[d], old_ng) != Fraction(dict(new.ng_per_ml)[d], new_ng)]
    if others:
        warnings.append(f"the ratio of {', '.join(others)} to {drug} changes: the bridge keeps only the {drug} dose")
    feasible = duration <= MAX_BOLUS_S and spec.min_rate <= -(-path // duration) <= spec.max_rate
    if not feasible:
        reasons.append(f"not possible as one bolus on {spec.model.name}: {duration} s at "
                       f"{decimal_text(rate / 10**6, 6)} mL/day (a bolus lasts at most "
                       f"{MAX_BOLUS_S} s, at {spec.model.min_rate_ml_per_day} to "
                       f"{spec.model.max_rate_ml_per_day} mL/day)")
    return BolusPlan(BolusKind.BRIDGE, volume, duration, feasible, tuple(reasons), tuple(warnings))


def plan_bolus(pump: Pump, kind: BolusKind) -> BolusPlan:
    """The priming bolus for the pump's catheter, or the bridge bolus after its last refill (which must have
    changed the concentration of a programmed pump)."""
    if kind is BolusKind.PRIMING:
        return priming_bolus(pump.spec, pump.catheter)
    if kind is BolusKind.BRIDGE:
        fills, _ = fill_history(pump.log)
        if len(fills) < 2 or pump.therapy is None:
            raise ProgrammerError("kind", kind.value, "a bridge after a refill that changed the concentration of a "
                                  "programmed pump (this pump has no such refill: a priming bolus, perhaps?)")
        old, new = fills[-2].solution, fills[-1].solution
        return bridge_bolus(pump.spec, pump.catheter, old, new, pump.therapy, new.drugs[0])
    raise ProgrammerError("kind", kind.value, f"{BolusKind.PRIMING.value} or {BolusKind.BRIDGE.value}")


def _tag(spec: PumpSpec, name: str) -> str:
    return dict(spec.model.sources).get(name, f"{name}: no source recorded")
