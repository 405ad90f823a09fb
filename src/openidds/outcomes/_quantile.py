"""R survival's rule for reading a quantile off a step curve (``findq`` in quantile.survfit.R).

The curve is given as a distribution function y (0 at the start, then 1 - S after each time). The
quantile is where a horizontal line at p meets the curve; if the curve is flat at p (within
``sqrt(eps)``) the midpoint between the start of the flat and the next jump is returned, or the
last follow-up time if the flat runs to the end of the curve. NaN where the curve never reaches p.
"""

import numpy as np

TOLERANCE = float(np.sqrt(np.finfo(float).eps))
RULE = "R survival: first time the curve reaches p; midpoint of a flat exactly at p (tolerance sqrt(eps))"


def crossing(time: np.ndarray, cdf: np.ndarray, p: float) -> float:
    x = np.concatenate(([0.0], time))
    y = np.concatenate(([0.0], cdf))
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return float("nan")
    last_time = x[-1]
    _, first = np.unique(y, return_index=True)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    at = _first_reaching(y + TOLERANCE, p)
    after = _first_reaching(y - TOLERANCE, p)
    if at is None:
        return float("nan")
    if after is None:
        return float((x[at] + last_time) / 2) if abs(p - y[-1]) < TOLERANCE else float("nan")
    return float((x[at] + x[after]) / 2)


def _first_reaching(levels: np.ndarray, p: float) -> int | None:
    """Index of the first non-missing level >= p, in time order.

    On a monotone curve this is R's ``approx(..., "constant", f=1)``; a pointwise band can rise again
    (aml's log upper limit), and then the first crossing is taken, as R 4.2 / survival 3.5 prints.
    """
    hits = np.flatnonzero(levels >= p)
    return int(hits[0]) if hits.size else None
