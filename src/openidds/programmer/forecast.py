"""When the next refill is due: the earlier of the volume date and the drug-stability date.

Volume date (worst case, after the Prometra PTC rule that assumes every allotted bolus is used): the first
second at which the reservoir would reach the low-reservoir threshold if the basal program ran
``accuracy`` % faster than programmed and the patient took every allowed bolus, all of each day's boluses
counted at the start of that day. Bolus delivery replaces basal delivery in the pump, so adding both is an
upper bound on what leaves the reservoir. Stability date: the fill time plus the shortest stability of the
drugs in the reservoir (first-fill and undiluted terms where the library gives them). Alarm date: when
the pump's own low-reservoir alarm sounds at the programmed basal rate with no boluses.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

from openidds.drugs import DrugLibrary, DrugsError
from openidds.programmer.conversion import plain_decimal
from openidds.programmer.orders import concentration
from openidds.programmer.policy import SourcedFigure
from openidds.pump import Continuous, PumpSpec, Solution, Stopped, Therapy, program_volume
from openidds.pump.programs import Program
from openidds.pump.ticks import SECONDS_PER_DAY as DAY
from openidds.pump.ticks import decimal_text, ticks_to_ml

HORIZON_DAYS = 3660


@dataclass(frozen=True, slots=True)
class Stability:
    """The stability date of a fill, how it was found, and the drug whose stability ends first."""

    due_s: int | None
    reasons: tuple[str, ...]
    unverified: bool
    drug: str | None = None


@dataclass(frozen=True, slots=True)
class RefillForecast:
    """Times are seconds on the pump clock; None when never reached within ten years (or unknown)."""

    at_s: int
    reservoir_ml: Fraction
    low_reservoir_ml: Fraction
    accuracy: SourcedFigure
    volume_due_s: int | None
    stability: Stability
    alarm_s: int | None
    worst_ml_per_day: Fraction

    @property
    def due_s(self) -> int | None:
        dates = [d for d in (self.volume_due_s, self.stability.due_s) if d is not None]
        return min(dates) if dates else None

    @property
    def limited_by(self) -> str | None:
        if self.due_s is None:
            return None
        return "volume" if self.due_s == self.volume_due_s else "stability"

    @property
    def relies_on_unverified(self) -> bool:
        return not self.accuracy.verified or self.stability.unverified

    def to_dict(self) -> dict:
        return {"at_s": self.at_s, "reservoir_ml": decimal_text(self.reservoir_ml, 6),
                "low_reservoir_ml": decimal_text(self.low_reservoir_ml, 6),
                "accuracy_percent": plain_decimal(self.accuracy.value), "accuracy_source": self.accuracy.tag,
                "worst_case_ml_per_day": decimal_text(self.worst_ml_per_day, 6),
                "volume_due_s": self.volume_due_s, "stability_due_s": self.stability.due_s,
                "due_s": self.due_s, "limited_by": self.limited_by, "alarm_s": self.alarm_s,
                "stability_reasons": list(self.stability.reasons),
                "relies_on_unverified": self.relies_on_unverified}


def forecast(spec: PumpSpec, therapy: Therapy | None, reservoir_ticks: int, at_s: int, *,
             stability: Stability, accuracy: SourcedFigure) -> RefillForecast:
    """The refill forecast for ``therapy`` from ``reservoir_ticks`` (the pump's estimate) at ``at_s``."""
    program: Program = Stopped() if therapy is None else therapy.program
    bolus = None if therapy is None else therapy.patient_bolus
    bolus_ticks = 0 if bolus is None else bolus.dose_ticks * bolus.max_per_24h
    origin = spec.clock_origin_s_of_week
    available = reservoir_ticks - spec.low_reservoir_ticks
    factor = 1 + accuracy.value / 100
    volume_due = _first_reach(program, origin, at_s, available, factor, bolus_ticks)
    alarm = drawn_down_s(program, origin, at_s, available)
    first_day = program_volume(program, at_s, at_s + DAY, origin)
    worst = ticks_to_ml(math.ceil(first_day * factor) + bolus_ticks)
    return RefillForecast(at_s, ticks_to_ml(reservoir_ticks), ticks_to_ml(spec.low_reservoir_ticks), accuracy,
                          volume_due, stability, alarm, worst)


def drawn_down_s(program: Program, origin_s_of_week: int, at_s: int, volume_ticks: int) -> int | None:
    """The second at which ``program`` alone, run from ``at_s`` with no bolus, has drawn ``volume_ticks`` from the
    reservoir (``at_s`` when that is nothing): when a pump left alone on it brings its estimate down to a level that
    far below (its low-reservoir alarm, or empty at the residual, where the pump stops to the same second); None
    when not within ten years."""
    return _first_reach(program, origin_s_of_week, at_s, volume_ticks, Fraction(1), 0)


def _first_reach(program: Program, origin: int, start_s: int, available: int, factor: Fraction,
                 bolus_ticks_per_day: int) -> int | None:
    """The first time at which worst-case use since ``start_s`` reaches ``available`` ticks.

    Worst-case use ``s`` seconds into day ``d`` (counted from ``start_s``) is ``ceil(basal * factor)`` plus the
    boluses of days ``0..d`` (none of day ``d`` at ``s = 0``), where ``basal`` is what the program delivers
    meanwhile. It never falls as time goes on, so the first whole week, then day, then second at which it
    reaches ``available`` is found by stepping (solved outright for a continuous program). All in integer ticks
    (``factor`` as numerator/denominator)."""
    if available <= 0:
        return start_s
    num, den = factor.numerator, factor.denominator
    if type(program) is Continuous and num > 0:
        return _first_reach_continuous(program.rates()[0], start_s, available, num, den, bolus_ticks_per_day)

    def reaches(basal: int, bolus_days: int) -> bool:
        return -(-basal * num // den) + bolus_ticks_per_day * bolus_days >= available

    day, basal = 0, 0
    for step in (7, 1):
        while day < HORIZON_DAYS:
            days = min(step, HORIZON_DAYS - day)
            volume = program_volume(program, start_s + day * DAY, start_s + (day + days) * DAY, origin)
            if reaches(basal + volume, day + days):
                break
            day, basal = day + days, basal + volume
        else:
            return None
    day_start = start_s + day * DAY
    lo, hi = 0, DAY  # use at lo = 0 is the previous day's full count, below ``available``
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reaches(basal + program_volume(program, day_start, day_start + mid, origin), day + 1):
            hi = mid
        else:
            lo = mid
    return day_start + hi


def _first_reach_continuous(rate: int, start_s: int, available: int, num: int, den: int,
                            bolus_ticks_per_day: int) -> int | None:
    """:func:`_first_reach` for one constant ``rate`` (ticks per second), solved rather than stepped: use by the
    end of whole day ``k`` is ``ceil(rate * DAY * k * num / den) + bolus * k``, which reaches ``available`` first
    at ``k = (available - 1) * den // (rate * DAY * num + bolus * den) + 1``; within that day, use ``m`` seconds in
    is ``ceil((basal + rate * m) * num / den) + bolus * k``, which reaches it once ``(basal + rate * m) * num``
    exceeds ``(available - bolus * k - 1) * den``. Integers throughout, as the stepping is."""
    per_day = rate * DAY * num + bolus_ticks_per_day * den
    if per_day <= 0:
        return None
    k = (available - 1) * den // per_day + 1
    if k > HORIZON_DAYS:
        return None
    if not rate:
        return start_s + (k - 1) * DAY + 1
    basal = rate * (k - 1) * DAY
    least_basal = (available - bolus_ticks_per_day * k - 1) * den // num + 1
    return start_s + (k - 1) * DAY + max(1, -((basal - least_basal) // rate))


def stability(solution: Solution | None, library: DrugLibrary, filled_at_s: int | None,
              first_fill: frozenset[str]) -> Stability:
    """The stability date of ``solution`` filled at ``filled_at_s``; ``first_fill`` names the drugs that
    were not in the reservoir before that fill (the first-fill term applies to them)."""
    if solution is None or filled_at_s is None:
        return Stability(None, ("the reservoir holds no drug",), False)
    due, first, reasons, unverified = None, None, [], False
    for drug in solution.drugs:
        try:
            entry = library.drug(drug)
        except DrugsError:
            reasons.append(f"{drug}: not in the library, no stability known: set the refill date by hand")
            continue
        rule = entry.stability
        if rule is None:
            reasons.append(f"{drug}: the library has no sourced stability; the volume date alone is used")
            continue
        conc = concentration(solution, drug, entry.dose_unit)
        if drug in first_fill and rule.first_fill_days:
            days, why = rule.first_fill_days, "first fill"
        elif rule.undiluted_days and entry.is_listed_concentration(conc):
            days, why = rule.undiluted_days, f"undiluted ({conc})"
        else:
            days, why = rule.days, "in the pump"
        reasons.append(f"{drug}: {days} days {why} ({rule.tag})")
        unverified = unverified or not rule.verified
        end = filled_at_s + days * DAY
        if due is None or end < due:
            due, first = end, drug
    return Stability(due, tuple(reasons), unverified, first)
