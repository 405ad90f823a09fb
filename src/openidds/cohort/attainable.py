"""How often a replicate can fall inside a published interval at all: the sampling limit of a target.

A replicate of a study draws the study's n patients, so its estimate scatters around the model's mean even
when the model is right. For a target whose estimate has a known sampling law at n, the share of replicates
inside the published interval is computed exactly for a model whose mean is ``μ``:

- a proportion (or a 1-year cumulative incidence, read as a proportion without censoring) of n patients:
  the count is binomial(n, μ) and the estimate count/n;
- a count: Poisson(μ);
- a mean with its published SD: normal, mean μ and standard error SD/√n;
- an SD of n values: a normal sample's SD, (n − 1)s²/σ² ~ χ²(n − 1), with σ such that the mean of s is μ.

The *attainable* share is the best such share over the models that meet the mean goal, μ within a quarter of
the interval's half-width of the published value (the published value itself included), on a grid of
:data:`GRID` values. When it is below the 90 % goal no model can meet the target at the study's n: the
published interval is narrower than the study's own sampling scatter (seed 003's 1 of 96, say, where a
replicate with no such patient lies below the exact interval's lower end). Other targets (medians, Kaplan–Meier
medians, extremes, p-value bounds, a mean whose n is not published) have no sampling law here: ``None``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from openidds.cohort.study import Interval, Metric, Target

GRID = 101
"""Model means tried across the goal band (odd: the published value is one of them)."""
_JUDGED = (Interval.CI95, Interval.CI95_COMPUTED, Interval.IQR, Interval.SD, Interval.RANGE)


def share_inside(target: Target, model_mean: float) -> float | None:
    """The chance that one replicate's estimate lies inside the published interval when the model's mean is
    ``model_mean`` (``None``: the target has no sampling law at its n, see the module's docstring)."""
    if target.interval not in _JUDGED or target.low is None or target.high is None:
        return None
    low, high = target.low, target.high
    n = target.n
    if target.metric in (Metric.PROPORTION, Metric.CUMULATIVE_INCIDENCE) and n is not None:
        if not 0 <= model_mean <= 1:
            return 0.0
        k = np.arange(n + 1)
        inside = (k >= low * n - 1e-9) & (k <= high * n + 1e-9)
        return float(stats.binom.pmf(k[inside], n, model_mean).sum())
    if target.metric is Metric.COUNT:
        if model_mean < 0:
            return 0.0
        return float(stats.poisson.cdf(math.floor(high + 1e-9), model_mean)
                     - stats.poisson.cdf(math.ceil(low - 1e-9) - 1, model_mean))
    if target.metric is Metric.MEAN and n is not None and target.sd is not None:
        se = target.sd / math.sqrt(n)
        return float(stats.norm.cdf(high, model_mean, se) - stats.norm.cdf(low, model_mean, se))
    if target.metric is Metric.SD and n is not None and n >= 2:
        if model_mean <= 0:
            return 0.0
        sigma = model_mean / c4(n)
        chi2 = stats.chi2(n - 1)
        return float(chi2.cdf((n - 1) * high ** 2 / sigma ** 2) - chi2.cdf((n - 1) * max(low, 0.0) ** 2 / sigma ** 2))
    return None


def attainable_share(target: Target, tolerance: float) -> float | None:
    """The best :func:`share_inside` over model means within ``tolerance`` half-widths of the published value
    (``None``: no sampling law, or no two-sided interval)."""
    half = target.half_width
    if half is None or share_inside(target, target.value) is None:
        return None
    means = target.value + np.linspace(-tolerance * half, tolerance * half, GRID)
    return max(s for s in (share_inside(target, float(m)) for m in means) if s is not None)


def c4(n: int) -> float:
    """The mean of a normal sample's SD (n values) in units of σ: √(2/(n−1)) Γ(n/2) / Γ((n−1)/2)."""
    return math.sqrt(2 / (n - 1)) * math.exp(special.gammaln(n / 2) - special.gammaln((n - 1) / 2))
