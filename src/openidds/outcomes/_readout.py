"""Reading a step curve at chosen times, shared by the survival and incidence curves."""

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from openidds.outcomes import _checks, _confint
from openidds.outcomes._frozen import frozen_array


class CurveMethod(Protocol):
    @property
    def conf_type(self) -> str: ...
    @property
    def conf_level(self) -> float: ...


class Curve(Protocol):
    """A fitted step curve: one row per observed time, with its SE and the method of its limits."""

    @property
    def time(self) -> np.ndarray: ...
    @property
    def n_risk(self) -> np.ndarray: ...
    @property
    def n_event(self) -> np.ndarray: ...
    @property
    def std_err(self) -> np.ndarray: ...
    @property
    def method(self) -> CurveMethod: ...


@dataclass(frozen=True)
class Readout:
    """``row``: the last curve row at or before each time (``before``: none yet); risk set and events so far."""

    time: np.ndarray
    row: np.ndarray
    before: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray

    def take(self, values: np.ndarray, start: float) -> np.ndarray:
        """The curve's values at the requested times, ``start`` before the first observed time."""
        return np.where(self.before, start, values[self.row])


def read(curve_time: np.ndarray, n_risk: np.ndarray, n_event: np.ndarray, times: object) -> Readout:
    """Rows at or before each time (events on the day count); patients with time >= t are at risk."""
    wanted = _checks.times(np.atleast_1d(np.asarray(times, dtype=object)), "times").astype(np.float64)
    row = np.searchsorted(curve_time, wanted, side="right") - 1
    before = row < 0
    pick = np.maximum(row, 0)
    at_risk = np.append(n_risk, 0)[np.searchsorted(curve_time, wanted, side="left")]
    events = np.where(before, 0, np.cumsum(n_event)[pick])
    return Readout(wanted, pick, before, at_risk, events)


def estimate_at(curve: Curve, estimate: np.ndarray, start: float, times: object) -> tuple[np.ndarray, ...]:
    """A fitted curve read at ``times``: time, estimate, SE, limits, patients at risk and events so far (frozen).

    ``start`` is the estimate before the first observed time. The limits are computed again
    from the SE read out, as R does.
    """
    r = read(curve.time, curve.n_risk, curve.n_event, times)
    value, std_err = r.take(estimate, start), r.take(curve.std_err, 0.0)
    lower, upper = _confint.limits(value, std_err, curve.method.conf_type, curve.method.conf_level)
    return tuple(frozen_array(a) for a in (r.time, value, std_err, lower, upper, r.n_risk, r.n_event))
