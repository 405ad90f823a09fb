"""Model parameters of a virtual cohort: one JSON file per study under ``params/``, each number with its source.

A parameter file holds the baseline marginals (each a published mean and SD, median and IQR, or shares), the
latent-frailty loadings of the Gaussian copula that ties them together (:mod:`openidds.cohort.baseline`) and
the disease and therapy course (:mod:`openidds.cohort.course`). ``provenance`` says where the numbers come
from (hand-set from a publication, or a calibration run). A file that does not match the model is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from openidds.clinic import vocabulary as v
from openidds.clinic.fields import LEVEL_PATTERN
from openidds.drugs.intrathecal import PROPOSABLE_DRUGS
from openidds.errors import OpenIDDSError
from openidds.pump.device import SPINAL_LEVEL

Share = Annotated[float, Field(ge=0, le=1)]
Loading = Annotated[float, Field(gt=-1, lt=1)]


class ParamsError(OpenIDDSError):
    """A parameter file that is missing or does not match the model."""


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Moments(str, Enum):
    """What a :class:`Normal`'s mean and SD describe."""

    LATENT = "latent"
    """The normal before its truncation to [low, high] (the sample's mean and SD differ from them)."""
    WHOLE_NUMBERS = "whole_numbers"
    """The sampled values themselves, whole numbers on [low, high] (a published mean ± SD of a bounded score such
    as the NRS): the sampler solves for the normal whose truncation, rounded, has exactly this mean and SD."""


class Normal(_Closed):
    """A published mean ± SD, sampled as a normal truncated to [low, high] by its quantile function."""

    mean: float
    sd: Annotated[float, Field(gt=0)]
    low: float
    high: float
    moments: Moments | None = None
    """What ``mean`` and ``sd`` describe; absent means :attr:`Moments.LATENT`."""
    source: str

    @model_validator(mode="after")
    def _ordered(self) -> Normal:
        if not self.low < self.mean < self.high:
            raise ValueError(f"low < mean < high, got {self.low}, {self.mean}, {self.high}")
        if self.moments is Moments.WHOLE_NUMBERS and not (self.low.is_integer() and self.high.is_integer()):
            raise ValueError(f"whole-number low and high for moments 'whole_numbers', got {self.low}, {self.high}")
        return self


class Quartiles(_Closed):
    """A published median and IQR (q25, q75): matched by a two-piece log-normal (see baseline), truncated at
    ``high`` when given (the registry's largest value; the quartiles then move by a negligible amount)."""

    q25: Annotated[float, Field(gt=0)]
    median: Annotated[float, Field(gt=0)]
    q75: Annotated[float, Field(gt=0)]
    high: float | None = None
    source: str

    @model_validator(mode="after")
    def _ordered(self) -> Quartiles:
        if not self.q25 < self.median < self.q75:
            raise ValueError(f"q25 < median < q75, got {self.q25}, {self.median}, {self.q75}")
        if self.high is not None and not self.high > self.q75:
            raise ValueError(f"high above q75, got {self.high} ≤ {self.q75}")
        return self


class Shares(_Closed):
    """Shares of the codes of one vocabulary (each 0-1); a single choice sums to 1, a multiple choice need not."""

    shares: dict[str, Share]
    source: str


class Binary(_Closed):
    share: Share
    source: str


class Loadings(_Closed):
    """How strongly each baseline variable follows the latent frailty (a correlation with it, -1..1).

    Positive: frailer patients have more of it (wheelchair, pressure sores), negative: less (ADL, BMI,
    survival time)."""

    adl: Loading
    bmi: Loading
    wheelchair: Loading
    pressure_sores: Loading
    skin_lines: Loading
    metastases: Loading
    survival: Loading
    source: str


class Baseline(_Closed):
    age_years: Normal
    female: Binary
    bmi_kg_per_m2: Normal
    adl_score: Normal
    wheelchair: Binary
    pressure_sores: Binary
    skin_lines: Binary
    cancer_types: Shares
    metastases: Binary
    metastasis_sites: Shares
    """Among patients with metastases (multiple choice)."""
    prior_treatment: Shares
    """surgery, chemoradiotherapy, immunotherapy, pain_procedure (multiple choice)."""
    cancer_duration_months: Quartiles
    pain_duration_months: Quartiles
    pain_locations: Shares
    ome_mg_per_day: Quartiles
    """The OME of the patients on a systemic opioid."""
    systemic_opioid: Binary | None = None
    """The share of patients on a systemic opioid at baseline, the others with no OME; ``None``: every patient."""
    adjuvant: Shares
    """Adjuvant drugs (multiple choice); a patient with none is recorded as ``none``."""
    nrs: Normal
    eq5d_index: Normal
    trials: Shares
    """Number of screening trials: "0", "1", "2"."""
    trial_drugs: Shares
    trial_dose_mg: dict[str, Normal]
    implant_reason: Shares
    loadings: Loadings

    @model_validator(mode="after")
    def _whole_numbers_only_where_sampled(self) -> Baseline:
        continuous = {"bmi_kg_per_m2": self.bmi_kg_per_m2, "eq5d_index": self.eq5d_index,
                      **{f"trial_dose_mg.{drug}": dose for drug, dose in self.trial_dose_mg.items()}}
        for name, marginal in continuous.items():
            if marginal.moments is Moments.WHOLE_NUMBERS:
                raise ValueError(f"{name}: moments 'whole_numbers' only for a score sampled as whole numbers "
                                 f"({', '.join(WHOLE_NUMBER_FIELDS)})")
        return self


#: The baseline fields sampled as whole numbers, whose mean and SD may be given as those of the numbers.
WHOLE_NUMBER_FIELDS = ("age_years", "adl_score", "nrs")


class Rate(_Closed):
    """A cause-specific process: its 1-year cumulative incidence (or, for an early one, its share within
    ``window_days`` of the implant), its grade shares and the action it leads to: one action, or shares of
    actions drawn for each complication (``{"explant": 0.5, "revision": 0.3, "reoperation": 0.2}``)."""

    incidence: Share
    window_days: Annotated[int, Field(ge=1, le=365)] | None = None
    grades: dict[str, Share]
    action: str | dict[str, Share]
    source: str

    @property
    def actions(self) -> dict[str, float]:
        """The action shares (a single action has the share 1)."""
        return {self.action: 1.0} if isinstance(self.action, str) else dict(self.action)


class ComplicationRisk(_Closed):
    """A complication risk shared by every complication of a patient (a frailty): a gamma-distributed multiplier
    of each complication's hazard, mean 1, with this variance, drawn once per patient. Each complication's
    ``incidence`` stays the population's (averaged over the multiplier), so the shared risk leaves each kind's
    share alone and puts more of them in the same patients."""

    variance: Annotated[float, Field(gt=0)]
    source: str


class Pain(_Closed):
    """The pain response, by one of two models: ``relief_fraction`` (relief in proportion to the baseline) or
    ``reached_nrs`` (titration reaches an NRS whatever the baseline)."""

    relief_fraction: Normal | None = None
    """The share of the baseline NRS a patient loses at a well-titrated dose (percent pain relief / 100)."""
    reached_nrs: Normal | None = None
    """The NRS a patient reaches at a well-titrated dose, drawn whatever the baseline (never above it)."""
    target_nrs: Annotated[int, Field(ge=0, le=10)]
    """Above this at a visit, the dose is raised by a programming session."""
    increase_percent: Annotated[int, Field(ge=1, le=100)]
    visit_noise_nrs: Annotated[float, Field(ge=0)]
    needed_dose_sigma: Annotated[float, Field(gt=0)] | None = None
    """The spread (log-normal σ) of the dose a patient needs around the start dose (``None``: the model's 0.5,
    ``course.NEEDED_DOSE_SIGMA``): how far titration has to go, so the spread of the NRS before it gets there."""
    source: str

    @model_validator(mode="after")
    def _one_model(self) -> Pain:
        if (self.relief_fraction is None) == (self.reached_nrs is None):
            raise ValueError("exactly one pain model: relief_fraction (relief in proportion to the baseline) or "
                             "reached_nrs (the NRS titration reaches whatever the baseline)")
        if any(m is not None and m.moments is Moments.WHOLE_NUMBERS for m in (self.relief_fraction, self.reached_nrs)):
            raise ValueError("moments 'whole_numbers' only for a baseline score sampled as whole numbers "
                             f"({', '.join(WHOLE_NUMBER_FIELDS)}); the pain model's draw is not rounded")
        return self


class DrugMix(_Closed):
    """The intrathecal drugs patients start on, by shares (single choice). A key is a drug, or an admixture: drugs
    joined by "+" in alphabetical order, as the registry codes a start drug (``bupivacaine+morphine``). An
    admixture is led by its opioid, whose dose sets the volumes; each other drug is at its ``added_mg_per_ml``."""

    shares: dict[str, Share]
    added_mg_per_ml: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    source: str


def lead_drug(key: str) -> tuple[str, tuple[str, ...]]:
    """The lead drug of a start-drug key (its opioid, or its only drug) and the drugs added to it."""
    drugs = key.split("+")
    lead = next((d for d in drugs if d in PROPOSABLE_DRUGS), drugs[0])
    return lead, tuple(d for d in drugs if d != lead)


class Therapy(_Closed):
    drug: str
    """The drug every patient starts on, unless ``mix`` draws one for each patient."""
    mix: DrugMix | None = None
    concentrations_mg_per_ml: tuple[Annotated[float, Field(gt=0)], ...] = Field(min_length=1)
    """The concentrations the clinic's pharmacy fills; each patient gets the highest whose rate at the
    start dose is at least twice the pump's minimum rate (else the lowest)."""
    oral_to_intrathecal_ratio: Annotated[int, Field(ge=1)]
    frail_reduction: bool
    bolus_fraction_of_daily_dose: Annotated[float, Field(gt=0, lt=1)]
    boluses_per_day: Annotated[float, Field(ge=0)]
    """Mean breakthrough-pain presses a day (Poisson)."""
    refill_days_early: Annotated[int, Field(ge=0)]
    residual_measure_sd_ml: Annotated[float, Field(ge=0)]
    source: str


class Opioids(_Closed):
    stopped: Share
    reduced: Share
    reduced_to_fraction: Annotated[float, Field(gt=0, lt=1)]
    source: str


class PostopStay(_Closed):
    """A published post-operative stay (mean ± SD, in days), drawn for each patient in whole days ≥ 1 as one day
    plus a negative binomial: ``1 + NB(r, p)`` with ``p = (mean - 1) / sd²`` and ``r = (mean - 1)·p / (1 - p)``
    has exactly this mean and SD."""

    mean_days: Annotated[float, Field(gt=1)]
    sd_days: Annotated[float, Field(gt=0)]
    source: str

    @model_validator(mode="after")
    def _overdispersed(self) -> PostopStay:
        if not self.sd_days**2 > self.mean_days - 1:
            raise ValueError(f"an SD whose square exceeds mean - 1 (a negative binomial's variance exceeds its "
                             f"mean), got {self.mean_days} ± {self.sd_days}; for one stay for every patient give "
                             "discharge_day")
        return self

    @property
    def negative_binomial(self) -> tuple[float, float]:
        """The negative binomial's ``(r, p)`` (numpy's ``n`` and ``p``) of the days after the first."""
        p = (self.mean_days - 1) / self.sd_days**2
        return (self.mean_days - 1) * p / (1 - p), p


class FollowUp(_Closed):
    discharge_day: Annotated[int, Field(ge=1, le=60)] | None = None
    """A pain assessment before discharge on this day after the implant (a study that reports the NRS after
    the implant without a visit schedule); ``None``: none."""
    postop_stay: PostopStay | None = None
    """In place of ``discharge_day``: each patient's own discharge day, drawn from the published stay (the pain
    assessment before discharge on that day)."""
    visit_missing: Share
    eq5d_missing: Share
    satisfied: Share
    transfer_per_year: Annotated[float, Field(ge=0)]
    lost_per_year: Annotated[float, Field(ge=0)]
    therapy_stopped_per_year: Annotated[float, Field(ge=0)]
    telephone_every_days: Annotated[int, Field(ge=1, le=365)] | None = None
    """A telephone study's contacts: a call on every multiple of this many days after the implant, after
    discharge, while the patient is followed (recording the systemic opioid, not the NRS); ``None``: no calls."""
    telephone_unreached: Share | None = None
    """The share of patients (or families) never reached by those calls: lost to follow-up on the first call's
    day (``None``: every patient is reached)."""
    source: str

    @model_validator(mode="after")
    def _calls(self) -> FollowUp:
        if self.telephone_unreached is not None and self.telephone_every_days is None:
            raise ValueError("telephone_unreached needs telephone_every_days (the calls the patient is not reached by)")
        if self.discharge_day is not None and self.postop_stay is not None:
            raise ValueError("discharge_day (one for every patient) or postop_stay (drawn for each), not both")
        return self


class CatheterPlacement(_Closed):
    """Where the clinic inserts each patient's catheter and places its tip: shares of levels (each a single choice
    summing to 1), drawn for each patient independently of each other and of the rest of the course (a paper
    gives the two tables, not their cross-table)."""

    insertion_levels: dict[str, Share]
    """Interspaces as the registry records them (``L2/3``)."""
    tip_levels: dict[str, Share]
    """Vertebral levels as the pump's catheter takes them (``T6``)."""
    source: str

    @model_validator(mode="after")
    def _levels(self) -> CatheterPlacement:
        for name, shares, pattern, example in (("insertion_levels", self.insertion_levels, LEVEL_PATTERN, "L2/3"),
                                               ("tip_levels", self.tip_levels, SPINAL_LEVEL.pattern, "T6")):
            wrong = sorted(level for level in shares if not re.match(pattern, level))
            if wrong:
                raise ValueError(f"{name}: {wrong}, expected spinal levels such as {example}")
            _require_sum_of_one(name, shares)
        return self


class Course(_Closed):
    survival_months: Quartiles
    perioperative_death: Binary | None = None
    """The share of patients who die in hospital the day after the implant, whatever their survival draw
    (``None``: none)."""
    pain: Pain
    therapy: Therapy
    opioids: Opioids
    complications: dict[str, Rate]
    complication_risk: ComplicationRisk | None = None
    """A risk shared by each patient's complications (``None``: each kind independent of the others)."""
    follow_up: FollowUp
    catheter: CatheterPlacement | None = None
    """Where each patient's catheter goes (``None``: every one inserted at L2/3, its tip at T10)."""


class FittedParameter(_Closed):
    """One parameter a calibration moved: the JSON paths it sets (the first leads, the others are scaled with
    it), its bounds, and its value before and after."""

    paths: tuple[str, ...] = Field(min_length=1)
    low: float
    high: float
    start: float
    fitted: float


class Calibration(_Closed):
    """How a calibration run made this file (:mod:`openidds.cohort.calibrate`); absent from a hand-set file."""

    study: str
    date: date
    package_version: str
    optimiser: str
    distance: str
    seed: Annotated[int, Field(ge=0)]
    budget: Annotated[int, Field(ge=1)]
    evaluations: Annotated[int, Field(ge=1)]
    patients_per_evaluation: Annotated[int, Field(ge=1)]
    """Patients in each cohort an evaluation draws."""
    cohorts_per_evaluation: Annotated[int, Field(ge=2)] | None = None
    """Cohorts each evaluation averages its targets over; absent for one."""
    distance_before: float
    distance_after: float
    fitted_targets: tuple[str, ...]
    not_fitted: dict[str, str]
    """Fit targets the calibration could not use, each with the reason."""
    parameters: dict[str, FittedParameter]
    command: str
    previous: Calibration | None = None
    """The calibration of the file this one started from (absent when it started from a hand-set file): the
    parameters this run left alone keep that run's fit, and so on back."""


class Params(_Closed):
    """Every parameter of the model for one study."""

    study: str
    provenance: str
    calibration: Calibration | None = None
    baseline: Baseline
    course: Course

    @model_validator(mode="after")
    def _vocabularies(self) -> Params:
        b = self.baseline
        checks = [
            ("baseline.cancer_types", b.cancer_types.shares, v.CANCER_TYPES, True),
            ("baseline.metastasis_sites", b.metastasis_sites.shares, v.METASTASIS_SITES, False),
            ("baseline.prior_treatment", b.prior_treatment.shares, PRIOR_TREATMENTS, False),
            ("baseline.pain_locations", b.pain_locations.shares, v.PAIN_LOCATIONS, False),
            ("baseline.adjuvant", b.adjuvant.shares, v.ADJUVANT_DRUGS, False),
            ("baseline.trials", b.trials.shares, ("0", "1", "2"), True),
            ("baseline.trial_drugs", b.trial_drugs.shares, v.DRUGS, True),
            ("baseline.trial_dose_mg", dict.fromkeys(b.trial_dose_mg, 0.0), v.DRUGS, False),
            ("baseline.implant_reason", b.implant_reason.shares, v.IMPLANT_REASONS, True),
            ("course.complications", dict.fromkeys(self.course.complications, 0.0), v.COMPLICATION_KINDS, False),
        ]
        for name, shares, allowed, single in checks:
            unknown = sorted(set(shares) - set(allowed))
            if unknown:
                raise ValueError(f"{name}: unknown codes {unknown}, expected some of {list(allowed)}")
            if single:
                _require_sum_of_one(name, shares)
        missing = sorted(set(b.trial_drugs.shares) - set(b.trial_dose_mg))
        if missing:
            raise ValueError(f"baseline.trial_dose_mg: no dose for trial drugs {missing}")
        for kind, rate in self.course.complications.items():
            if set(rate.actions) - set(v.COMPLICATION_ACTIONS) or not _sums_to_one(rate.actions):
                raise ValueError(f"course.complications.{kind}.action: {rate.action!r}, expected one of "
                                 f"{list(v.COMPLICATION_ACTIONS)} or shares of them summing to 1")
            if set(rate.grades) - {str(g) for g in v.SEVERITY_GRADES} or not _sums_to_one(rate.grades):
                raise ValueError(f"course.complications.{kind}.grades: shares of grades 1-5 summing to 1")
        if self.course.therapy.drug not in v.DRUGS:
            raise ValueError(f"course.therapy.drug: {self.course.therapy.drug!r}, expected one of {list(v.DRUGS)}")
        mix = self.course.therapy.mix
        if mix is not None:
            _check_mix(mix)
        if self.course.opioids.stopped + self.course.opioids.reduced > 1:
            raise ValueError("course.opioids: stopped + reduced shares above 1")
        return self


PRIOR_TREATMENTS = ("surgery", "chemoradiotherapy", "immunotherapy", "pain_procedure")


def _sums_to_one(shares: Mapping[str, float]) -> bool:
    """Whether the shares of a single choice sum to 1 (to a millionth)."""
    return abs(sum(shares.values()) - 1) <= 1e-6


def _require_sum_of_one(name: str, shares: Mapping[str, float]) -> None:
    if not _sums_to_one(shares):
        raise ValueError(f"{name}: shares sum to {sum(shares.values()):.6f}, expected 1")


def _check_mix(mix: DrugMix) -> None:
    where = "course.therapy.mix"
    _require_sum_of_one(f"{where}.shares", mix.shares)
    added: set[str] = set()
    for key in mix.shares:
        drugs = key.split("+")
        if any(d not in v.DRUGS for d in drugs) or drugs != sorted(set(drugs)):
            raise ValueError(f"{where}.shares: {key!r}, expected a drug of {list(v.DRUGS)} or drugs joined by '+' "
                             "in alphabetical order")
        added |= set(lead_drug(key)[1])
    missing, unused = sorted(added - set(mix.added_mg_per_ml)), sorted(set(mix.added_mg_per_ml) - added)
    if missing or unused:
        raise ValueError(f"{where}.added_mg_per_ml: a concentration for each drug added to an admixture "
                         f"({sorted(added)}), no other")


def bundled_params() -> tuple[str, ...]:
    """The names of the parameter files shipped with the package."""
    folder = resources.files("openidds.cohort") / "params"
    return tuple(sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")))


def load_params(name_or_path: str | Path) -> Params:
    """The parameters of a bundled study (``seed000``) or of a JSON file; refused, naming the problem, when
    the file is missing or does not match the model."""
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists():
        if not path.is_file():
            raise ParamsError("params", str(path), "an existing parameter file (JSON)")
        text = path.read_text(encoding="utf-8")
    else:
        names = bundled_params()
        if str(name_or_path) not in names:
            raise ParamsError("params", str(name_or_path), f"a bundled study ({', '.join(names)}) or a JSON file")
        text = (resources.files("openidds.cohort") / "params" / f"{name_or_path}.json").read_text(encoding="utf-8")
    try:
        return Params.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ParamsError("params", str(name_or_path), f"valid JSON ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        expected = f"a value the model accepts: {first['msg']} ({exc.error_count()} problem(s) in all)"
        raise ParamsError(f"params {where}", str(name_or_path), expected) from None


def params_text(params: Params) -> str:
    """The parameter file's JSON text (what :func:`load_params` reads back to the same parameters)."""
    return json.dumps(params.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False) + "\n"
