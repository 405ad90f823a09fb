"""Gray's (1988) K-sample test comparing cumulative incidence of one cause between groups (R cmprsk, rho = 0).

The score and its variance follow Gray's paper as computed by cmprsk's ``crstm`` (one stratum), with
every sum over distinct times done as a vectorised running sum: per time and group the risk set
R_k = Y_k (1 - F_k(t-)) / S_k(t-), the pooled subdistribution hazard, and the a/c matrices of the
variance are arrays over (time, group, group).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from openidds.outcomes import _checks
from openidds.outcomes._event_table import event_table
from openidds.outcomes._frozen import frozen_array, jsonable


@dataclass(frozen=True)
class GrayTest:
    """Scores of the first G-1 groups, the chi-square statistic, its df and p."""

    cause: object
    groups: tuple[object, ...]
    score: np.ndarray
    statistic: float
    df: int
    p_value: float
    method: str = "Gray (1988) K-sample test, rho = 0, one stratum (= R cmprsk::cuminc group test)"

    def to_dict(self) -> dict[str, object]:
        return jsonable({"test": "gray", **self.__dict__})


def gray_test(time: object, status: object, group: object, cause: object, *, censored: object = 0,
              competing: Sequence[object] | None = None, levels: Sequence[object] | None = None,
              time_column: str = "time", status_column: str = "status", group_column: str = "group") -> GrayTest:
    """Test equality of the cumulative incidence of ``cause`` across the groups in ``group``."""
    t = _checks.times(time, time_column)
    code = _checks.cause_codes(status, status_column, cause, censored, competing)
    g, labels = _checks.groups_to_compare(group, group_column, levels,
                                          {time_column: t.shape[0], status_column: code.shape[0]})
    table = event_table(t, code, 3, g, len(labels))
    score, var = _score_and_variance(table.counts.astype(np.float64), table.at_risk.astype(np.float64))
    statistic = float(score @ np.linalg.solve(var, score))
    df = len(labels) - 1
    return GrayTest(cause, tuple(labels), frozen_array(score), statistic, df, float(chi2.sf(statistic, df)))


def _score_and_variance(counts: np.ndarray, rs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d1, d2 = counts[:, :, 1], counts[:, :, 2]
    present = rs > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard_all = np.where(present, (d1 + d2) / rs, 0.0)
        s_after = np.cumprod(1 - hazard_all, axis=0)
        s_before = np.vstack([np.ones((1, rs.shape[1])), s_after[:-1]])
        f_after = np.cumsum(np.where(present, s_before * d1 / rs, 0.0), axis=0)
        f_before = np.vstack([np.zeros((1, rs.shape[1])), f_after[:-1]])
        ratio = np.where(present, rs / s_before, 0.0)
        tr = ratio.sum(axis=1)
        tq = (ratio * (1 - f_before)).sum(axis=1)
        nd1 = d1.sum(axis=1)
        jump = np.where(tr > 0, nd1 / tr, 0.0)
        pooled_after = np.cumsum(jump)
        pooled_before = pooled_after - jump
        a = (ratio[:, :, None] * np.eye(rs.shape[1])[None]) - ratio[:, :, None] * ratio[:, None, :] / tr[:, None, None]
        a = np.where(np.isfinite(a), a, 0.0)
        c = np.cumsum(a * (nd1 / (tr * (1 - pooled_before)))[:, None, None], axis=0)
        c = np.where(np.isfinite(c), c, 0.0)
        score = np.where(present, d1 - nd1[:, None] * ratio * (1 - f_before) / tq[:, None], 0.0).sum(axis=0)

        # events of the cause: every group with patients at risk contributes
        t4 = np.where(s_after > 0, 1 - (1 - pooled_after[:, None]) / s_after, 1.0)
        t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * s_before - 1), 1.0)
        w1 = np.where(present & (nd1[:, None] > 0), t5 * s_before * nd1[:, None] / (tr[:, None] * rs), 0.0)
        # competing events: only groups with one, and with survivors
        u4 = np.where(s_after > 0, (1 - pooled_after[:, None]) / s_after, 0.0)
        u5 = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
        w2 = np.where((s_after > 0) & (d2 > 0), u5 * s_before**2 * d2 / rs**2, 0.0)
    w1, w2 = np.nan_to_num(w1), np.nan_to_num(w2)
    # a, c indexed [time, i, k]; b = a - t4 c for cause events, -u4 c for competing events
    b1 = a - t4[:, None, :] * c
    b2 = -u4[:, None, :] * c
    v3 = (t4**2 * w1 + u4**2 * w2).sum(axis=0)
    v2 = np.einsum("tik,tk->ik", b1, t4 * w1) + np.einsum("tik,tk->ik", b2, u4 * w2)
    v = np.einsum("tik,tjk,tk->ij", b1, b1, w1) + np.einsum("tik,tjk,tk->ij", b2, b2, w2)
    c_end = c[-1]
    v = v + np.einsum("ik,jk,k->ij", c_end, c_end, v3) + c_end @ v2.T + v2 @ c_end.T
    keep = rs.shape[1] - 1
    return score[:keep], v[:keep, :keep]
