"""Log-rank test between groups (R ``survdiff`` with rho = 0)."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from openidds.outcomes import _checks
from openidds.outcomes._event_table import event_table
from openidds.outcomes._frozen import frozen_array, jsonable


@dataclass(frozen=True)
class LogRank:
    """Observed and expected events per group, the chi-square statistic, its df and p."""

    groups: tuple[object, ...]
    n: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    statistic: float
    df: int
    p_value: float
    method: str = "log-rank (Mantel-Haenszel), hypergeometric variance, exact ties (= R survdiff, rho = 0)"

    def to_dict(self) -> dict[str, object]:
        return jsonable({"test": "logrank", **self.__dict__})


def logrank(time: object, status: object, group: object, *, event: object = 1, censored: object = 0,
            levels: Sequence[object] | None = None, time_column: str = "time", status_column: str = "status",
            group_column: str = "group") -> LogRank:
    """Compare survival between the groups in ``group`` (in ``levels`` order if given; empty groups refused)."""
    t = _checks.times(time, time_column)
    code = _checks.event_codes(status, status_column, event, censored)
    g, labels = _checks.groups_to_compare(group, group_column, levels,
                                          {time_column: t.shape[0], status_column: code.shape[0]})
    table = event_table(t, code, 2, g, len(labels))
    deaths = table.counts[:, :, 1].astype(np.float64)
    at_risk = table.at_risk.astype(np.float64)
    total_d = deaths.sum(axis=1)
    total_n = at_risk.sum(axis=1)
    share = at_risk / total_n[:, None]
    expected = (total_d[:, None] * share).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(total_n > 1, total_d * (total_n - total_d) / (total_n - 1), 0.0)
    cov = np.einsum("t,tg,gh->gh", scale, share, np.eye(len(labels))) - np.einsum("t,tg,th->gh", scale, share, share)
    observed = deaths.sum(axis=0)
    diff = (observed - expected)[:-1]
    statistic = float(diff @ np.linalg.solve(cov[:-1, :-1], diff))
    df = len(labels) - 1
    return LogRank(tuple(labels), frozen_array(table.at_risk[0]), frozen_array(observed), frozen_array(expected),
                   statistic, df, float(chi2.sf(statistic, df)))
