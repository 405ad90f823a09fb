"""Reading a step curve at chosen times, shared by the survival and incidence curves."""

from dataclasses import dataclass

import numpy as np

from openidds.outcomes import _checks


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
