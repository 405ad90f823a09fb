"""A proportion (e.g. the share of patients improved) with its binomial confidence interval."""

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta, norm

from openidds.errors import OpenIDDSError
from openidds.outcomes._frozen import jsonable

METHODS = {
    "clopper-pearson": "exact Clopper-Pearson (= R binom.test)",
    "wilson": "Wilson score, no continuity correction (= R prop.test(correct = FALSE))",
    "wilson-cc": "Wilson score with continuity correction (= R prop.test, default)",
}


@dataclass(frozen=True)
class Proportion:
    """``successes`` of ``n``, the estimate and its CI, with the method."""

    successes: int
    n: int
    estimate: float
    lower: float
    upper: float
    method: str
    conf_level: float

    def to_dict(self) -> dict[str, object]:
        return jsonable({**self.__dict__, "method": METHODS[self.method]})


def proportion(successes: int, n: int, *, method: str = "clopper-pearson", conf_level: float = 0.95) -> Proportion:
    """Estimate successes/n with a Clopper–Pearson (default), Wilson or Wilson-with-correction CI."""
    if method not in METHODS:
        raise OpenIDDSError("method", method, f"one of {', '.join(METHODS)}")
    if not 0 < conf_level < 1:
        raise OpenIDDSError("conf_level", conf_level, "a probability strictly between 0 and 1")
    if int(n) != n or n < 1:
        raise OpenIDDSError("n", n, "a whole number of patients >= 1")
    if int(successes) != successes or not 0 <= successes <= n:
        raise OpenIDDSError("successes", successes, f"a whole number between 0 and n = {n}")
    x, n = int(successes), int(n)
    alpha = 1 - conf_level
    if method == "clopper-pearson":
        lower = 0.0 if x == 0 else float(beta.ppf(alpha / 2, x, n - x + 1))
        upper = 1.0 if x == n else float(beta.ppf(1 - alpha / 2, x + 1, n - x))
    else:
        lower, upper = _wilson(x, n, float(norm.ppf(1 - alpha / 2)), 0.5 if method == "wilson-cc" else 0.0)
    return Proportion(x, n, x / n, lower, upper, method, conf_level)


def _wilson(x: int, n: int, z: float, correction: float) -> tuple[float, float]:
    """Wilson score limits; with ``correction`` = 0.5 the continuity-corrected form of R's prop.test."""
    p = x / n
    yates = min(correction, abs(x - n / 2))
    half = z * z / (2 * n)

    def limit(centre: float, sign: int) -> float:
        return (centre + half + sign * z * np.sqrt(centre * (1 - centre) / n + half / (2 * n))) / (1 + 2 * half)

    low_centre, high_centre = p - yates / n, p + yates / n
    lower = 0.0 if low_centre <= 0 else float(limit(low_centre, -1))
    upper = 1.0 if high_centre >= 1 else float(limit(high_centre, 1))
    return lower, upper
