"""The virtual clinic's refill days and the refill that finds a catheter occlusion, read off a patient's course
without playing the pump: what the fast course model (:mod:`openidds.cohort.calibrate`) needs to date an
occlusion as the clinic records it.

The clinic (:mod:`openidds.cohort.clinic_run`) books each refill by the programmer's forecast and finds an
occlusion only at a refill whose withdrawn residual exceeds the expected one by more than the programmer's
discrepancy threshold; an occlusion the clinic never finds is never recorded. Here the same rules are applied to
the course's dose timeline, with the programmer's own figures (pump accuracy, discrepancy threshold, drug
stability):

- **Booking**: after a fill or a programming session the next refill is due at the earlier of the volume date
  (the reservoir above its low-reservoir volume used at the worst case: basal ``1 + accuracy`` times faster and
  every allowed bolus taken) and the stability date of the fill, booked ``refill_days_early`` before it and at
  least a day later. The reservoir falls by the basal volume and the boluses pressed.
- **Finding**: at a refill after the occlusion, the undelivered basal volume since the later of the occlusion
  and the previous fill is compared with ``discrepancy_threshold(reservoir, pumped since the previous fill)``;
  above it, the occlusion is found that day. A catheter revision before that clears it unrecorded.

Simplifications (against the clinic): whole days (a session is on its day, a refill the day it is booked), the
residual measured without error, the discrepancy trend across refills and pump replacements at the battery's
elective replacement indicator are not modelled.
"""

from __future__ import annotations

from bisect import bisect_right
from fractions import Fraction

from openidds.cohort.clinic_run import BOLUSES_PER_DAY, PUMP
from openidds.cohort.course import DAY_S, PatientCourse, bolus_dose_mg
from openidds.cohort.params import Course
from openidds.drugs import DrugLibrary
from openidds.programmer import PUMP_ACCURACY_PERCENT, stability
from openidds.programmer.refill import discrepancy_threshold
from openidds.pump import PumpSpec, Solution
from openidds.pump.ticks import ticks_to_ml


class _Doses:
    """A course's daily dose as steps (from day 0, then each dose change), in mL/day at its concentration."""

    def __init__(self, course: PatientCourse) -> None:
        self.days = [0, *(c.day for c in course.dose_changes)]
        self.mg = [course.start_dose_mg_per_day, *(c.dose_mg_per_day for c in course.dose_changes)]
        self.concentration = course.concentration_mg_per_ml

    def mg_per_day(self, day: float) -> float:
        return self.mg[bisect_right(self.days, day) - 1]

    def basal_ml(self, start: float, end: float) -> float:
        """The basal volume programmed from day ``start`` to day ``end``."""
        total, bounds = 0.0, [*self.days[1:], float("inf")]
        for begin, until, mg in zip(self.days, bounds, self.mg, strict=True):
            low, high = max(begin, start), min(until, end)
            if high > low:
                total += (high - low) * mg / self.concentration
        return total


def refill_days(course: PatientCourse, params: Course, library: DrugLibrary, spec: PumpSpec = PUMP
                ) -> tuple[int, ...]:
    """The days the virtual clinic refills the pump before the end of follow-up (see the module's docstring)."""
    doses = _Doses(course)
    early = params.therapy.refill_days_early
    solution = Solution.of({course.drug: Fraction(str(course.concentration_mg_per_ml)),
                            **{drug: Fraction(str(c)) for drug, c in course.added_mg_per_ml}})
    stable_first = _stable_days(solution, library, first=True)
    stable = _stable_days(solution, library, first=False)
    worst = 1 + float(PUMP_ACCURACY_PERCENT[spec.model.name].value) / 100
    full = float(ticks_to_ml(spec.capacity_ticks))
    low = float(ticks_to_ml(spec.low_reservoir_ticks))
    presses = [t / DAY_S for t in course.bolus_times_s]

    def bolus_ml(day: float) -> float:
        return bolus_dose_mg(doses.mg_per_day(day), course.drug, params, library) / doses.concentration

    def booked(day: float, reservoir_ml: float, stable_until: float) -> int:
        per_day = worst * doses.mg_per_day(day) / doses.concentration + BOLUSES_PER_DAY * bolus_ml(day)
        due = min(day + (reservoir_ml - low) / per_day, stable_until)
        return max(int(day) + 1, int(due) - early)

    def used_ml(start: float, end: float) -> float:
        pressed = sum(bolus_ml(t) for t in presses[bisect_right(presses, start):bisect_right(presses, end)])
        return doses.basal_ml(start, end) + pressed

    day, reservoir, stable_until = 0.0, full, stable_first
    due = booked(day, reservoir, stable_until)
    changes = iter(course.dose_changes)
    change = next(changes, None)
    refills: list[int] = []
    while due < course.end_day:
        if change is not None and change.day < due:
            reservoir -= used_ml(day, change.day)
            day = float(change.day)
            due = booked(day, reservoir, stable_until)
            change = next(changes, None)
            continue
        refills.append(due)
        day, reservoir, stable_until = float(due), full, due + stable
        due = booked(day, reservoir, stable_until)
    return tuple(refills)


def occlusion_found_day(course: PatientCourse, params: Course, library: DrugLibrary, spec: PumpSpec = PUMP
                        ) -> int | None:
    """The day the clinic's refill finds the course's catheter occlusion, or ``None`` when no refill before the
    end of follow-up (or before a catheter revision clears it) shows it."""
    occluded = course.occlusion_day
    if occluded is None:
        return None
    doses = _Doses(course)
    accuracy = PUMP_ACCURACY_PERCENT[spec.model.name]
    previous = 0
    for day in refill_days(course, params, library, spec):
        if any(occluded <= revised <= day for revised in course.revision_days):
            return None
        if day >= occluded:
            missing = doses.basal_ml(max(occluded, previous), day)
            threshold, _ = discrepancy_threshold(spec.reservoir_ml, Fraction(doses.basal_ml(previous, day)),
                                                 accuracy)
            if missing > threshold:
                return day
        previous = day
    return None


def _stable_days(solution: Solution, library: DrugLibrary, *, first: bool) -> float:
    """Days a fill of ``solution`` stays within its stability (infinite when the library gives none)."""
    due = stability(solution, library, 0, frozenset(solution.drugs) if first else frozenset()).due_s
    return float("inf") if due is None else due / DAY_S
