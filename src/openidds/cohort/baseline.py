"""The baseline of each virtual patient, drawn to match a study's published description.

Joint model (a Gaussian copula with one latent frailty). Each patient has a frailty ``f ~ N(0, 1)``. Every
baseline variable ``k`` tied to it has a latent normal ``z_k = λ_k·f + √(1-λ_k²)·e_k`` with its own
independent ``e_k ~ N(0, 1)``, so ``z_k`` is standard normal and its correlation with the frailty is the
loading ``λ_k`` (parameters ``baseline.loadings``). Each ``z_k`` is then carried to the variable's published
marginal by that marginal's quantile function, so the marginals are exactly those published while frailer
patients have lower ADL and BMI, are more often in a wheelchair, with pressure sores, skin lines and
metastases, and (through the survival loading, used by :mod:`openidds.cohort.course`) die sooner.

Marginals:

- mean ± SD: a normal truncated to the parameter's [low, high] (the registry's range, or the plausible one);
  the mean and SD are the normal's, or with ``moments = "whole_numbers"`` (the scores sampled as whole
  numbers: age, ADL, NRS) those of the rounded sample itself (:func:`latent_normal` solves for the normal);
- median and IQR: a two-piece log-normal whose three quartiles are exactly the published ones
  (``log x = log median + σ·z`` with ``σ = log(median/q25)/0.6745`` below the median and
  ``log(q75/median)/0.6745`` above), not a log-normal fitted to a mean and SD: a median and IQR are
  rarely symmetric on the log scale (290 (100-633) mg/day OME has √(100·633) ≈ 252 ≠ 290);
- a share: the latent normal above ``Φ⁻¹(1 - share)``; the share on a systemic opioid (when given; else every
  patient) draws whether a patient has an OME at all, the OME quartiles being those of the patients on one;
- single and multiple choices (cancer type, pain locations ...): independent of the frailty, by shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares
from scipy.special import ndtr, ndtri

from openidds.cohort.params import Baseline, Binary, Moments, Normal, ParamsError, Quartiles, Shares

#: The standard normal's upper quartile: Φ⁻¹(0.75).
Z75 = float(ndtri(0.75))

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Trial:
    """One intrathecal screening trial before the implant."""

    number: int
    drug: str
    dose_mg: float
    response: str


@dataclass(frozen=True)
class PatientBaseline:
    """One virtual patient at the time of the implant (codes from the registry's vocabularies)."""

    frailty: float
    survival_z: float
    """The latent normal of survival time (tied to the frailty); :mod:`openidds.cohort.course` maps it."""
    age_years: int
    sex: str
    bmi_kg_per_m2: float
    adl_score: int
    wheelchair: bool
    pressure_sores: bool
    skin_lines: bool
    cancer_type: str
    metastasis_sites: tuple[str, ...]
    prior_treatment: frozenset[str]
    cancer_duration_months: float
    pain_duration_months: float
    pain_locations: tuple[str, ...]
    ome_mg_per_day: float | None
    """The systemic opioids' OME (``None``: on no systemic opioid)."""
    adjuvant_drugs: tuple[str, ...]
    nrs: int
    eq5d_index: float
    trials: tuple[Trial, ...]
    implant_reason: str


def normal_quantile(marginal: Normal, u: FloatArray) -> FloatArray:
    """The truncated normal's value at cumulative probabilities ``u``."""
    a = ndtr((marginal.low - marginal.mean) / marginal.sd)
    b = ndtr((marginal.high - marginal.mean) / marginal.sd)
    return np.asarray(marginal.mean + marginal.sd * ndtri(a + u * (b - a)), dtype=np.float64)


def whole_number_moments(mean: float, sd: float, low: float, high: float) -> tuple[float, float]:
    """The mean and SD of the whole numbers ``rint(x)``, x a normal (``mean``, ``sd``) truncated to [low, high]
    (whole-number bounds): exact, from the normal's probability of each number's half-open bin."""
    values = np.arange(low, high + 1)
    edges = ndtr((np.clip(np.concatenate([values - 0.5, [high + 0.5]]), low, high) - mean) / sd)
    p = np.diff(edges) / (edges[-1] - edges[0])
    m = float(p @ values)
    return m, float(np.sqrt(p @ (values - m) ** 2))


@lru_cache(maxsize=64)
def _solve_latent(mean: float, sd: float, low: float, high: float) -> tuple[float, float]:
    def gap(x: FloatArray) -> FloatArray:
        m, s = whole_number_moments(float(x[0]), float(np.exp(x[1])), low, high)
        return np.array([m - mean, s - sd])

    fit = least_squares(gap, np.array([mean, np.log(sd)]), xtol=1e-12, ftol=1e-12, gtol=1e-12)
    if not fit.success or float(np.max(np.abs(fit.fun))) > 1e-6:
        raise ParamsError("moments", f"{mean} ± {sd} on [{low}, {high}]",
                          "a mean and SD that whole numbers between low and high can have (the SD of such numbers "
                          "is at most half the range); give the normal's own mean and SD with moments \"latent\"")
    return float(fit.x[0]), float(np.exp(fit.x[1]))


def latent_normal(marginal: Normal) -> Normal:
    """The normal (before truncation) that is sampled for ``marginal``: itself, or for published moments of
    whole numbers (``moments = "whole_numbers"``), the normal whose truncation to [low, high], rounded, has
    exactly that mean and SD (a truncated normal's mean lies nearer the middle than the normal's: NRS 7.38 ±
    1.64 on 0-10 is sampled from a normal of 7.93 ± 2.01)."""
    if marginal.moments is not Moments.WHOLE_NUMBERS:
        return marginal
    mean, sd = _solve_latent(marginal.mean, marginal.sd, marginal.low, marginal.high)
    return marginal.model_copy(update={"mean": mean, "sd": sd, "moments": Moments.LATENT})


def quartiles_value(marginal: Quartiles, z: FloatArray) -> FloatArray:
    """The two-piece log-normal's value at standard normal scores ``z`` (quartiles at z = ±0.6745), truncated
    at ``marginal.high`` when given (``z`` mapped by its probability into the part below it)."""
    low = np.log(marginal.median / marginal.q25) / Z75
    high = np.log(marginal.q75 / marginal.median) / Z75
    if marginal.high is not None:
        z = ndtri(ndtr(z) * ndtr(np.log(marginal.high / marginal.median) / high))
    return np.asarray(marginal.median * np.exp(np.where(z < 0, low, high) * z), dtype=np.float64)


def binary_value(marginal: Binary, z: FloatArray) -> NDArray[np.bool_]:
    """True where the latent normal lies above Φ⁻¹(1 - share): a share ``share`` of patients."""
    if marginal.share <= 0:
        return np.zeros(z.shape, dtype=bool)
    return np.asarray(z > ndtri(1 - marginal.share))


def choose_one(shares: Mapping[str, float], rng: np.random.Generator, n: int) -> list[str]:
    """``n`` codes drawn by their shares (which sum to 1)."""
    codes = list(shares)
    cumulative = np.cumsum([shares[c] for c in codes])
    picks = np.searchsorted(cumulative / cumulative[-1], rng.random(n), side="right")
    return [codes[i] for i in picks]


def choose_many(shares: Shares, rng: np.random.Generator, n: int) -> list[tuple[str, ...]]:
    """For each of ``n`` patients, every code held with its own share (independently)."""
    codes = list(shares.shares)
    held = rng.random((n, len(codes))) < np.array([shares.shares[c] for c in codes])
    return [tuple(c for c, h in zip(codes, row, strict=True) if h) for row in held]


def _latent(frailty: FloatArray, loading: float, rng: np.random.Generator) -> FloatArray:
    return np.asarray(loading * frailty + np.sqrt(1 - loading**2) * rng.standard_normal(frailty.shape))


def sample_baselines(params: Baseline, n: int, rng: np.random.Generator) -> list[PatientBaseline]:
    """``n`` patients drawn from the joint model (see the module's docstring)."""
    load = params.loadings
    f = rng.standard_normal(n)

    def tied(loading: float) -> FloatArray:
        return _latent(f, loading, rng)

    def free() -> FloatArray:
        return np.asarray(rng.standard_normal(n))

    survival_z = tied(load.survival)
    adl = np.rint(normal_quantile(latent_normal(params.adl_score), ndtr(tied(load.adl))))
    bmi = normal_quantile(params.bmi_kg_per_m2, ndtr(tied(load.bmi)))
    wheelchair = binary_value(params.wheelchair, tied(load.wheelchair))
    sores = binary_value(params.pressure_sores, tied(load.pressure_sores))
    lines = binary_value(params.skin_lines, tied(load.skin_lines))
    metastatic = binary_value(params.metastases, tied(load.metastases))
    age = np.rint(normal_quantile(latent_normal(params.age_years), rng.random(n)))
    female = binary_value(params.female, free())
    cancer = choose_one(params.cancer_types.shares, rng, n)
    sites = choose_many(params.metastasis_sites, rng, n)
    prior = choose_many(params.prior_treatment, rng, n)
    cancer_months = quartiles_value(params.cancer_duration_months, free())
    pain_months = quartiles_value(params.pain_duration_months, free())
    locations = choose_many(params.pain_locations, rng, n)
    ome = quartiles_value(params.ome_mg_per_day, free())
    adjuvant = choose_many(params.adjuvant, rng, n)
    nrs = np.rint(normal_quantile(latent_normal(params.nrs), rng.random(n)))
    eq5d = normal_quantile(params.eq5d_index, rng.random(n))
    n_trials = choose_one(params.trials.shares, rng, n)
    reasons = choose_one(params.implant_reason.shares, rng, n)
    on_opioid = np.ones(n, dtype=bool) if params.systemic_opioid is None else binary_value(params.systemic_opioid,
                                                                                             free())
    out = []
    for i in range(n):
        spread = tuple(sites[i]) or (("other",) if metastatic[i] else ())
        out.append(PatientBaseline(
            frailty=float(f[i]), survival_z=float(survival_z[i]), age_years=int(age[i]),
            sex="female" if female[i] else "male", bmi_kg_per_m2=round(float(bmi[i]), 1), adl_score=int(adl[i]),
            wheelchair=bool(wheelchair[i]), pressure_sores=bool(sores[i]), skin_lines=bool(lines[i]),
            cancer_type=cancer[i], metastasis_sites=spread if metastatic[i] else ("none",),
            prior_treatment=frozenset(prior[i]), cancer_duration_months=round(float(cancer_months[i]), 1),
            pain_duration_months=round(float(pain_months[i]), 1), pain_locations=locations[i] or ("other",),
            ome_mg_per_day=round(float(ome[i]), 1) if on_opioid[i] else None,
            adjuvant_drugs=adjuvant[i] or ("none",), nrs=int(nrs[i]),
            eq5d_index=round(float(eq5d[i]), 3), trials=_trials(params, int(n_trials[i]), rng),
            implant_reason=reasons[i]))
    return out


def _trials(params: Baseline, count: int, rng: np.random.Generator) -> tuple[Trial, ...]:
    """The screening trials of a patient who was implanted: the last one positive, any earlier one equivocal."""
    trials = []
    for number in range(1, count + 1):
        drug = choose_one(params.trial_drugs.shares, rng, 1)[0]
        dose = float(normal_quantile(params.trial_dose_mg[drug], rng.random(1))[0])
        trials.append(Trial(number, drug, round(dose, 3), "positive" if number == count else "equivocal"))
    return tuple(trials)
