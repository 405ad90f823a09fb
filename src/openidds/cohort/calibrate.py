"""Calibration: the model's parameters fitted to a study's fit targets on the patient-course model alone.

A full replicate plays every patient through a pump, the programmer and a registry (seconds a replicate), too
slow inside an optimiser. Calibration measures the targets on the baselines and courses drawn by
:mod:`openidds.cohort.baseline` and :mod:`openidds.cohort.course`, with the estimators the report uses
(:mod:`openidds.outcomes`): Kaplan–Meier median survival, Aalen–Johansen 1-year cumulative incidence with death
competing, means, SDs (n − 1) and proportions. A catheter occlusion counts on the day the clinic's refill would
find it, or not at all (:func:`openidds.cohort.refill_schedule.occlusion_found_day`), as the registry records it.

- **Distance**: D = Σ over fit targets of ((model − published) / half-width of the published interval)²; a
  target off by its whole half-width adds 1, a non-finite model value (a median not reached) makes D infinite.
  A fit target the course model does not give, or one without a two-sided interval, is left out and named
  with the reason (``Calibration.not_fitted``).
- **Common random numbers**: every evaluation draws its virtual cohort (default five patients per study
  patient) from the same seed, each patient's course from a stream of its own (:func:`draw_cohort`), so D
  changes only with the parameters, and smoothly but for small steps (NRS are whole numbers, days whole days).
- **Several cohorts** (``cohorts`` K > 1): each evaluation draws K cohorts, from the K children of
  ``SeedSequence(seed)`` (the same K at every evaluation), and D is taken on each target's mean over them: an
  estimate of the expected statistic, which is what validation's goal for the mean checks, where one cohort
  also carries its own chance. K = 1 draws the one cohort from ``seed`` itself.
- **Parameters** (:func:`free_parameters`): each a value of the parameter file kept strictly inside (low,
  high) and optimised on the logit scale between them; a parameter may carry other values with it, scaled by
  the same ratio (the survival quartiles scale with the median, a group of complications keeps its relative
  sizes); the survival tail, the third quartile over the median, is a parameter of its own (seed 002). Only
  parameters that inform a fitted target are free, or those named (``parameters``: a refit of the follow-up
  process alone, say, the rest kept); a baseline NRS given as the published moments of the whole
  numbers (``moments = "whole_numbers"``) is set from the paper and not fitted.
- **Optimiser**: Nelder–Mead (:func:`scipy.optimize.minimize`) from the file's values, with an initial simplex
  of steps of 0.5 on the logit scale. D is piecewise constant at the finest scale, so a derivative-free simplex
  suits it; with a handful of parameters it needs far fewer evaluations than a
  population method. ``budget`` bounds the evaluations (the start's included); the best point seen is kept,
  so D never ends above its start.
- **Provenance**: the fitted file records the run (:class:`openidds.cohort.params.Calibration`) and, when it
  started from a calibrated file, that file's run as ``previous``, so a partial refit keeps the history of every
  value.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError
from scipy.optimize import minimize
from scipy.special import expit, logit

from openidds import __version__
from openidds.clinic import vocabulary as v
from openidds.clinic.analysis import MILESTONES, WINDOW_DAYS
from openidds.cohort.baseline import PatientBaseline, sample_baselines
from openidds.cohort.course import ExitReason, PatientCourse, Schedule, Visit, draw_course
from openidds.cohort.params import Calibration, FittedParameter, Moments, Params, ParamsError
from openidds.cohort.refill_schedule import occlusion_found_day
from openidds.cohort.seeds import checked_seed
from openidds.cohort.simulate import implant_dates
from openidds.cohort.study import FollowUpCounted, Metric, Study, Target, Use
from openidds.drugs import default_library
from openidds.errors import OpenIDDSError
from openidds.months import DAYS_PER_MONTH
from openidds.outcomes import cumulative_incidence, kaplan_meier

DISTANCE = "sum over fit targets of ((model - published) / half-width of the published interval)^2"
OPTIMISER = ("scipy.optimize.minimize Nelder-Mead on logit((value - low) / (high - low)) of each free parameter, "
             "initial simplex steps of 0.5; best point seen kept")
PATIENTS_PER_STUDY_PATIENT = 5
SIMPLEX_STEP = 0.5
INCIDENCE_MONTHS = 12.0
FloatArray = NDArray[np.float64]


class CalibrationError(OpenIDDSError):
    """A calibration that cannot run as asked."""


@dataclass(frozen=True)
class FreeParameter:
    """A value of the parameter file the calibration moves: ``paths[0]`` (dotted) kept in (low, high); the
    other paths are scaled by the same ratio. With ``per``, the value is the ratio ``paths[0] / per`` (the
    survival's third quartile over its median), so it stays in its bounds wherever ``per`` moves."""

    name: str
    paths: tuple[str, ...]
    low: float
    high: float
    informs: frozenset[str]
    """The targets it moves most directly (it is free only when one of them is fitted)."""
    per: str | None = None

    def value(self, data: Mapping[str, Any]) -> float:
        value = float(_get(data, self.paths[0]))
        return value if self.per is None else value / float(_get(data, self.per))

    def set(self, start: Mapping[str, Any], data: dict[str, Any], value: float) -> None:
        """Write ``value`` at ``paths[0]`` of ``data`` (times ``data``'s ``per``) and scale the other paths from
        their ``start`` values."""
        ratio = value / self.value(start)
        for path in self.paths:
            scale = 1.0 if self.per is None else float(_get(data, self.per)) / float(_get(start, self.per))
            _put(data, path, float(_get(start, path)) * ratio * scale)


_PAIN = frozenset({"nrs_change_mean", "nrs_change_sd", "nrs_baseline_mean", "nrs_baseline_sd", "nrs_follow_up_mean",
                   "nrs_follow_up_sd", "nrs_improved_proportion"})
_COMPLICATIONS = frozenset({"complication_any_cif_1y", "complication_severe_cif_1y", "adverse_events_count",
                            "adverse_event_patients_proportion"})
_SURGERY = frozenset({"reoperation_cif_1y", "reoperation_patients_proportion", "infection_surgery_proportion"})
_TAIL = frozenset({"exit_other_proportion", "pain_12m_pairs_count"})
"""The targets a longer survival tail moves with the median held: patients who live long leave for other
reasons and are seen at 12 months."""
_PAIRS = frozenset({"pain_6m_pairs_count", "pain_12m_pairs_count", "eq5d_6m_pairs_count", "nrs_pairs_count"})


def free_parameters(params: Params) -> tuple[FreeParameter, ...]:
    """Every parameter calibration may move for this parameter file (see the module's docstring)."""
    survival = tuple(f"course.survival_months.{q}" for q in ("median", "q25", "q75"))
    published_nrs = params.baseline.nrs.moments is Moments.WHOLE_NUMBERS  # set from the paper, not fitted
    out = [
        *(() if published_nrs else (FreeParameter("nrs_mean", ("baseline.nrs.mean",), 1.0, 9.9, _PAIN),
                                    FreeParameter("nrs_sd", ("baseline.nrs.sd",), 0.2, 5.0, _PAIN))),
        *((FreeParameter("relief_fraction_mean", ("course.pain.relief_fraction.mean",), 0.05, 0.99, _PAIN),
           FreeParameter("relief_fraction_sd", ("course.pain.relief_fraction.sd",), 0.02, 1.0, _PAIN))
          if params.course.pain.relief_fraction is not None else
          (FreeParameter("reached_nrs_mean", ("course.pain.reached_nrs.mean",), 0.1, 9.0, _PAIN),
           FreeParameter("reached_nrs_sd", ("course.pain.reached_nrs.sd",), 0.05, 5.0, _PAIN))),
        FreeParameter("visit_noise_nrs", ("course.pain.visit_noise_nrs",), 0.05, 3.0,
                      frozenset({"nrs_follow_up_sd"})),
        FreeParameter("survival_median_months", survival, 0.5, 36.0,
                      frozenset({"os_median_months", "exit_death_proportion"})),
        FreeParameter("survival_q75_to_median", ("course.survival_months.q75",), 1.05, 10.0, _TAIL,
                      per="course.survival_months.median"),
        FreeParameter("visit_missing", ("course.follow_up.visit_missing",), 0.01, 0.95, _PAIRS),
        FreeParameter("eq5d_missing", ("course.follow_up.eq5d_missing",), 0.01, 0.95,
                      frozenset({"eq5d_6m_pairs_count"})),
        FreeParameter("therapy_stopped_per_year", ("course.follow_up.therapy_stopped_per_year",), 0.001, 3.0,
                      frozenset({"exit_explant_or_stopped_proportion"})),
    ]
    if params.course.pain.needed_dose_sigma is not None:  # free only where the file gives it
        out.append(FreeParameter("needed_dose_sigma", ("course.pain.needed_dose_sigma",), 0.02, 2.0,
                                 frozenset({"nrs_follow_up_sd"})))
    follow = params.course.follow_up
    others = sorted((("transfer_per_year", follow.transfer_per_year), ("lost_per_year", follow.lost_per_year)),
                    key=lambda kv: -kv[1])
    if others[0][1] > 0:  # led by the larger hazard, the other scaled with it
        out.append(FreeParameter("other_exits_per_year", tuple(f"course.follow_up.{k}" for k, _ in others), 0.001,
                                 3.0, frozenset({"exit_other_proportion"})))
    kinds = params.course.complications
    for name, surgical, informs in (("medical_complication_incidence", False, _COMPLICATIONS),
                                    ("surgical_complication_incidence", True, _COMPLICATIONS | _SURGERY)):
        group = sorted((k for k, r in kinds.items() if bool(set(r.actions) & set(v.SURGICAL_ACTIONS)) == surgical
                        and r.incidence > 0), key=lambda k: (-kinds[k].incidence, k))
        if group:  # led by the largest incidence, so that none of the group passes the bound
            out.append(FreeParameter(name, tuple(f"course.complications.{k}.incidence" for k in group), 1e-4, 0.5,
                                     informs))
    return tuple(out)


@dataclass(frozen=True)
class Outcomes:
    """What the report would estimate, read off a virtual cohort's courses (one entry per patient)."""

    study: Study
    nrs_before: FloatArray
    """Baseline NRS of the patients with a baseline and a follow-up NRS (pairs)."""
    nrs_after: FloatArray
    """Their last follow-up NRS."""
    os_months: FloatArray
    death: NDArray[np.int64]
    first_days: dict[str, tuple[FloatArray, NDArray[np.int64]]]
    """``complication``, ``severe_complication``, ``reoperation``: days to the first event (or death, or the end)
    and status 1 event, 2 death first, 0 censored."""
    complications: NDArray[np.int64]
    """Complications per patient (an occlusion included when a refill finds it)."""
    infection_surgery: NDArray[np.bool_]
    pairs: dict[str, NDArray[np.bool_]]
    """``nrs_6m``, ``nrs_12m``, ``eq5d_index_6m``: a baseline and a follow-up value near that milestone (the
    registry's analysis window), as the report pairs them."""
    exits: NDArray[np.str_]
    """Each patient's exit reason ("" when still followed at the study's end)."""
    telephone_reached: NDArray[np.bool_]
    """Each patient reached by telephone at least once (a telephone visit)."""
    in_hospital_death: NDArray[np.bool_]
    """Each patient who died in hospital (on or before the last day of a recorded post-operative stay)."""

    @property
    def scale(self) -> float:
        """From counts in the virtual cohort to counts in a cohort of the study's size."""
        return self.study.design.n_patients / self.os_months.size


Seed = int | np.random.SeedSequence
"""A cohort's seed: a whole number, or a spawned :class:`numpy.random.SeedSequence` (one of several cohorts)."""


def draw_cohort(study: Study, params: Params, seed: Seed, patients: int) -> list[tuple[PatientBaseline, PatientCourse]]:
    """``patients`` baselines and courses of the study's design, drawn from ``seed`` (no pump, no registry).

    The baselines and implant days come from the first child of ``SeedSequence(seed)`` (or of ``seed`` itself
    when it is one), each patient's course from a child of its own: a parameter that changes how many numbers
    one patient's course draws (a longer life, more visits) leaves every other patient's draws as they were.
    A given seed sequence is copied, not spawned from: its ``spawn`` is stateful (a second call gives new
    children), and one seed must always draw the same cohort, or calibration's evaluations would each draw new
    cohorts and the best one seen would be the luckiest draw, not the best parameters."""
    if isinstance(seed, np.random.SeedSequence):
        sequence = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
    else:
        sequence = np.random.SeedSequence(checked_seed(seed))
    cohort, *each = sequence.spawn(patients + 1)
    rng = np.random.default_rng(cohort)
    library = default_library()
    design = study.design
    baselines = sample_baselines(params.baseline, patients, rng)
    drawn = []
    for baseline, implant, own in zip(baselines, implant_dates(study, patients, rng), each, strict=True):
        schedule = Schedule.of(design, implant)
        drawn.append((baseline, draw_course(baseline, params.course, schedule, np.random.default_rng(own), library)))
    return drawn


_ENDPOINTS: dict[str, Callable[[int, str], bool]] = {
    "complication": lambda grade, action: True,
    "severe_complication": lambda grade, action: grade >= v.SEVERE_GRADE,
    "reoperation": lambda grade, action: action in v.SURGICAL_ACTIONS,
}
"""The report's time-to-first-event endpoints: which complications (by grade and action) each counts."""


def outcomes(study: Study, params: Params, seed: Seed, patients: int) -> Outcomes:
    """The outcomes of a virtual cohort (see :func:`draw_cohort`)."""
    return outcomes_of(study, params, draw_cohort(study, params, seed, patients))


def outcomes_of(study: Study, params: Params, cohort: Sequence[tuple[PatientBaseline, PatientCourse]]) -> Outcomes:
    """What the report would estimate from these patients' registry, read off their baselines and courses."""
    before, after, os_days, death, counts, infection, exits, reached = [], [], [], [], [], [], [], []
    in_hospital = []
    pairs: dict[str, list[bool]] = {name: [] for name in _PAIRED}
    events: dict[str, list[tuple[int, int]]] = {name: [] for name in _ENDPOINTS}
    library = default_library()
    for baseline, course in cohort:
        last = next((visit.nrs for visit in reversed(course.visits) if visit.nrs is not None), None)
        if course.schedule.patient_reported and last is not None:
            before.append(baseline.nrs)
            after.append(last)
        for name, (field, day) in _PAIRED.items():
            pairs[name].append(course.schedule.patient_reported and _near(course.visits, field, day))
        exits.append("" if course.exit_reason is None else course.exit_reason.value)
        reached.append(any(visit.visit_type == "telephone" for visit in course.visits))
        os_days.append(course.death_day if course.death_day is not None else course.end_day)
        death.append(int(course.death_day is not None))
        in_hospital.append(course.death_day is not None and course.postop_stay_days is not None
                           and course.death_day <= course.postop_stay_days)
        found = [(c.day, c.grade, c.action, c.kind) for c in course.complications]
        occlusion = occlusion_found_day(course, params.course, library)
        if occlusion is not None:
            # the virtual clinic records an occlusion at the refill that finds it, severe, treated by revision
            found.append((occlusion, v.SEVERE_GRADE, "revision", "catheter_occlusion"))
        counts.append(len(found))
        infection.append(any(kind == "infection" and action in v.SURGICAL_ACTIONS for _, _, action, kind in found))
        for name, counted in _ENDPOINTS.items():
            first = min((day for day, grade, action, _ in found if counted(grade, action)), default=None)
            events[name].append(_competing(first, course))
    first_days = {name: (np.array([d for d, _ in rows], dtype=float), np.array([s for _, s in rows], dtype=np.int64))
                  for name, rows in events.items()}
    return Outcomes(study, np.array(before, dtype=float), np.array(after, dtype=float),
                    np.array(os_days, dtype=float) / DAYS_PER_MONTH, np.array(death, dtype=np.int64), first_days,
                    np.array(counts, dtype=np.int64), np.array(infection, dtype=bool),
                    {name: np.array(rows, dtype=bool) for name, rows in pairs.items()}, np.array(exits, dtype=str),
                    np.array(reached, dtype=bool), np.array(in_hospital, dtype=bool))


_PAIRED = {"nrs_6m": ("nrs", MILESTONES["6m"]), "nrs_12m": ("nrs", MILESTONES["12m"]),
           "eq5d_index_6m": ("eq5d_index", MILESTONES["6m"])}


def _near(visits: Sequence[Visit], field: str, day: int) -> bool:
    """A visit with ``field`` recorded within the analysis window of ``day``."""
    return any(getattr(visit, field) is not None and abs(visit.day - day) <= WINDOW_DAYS for visit in visits)


def _exit_share(*reasons: ExitReason, others: bool = False) -> Callable[[Outcomes, Target], float]:
    """Share of the patients whose follow-up ended that left for one of ``reasons`` (``others``: for another)."""
    def read(o: Outcomes, target: Target) -> float:
        ended = o.exits[o.exits != ""]
        chosen = np.isin(ended, [r.value for r in reasons]) != others
        return float(chosen.mean()) if ended.size else math.nan
    return read


def _competing(first: int | None, course: PatientCourse) -> tuple[int, int]:
    if first is not None:
        return first, 1
    if course.death_day is not None:
        return course.death_day, 2
    return course.end_day, 0


def _sd(x: FloatArray) -> float:
    return float(x.std(ddof=1)) if x.size > 1 else math.nan


def _mean(x: FloatArray) -> float:
    return float(x.mean()) if x.size else math.nan


def _survival(o: Outcomes, target: Target) -> float:
    """Seed 000's Kaplan–Meier median, or seed 003's median of observed months to death or last contact (over
    the patients reached by telephone, when the study counts those as followed up)."""
    if target.metric is Metric.KM_MEDIAN:
        return float(kaplan_meier(o.os_months, o.death).median.time)
    if o.study.design.follow_up_counted is FollowUpCounted.TELEPHONE_CONTACT:
        return float(np.median(o.os_months[o.telephone_reached])) if o.telephone_reached.any() else math.nan
    return float(np.median(o.os_months))


def _incidence(name: str) -> Callable[[Outcomes, Target], float]:
    def read(o: Outcomes, target: Target) -> float:
        days, status = o.first_days[name]
        if not (status == 1).any():
            return 0.0
        fit = cumulative_incidence(days / DAYS_PER_MONTH, status, 1, censored=0, competing=[2])
        return float(fit.at([INCIDENCE_MONTHS]).incidence[0])
    return read


MEASURES: dict[str, Callable[[Outcomes, Target], float]] = {
    "nrs_change_mean": lambda o, t: _mean(o.nrs_before - o.nrs_after),
    "nrs_change_sd": lambda o, t: _sd(o.nrs_before - o.nrs_after),
    "nrs_baseline_mean": lambda o, t: _mean(o.nrs_before),
    "nrs_baseline_sd": lambda o, t: _sd(o.nrs_before),
    "nrs_follow_up_mean": lambda o, t: _mean(o.nrs_after),
    "nrs_follow_up_sd": lambda o, t: _sd(o.nrs_after),
    "nrs_improved_proportion": lambda o, t: _mean((o.nrs_after < o.nrs_before).astype(float)),
    "nrs_pairs_count": lambda o, t: o.nrs_before.size * o.scale,
    "os_median_months": _survival,
    "complication_any_cif_1y": _incidence("complication"),
    "complication_severe_cif_1y": _incidence("severe_complication"),
    "reoperation_cif_1y": _incidence("reoperation"),
    "adverse_events_count": lambda o, t: float(o.complications.sum()) * o.scale,
    "adverse_event_patients_proportion": lambda o, t: _mean((o.complications > 0).astype(float)),
    "reoperation_patients_proportion": lambda o, t: _mean((o.first_days["reoperation"][1] == 1).astype(float)),
    "infection_surgery_proportion": lambda o, t: _mean(o.infection_surgery.astype(float)),
    "early_death_proportion": lambda o, t: _mean(o.in_hospital_death.astype(float)),
    "pain_6m_pairs_count": lambda o, t: float(o.pairs["nrs_6m"].sum()) * o.scale,
    "pain_12m_pairs_count": lambda o, t: float(o.pairs["nrs_12m"].sum()) * o.scale,
    "eq5d_6m_pairs_count": lambda o, t: float(o.pairs["eq5d_index_6m"].sum()) * o.scale,
    "exit_death_proportion": _exit_share(ExitReason.DEATH),
    "exit_explant_or_stopped_proportion": _exit_share(ExitReason.EXPLANT, ExitReason.THERAPY_STOPPED),
    "exit_other_proportion": _exit_share(ExitReason.DEATH, ExitReason.EXPLANT, ExitReason.THERAPY_STOPPED,
                                         others=True),
}
"""The targets the course model gives, by name, each read as the report reads it from a registry."""


def measure(targets: Sequence[Target], o: Outcomes) -> dict[str, float]:
    """Each target's value on the outcomes (every target must be in :data:`MEASURES`)."""
    return {t.name: MEASURES[t.name](o, t) for t in targets}


def cohort_seeds(seed: int, cohorts: int) -> tuple[Seed, ...]:
    """The seeds of an evaluation's cohorts: ``seed`` itself for one, the children of ``SeedSequence(seed)``
    for several."""
    seed = checked_seed(seed)
    return (seed,) if cohorts == 1 else tuple(np.random.SeedSequence(seed).spawn(cohorts))


def measure_mean(study: Study, params: Params, targets: Sequence[Target], seeds: Sequence[Seed],
                 patients: int) -> dict[str, float]:
    """Each target's mean over the cohorts drawn from ``seeds`` (``patients`` each); not finite when one
    cohort's value is not."""
    each = [measure(targets, outcomes(study, params, seed, patients)) for seed in seeds]
    return {t.name: math.fsum(m[t.name] for m in each) / len(each) for t in targets}


def fit_targets(study: Study) -> tuple[tuple[Target, ...], dict[str, str]]:
    """The study's fit targets calibration uses, and those it leaves out with the reason."""
    used: tuple[Target, ...] = ()
    left: dict[str, str] = {}
    for target in study.targets_for(Use.FIT):
        if target.name not in MEASURES:
            left[target.name] = "the patient-course model alone does not give it (set from the publication, or it " \
                                "needs the pump, programmer or registry)"
        elif target.half_width is None or target.half_width <= 0:
            left[target.name] = "no two-sided published interval to scale its distance"
        else:
            used += (target,)
    return used, left


def distance(targets: Sequence[Target], measured: Mapping[str, float]) -> float:
    """Σ ((model − published) / half-width)² over ``targets``; infinite if a model value is not finite."""
    total = 0.0
    for target in targets:
        half = target.half_width
        if half is None or half <= 0:
            raise CalibrationError("target", target.name, "a target with a two-sided interval (see fit_targets)")
        value = measured[target.name]
        if not math.isfinite(value):
            return math.inf
        total += ((value - target.value) / half) ** 2
    return total


@dataclass(frozen=True)
class CalibrationResult:
    """The fitted parameter file (its ``calibration`` says how), and the fitted targets' model values before and
    after."""

    params: Params
    calibration: Calibration
    targets: tuple[Target, ...]
    before: dict[str, float]
    after: dict[str, float]


class _BudgetSpent(Exception):
    pass


class _Objective:
    """D at a point of the logit scale, the best point seen, and the evaluation count."""

    def __init__(self, study: Study, start: Params, free: Sequence[FreeParameter], targets: Sequence[Target],
                 seeds: Sequence[Seed], patients: int, budget: int,
                 progress: Callable[[int, float], None] | None) -> None:
        self.study, self.free, self.targets = study, tuple(free), tuple(targets)
        self.start = start.model_dump(mode="json", exclude_none=True)
        self.seeds, self.patients, self.budget, self.progress = tuple(seeds), patients, budget, progress
        self.evaluations = 0
        self.best: tuple[float, FloatArray, dict[str, float]] = (math.inf, np.zeros(0), {})

    def values(self, u: FloatArray) -> list[float]:
        return [p.low + (p.high - p.low) * float(expit(x)) for p, x in zip(self.free, u, strict=True)]

    def params_at(self, u: FloatArray, sources: Mapping[str, str] | None = None) -> Params:
        data = copy.deepcopy(self.start)
        for parameter, value in zip(self.free, self.values(u), strict=True):
            parameter.set(self.start, data, value)
            for path in parameter.paths:
                if sources is not None:
                    _put(data, path.rsplit(".", 1)[0] + ".source", sources[path])
        try:
            return Params.model_validate(data)
        except ValidationError as exc:
            raise CalibrationError("params", self.start["study"], f"values the model accepts at every point inside "
                                   f"the calibration bounds ({exc.errors()[0]['msg']})") from None

    def __call__(self, u: FloatArray) -> float:
        if self.evaluations >= self.budget:
            raise _BudgetSpent
        measured = measure_mean(self.study, self.params_at(u), self.targets, self.seeds, self.patients)
        d = distance(self.targets, measured)
        self.evaluations += 1
        if d < self.best[0] or self.evaluations == 1:
            self.best = (d, np.array(u, dtype=float), measured)
        if self.progress is not None:
            self.progress(self.evaluations, self.best[0])
        return d


def calibrate(study: Study, params: Params, *, seed: int, budget: int, on: date, patients: int | None = None,
              cohorts: int = 1, parameters: Sequence[str] | None = None, command: str = "",
              progress: Callable[[int, float], None] | None = None) -> CalibrationResult:
    """Fit ``params`` to the study's fit targets (see the module's docstring).

    ``on`` is the date written into the provenance (the caller's today); ``cohorts`` is the number of cohorts
    of ``patients`` each evaluation averages over; ``parameters`` restricts the free parameters to those names;
    ``progress(evaluations, best distance)`` is called after each evaluation.
    """
    if params.study != study.id:
        raise ParamsError("params.study", params.study, f"parameters made for the study {study.id}")
    for name, value, least in (("seed", seed, 0), ("budget", budget, 1), ("patients", patients, 1),
                               ("cohorts", cohorts, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise CalibrationError(name, value, f"a whole number, {least} or more")
    n = patients if patients is not None else PATIENTS_PER_STUDY_PATIENT * study.design.n_patients
    targets, left = fit_targets(study)
    if not targets:
        raise CalibrationError("study", study.id, f"at least one fit target the course model gives (it gives "
                                                  f"{', '.join(MEASURES)})")
    names = {t.name for t in targets}
    offered = free_parameters(params)
    if parameters is not None:
        unknown = sorted(set(parameters) - {p.name for p in offered})
        if unknown:
            raise CalibrationError("parameter", ", ".join(unknown),
                                   f"a free parameter of this file, one of {', '.join(p.name for p in offered)}")
        free = [p for p in offered if p.name in parameters]
    else:
        free = [p for p in offered if p.informs & names]
    if not free:
        raise CalibrationError("parameter", "none", "at least one free parameter that informs a fit target")
    start = params.model_dump(mode="json", exclude_none=True)
    for p in free:
        if not p.low < p.value(start) < p.high:
            raise CalibrationError(p.paths[0], p.value(start), f"a starting value strictly inside the calibration "
                                                               f"bounds ({p.low}, {p.high})")
    seeds = cohort_seeds(seed, cohorts)
    objective = _Objective(study, params, free, targets, seeds, n, budget, progress)
    u0 = np.array([float(logit((p.value(start) - p.low) / (p.high - p.low))) for p in free])
    start_measured = measure_mean(study, params, targets, seeds, n)
    try:
        objective(u0)
        simplex = np.vstack([u0, u0 + SIMPLEX_STEP * np.eye(len(free))])
        minimize(objective, u0, method="Nelder-Mead",
                 options={"initial_simplex": simplex, "maxfev": budget, "xatol": 1e-4, "fatol": 1e-6})
    except _BudgetSpent:
        pass
    best, u, measured = objective.best
    fitted_values = objective.values(u)
    sources = {}
    for p in free:
        for path in p.paths:
            old = str(_get(start, path.rsplit(".", 1)[0] + ".source"))
            origin = old.split("; started from: ", 1)[-1]
            sources[path] = f"calibrated to the fit targets of {study.id} (see calibration); started from: {origin}"
    fitted = objective.params_at(u, sources)
    record = Calibration(
        study=study.id, date=on, package_version=__version__, optimiser=OPTIMISER, distance=DISTANCE, seed=seed,
        budget=budget, evaluations=objective.evaluations, patients_per_evaluation=n,
        cohorts_per_evaluation=None if cohorts == 1 else cohorts,
        distance_before=distance(targets, start_measured),
        distance_after=best, fitted_targets=tuple(t.name for t in targets), not_fitted=left,
        parameters={p.name: FittedParameter(paths=p.paths, low=p.low, high=p.high, start=p.value(start), fitted=x)
                    for p, x in zip(free, fitted_values, strict=True)},
        command=command, previous=params.calibration)
    result = fitted.model_copy(update={"calibration": record})
    return CalibrationResult(result, record, targets, start_measured, measured)


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            raise ParamsError("params", dotted, "a parameter file with this value (the model's schema)")
        node = node[key]
    return node


def _put(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[last] = value
