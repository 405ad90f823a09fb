"""Counting pass shared by the survival estimators: one row per distinct observed time.

Integer-valued times (days) whose span is not much larger than the sample are counted with one
``bincount``; other times with one ``argsort``. Ties are exact: equal times are one row, whatever
their status or group.
"""

from dataclasses import dataclass

import numpy as np

_SPAN_PER_ROW = 4
_WHOLE_LIMIT = 2.0**31
_SAMPLE = 1024


@dataclass(frozen=True)
class EventTable:
    """``counts[j, g, c]``: rows of group g leaving at ``time[j]`` with status code c (0 = censored).

    ``at_risk[j, g]``: rows of group g with time >= ``time[j]``.
    """

    time: np.ndarray
    counts: np.ndarray
    at_risk: np.ndarray


def event_table(time: np.ndarray, code: np.ndarray, n_codes: int, group: np.ndarray | None = None,
                n_groups: int = 1) -> EventTable:
    key = code if group is None else group * n_codes + code
    width = n_codes * n_groups
    distinct, flat = _count(time, key, width)
    counts = flat.reshape(distinct.shape[0], n_groups, n_codes)
    leaving = counts.sum(axis=2)
    at_risk = leaving[::-1].cumsum(axis=0)[::-1]
    return EventTable(distinct, counts, at_risk)


def _count(time: np.ndarray, key: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    n = time.shape[0]
    if time.dtype.kind in "iu" or _whole(time):
        whole = time.astype(np.int64, copy=False)
        span = int(whole.max()) + 1
        if span <= _SPAN_PER_ROW * n + 1024:
            index = whole * width
            index += key
            flat = np.bincount(index, minlength=span * width).reshape(span, width)
            present = np.flatnonzero(flat.any(axis=1))
            return present.astype(np.float64), flat[present]
    order = np.argsort(time)
    ordered = time[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    row = np.cumsum(new) - 1
    distinct = ordered[new].astype(np.float64)
    flat = np.bincount(row * width + key[order], minlength=distinct.shape[0] * width)
    return distinct, flat.reshape(distinct.shape[0], width)


def _whole(time: np.ndarray) -> bool:
    """Float times that are all whole numbers of a countable size (checked on a sample first, to fail fast)."""
    head = time[:_SAMPLE]
    return bool(time.max() < _WHOLE_LIMIT and np.array_equal(head, np.floor(head))
                and np.array_equal(time, np.floor(time)))
