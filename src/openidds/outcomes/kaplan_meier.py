"""Kaplan–Meier survival with Greenwood variance, R's pointwise CIs, median rule and median CI."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from openidds.errors import OpenIDDSError
from openidds.outcomes import _checks, _confint, _quantile, _readout
from openidds.outcomes._event_table import event_table
from openidds.outcomes._frozen import frozen_array, jsonable

VARIANCE = "Greenwood"
TIES = "exact (equal times form one risk set; no R timefix merging of near-equal times)"


@dataclass(frozen=True)
class KaplanMeierMethod:
    """How the curve and its limits were computed."""

    conf_type: str
    conf_level: float
    variance: str = VARIANCE
    median_rule: str = _quantile.RULE
    median_ci: str = "band crossing: times where the lower and upper pointwise limits reach 0.5 (R quantile.survfit)"
    ties: str = TIES

    def describe(self) -> str:
        return (f"Kaplan-Meier, {self.variance} variance, {self.conf_type} {self.conf_level:.0%} CI; "
                f"median: {self.median_rule}; median CI: {self.median_ci}")


@dataclass(frozen=True)
class SurvivalQuantile:
    """A quantile of survival time (``probability`` 0.5 is the median) and its band-crossing CI."""

    probability: float
    time: float
    lower: float
    upper: float


@dataclass(frozen=True)
class SurvivalAt:
    """The curve read at chosen times: S at the last observed time <= t, ``n_risk`` patients with time >= t,
    ``n_event`` events up to and including t."""

    time: np.ndarray
    survival: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray


@dataclass(frozen=True)
class KaplanMeier:
    """One row per distinct observed time, as R ``survfit`` (std_err is the standard error of S)."""

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    survival: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    method: KaplanMeierMethod

    @property
    def n(self) -> int:
        return int(self.n_risk[0])

    @property
    def events(self) -> int:
        return int(self.n_event.sum())

    def quantile(self, probability: float = 0.5) -> SurvivalQuantile:
        """Time by which ``probability`` of patients have had the event, with R's rule and CI."""
        if not 0 < probability < 1:
            raise OpenIDDSError("probability", probability, "a probability strictly between 0 and 1")
        return SurvivalQuantile(
            probability,
            _quantile.crossing(self.time, 1 - self.survival, probability),
            _quantile.crossing(self.time, 1 - self.lower, probability),
            _quantile.crossing(self.time, 1 - self.upper, probability),
        )

    @property
    def median(self) -> SurvivalQuantile:
        return self.quantile(0.5)

    def at(self, times: ArrayLike) -> SurvivalAt:
        """Survival, its SE and CI and the number at risk at each requested time (R ``summary(fit, times)``).

        After the last observed time the estimate is carried forward with nobody at risk
        (R's ``extend=TRUE``).
        """
        return SurvivalAt(*_readout.estimate_at(self, self.survival, 1.0, times))

    def to_dict(self, times: ArrayLike = ()) -> dict[str, object]:
        """Median, its CI and the survival at ``times``, each with the method (JSON-ready)."""
        median = self.median
        out: dict[str, object] = {
            "estimator": "kaplan_meier",
            "method": jsonable(self.method),
            "n": self.n,
            "events": self.events,
            "median": {"time": median.time, "lower": median.lower, "upper": median.upper},
        }
        if np.size(times):
            at = self.at(times)
            out["survival_at"] = [
                {"time": t, "survival": s, "std_err": e, "lower": lo, "upper": up, "n_risk": r}
                for t, s, e, lo, up, r in zip(at.time, at.survival, at.std_err, at.lower, at.upper, at.n_risk,
                                              strict=True)
            ]
        return jsonable(out)


def kaplan_meier(time: object, status: object, *, event: object = 1, censored: object = 0,
                 conf_type: str = "log", conf_level: float = 0.95,
                 time_column: str = "time", status_column: str = "status") -> KaplanMeier:
    """Fit the Kaplan–Meier curve.

    ``status`` holds ``event`` for an event and ``censored`` for a censored row (R's lung uses 2 and 1);
    any other value is refused. ``conf_type`` is ``log`` (R's default), ``log-log`` or ``plain``.
    """
    _confint.check(conf_type, conf_level)
    t = _checks.times(time, time_column)
    code = _checks.event_codes(status, status_column, event, censored)
    _checks.same_length({time_column: t.shape[0], status_column: code.shape[0]})
    table = event_table(t, code, 2)
    n_risk = table.at_risk[:, 0]
    n_event = table.counts[:, 0, 1]
    return _fit(table.time, n_risk, n_event, table.counts[:, 0, 0], conf_type, conf_level)


def _fit(time: np.ndarray, n_risk: np.ndarray, n_event: np.ndarray, n_censor: np.ndarray, conf_type: str,
         conf_level: float) -> KaplanMeier:
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - n_event / n_risk)
        greenwood = np.cumsum(np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0))
        std_err = survival * np.sqrt(greenwood)
    lower, upper = _confint.limits(survival, std_err, conf_type, conf_level)
    f = frozen_array
    return KaplanMeier(f(time), f(n_risk), f(n_event), f(n_censor), f(survival), f(std_err), f(lower), f(upper),
                       KaplanMeierMethod(conf_type, conf_level))
