"""Wilcoxon signed-rank test with R's defaults (``wilcox.test(x, y, paired = TRUE)``), reporting V."""

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

from openidds.errors import OpenIDDSError
from openidds.outcomes._frozen import jsonable

_EXACT_BELOW = 50


@dataclass(frozen=True)
class SignedRank:
    """V = sum of the ranks of the positive differences, the two-sided p and how it was computed."""

    n: int
    n_zero: int
    statistic_v: float
    p_value: float
    method: str

    def to_dict(self) -> dict[str, object]:
        return jsonable({"test": "wilcoxon_signed_rank", **self.__dict__})


def signed_rank(difference: np.ndarray) -> SignedRank:
    """Zero differences are dropped (R's default); exact p below 50 pairs without ties or zeros,
    otherwise the normal approximation with tie correction and continuity correction."""
    nonzero = difference[difference != 0]
    n_zero = difference.shape[0] - nonzero.shape[0]
    n = nonzero.shape[0]
    if n == 0:
        raise OpenIDDSError("pairs", difference.shape[0], "at least one pair with a non-zero difference")
    ranks = rankdata(np.abs(nonzero))
    v = float(ranks[nonzero > 0].sum())
    _, tie_sizes = np.unique(ranks, return_counts=True)
    if n < _EXACT_BELOW and n_zero == 0 and np.all(tie_sizes == 1):
        return SignedRank(n, n_zero, v, _exact_p(v, n), "exact signed-rank distribution (R wilcox.test default)")
    mean = n * (n + 1) / 4
    sigma = np.sqrt(n * (n + 1) * (2 * n + 1) / 24 - np.sum(tie_sizes**3 - tie_sizes) / 48)
    shift = v - mean
    z = (shift - np.sign(shift) * 0.5) / sigma
    p = float(2 * min(norm.cdf(z), norm.sf(z)))
    return SignedRank(n, n_zero, v, min(p, 1.0),
                      "normal approximation with tie and continuity correction, zeros dropped (R wilcox.test default)")


def _exact_p(v: float, n: int) -> float:
    """Two-sided p from the null distribution of V, built by convolving one rank at a time."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    cdf = np.cumsum(counts) / counts.sum()
    lower = cdf[int(v)]
    upper = 1 - (cdf[int(v) - 1] if v >= 1 else 0.0)
    return float(min(1.0, 2 * min(lower, upper)))
