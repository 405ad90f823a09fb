"""Cumulative incidence with competing risks (Aalen–Johansen), exact with tied times of different causes."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from openidds.errors import OpenIDDSError
from openidds.outcomes import _checks, _confint, _readout
from openidds.outcomes._event_table import event_table
from openidds.outcomes._frozen import frozen_array, jsonable

VARIANCES = ("delta", "aalen")
_VARIANCE_NAMES = {
    "delta": "delta method (Marubini-Valsecchi; = R survfit multi-state IJ SE, statsmodels, sksurv Dinse_Approx)",
    "aalen": "Aalen (1978) (= R cmprsk::cuminc, tidycmprsk, sksurv Aalen)",
}
TIES = "exact: all events at a time use S(t-), whatever their cause"


@dataclass(frozen=True)
class CumulativeIncidenceMethod:
    """How the curve and its limits were computed."""

    cause: object
    variance: str
    conf_type: str
    conf_level: float
    estimator: str = "Aalen-Johansen, other causes competing"
    ties: str = TIES
    read_out: str = "F at the last observed time <= t (events on day t count)"

    def describe(self) -> str:
        return (f"{self.estimator}; cause {self.cause!r}; {_VARIANCE_NAMES[self.variance]} variance; "
                f"{self.conf_type} {self.conf_level:.0%} CI; {self.read_out}")


@dataclass(frozen=True)
class IncidenceAt:
    """The curve read at chosen times: F at the last observed time <= t, ``n_risk`` patients with time >= t,
    ``n_event`` events of the cause up to and including t."""

    time: np.ndarray
    incidence: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray


@dataclass(frozen=True)
class CumulativeIncidence:
    """One row per distinct observed time: F for the cause of interest, its SE and CI."""

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_competing: np.ndarray
    n_censor: np.ndarray
    incidence: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    method: CumulativeIncidenceMethod

    @property
    def n(self) -> int:
        return int(self.n_risk[0])

    def at(self, times: ArrayLike) -> IncidenceAt:
        """F, SE, CI, patients at risk (time >= t) and cumulative events of the cause at each time."""
        return IncidenceAt(*_readout.estimate_at(self, self.incidence, 0.0, times))

    def to_dict(self, times: ArrayLike = ()) -> dict[str, object]:
        """Events, and F with SE and CI at ``times``, each with the method (JSON-ready)."""
        out: dict[str, object] = {
            "estimator": "cumulative_incidence",
            "method": jsonable(self.method),
            "n": self.n,
            "events": int(self.n_event.sum()),
            "competing_events": int(self.n_competing.sum()),
        }
        if np.size(times):
            at = self.at(times)
            out["incidence_at"] = [
                {"time": t, "incidence": f, "std_err": e, "lower": lo, "upper": up, "n_risk": r, "events": d}
                for t, f, e, lo, up, r, d in zip(at.time, at.incidence, at.std_err, at.lower, at.upper, at.n_risk,
                                                  at.n_event, strict=True)
            ]
        return jsonable(out)


def require_cause(status: object, cause: object, censored: object = 0,
                  competing: Sequence[object] | None = None, status_column: str = "status") -> None:
    """Refuse a cause of interest that no row of ``status`` has (a mistyped code would give a flat zero curve).

    Check the whole dataset once: a group of it may well have no event of the cause."""
    code = _checks.cause_codes(status, status_column, cause, censored, competing)
    if not (code == 1).any():
        present = ", ".join(repr(v) for v in _checks.levels(status, status_column)[1])
        raise OpenIDDSError("cause", cause, f"a status code that occurs in {status_column} ({present})")


def cumulative_incidence(time: object, status: object, cause: object, *, censored: object = 0,
                         competing: Sequence[object] | None = None, variance: str = "delta", conf_type: str = "log",
                         conf_level: float = 0.95, time_column: str = "time",
                         status_column: str = "status") -> CumulativeIncidence:
    """Aalen–Johansen cumulative incidence of ``cause``.

    ``status`` holds ``censored`` for a censored row, ``cause`` for the event of interest and a
    competing cause otherwise. ``competing`` lists the competing codes; when given, any other value is
    refused, when None every value other than ``censored`` and ``cause`` counts as competing.
    ``variance`` is ``delta`` (= R survfit) or ``aalen`` (= cmprsk); ``conf_type`` is ``log`` (R survfit's
    default), ``log-log`` (tidycmprsk) or ``plain``.
    """
    _confint.check(conf_type, conf_level)
    if variance not in VARIANCES:
        raise OpenIDDSError("variance", variance, f"one of {', '.join(VARIANCES)}")
    t = _checks.times(time, time_column)
    code = _checks.cause_codes(status, status_column, cause, censored, competing)
    _checks.same_length({time_column: t.shape[0], status_column: code.shape[0]})
    table = event_table(t, code, 3)
    counts = table.counts[:, 0, :]
    n_risk = table.at_risk[:, 0].astype(np.float64)
    d_cause, d_other = counts[:, 1].astype(np.float64), counts[:, 2].astype(np.float64)
    incidence, before = _aalen_johansen(n_risk, d_cause, d_other)
    var = (_delta_variance if variance == "delta" else _aalen_variance)(n_risk, d_cause, d_other, incidence, before)
    std_err = np.sqrt(np.maximum(var, 0.0))
    lower, upper = _confint.limits(incidence, std_err, conf_type, conf_level)
    f = frozen_array
    return CumulativeIncidence(f(table.time), f(table.at_risk[:, 0]), f(counts[:, 1]), f(counts[:, 2]),
                               f(counts[:, 0]), f(incidence), f(std_err), f(lower), f(upper),
                               CumulativeIncidenceMethod(cause, variance, conf_type, conf_level))


def _aalen_johansen(n: np.ndarray, d_cause: np.ndarray, d_other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F after each time and the all-cause survival just before it, S(t-)."""
    survival = np.cumprod(1.0 - (d_cause + d_other) / n)
    before = np.concatenate(([1.0], survival[:-1]))
    return np.cumsum(before * d_cause / n), before


def _delta_variance(n: np.ndarray, d_cause: np.ndarray, d_other: np.ndarray, f: np.ndarray,
                    before: np.ndarray) -> np.ndarray:
    """Delta method: Σ_j (F(t)-F_j)² d_j/(n_j(n_j-d_j)) + S_j-² d1_j(n_j-d1_j)/n_j³ - 2(F(t)-F_j) S_j- d1_j/n_j².

    The squares are expanded so every term is a running sum; a time where everyone left adds nothing
    to the first term, since F cannot move after it.
    """
    d = d_cause + d_other
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(n > d, d / (n * (n - d)), 0.0)
    own = before**2 * d_cause * (n - d_cause) / n**3
    cross = before * d_cause / n**2
    sum_a, sum_fa, sum_ffa = np.cumsum(a), np.cumsum(f * a), np.cumsum(f * f * a)
    sum_cross, sum_fcross = np.cumsum(cross), np.cumsum(f * cross)
    return (f * f * sum_a - 2 * f * sum_fa + sum_ffa + np.cumsum(own)
            - 2 * (f * sum_cross - sum_fcross))


def _aalen_variance(n: np.ndarray, d_cause: np.ndarray, d_other: np.ndarray, f: np.ndarray,
                    before: np.ndarray) -> np.ndarray:
    """Aalen's variance as computed by cmprsk's ``cinc``: Σ_j w_j (a_j - F(t) b_j)², held between events of the cause.

    For a competing event w = S_j-² c(d2) d2/n², a = F_j/S_j, b = 1/S_j (skipped when S_j = 0); for an
    event of the cause w = S_j-² c(d1) d1/n², a = 1 + F_j/S_j, b = 1/S_j (b = 0 when S_j = 0); c(m) =
    1 - (m-1)/(n-1) for m > 1, else 1.
    """
    after = before * (n - d_cause - d_other) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(after > 0, 1.0 / after, 0.0)
        tie_other = np.where(d_other > 1, 1 - (d_other - 1) / (n - 1), 1.0)
        tie_cause = np.where(d_cause > 1, 1 - (d_cause - 1) / (n - 1), 1.0)
    w_other = np.where((d_other > 0) & (after > 0), before**2 * tie_other * d_other / n**2, 0.0)
    w_cause = before**2 * tie_cause * d_cause / n**2
    a_other, a_cause = f * inv, 1 + f * inv
    v1 = np.cumsum(w_other * a_other**2 + w_cause * a_cause**2)
    v2 = np.cumsum(w_other * a_other * inv + w_cause * a_cause * inv)
    v3 = np.cumsum((w_other + w_cause) * inv**2)
    var = v1 + f * f * v3 - 2 * f * v2
    last_cause_row = np.maximum.accumulate(np.where(d_cause > 0, np.arange(n.shape[0]), -1))
    return np.where(last_cause_row >= 0, var[np.maximum(last_cause_row, 0)], 0.0)
