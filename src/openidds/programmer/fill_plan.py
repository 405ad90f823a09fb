"""How much to put in at a refill: enough to reach a target date, never more than the reservoir holds.

The plan fills to capacity (capacity minus the non-retrievable residual) unless a target interval is
given; then it proposes the smallest volume, rounded up to a 0.1 mL syringe step, whose worst-case volume
date (:mod:`openidds.programmer.forecast`) is not before the target, capped at capacity. It says when
the stability date comes first (drug put in beyond it would be discarded).
"""

from dataclasses import dataclass
from fractions import Fraction

from openidds.programmer.conversion import plain_decimal
from openidds.programmer.errors import ProgrammerError
from openidds.programmer.forecast import RefillForecast, Stability, forecast
from openidds.programmer.policy import SourcedFigure
from openidds.pump import PumpSpec, Therapy
from openidds.pump.ticks import SECONDS_PER_DAY, TICKS_PER_ML

STEP_ML = Fraction(1, 10)


@dataclass(frozen=True, slots=True)
class FillPlan:
    """The proposed fill volume, its forecast, and why."""

    volume_ml: Fraction
    room_ml: Fraction
    forecast: RefillForecast
    target_s: int | None
    reasons: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"volume_ml": plain_decimal(self.volume_ml), "room_ml": plain_decimal(self.room_ml),
                "target_s": self.target_s, "reasons": list(self.reasons), "forecast": self.forecast.to_dict()}


def plan_fill(spec: PumpSpec, therapy: Therapy | None, at_s: int, *, stability: Stability, accuracy: SourcedFigure,
              target_days: int | None = None, volume_ml: Fraction | None = None) -> FillPlan:
    """The fill for a refill at ``at_s`` with ``therapy`` running afterwards; with ``volume_ml``, the
    forecast of that volume (refused above the reservoir's room)."""
    room = spec.capacity_ticks - spec.residual_ticks
    room_ml = Fraction(room, TICKS_PER_ML)

    def outlook(volume_ml: Fraction) -> RefillForecast:
        return forecast(spec, therapy, spec.residual_ticks + int(volume_ml * TICKS_PER_ML), at_s,
                        stability=stability, accuracy=accuracy)

    if volume_ml is not None:
        if target_days is not None:
            raise ProgrammerError("volume_ml/target_days", (plain_decimal(volume_ml), target_days), "one of the two")
        if not 0 < volume_ml <= room_ml:
            raise ProgrammerError("volume_ml", plain_decimal(volume_ml), f"a volume above 0 and at most "
                                  f"{plain_decimal(room_ml)} mL: a {spec.reservoir_ml} mL reservoir keeps "
                                  f"{spec.model.residual_ml} mL")
        entered = outlook(volume_ml)
        days = "" if entered.due_s is None else f"; lasts {(entered.due_s - at_s) / SECONDS_PER_DAY:.1f} days"
        return FillPlan(volume_ml, room_ml, entered, None, (f"{plain_decimal(volume_ml)} mL as entered{days}",))

    if target_days is None:
        full = outlook(room_ml)
        why = (f"fill to capacity: {plain_decimal(room_ml)} mL ({spec.reservoir_ml} mL less the "
               f"{spec.model.residual_ml} mL residual)")
        return FillPlan(room_ml, room_ml, full, None, (why,))
    if isinstance(target_days, bool) or not isinstance(target_days, int) or not 1 <= target_days <= 3660:
        raise ProgrammerError("target_days", target_days, "whole days from 1 to 3660")
    target = at_s + target_days * SECONDS_PER_DAY
    reasons = []
    if stability.due_s is not None and stability.due_s < target:
        reasons.append(f"the stability date comes {(target - stability.due_s) / SECONDS_PER_DAY:g} days before the "
                       "target: the volume is planned to the stability date")
        target = stability.due_s
    steps = int(room_ml / STEP_ML)
    lo, hi = 1, steps
    if _reaches(outlook(hi * STEP_ML), target):
        while lo < hi:
            mid = (lo + hi) // 2
            if _reaches(outlook(mid * STEP_ML), target):
                hi = mid
            else:
                lo = mid + 1
        volume = lo * STEP_ML
        reasons.append(f"{plain_decimal(volume)} mL (0.1 mL steps) lasts to the target under the worst case")
    else:
        volume = room_ml
        reasons.append(f"even a full reservoir ({plain_decimal(room_ml)} mL) does not last to the target")
    return FillPlan(volume, room_ml, outlook(volume), target, tuple(reasons))


def _reaches(outlook: RefillForecast, target: int) -> bool:
    return outlook.volume_due_s is None or outlook.volume_due_s >= target



