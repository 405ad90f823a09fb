"""The course of one virtual patient after the implant: survival, pain and titration, opioids, complications,
exits and follow-up visits. Pure and seeded: everything is drawn from the ``numpy`` Generator passed in.

Time is in whole days from the implant (day 0). The course decides what happens; the virtual clinic
(:mod:`openidds.cohort.clinic_run`) plays it through the pump and programmer and writes the registry.

- **Survival**: the patient's survival latent normal (tied to the frailty by the copula of
  :mod:`openidds.cohort.baseline`) mapped to the survival quartiles (two-piece log-normal).
- **Perioperative death**, if the parameters give its share: the patient dies in hospital the day after the
  implant, whatever the survival draw.
- **Post-operative stay**: to the discharge day the parameters give, or one drawn for the patient from the
  published stay (``postop_stay``: one day plus a negative binomial with its mean and SD; none recorded without
  either), or to the death if it comes first.
- **Exits**, competing: death; explant after a complication; therapy stopped, transfer of care and loss to
  follow-up as constant yearly hazards; the first one ends follow-up. Alive and in follow-up at the study's
  end: no exit (censored at the last contact).
- **Complications**, each kind its own cause-specific process: an early one (``window_days``) occurs with
  its share on a uniform day of the window; a late one at an exponential time whose 1-year incidence, with
  no competing event, is ``incidence``. Only those before the exit happen. Each has a grade drawn by its
  shares and its action (one action, or one drawn by the action shares); an explant ends the therapy and
  follow-up that day. With a shared complication risk (``complication_risk``), each patient draws one
  gamma-distributed multiplier (mean 1, the parameters' variance) of every complication's hazard, the
  hazards set so that each kind's population incidence stays ``incidence``: the same complications,
  concentrated in fewer patients. A catheter occlusion is not
  dated here as a complication: its fault is injected into the pump, and the clinic finds it (and records it)
  at the next refill's discrepancy.
- **Catheter**: its insertion interspace and tip level drawn by the parameters' shares (``catheter``), last of
  all the course's draws; without them, L2/3 and T10 for everyone.
- **Drugs**: the therapy's drug, or one drawn by the parameters' mix (a drug alone or an admixture led by its
  opioid, the others at fixed concentrations); nothing is drawn without a mix.
- **Pain**: the patient's full relief is drawn once: a fraction of the baseline NRS (``relief_fraction``), or
  the baseline down to an NRS drawn whatever the baseline (``reached_nrs``, titration aiming at a pain level);
  the relief reached at a visit is the share ``min(1, dose/needed dose)`` of it, plus visit noise, on the
  0-10 scale. Relief as a fraction of the baseline (percent pain relief) makes patients with more pain lose
  more points, so the follow-up NRS varies less than the baseline; a reached NRS makes the follow-up NRS
  nearly independent of the baseline. The needed dose is the start
  dose times a log-normal factor. At a visit with NRS above the target, the dose is raised by
  ``increase_percent`` (a programming session), never above the library's soft per-day limit.
- **Systemic opioids**: stopped or reduced (to a fraction of the baseline OME) by the first follow-up, by
  shares; otherwise unchanged. A patient on none at baseline (no OME) stays on none, and an opioid starts at the
  low end of the library's starting range.
- **Visits**: at the study's months (± 7 days) and, if the parameters say so, a pain assessment before
  discharge; each missing with its share. A telephone study's calls, if the parameters give their interval:
  one on every multiple of ``telephone_every_days`` after discharge while the patient is followed, recording
  the systemic opioid (no NRS: no titration); a share of patients is never reached and is lost to follow-up
  on the first call's day.
- **Boluses**: breakthrough-pain presses, a Poisson process; the pump decides whether each is given.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaincinv

from openidds.cohort.baseline import PatientBaseline, choose_one, normal_quantile, quartiles_value
from openidds.cohort.params import Course, FollowUp, Pain, ParamsError, lead_drug
from openidds.drugs import DrugLibrary, default_library
from openidds.drugs.intrathecal import PROPOSABLE_DRUGS, propose_start
from openidds.months import DAYS_PER_MONTH
from openidds.pump import SYNCHROMED_II
from openidds.units import parse_quantity

if TYPE_CHECKING:
    from openidds.cohort.study import Design

DAY_S = 86_400
#: A perioperative death happens on this day after the implant, in hospital.
PERIOPERATIVE_DEATH_DAY = 1
#: A visit is held within ± this many days of its scheduled day.
VISIT_JITTER_DAYS = 7
#: The spread (log-normal σ) of the dose a patient needs, around the start dose (unless ``Pain.needed_dose_sigma``).
NEEDED_DOSE_SIGMA = 0.5
#: Where a catheter goes when the parameters give no placement (``Course.catheter``).
DEFAULT_INSERTION_LEVEL, DEFAULT_TIP_LEVEL = "L2/3", "T10"


class ExitReason(str, Enum):
    """Why follow-up ended (codes of the registry's exit vocabulary)."""

    DEATH = "death"
    EXPLANT = "explant"
    THERAPY_STOPPED = "therapy_stopped"
    TRANSFER = "transfer_of_care"
    LOST = "lost_to_follow_up"


@dataclass(frozen=True)
class Schedule:
    """What the study's design says about one patient's follow-up."""

    implant_date: dt.date
    follow_up_end: dt.date
    visit_months: tuple[int, ...]
    telephone: bool
    patient_reported: bool
    """Patient-reported outcomes (NRS, EQ-5D, satisfaction) are collected for this patient."""

    @classmethod
    def of(cls, design: Design, implant_date: dt.date) -> Schedule:
        """The follow-up the study's design gives a patient implanted on ``implant_date`` (patient-reported
        outcomes only from the design's ``pro_start``, when it has one)."""
        reported = design.pro_start is None or implant_date >= design.pro_start
        return cls(implant_date, design.follow_up_end, tuple(design.visit_months), design.telephone_follow_up,
                   reported)


@dataclass(frozen=True)
class Complication:
    day: int
    kind: str
    grade: int
    action: str


@dataclass(frozen=True)
class DoseChange:
    day: int
    dose_mg_per_day: float


@dataclass(frozen=True)
class Visit:
    """One follow-up visit as recorded (``None``: not recorded at that visit)."""

    day: int
    visit_type: str
    nrs: int | None
    eq5d_index: float | None
    systemic_opioid: bool
    ome_mg_per_day: float | None
    opioid_change: str | None
    satisfied: bool | None


@dataclass(frozen=True)
class PatientCourse:
    schedule: Schedule
    drug: str
    """The drug whose dose the course gives (an admixture's lead)."""
    added_mg_per_ml: tuple[tuple[str, float], ...]
    """The drugs added to it in the reservoir (an admixture) and their concentrations."""
    death_day: int | None
    exit_day: int | None
    exit_reason: ExitReason | None
    end_day: int
    """The last day of follow-up: the exit, or the study's end."""
    start_dose_mg_per_day: float
    concentration_mg_per_ml: float
    dose_changes: tuple[DoseChange, ...]
    complications: tuple[Complication, ...]
    occlusion_day: int | None
    revision_days: tuple[int, ...]
    explant_day: int | None
    bolus_times_s: tuple[int, ...]
    visits: tuple[Visit, ...]
    postop_stay_days: int | None = None
    """Days in hospital after the implant (``None``: not recorded)."""
    perioperative_death: bool = False
    """Died in hospital the day after the implant (see ``Course.perioperative_death``)."""
    insertion_level: str = DEFAULT_INSERTION_LEVEL
    """The catheter's insertion interspace (``Course.catheter``)."""
    tip_level: str = DEFAULT_TIP_LEVEL
    """The catheter tip's vertebral level."""


def start_dose_mg_per_day(baseline: PatientBaseline, drug: str, params: Course, library: DrugLibrary) -> float:
    """The intrathecal start dose of ``drug``: for an opioid, from the baseline OME by the library's conversion
    (frail patients reduced), within the library's starting range low end and the drug's soft per-day limit (the
    clinic's rule: a lower proposal starts at the lowest usual dose, a higher one is titrated up to instead); for
    another drug (bupivacaine alone), the high end of the library's starting range."""
    therapy = params.therapy
    start = library.drug(drug).starting_dose
    if drug not in PROPOSABLE_DRUGS:
        if start is None:
            raise ParamsError("course.therapy.mix", drug, "a drug with an OME conversion or a starting range in the "
                                                          "library")
        return round(float(start.high.magnitude("mg/day")), 3)
    floor = 0.0 if start is None else float(start.low.magnitude("mg/day"))
    if baseline.ome_mg_per_day is None:
        if start is None:
            raise ParamsError("baseline.systemic_opioid", drug, "a start drug with a starting range in the library "
                                                                "(a patient on no systemic opioid has no OME)")
        return round(floor, 3)
    frail = therapy.frail_reduction and (baseline.wheelchair or baseline.adl_score < 60)
    proposal = propose_start(parse_quantity(f"{baseline.ome_mg_per_day} mg/day"), drug=drug,
                             ratio=therapy.oral_to_intrathecal_ratio, frail=frail, library=library)
    dose = float(proposal.dose.magnitude("mg/day"))
    return round(min(max(dose, floor), soft_per_day_mg(drug, library)), 3)


def bolus_dose_mg(dose_mg_per_day: float, drug: str, params: Course, library: DrugLibrary) -> float:
    """The patient bolus of ``drug``: a share of the daily dose, never above the drug's soft per-bolus limit."""
    share = params.therapy.bolus_fraction_of_daily_dose * dose_mg_per_day
    limit = library.drug(drug).limits.per_bolus
    cap = float(limit.soft.value.magnitude("mg")) if limit is not None and limit.soft is not None else share
    return round(min(share, cap), 4)


def concentration_mg_per_ml(dose_mg_per_day: float, params: Course) -> float:
    """The highest concentration of the clinic's whose rate at ``dose_mg_per_day`` is at least twice the
    pump's minimum rate, else the lowest one."""
    floor = 2 * float(SYNCHROMED_II.min_rate_ml_per_day)
    fits = [c for c in params.therapy.concentrations_mg_per_ml if dose_mg_per_day / c >= floor]
    return max(fits) if fits else min(params.therapy.concentrations_mg_per_ml)


def soft_per_day_mg(drug: str, library: DrugLibrary) -> float:
    """The drug's soft per-day limit in mg/day (the highest dose titration reaches)."""
    limit = library.drug(drug).limits.per_day
    if limit.soft is None:
        raise ParamsError("course.therapy.drug", drug, "a drug whose library entry has a soft per-day limit "
                          "(the highest dose titration reaches)")
    return float(limit.soft.value.magnitude("mg/day"))


def draw_course(baseline: PatientBaseline, params: Course, schedule: Schedule, rng: np.random.Generator,
                library: DrugLibrary | None = None) -> PatientCourse:
    """The course of one patient (see the module's docstring)."""
    library = library or default_library()
    horizon = (schedule.follow_up_end - schedule.implant_date).days
    months = float(quartiles_value(params.survival_months, np.array([baseline.survival_z]))[0])
    death = max(1, round(months * DAYS_PER_MONTH))
    perioperative = params.perioperative_death is not None and rng.random() < params.perioperative_death.share
    if perioperative:
        death = PERIOPERATIVE_DEATH_DAY
    follow = params.follow_up
    discharge = discharge_day(follow, rng)
    stay = None if discharge is None else min(discharge, death)
    others = {ExitReason.THERAPY_STOPPED: follow.therapy_stopped_per_year,
              ExitReason.TRANSFER: follow.transfer_per_year, ExitReason.LOST: follow.lost_per_year}
    exits: list[tuple[int, ExitReason]] = [(death, ExitReason.DEATH)]
    exits += [(1 + int(rng.exponential(365.25 / rate)), reason) for reason, rate in others.items() if rate > 0]
    calls = _call_days(follow, schedule, horizon, discharge)
    reached = not calls or rng.random() >= (follow.telephone_unreached or 0.0)
    if not reached:
        exits.append((calls[0], ExitReason.LOST))
    complications, explant = _complications(params, rng, min(d for d, _ in exits), horizon)
    if explant is not None:
        exits.append((explant, ExitReason.EXPLANT))
    exit_day, reason = min(exits, key=lambda e: e[0])
    if exit_day > horizon:
        exit_day_or_none, reason_or_none, end = None, None, horizon
    else:
        exit_day_or_none, reason_or_none, end = exit_day, reason, exit_day
    occlusion = next((c.day for c in complications if c.kind == "catheter_occlusion"), None)
    complications = tuple(c for c in complications if c.kind != "catheter_occlusion")
    revisions = tuple(c.day for c in complications if c.action == "revision")
    drug, added = _drugs(params, rng)
    start = start_dose_mg_per_day(baseline, drug, params, library)
    alive_out = discharge if discharge is not None and discharge < death else None  # assessed before discharge
    visits, changes = _visits(baseline, drug, params, schedule, rng, start, end, library, alive_out,
                              calls if reached else ())
    boluses = _bolus_times(params.therapy.boluses_per_day, end, rng)
    insertion, tip = _catheter_levels(params, rng)
    return PatientCourse(
        schedule=schedule, drug=drug, added_mg_per_ml=added, death_day=death if death <= end else None,
        exit_day=exit_day_or_none,
        exit_reason=reason_or_none, end_day=end, start_dose_mg_per_day=start,
        concentration_mg_per_ml=concentration_mg_per_ml(start, params), dose_changes=changes,
        complications=complications, occlusion_day=occlusion, revision_days=revisions,
        explant_day=explant if explant is not None and explant == exit_day_or_none else None,
        bolus_times_s=boluses, visits=visits,
        postop_stay_days=PERIOPERATIVE_DEATH_DAY if perioperative else stay, perioperative_death=perioperative,
        insertion_level=insertion, tip_level=tip)


def discharge_day(follow: FollowUp, rng: np.random.Generator) -> int | None:
    """The patient's discharge day after the implant: the parameters' fixed day, or one drawn from their published
    stay (one day plus a negative binomial, whole days ≥ 1, see ``PostopStay``); ``None`` (nothing drawn) without
    either."""
    if follow.postop_stay is None:
        return follow.discharge_day
    r, p = follow.postop_stay.negative_binomial
    return 1 + int(rng.negative_binomial(r, p))


def _drugs(params: Course, rng: np.random.Generator) -> tuple[str, tuple[tuple[str, float], ...]]:
    """The patient's lead drug and the drugs added to it, drawn by the mix's shares (none drawn without a mix)."""
    mix = params.therapy.mix
    if mix is None:
        return params.therapy.drug, ()
    lead, added = lead_drug(str(choose_one(mix.shares, rng, 1)[0]))
    return lead, tuple((d, mix.added_mg_per_ml[d]) for d in added)


def _catheter_levels(params: Course, rng: np.random.Generator) -> tuple[str, str]:
    """The catheter's insertion and tip levels, drawn by ``params.catheter``'s shares (the defaults without it).
    Drawn after every other draw of the course, so that the rest of a course is that of a file without them."""
    placement = params.catheter
    if placement is None:
        return DEFAULT_INSERTION_LEVEL, DEFAULT_TIP_LEVEL
    return (str(choose_one(placement.insertion_levels, rng, 1)[0]), str(choose_one(placement.tip_levels, rng, 1)[0]))


def _complications(params: Course, rng: np.random.Generator, first_exit: int,
                   horizon: int) -> tuple[tuple[Complication, ...], int | None]:
    """Every complication before the first exit, and the day of an explant if one happens first (the shared
    risk drawn first, when the parameters give one)."""
    variance = None if params.complication_risk is None else params.complication_risk.variance
    risk = 1.0 if variance is None else complication_risk(variance, rng.random())
    drawn = []
    for kind, rate in params.complications.items():
        hazard = risk * cumulative_hazard(rate.incidence, variance)
        if rate.window_days is not None:
            share = rate.incidence if variance is None else -math.expm1(-hazard)
            day = int(rng.integers(0, rate.window_days)) if rng.random() < share else None
        else:
            per_day = hazard / 365.25
            day = int(rng.exponential(1 / per_day)) if per_day > 0 else None
        grade = int(choose_one(rate.grades, rng, 1)[0])
        action = rate.action if isinstance(rate.action, str) else choose_one(rate.action, rng, 1)[0]
        if day is not None and day < first_exit and day <= horizon:
            drawn.append(Complication(day, kind, grade, action))
    drawn.sort(key=lambda c: (c.day, c.kind))
    explant = next((c.day for c in drawn if c.action == "explant"), None)
    kept = tuple(c for c in drawn if explant is None or c.day <= explant)
    return kept, explant


def complication_risk(variance: float, u: float) -> float:
    """A patient's complication-risk multiplier at the uniform ``u``: the quantile of the gamma distribution with
    mean 1 and variance ``variance`` (shape 1/variance, scale variance), so a common ``u`` moves smoothly with
    the variance."""
    shape = 1 / variance
    return float(gammaincinv(shape, u)) / shape


def cumulative_hazard(incidence: float, variance: float | None) -> float:
    """The cumulative hazard of a complication (over an early one's window, a late one's year) for a patient of
    mean risk, such that the population's incidence with no competing event is ``incidence``: ``-log(1 - p)``
    for independent complications (``variance`` None); with a gamma-distributed risk of variance θ the
    population's incidence is ``1 - (1 + θH)^(-1/θ)`` (the gamma's Laplace transform), so
    ``H = ((1 - p)^(-θ) - 1) / θ``."""
    if incidence >= 1:
        return math.inf
    if variance is None:
        return -math.log(1 - incidence)
    return math.expm1(-variance * math.log1p(-incidence)) / variance


def _visits(baseline: PatientBaseline, drug: str, params: Course, schedule: Schedule, rng: np.random.Generator,
            start: float, end: int, library: DrugLibrary, discharge: int | None,
            calls: tuple[int, ...] = ()) -> tuple[tuple[Visit, ...], tuple[DoseChange, ...]]:
    pain, follow, opioids = params.pain, params.follow_up, params.opioids
    relief_full = full_relief_nrs(baseline.nrs, pain, rng.random(1))
    sigma = NEEDED_DOSE_SIGMA if pain.needed_dose_sigma is None else pain.needed_dose_sigma
    needed = start * math.exp(sigma * rng.standard_normal())
    ceiling = soft_per_day_mg(drug, library)
    drawn = choose_one({"stopped": opioids.stopped, "reduced": opioids.reduced,
                        "unchanged": 1 - opioids.stopped - opioids.reduced}, rng, 1)[0]
    before = baseline.ome_mg_per_day
    change = None if before is None else drawn  # on no systemic opioid: nothing to change
    ome = None if before is None else {"stopped": 0.0, "reduced": round(before * opioids.reduced_to_fraction, 1),
                                       "unchanged": before}[drawn]
    on_opioid = before is not None and drawn != "stopped"
    dose, visits, changes = start, [], []
    days = {max(1, round(m * DAYS_PER_MONTH) + int(rng.integers(-VISIT_JITTER_DAYS, VISIT_JITTER_DAYS + 1)))
            for m in schedule.visit_months}
    if discharge is not None:
        days.add(discharge)
    for day in sorted(days):
        noise = pain.visit_noise_nrs * rng.standard_normal()
        missing, eq5d_missing, satisfied = rng.random(), rng.random(), rng.random() < follow.satisfied
        if day > end:
            break
        if missing < follow.visit_missing:
            continue
        relief = relief_full * min(1.0, dose / needed)
        nrs = int(np.clip(np.rint(baseline.nrs - relief + noise), 0, 10))
        reported = schedule.patient_reported
        eq5d = None
        if reported and eq5d_missing >= follow.eq5d_missing:
            eq5d = round(float(np.clip(baseline.eq5d_index + 0.08 * relief, -0.5, 1.0)), 3)
        by_phone = schedule.telephone and day != discharge
        visits.append(Visit(day, "telephone" if by_phone else "follow_up", nrs if reported else None,
                            eq5d, on_opioid, ome, change, satisfied if reported else None))
        if nrs > pain.target_nrs and dose < ceiling and day < end:
            dose = round(min(dose * (1 + pain.increase_percent / 100), ceiling), 3)
            changes.append(DoseChange(day, dose))
    taken = {visit.day for visit in visits}
    visits += [Visit(day, "telephone", None, None, on_opioid, ome, change, None)
               for day in calls if day <= end and day not in taken]
    return tuple(sorted(visits, key=lambda visit: visit.day)), tuple(changes)


def full_relief_nrs(baseline_nrs: float, pain: Pain, u: NDArray[np.float64]) -> float:
    """The NRS points a patient loses at a well-titrated dose, from the uniform ``u`` (one value): a drawn share
    of the baseline (``relief_fraction``), or the baseline down to a drawn NRS, never below 0 (``reached_nrs``)."""
    if pain.reached_nrs is not None:
        return max(0.0, baseline_nrs - float(normal_quantile(pain.reached_nrs, u)[0]))
    if pain.relief_fraction is None:
        raise ParamsError("course.pain", None, "relief_fraction or reached_nrs (a pain model)")
    return baseline_nrs * float(normal_quantile(pain.relief_fraction, u)[0])


def _call_days(follow: FollowUp, schedule: Schedule, horizon: int, discharge: int | None) -> tuple[int, ...]:
    """The days of a telephone study's calls after the patient's discharge, up to the study's end (none unless the
    study follows by telephone and the parameters give the calls' interval)."""
    every = follow.telephone_every_days
    if every is None or not schedule.telephone:
        return ()
    after = discharge or 0
    return tuple(day for day in range(every, horizon + 1, every) if day > after)


def _bolus_times(per_day: float, end: int, rng: np.random.Generator) -> tuple[int, ...]:
    """Breakthrough-pain presses: a Poisson process of ``per_day`` a day from day 1 to the end of day end - 1."""
    days = max(end - 1, 0)
    if per_day <= 0 or days == 0:
        return ()
    times: NDArray[np.int64] = np.sort(rng.integers(DAY_S, (days + 1) * DAY_S, rng.poisson(per_day * days)))
    return tuple(int(t) for t in times)
