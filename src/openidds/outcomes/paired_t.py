"""Paired t-test with the CI of the mean difference (R ``t.test(x, y, paired = TRUE)``)."""

from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student

from openidds.errors import OpenIDDSError
from openidds.outcomes._frozen import jsonable


@dataclass(frozen=True)
class PairedT:
    """Mean of first − second, its SD and CI, t, df and two-sided p."""

    n: int
    mean_difference: float
    sd_difference: float
    lower: float
    upper: float
    statistic: float
    df: int
    p_value: float
    conf_level: float
    method: str = "paired t-test, difference = first - second, two-sided (= R t.test(paired = TRUE))"

    def to_dict(self) -> dict[str, object]:
        return jsonable({"test": "paired_t", **self.__dict__})


def paired_t(difference: np.ndarray, *, conf_level: float = 0.95) -> PairedT:
    """Test a mean paired difference against 0 (``difference`` = first − second, complete pairs only)."""
    n = difference.shape[0]
    if n < 2:
        raise OpenIDDSError("pairs", n, "at least 2 complete pairs for a paired t-test")
    mean = float(difference.mean())
    sd = float(difference.std(ddof=1))
    se = sd / np.sqrt(n)
    df = n - 1
    margin = float(student.ppf(1 - (1 - conf_level) / 2, df)) * se
    statistic = mean / se if se > 0 else float("nan")
    p_value = float(2 * student.sf(abs(statistic), df)) if se > 0 else float("nan")
    return PairedT(n, mean, sd, float(mean - margin), float(mean + margin), float(statistic), df, p_value, conf_level)
